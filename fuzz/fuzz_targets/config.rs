//! phoneprov.conf and users files as text (`[section]` and `key = value` lines, the two files
//! split by a line `---`): parsing, the users provider, building the phones and routes
//! (MAC handling included), resolving every route, and `show routes`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::cli::show_routes;
use phoneprov_core::conf::{Category, ConfigFile};
use phoneprov_core::host::{Host, Level, TzInfo};
use phoneprov_core::model::{Extension, Snapshot};
use phoneprov_core::profile::Config;
use phoneprov_core::{funcs, users};
use phoneprov_core::vars::Vars;
use std::sync::Arc;

/// `${NAME}` substitution only; unknown names are empty, unclosed ones kept.
struct Plain;

impl Host for Plain {
    fn substitute(&self, template: &str, vars: &Vars) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            match rest[i + 2..].find('}') {
                Some(j) => {
                    out.push_str(vars.find(&rest[i + 2..i + 2 + j]).unwrap_or(""));
                    rest = &rest[i + 3 + j..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out + rest
    }
    fn tz(&self, zone: Option<&str>) -> TzInfo {
        TzInfo { offset: zone.map_or(0, |z| z.len() as i32), dst: None }
    }
    fn log(&self, _: Level, _: &str) {}
}

fn file(name: &str, text: &str) -> ConfigFile {
    let mut f = ConfigFile { name: name.into(), categories: Vec::new() };
    for line in text.lines() {
        if let Some(cat) = line.strip_prefix('[') {
            f.categories.push(Category::new(cat.trim_end_matches(']'), &[]));
        } else if let (Some((k, v)), Some(cat)) = (line.split_once('='), f.categories.last_mut()) {
            let v = v.strip_prefix('>').unwrap_or(v);
            cat.vars.push((k.trim().to_owned(), v.trim().into()));
        }
    }
    f
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pp, us) = text.split_once("\n---\n").unwrap_or((&text, ""));
    let (config, _) = Config::parse(&file("phoneprov.conf", pp));
    let _ = config.fatal_problem();
    let _ = config.missing_files(|f| f.len() % 2 == 0);
    let users_file = file("users.conf", us);
    let defaults = users::defaults(&config.settings, Some("192.0.2.1"), &users_file);
    let mut diags = Vec::new();
    let exts: Vec<Extension> = users::load(&users_file, &defaults, &mut diags)
        .into_iter()
        .map(|vars| Extension { provider: Arc::from("sipusers"), vars })
        .collect();
    let snap = Snapshot::build(Arc::new(config), &exts, &Plain);
    for r in &snap.routes {
        let res = snap.resolve(&r.uri).expect("every route resolves");
        assert_eq!(res.route.uri, r.uri);
    }
    for p in &snap.phones {
        assert!(!p.lines.is_empty());
        assert!(p.lines.windows(2).all(|w| w[0].index < w[1].index));
        assert!(snap.phone(&p.mac).is_some());
        let data = format!("%{{USERNAME}},{}", p.mac);
        let render = |t: &phoneprov_core::template::Template,
                      _: usize,
                      p: &phoneprov_core::model::Phone| Plain.substitute(t.text(), p.vars());
        let _ = funcs::each_user(&snap, &data, &render);
    }
    let _ = show_routes(&snap);
});
