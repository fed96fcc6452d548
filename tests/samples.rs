//! The whole sample set of asterisk-conf/ in real Asterisk, with users whose names and
//! secrets hold every character XML cares about and non-ASCII letters: every route of every
//! profile answers, every XML body is well-formed, and the values come back intact.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::xml::strings;
use common::{digest, Asterisk, Builder, Impl, Response};
use phoneprov_core::xmlcheck;

const PROFILES: [&str; 6] = [
    "polycom",
    "snom",
    "yealink",
    "grandstream",
    "spa",
    "linphone",
];

fn name(i: usize) -> String {
    format!("Jane <User> & Co \"{i}\" 'Zoë' Łukasz")
}

fn secret(i: usize) -> String {
    format!("s&{i}<>\"'é")
}

/// Two phones per profile, the first with two lines.
fn users() -> String {
    let mut s = String::from("[general]\nvmexten = *97\n\n");
    for (p, profile) in PROFILES.iter().enumerate() {
        for phone in 0..2 {
            let mac = format!("00000000{p:02x}{phone:02x}");
            let lines = if phone == 0 { 2 } else { 1 };
            for line in 1..=lines {
                let i = p * 10 + phone * 2 + line;
                s += &format!(
                    "[u{i}]\nautoprov = yes\nmacaddress = {mac}\nprofile = {profile}\n\
                     linenumber = {line}\nfullname = {}\nsecret = {}\nlabel = L{i} & <{i}>\n\n",
                    name(i),
                    secret(i)
                );
            }
        }
    }
    s
}

/// The first line's credentials of the phone whose MAC the URI names: the sample profiles
/// ask for digest auth on phones' files. None for other files (static ones).
fn credentials(uri: &str) -> Option<(String, String)> {
    let uri = uri.to_ascii_lowercase();
    for p in 0..PROFILES.len() {
        for phone in 0..2 {
            if uri.contains(&format!("00000000{p:02x}{phone:02x}")) {
                let i = p * 10 + phone * 2 + 1;
                return Some((format!("u{i}"), secret(i)));
            }
        }
    }
    None
}

/// `/phoneprov/uri`, answering the digest challenge of a phone's file.
fn fetch(ast: &Asterisk, uri: &str) -> Response {
    let path = format!("/phoneprov/{uri}");
    match credentials(uri) {
        Some((user, pw)) => digest::get(ast, &path, &user, &pw),
        None => ast.get(&path),
    }
}

fn add_dir(mut b: Builder, root: &Path, dir: &Path) -> Builder {
    for entry in std::fs::read_dir(dir).expect("sample dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            b = add_dir(b, root, &path);
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .into_owned();
            b = b.file(&rel, std::fs::read(&path).expect("sample file"));
        }
    }
    b
}

#[test]
fn every_route_of_the_sample_set_is_served_and_well_formed() {
    let conf = common::project_dir().join("asterisk-conf");
    let samples = conf.join("phoneprov");
    let phoneprov = std::fs::read_to_string(conf.join("phoneprov.conf")).expect("sample");
    let b = Builder::new(Impl::Rust)
        .module("func_strings")
        .conf("phoneprov.conf", &phoneprov)
        .conf("phoneprov_users.conf", users());
    let ast = add_dir(b, &samples, &samples).start();
    // A clean boot of the sample set: nothing rendered before the functions it uses exist,
    // so no error and no false warning of ours (the test's bare Asterisk has its own, about
    // the configuration files it lacks).
    let boot = ast.log();
    let ours = ["phoneprov", "PP_", ".rs:", "not registered"];
    let alarms: Vec<&str> = boot
        .lines()
        .filter(|l| l.contains("ERROR[") || l.contains("WARNING["))
        .filter(|l| ours.iter().any(|o| l.contains(o)))
        .collect();
    assert!(alarms.is_empty(), "{}", alarms.join("\n"));

    let check = ast.cli("phoneprov check");
    assert!(
        check.ends_with(" 0 with problems; 0 static files missing.\n"),
        "{check}"
    );

    let mut uris = BTreeSet::new();
    for line in ast.cli("phoneprov show routes").lines() {
        if line.starts_with("Provider ") || line.starts_with("Profile ") {
            continue;
        }
        let uri = if line.starts_with("sipusers ") {
            line.get(42..82)
        } else {
            line.get(21..61)
        };
        if let Some(uri) = uri.map(str::trim_end).filter(|u| !u.is_empty()) {
            uris.insert(uri.to_owned());
        }
    }
    // Six profiles, two phones each, and at least one file per phone.
    assert!(uris.len() >= 20, "{uris:?}");

    // Snom: one busy-lamp key per other phone and a night-service key, each an XML
    // definition embedded escaped (it parses as part of the settings file; tests/snom_keys.rs
    // checks the definitions themselves).
    // Phones' files ask for credentials; with them they are served.
    assert_eq!(ast.get("/phoneprov/snom/000000000100.xml").status, 401);
    let snom = fetch(&ast, "snom/000000000100.xml").text();
    let keys = strings(&snom);
    let blf = keys
        .iter()
        .filter(|k| k.starts_with("xml <general type=\"BusyLampField\""))
        .count();
    assert_eq!(blf, 2 * PROFILES.len() - 1, "{snom}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("xml <general type=\"NightService\"/>")),
        "{snom}"
    );

    let mut seen_names = BTreeSet::new();
    let mut seen_secrets = BTreeSet::new();
    for uri in &uris {
        let r = fetch(&ast, uri);
        assert_eq!(r.status, 200, "{uri}");
        // Byte-stable: phones (Yealink) compare a file's MD5 with the last one's and apply
        // only changes, so nothing in a body may vary between fetches.
        let again = fetch(&ast, uri);
        assert_eq!(
            (again.status, &again.body),
            (200, &r.body),
            "{uri} changed between fetches"
        );
        let body = r.text();
        let ctype = r.header("Content-Type").unwrap_or("").to_owned();
        let decoded: Vec<String> = if ctype.contains("xml") || ctype.contains("svg") {
            xmlcheck::check(&body).unwrap_or_else(|e| panic!("{uri}: {e:?}\n{body}"));
            strings(&body)
        } else {
            body.lines().map(str::to_owned).collect()
        };
        for i in 0..70 {
            if decoded.iter().any(|s| s.contains(&name(i))) {
                seen_names.insert(i);
            }
            if decoded.iter().any(|s| s.contains(&secret(i))) {
                seen_secrets.insert(i);
            }
        }
    }
    // Every user's name and secret reached some phone intact; the Grandstream and Linphone
    // samples provision one account per phone, so their second lines are not sent.
    let mut users: BTreeSet<usize> = (0..6)
        .flat_map(|p| [p * 10 + 1, p * 10 + 2, p * 10 + 3])
        .collect();
    users.remove(&32);
    users.remove(&52);
    assert_eq!(seen_names, users, "names that came back intact");
    assert_eq!(seen_secrets, users, "secrets that came back intact");
}
