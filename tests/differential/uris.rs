//! The URIs a case's configuration defines, read from the files the case writes: `phoneprov
//! show routes` cuts URIs at 40 bytes, so they cannot be taken from there. Each dynamic URI
//! template is expanded for every user with the substitutions the cases use (`${NAME}`,
//! `TOLOWER`, `TOUPPER`); `check_covered` then proves that every listed route was requested.

use std::collections::{BTreeMap, BTreeSet};

/// One `[section]` of a configuration file, as Asterisk's parser reads it: `;` starts a
/// comment, `=>` is `=`, names and values are trimmed, `[name](tpl,...)` inherits.
struct Section {
    name: Vec<u8>,
    templates: Vec<Vec<u8>>,
    vars: Vec<(Vec<u8>, Vec<u8>)>,
}

fn sections(text: &[u8]) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = match line.iter().position(|&b| b == b';') {
            Some(i) => &line[..i],
            None => line,
        }
        .trim_ascii();
        if let Some(rest) = line.strip_prefix(b"[") {
            let Some(close) = rest.iter().position(|&b| b == b']') else {
                continue;
            };
            let options = rest[close + 1..]
                .strip_prefix(b"(")
                .and_then(|o| o.strip_suffix(b")"))
                .unwrap_or_default();
            out.push(Section {
                name: rest[..close].to_vec(),
                templates: options
                    .split(|&b| b == b',')
                    .map(|t| t.trim_ascii().to_vec())
                    .filter(|t| !t.is_empty() && t != b"!")
                    .collect(),
                vars: Vec::new(),
            });
        } else if let (Some(eq), Some(section)) =
            (line.iter().position(|&b| b == b'='), out.last_mut())
        {
            let value = &line[eq + 1..];
            let value = value.strip_prefix(b">").unwrap_or(value);
            section.vars.push((
                line[..eq].trim_ascii().to_vec(),
                value.trim_ascii().to_vec(),
            ));
        }
    }
    out
}

/// A section's variables, those of the templates it inherits from first (names in lower
/// case, as Asterisk compares them).
fn flattened(all: &[Section], s: &Section) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut vars = BTreeMap::new();
    for t in &s.templates {
        if let Some(parent) = all.iter().find(|p| &p.name == t) {
            vars.extend(flattened(all, parent));
        }
    }
    for (k, v) in &s.vars {
        vars.insert(k.to_ascii_lowercase(), v.clone());
    }
    vars
}

/// `MAC` and `USERNAME` of every phone line the users file and pjsip.conf could define:
/// sections that are not lines (`general`, templates) only add URIs that must be 404 on both.
fn lines(users: Option<&[u8]>, pjsip: Option<&[u8]>) -> Vec<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut out = Vec::new();
    let mut add = |mac: Option<&Vec<u8>>, username: Option<&Vec<u8>>, section: &Section| {
        let Some(mac) = mac else { return };
        // The phone's MAC as written and in either case: which one the modules use is what
        // the comparison is about.
        for mac in [
            mac.clone(),
            mac.to_ascii_lowercase(),
            mac.to_ascii_uppercase(),
        ] {
            out.push(BTreeMap::from([
                (b"MAC".to_vec(), mac),
                (
                    b"USERNAME".to_vec(),
                    username.unwrap_or(&section.name).clone(),
                ),
            ]));
        }
    };
    if let Some(users) = users {
        let all = sections(users);
        for s in &all {
            let vars = flattened(&all, s);
            add(vars.get(&b"macaddress"[..]), vars.get(&b"username"[..]), s);
        }
    }
    if let Some(pjsip) = pjsip {
        let all = sections(pjsip);
        for s in &all {
            let vars = flattened(&all, s);
            if vars.get(&b"type"[..]).map(Vec::as_slice) == Some(b"phoneprov") {
                add(vars.get(&b"mac"[..]), vars.get(&b"username"[..]), s);
            }
        }
    }
    out
}

