//! The sample set of asterisk-conf/ in a test's Asterisk, with two phones per profile whose
//! users' names and secrets hold every character XML cares about and non-ASCII letters.

use std::path::Path;

use super::{digest, Asterisk, Builder, Impl, Response};

/// The sample profiles, in the order of phoneprov.conf.
pub const PROFILES: [&str; 12] = [
    "polycom",
    "snom",
    "yealink",
    "yealink-dect",
    "grandstream",
    "spa",
    "linphone",
    "fanvil",
    "gigaset",
    "htek",
    "cisco-mpp",
    "snom-dect",
];

/// Profiles whose sample provisions one account per phone: their phones' second lines are
/// not sent.
pub const ONE_ACCOUNT: [&str; 3] = ["grandstream", "linphone", "htek"];

pub fn profile_index(profile: &str) -> usize {
    PROFILES
        .iter()
        .position(|&p| p == profile)
        .unwrap_or_else(|| panic!("no sample profile {profile}"))
}

/// The MAC of phone `phone` of profile `p`: never 000000000000 (Polycom's file for phones
/// without one of their own), with a letter to catch case mistakes.
pub fn mac(p: usize, phone: usize) -> String {
    format!("0f0000{p:02x}00{phone:02x}")
}

/// The user of line `line` (from 1) of phone `phone` of profile `p`.
pub fn user(p: usize, phone: usize, line: usize) -> usize {
    p * 10 + phone * 2 + line
}

pub fn name(i: usize) -> String {
    format!("Jane <User> & Co \"{i}\" 'Zoë' Łukasz")
}

pub fn secret(i: usize) -> String {
    format!("s&{i}<>\"'é")
}

/// Two phones per profile, the first with two lines.
pub fn users() -> String {
    let mut s = String::from("[general]\nvmexten = *97\n\n");
    for (p, profile) in PROFILES.iter().enumerate() {
        for phone in 0..2 {
            let mac = mac(p, phone);
            let lines = if phone == 0 { 2 } else { 1 };
            for line in 1..=lines {
                let i = user(p, phone, line);
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
pub fn credentials(uri: &str) -> Option<(String, String)> {
    let uri = uri.to_ascii_lowercase();
    for p in 0..PROFILES.len() {
        for phone in 0..2 {
            if uri.contains(&mac(p, phone)) {
                let i = user(p, phone, 1);
                return Some((format!("u{i}"), secret(i)));
            }
        }
    }
    None
}

/// `/phoneprov/uri` as a phone whose User-Agent is `agent` (empty: none) asks for it,
/// answering the digest challenge of a phone's file with that phone's credentials.
pub fn fetch_as(ast: &Asterisk, uri: &str, agent: &str) -> Response {
    let path = format!("/phoneprov/{uri}");
    let headers = if agent.is_empty() {
        String::new()
    } else {
        format!("User-Agent: {agent}\r\n")
    };
    match credentials(uri) {
        Some((user, pw)) => digest::get_with(ast, &path, &user, &pw, &headers),
        None => ast.request("GET", &path, &headers),
    }
}

pub fn fetch(ast: &Asterisk, uri: &str) -> Response {
    fetch_as(ast, uri, "")
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

/// Our module with asterisk-conf/'s phoneprov.conf and templates, the modules its templates
/// use, and [`users`].
pub fn start() -> Asterisk {
    let conf = super::project_dir().join("asterisk-conf");
    let samples = conf.join("phoneprov");
    let phoneprov = std::fs::read_to_string(conf.join("phoneprov.conf")).expect("sample");
    let b = Builder::new(Impl::Rust)
        .module("func_strings")
        .module("func_sprintf")
        .conf("phoneprov.conf", &phoneprov)
        .conf("phoneprov_users.conf", users());
    add_dir(b, &samples, &samples).start()
}
