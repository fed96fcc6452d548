//! phoneprov.conf and users files as text (`[section]` and `key = value` lines, the two files
//! split by a line `---`): parsing, the users provider, building the phones and routes
//! (MAC handling included), resolving every route, and `show routes`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::config::conf::{Category, ConfigFile};
use phoneprov_core::config::profile::Config;
use phoneprov_core::config::users;
use phoneprov_core::config::vars::Vars;
use phoneprov_core::host::{Host, Level, TzInfo};
use phoneprov_core::model::snapshot::{Extension, Snapshot};
use phoneprov_core::ops::cli::show_routes;
use phoneprov_core::render::funcs;
use std::sync::Arc;

/// `${NAME}` substitution only; unknown names are empty, unclosed ones kept.
struct Plain;

impl Host for Plain {
    fn substitute(&self, template: &[u8], vars: &Vars) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = template;
        while let Some(i) = phoneprov_core::util::bytes::find(rest, b"${") {
            out.extend_from_slice(&rest[..i]);
            match rest[i + 2..].iter().position(|&b| b == b'}') {
                Some(j) => {
                    out.extend_from_slice(vars.find(&rest[i + 2..i + 2 + j]).unwrap_or(b""));
                    rest = &rest[i + 3 + j..];
                }
                None => {
                    out.extend_from_slice(&rest[i..]);
                    rest = b"";
                }
            }
        }
        out.extend_from_slice(rest);
        out
    }
    fn tz(&self, zone: Option<&[u8]>) -> TzInfo {
        TzInfo {
            offset: zone.map_or(0, |z| z.len() as i32),
            dst: None,
        }
    }
    fn log(&self, _: Level, _: &str) {}
}

/// `[section]` and `key = value` lines, bytes as they are (a configuration in ISO-8859-1
/// is as good as one in UTF-8).
fn file(name: &str, text: &[u8]) -> ConfigFile {
    let mut f = ConfigFile {
        name: name.into(),
        categories: Vec::new(),
    };
    for line in text.split(|&b| b == b'\n') {
        if let Some(cat) = line.strip_prefix(b"[") {
            let name = cat.strip_suffix(b"]").unwrap_or(cat);
            f.categories.push(Category {
                name: name.to_vec(),
                vars: Vec::new(),
            });
        } else if let (Some(eq), Some(cat)) = (
            line.iter().position(|&b| b == b'='),
            f.categories.last_mut(),
        ) {
            let (k, v) = (&line[..eq], &line[eq + 1..]);
            let v = v.strip_prefix(b">").unwrap_or(v);
            cat.vars
                .push((k.trim_ascii().to_vec(), v.trim_ascii().into()));
        }
    }
    f
}

fuzz_target!(|data: &[u8]| {
    let split = phoneprov_core::util::bytes::find(data, b"\n---\n");
    let (pp, us) = match split {
        Some(i) => (&data[..i], &data[i + 5..]),
        None => (data, &b""[..]),
    };
    let (config, _) = Config::parse(&file("phoneprov.conf", pp));
    let _ = config.fatal_problem();
    let _ = config.missing_files_summary(|f| f.len() % 2 == 0);
    let users_file = file("users.conf", us);
    let defaults = users::defaults(&config.settings, Some(b"192.0.2.1"), &users_file);
    let mut diags = Vec::new();
    let exts: Vec<Extension> = users::load(&users_file, &defaults, &mut diags)
        .into_iter()
        .map(|vars| Extension {
            provider: Arc::from("sipusers"),
            vars,
        })
        .collect();
    let snap = Snapshot::build(Arc::new(config), &exts, &Plain);
    for r in snap.routes() {
        let res = snap.resolve(r.uri).expect("every route resolves");
        assert_eq!(res.route.uri, r.uri);
    }
    for p in &snap.phones {
        assert!(!p.lines().is_empty());
        assert!(p.lines().windows(2).all(|w| w[0].index < w[1].index));
        assert!(snap.phone(p.mac()).is_some());
        let data = [&b"%{USERNAME},"[..], p.mac()].concat();
        let render = |t: &phoneprov_core::render::template::Template,
                      _: usize,
                      p: &phoneprov_core::model::snapshot::Phone| {
            Plain.substitute(t.text(), p.vars())
        };
        let _ = funcs::each_user(&snap, &data, &render);
    }
    let _ = show_routes(&snap);
});