/// The index of the `}` closing a `${` whose inside starts at `from`.
fn closing(text: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = from;
    while i < text.len() {
        if text[i..].starts_with(b"${") {
            depth += 1;
            i += 2;
            continue;
        }
        if text[i] == b'}' {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
        i += 1;
    }
    None
}

/// `${NAME}`, `${TOLOWER(...)}` and `${TOUPPER(...)}` as Asterisk substitutes them (unknown
/// names are empty; case mapping is ASCII only, as C's toupper in the C locale).
fn expand(template: &[u8], vars: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < template.len() {
        if !template[i..].starts_with(b"${") {
            out.push(template[i]);
            i += 1;
            continue;
        }
        let Some(end) = closing(template, i + 2) else {
            out.extend_from_slice(&template[i..]);
            break;
        };
        let inner = expand(&template[i + 2..end], vars);
        let call = |name: &[u8]| {
            inner
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(b"("))
                .and_then(|r| r.strip_suffix(b")"))
        };
        if let Some(arg) = call(b"TOLOWER") {
            out.extend(arg.to_ascii_lowercase());
        } else if let Some(arg) = call(b"TOUPPER") {
            out.extend(arg.to_ascii_uppercase());
        } else if let Some(v) = vars.get(&inner) {
            out.extend_from_slice(v);
        }
        i = end + 1;
    }
    out
}

/// Every URI of `phoneprov`'s profiles: static files by name, dynamic templates expanded for
/// every line.
pub fn from_config(
    phoneprov: &[u8],
    users: Option<&[u8]>,
    pjsip: Option<&[u8]>,
) -> BTreeSet<Vec<u8>> {
    let lines = lines(users, pjsip);
    let mut uris = BTreeSet::new();
    for s in sections(phoneprov).iter().filter(|s| s.name != b"general") {
        for (key, value) in &s.vars {
            match key.to_ascii_lowercase().as_slice() {
                b"staticdir" | b"mime_type" | b"setvar" => {}
                b"static_file" => {
                    let name = value.split(|&b| b == b',').next().unwrap_or_default();
                    uris.insert(name.trim_ascii().to_vec());
                }
                _ => uris.extend(lines.iter().map(|vars| expand(key, vars))),
            }
        }
    }
    uris
}

/// The URI column of a `phoneprov show routes` row: bytes 21..61 of a static row, 42..82 of
/// a dynamic one, padded with blanks.
pub fn column(row: &[u8], dynamic: bool) -> &[u8] {
    let start = if dynamic { 42 } else { 21 };
    let end = (start + 40).min(row.len());
    row.get(start..end).unwrap_or_default().trim_ascii_end()
}

/// Fails unless every URI `show routes` lists (cut to 40 bytes) is one of `requested`.
pub fn check_covered(listed: &BTreeSet<Vec<u8>>, requested: &BTreeSet<Vec<u8>>) {
    for col in listed {
        let covered = requested
            .iter()
            .any(|u| u == col || (col.len() == 40 && u.starts_with(col)));
        assert!(
            covered,
            "show routes lists {:?}, which the URIs expanded from the configuration miss: \
             expand more substitutions or list it in the case's `extra_uris`",
            String::from_utf8_lossy(col)
        );
    }
}

/// `uri` as a request path: every byte but unreserved ones and `/` percent-encoded, so
/// bytes of any encoding reach both modules alike.
pub fn request_path(uri: &[u8]) -> String {
    let mut path = String::from("/phoneprov/");
    for &b in uri {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            path.push(char::from(b));
        } else {
            path += &format!("%{b:02X}");
        }
    }
    path
}

#[test]
fn templates_expand_per_line() {
    let users = b"[t](!)\nautoprov = yes\nmacaddress = 0A\n[u1](t)\nusername = j\xfcrgen ; x\n\
        [u2](t)\nmacaddress = 0b\n";
    let uris = from_config(
        b"[general]\ndefault_profile = p\n[p]\nstaticdir => s/\nstatic_file => f.bin, x/y\n\
          ${TOLOWER(${MAC})}/${USERNAME}.cfg => t.cfg\nsetvar => A=B\n",
        Some(users),
        None,
    );
    for want in [
        &b"f.bin"[..],
        b"0a/j\xfcrgen.cfg",
        b"0b/u2.cfg",
        b"0a/t.cfg",
    ] {
        assert!(uris.contains(want), "{:?}", String::from_utf8_lossy(want));
    }
    assert_eq!(request_path(b"a b/\xfc:"), "/phoneprov/a%20b/%FC%3A");
}
