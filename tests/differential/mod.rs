//! Runs one configuration through the stock C module and through ours, in the same sandbox,
//! and compares every route: status, Content-Type and body byte for byte, HEAD and POST,
//! 404s, and `phoneprov show routes` as sets of rows. The URIs come from the configuration
//! (see uris.rs), so URIs longer than the CLI's column are requested whole.

mod uris;

use std::collections::BTreeSet;

use crate::common::{Asterisk, Builder, Impl, Response, PJSIP_MODULES};

/// One configuration to compare. Files are bytes: configurations in other encodings than
/// UTF-8 must come through both modules alike.
#[derive(Default, Clone)]
pub struct Case {
    pub phoneprov: &'static [u8],
    /// users.conf, which both modules read.
    pub users: Option<&'static [u8]>,
    /// The users file under its newer name for ours (`phoneprov_users.conf`) and as
    /// `users.conf` for the stock module (Asterisk 22 reads only that name).
    pub users_new_name: bool,
    pub pjsip: Option<&'static [u8]>,
    pub files: &'static [(&'static str, &'static [u8])],
    /// Stock modules loaded before res_phoneprov (functions used in URIs or setvars).
    pub preload: &'static [&'static str],
    /// Stock modules loaded after it (functions used in templates).
    pub modules: &'static [&'static str],
    /// URIs to request besides those expanded from the configuration (as bytes, not
    /// percent-encoded).
    pub extra_uris: &'static [&'static [u8]],
    /// URIs both modules must serve with 200 (the comparison alone would pass on two 404s).
    pub must_serve: &'static [&'static [u8]],
    /// `PP_EACH_USER` output: the C module lists phones in hash order, so the items between
    /// these two markers are compared as a multiset.
    pub unordered: Option<(&'static str, &'static str)>,
    /// Compare once more after `module reload res_phoneprov.so` on both.
    pub after_reload: bool,
}

/// An Asterisk with `case`'s configuration.
pub fn start(case: &Case, imp: Impl) -> Asterisk {
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

/// The rows of `phoneprov show routes` (without headers), and the URI column of each.
fn routes(ast: &Asterisk) -> (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>) {
    let out = ast.cli_raw("phoneprov show routes");
    let mut rows = BTreeSet::new();
    let mut listed = BTreeSet::new();
    let mut dynamic = false;
    for line in out.split(|&b| b == b'\n') {
        if line.starts_with(b"Dynamic routes") {
            dynamic = true;
        }
        if line.trim_ascii().is_empty()
            || line.ends_with(b" routes")
            || line.starts_with(b"Profile ")
            || line.starts_with(b"Provider ")
        {
            continue;
        }
        rows.insert(line.to_vec());
        listed.insert(uris::column(line, dynamic).to_vec());
    }
    (rows, listed)
}

/// The body with every `start`..`end` item sorted, so hash order does not matter.
fn normalize(body: &[u8], unordered: Option<(&str, &str)>) -> Vec<u8> {
    let Some((start, end)) = unordered else {
        return body.to_vec();
    };
    let (start, end) = (start.as_bytes(), end.as_bytes());
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = find(rest, start) {
        out.extend_from_slice(&rest[..i]);
        let mut items = Vec::new();
        let mut run = &rest[i..];
        while run.starts_with(start) {
            let Some(j) = find(&run[start.len()..], end) else {
                break;
            };
            let len = start.len() + j + end.len();
            items.push(&run[..len]);
            run = &run[len..];
        }
        if items.is_empty() {
            out.extend_from_slice(start);
            rest = &rest[i + start.len()..];
            continue;
        }
        items.sort_unstable();
        out.extend(items.concat());
        rest = run;
    }
    out.extend_from_slice(rest);
    out
}

/// Fails unless both answers have the same status, Content-Type and body bytes; the message
/// shows both with non-ASCII bytes escaped (lossy decoding would hide the difference) and
/// where the bytes part.
fn assert_same(what: &str, ours: &Response, stock: &Response, unordered: Option<(&str, &str)>) {
    let (o, s) = (
        normalize(&ours.body, unordered),
        normalize(&stock.body, unordered),
    );
    let (ot, st) = (
        ours.raw_header("Content-Type"),
        stock.raw_header("Content-Type"),
    );
    if ours.status == stock.status && ot == st && o == s {
        return;
    }
    let at = o.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let shown = |b: Option<&[u8]>| b.map(|b| b.escape_ascii().to_string());
    panic!(
        "{what}: ours and the C module differ\n\
         status: ours {} / C {}\nContent-Type: ours {:?} / C {:?}\n\
         bodies ({} / {} bytes) part at byte {at}: ours {:02x?} / C {:02x?}\n\
         ours: {}\nC:    {}",
        ours.status,
        stock.status,
        shown(ot),
        shown(st),
        o.len(),
        s.len(),
        &o[at..(at + 16).min(o.len())],
        &s[at..(at + 16).min(s.len())],
        o.escape_ascii(),
        s.escape_ascii(),
    );
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
    let (stock_rows, stock_listed) = routes(stock);
    let (our_rows, our_listed) = routes(ours);
    if our_rows != stock_rows {
        let show = |a: &BTreeSet<Vec<u8>>, b: &BTreeSet<Vec<u8>>| -> String {
            a.difference(b)
                .map(|r| format!("\n  {}", r.escape_ascii()))
                .collect()
        };
        panic!(
            "phoneprov show routes differ\nonly ours:{}\nonly C:{}",
            show(&our_rows, &stock_rows),
            show(&stock_rows, &our_rows)
        );
    }

    let mut uris = uris::from_config(case.phoneprov, case.users, case.pjsip);
    uris.extend(case.extra_uris.iter().map(|u| u.to_vec()));
    uris.extend(case.must_serve.iter().map(|u| u.to_vec()));
    uris.insert(b"no-such-file.cfg".to_vec());
    uris::check_covered(&stock_listed.union(&our_listed).cloned().collect(), &uris);
    for uri in &uris {
        let path = uris::request_path(uri);
        let (s, o) = (stock.get(&path), ours.get(&path));
        assert_same(&format!("GET {path}"), &o, &s, case.unordered);
        assert!(
            s.status == 200 || !case.must_serve.contains(&uri.as_slice()),
            "GET {path}: both answer {}",
            s.status
        );
        let (s, o) = (
            stock.request("HEAD", &path, ""),
            ours.request("HEAD", &path, ""),
        );
        assert_eq!(o.status, s.status, "HEAD {path}");
        assert_eq!(
            o.raw_header("Content-Type"),
            s.raw_header("Content-Type"),
            "HEAD {path}"
        );
        if case.unordered.is_none() {
            assert_eq!(
                o.raw_header("Content-Length"),
                s.raw_header("Content-Length"),
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
        assert_same(&format!("POST {path}"), &o, &s, None);
    }
    uris.len()
}
