//! Runs one configuration through the stock C module and through ours, in the same sandbox,
//! and compares every route: status, Content-Type and body byte for byte, HEAD and POST,
//! 404s, and `phoneprov show routes` as sets of rows.

use std::collections::BTreeSet;

use crate::common::{Asterisk, Builder, Impl, Response, PJSIP_MODULES};

/// One configuration to compare.
#[derive(Default, Clone)]
pub struct Case {
    pub phoneprov: &'static str,
    /// users.conf, which both modules read.
    pub users: Option<&'static str>,
    /// The users file under its newer name for ours (`phoneprov_users.conf`) and as
    /// `users.conf` for the stock module (Asterisk 22 reads only that name).
    pub users_new_name: bool,
    pub pjsip: Option<&'static str>,
    pub files: &'static [(&'static str, &'static str)],
    /// Stock modules loaded before res_phoneprov (functions used in URIs or setvars).
    pub preload: &'static [&'static str],
    /// Stock modules loaded after it (functions used in templates).
    pub modules: &'static [&'static str],
    /// URIs to request besides those `phoneprov show routes` lists.
    pub extra_uris: &'static [&'static str],
    /// `PP_EACH_USER` output: the C module lists phones in hash order, so the items between
    /// these two markers are compared as a multiset.
    pub unordered: Option<(&'static str, &'static str)>,
    /// Compare once more after `module reload res_phoneprov.so` on both.
    pub after_reload: bool,
}

fn start(case: &Case, imp: Impl) -> Asterisk {
    let mut b = Builder::new(imp).conf("phoneprov.conf", case.phoneprov);
    for m in case.preload {
        b = b.preload(m);
    }
    if case.pjsip.is_some() {
        for m in PJSIP_MODULES.iter().chain(&["func_pjsip_endpoint"]) {
            b = b.module(m);
        }
    }
    for m in case.modules {
        b = b.module(m);
    }
    if let Some(pjsip) = case.pjsip {
        b = b
            .conf("pjsip.conf", pjsip)
            .module("res_pjsip_phoneprov_provider");
    }
    if let Some(users) = case.users {
        let name = match (case.users_new_name, imp) {
            (true, Impl::Rust) => "phoneprov_users.conf",
            _ => "users.conf",
        };
        b = b.conf(name, users);
    }
    for (name, contents) in case.files {
        b = b.file(name, contents);
    }
    b.start()
}

/// The rows of `phoneprov show routes` (without headers), and the URIs they name.
fn routes(ast: &Asterisk) -> (BTreeSet<String>, BTreeSet<String>) {
    let out = ast.cli("phoneprov show routes");
    let mut rows = BTreeSet::new();
    let mut uris = BTreeSet::new();
    let mut dynamic = false;
    for line in out.lines() {
        if line.starts_with("Dynamic routes") {
            dynamic = true;
        }
        if line.trim().is_empty()
            || line.ends_with(" routes")
            || line.starts_with("Profile ")
            || line.starts_with("Provider ")
        {
            continue;
        }
        rows.insert(line.to_owned());
        let start = if dynamic { 42 } else { 21 };
        if let Some(uri) = line.get(start..(start + 40).min(line.len())) {
            uris.insert(uri.trim_end().to_owned());
        }
    }
    (rows, uris)
}

/// The body with every `start`..`end` item sorted, so hash order does not matter.
fn normalize(body: &[u8], unordered: Option<(&str, &str)>) -> Vec<u8> {
    let Some((start, end)) = unordered else {
        return body.to_vec();
    };
    let text = String::from_utf8_lossy(body).into_owned();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(start) {
        out.push_str(&rest[..i]);
        let mut items = Vec::new();
        let mut run = &rest[i..];
        while run.starts_with(start) {
            let Some(j) = run[start.len()..].find(end) else {
                break;
            };
            let len = start.len() + j + end.len();
            items.push(&run[..len]);
            run = &run[len..];
        }
        if items.is_empty() {
            out.push_str(start);
            rest = &rest[i + start.len()..];
            continue;
        }
        items.sort_unstable();
        out.extend(items);
        rest = run;
    }
    out.push_str(rest);
    out.into_bytes()
}

fn summary(r: &Response, unordered: Option<(&str, &str)>) -> (u16, Option<String>, String) {
    (
        r.status,
        r.header("Content-Type").map(str::to_owned),
        String::from_utf8_lossy(&normalize(&r.body, unordered)).into_owned(),
    )
}

/// Compares the two modules on `case`; returns how many URIs were compared.
pub fn compare(case: &Case) -> usize {
    let stock = start(case, Impl::Stock);
    let ours = start(case, Impl::Rust);
    let n = compare_running(case, &stock, &ours);
    if !case.after_reload {
        return n;
    }
    for ast in [&stock, &ours] {
        ast.cli("module reload res_phoneprov.so");
    }
    n + compare_running(case, &stock, &ours)
}

fn compare_running(case: &Case, stock: &Asterisk, ours: &Asterisk) -> usize {
    let (stock_rows, stock_uris) = routes(stock);
    let (our_rows, our_uris) = routes(ours);
    assert_eq!(our_rows, stock_rows, "phoneprov show routes differ");

    let mut uris: BTreeSet<String> = stock_uris.union(&our_uris).cloned().collect();
    uris.extend(case.extra_uris.iter().map(|u| (*u).to_owned()));
    uris.insert("no-such-file.cfg".to_owned());
    for uri in &uris {
        let path = format!("/phoneprov/{uri}");
        let (s, o) = (stock.get(&path), ours.get(&path));
        assert_eq!(
            summary(&o, case.unordered),
            summary(&s, case.unordered),
            "GET {path}: ours (left) and the C module (right) differ"
        );
        let (s, o) = (
            stock.request("HEAD", &path, ""),
            ours.request("HEAD", &path, ""),
        );
        assert_eq!(o.status, s.status, "HEAD {path}");
        assert_eq!(
            o.header("Content-Type"),
            s.header("Content-Type"),
            "HEAD {path}"
        );
        if case.unordered.is_none() {
            assert_eq!(
                o.header("Content-Length"),
                s.header("Content-Length"),
                "HEAD {path}"
            );
        }
        assert!(
            o.body.is_empty() || o.status >= 400,
            "HEAD {path} has a body"
        );
        let post = "Content-Length: 0\r\n";
        let (s, o) = (
            stock.request("POST", &path, post),
            ours.request("POST", &path, post),
        );
        assert_eq!(summary(&o, None), summary(&s, None), "POST {path}");
    }
    uris.len()
}
