//! The `phoneprov` CLI commands: show routes, show phone, render, check.

use std::fmt::Write as _;
use std::fs;

use crate::ffi::host::{cli_print, data_file, function_exists};
use crate::module::http::render_dynamic;
use crate::module::render::Serving;
use crate::module::state;
use phoneprov_core::cli;
use phoneprov_core::model::{Phone, Snapshot, Target};
use phoneprov_core::profile::FileEntry;
use phoneprov_core::template::problems;
use phoneprov_core::xmlcheck;

const SHOW_ROUTES: i32 = 0;
const SHOW_PHONE: i32 = 1;
const RENDER: i32 = 2;
const CHECK: i32 = 3;

/// Variables whose values the CLI does not print.
fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.contains("SECRET") || n.contains("PASS")
}

/// What the CLI renders with: the phone's own SERVER, else 127.0.0.1 (there is no
/// connection to take it from).
fn cli_serving(phone: &Phone) -> Serving {
    Serving::new(phone, Some("127.0.0.1".into()), None)
}

fn show_phone(snap: &Snapshot, mac: &str) -> String {
    let Some(phone) = snap.phone(mac) else {
        return format!("No phone with MAC '{mac}'.\n");
    };
    let mut out = format!(
        "Phone {} (provider {}, profile {})\n",
        phone.mac, phone.provider, phone.profile.name
    );
    for line in &phone.lines {
        let _ = writeln!(out, "\nLine {} ({}):", line.index, line.name);
        for (k, v) in line.vars.iter() {
            let v = if is_secret(k) && !v.is_empty() {
                "********"
            } else {
                v
            };
            let _ = writeln!(out, "  {k:<20} = {v}");
        }
    }
    out += "\nRoutes:\n";
    for r in &snap.routes {
        if let Target::Dynamic { phone: p, file } = r.target {
            if *snap.phones[p].mac == *phone.mac {
                let f = &phone.profile.dynamic_files[file];
                let _ = writeln!(out, "  {:<40} {} ({})", r.uri, f.template, f.mime_type);
            }
        }
    }
    out
}

fn render(snap: &Snapshot, uri: &str) -> String {
    let Some(res) = snap.resolve(uri) else {
        return format!("No route for '{uri}'.\n");
    };
    match res.phone {
        None => match fs::read(data_file(&res.file.template)) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => format!("({} bytes of binary data)\n", e.as_bytes().len()),
            },
            Err(e) => format!("Cannot read {}: {e}\n", res.file.template),
        },
        Some(phone) => match render_dynamic(phone, res.file, cli_serving(phone)) {
            Ok(body) => body,
            Err(e) => format!("{e}\n"),
        },
    }
}

/// What is wrong with one dynamic route, if anything.
fn check_route(phone: &Phone, file: &FileEntry) -> Vec<String> {
    let path = data_file(&file.template);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return vec![format!("missing template {} ({e})", path.display())],
    };
    let mut found: Vec<String> = problems(&text, &function_exists)
        .into_iter()
        .map(|(l, c, m)| format!("{}:{l}:{c}: {m}", file.template))
        .collect();
    match render_dynamic(phone, file, cli_serving(phone)) {
        Err(e) => found.push(e.to_string()),
        Ok(body) => {
            let xml = file.mime_type.contains("xml") || file.template.ends_with(".linphonerc");
            if xml {
                if let Err(e) = xmlcheck::check(&body) {
                    found.push(format!(
                        "not well-formed XML at line {}, column {}: {}",
                        e.line, e.column, e.message
                    ));
                }
            }
        }
    }
    found
}

fn check(snap: &Snapshot, mac: Option<&str>) -> String {
    let mut out = String::new();
    let (mut routes, mut bad) = (0, 0);
    for r in &snap.routes {
        let Target::Dynamic { phone, file } = r.target else {
            continue;
        };
        let phone = &snap.phones[phone];
        if mac.is_some_and(|m| *m != *phone.mac) {
            continue;
        }
        routes += 1;
        let found = check_route(phone, &phone.profile.dynamic_files[file]);
        if !found.is_empty() {
            bad += 1;
            let _ = writeln!(out, "{} (phone {}):", r.uri, phone.mac);
            for f in found {
                let _ = writeln!(out, "  {f}");
            }
        }
    }
    let _ = writeln!(out, "{routes} dynamic routes checked, {bad} with problems.");
    out
}

pub fn run(command: i32, fd: i32, args: &[String]) {
    let Some(snap) = state::current() else { return };
    let text = match command {
        SHOW_ROUTES => cli::show_routes(&snap),
        SHOW_PHONE => show_phone(&snap, &args[3]),
        RENDER => render(&snap, &args[2]),
        CHECK => check(&snap, args.get(2).map(String::as_str)),
        _ => return,
    };
    cli_print(fd, &text);
}

/// Tab completion: the `state`-th MAC or URI starting with `word` at the position that
/// takes one.
pub fn complete(command: i32, _line: &str, word: &str, pos: i32, state: i32) -> Option<String> {
    let snap = state::current()?;
    let candidates: Vec<&str> = match (command, pos) {
        (SHOW_PHONE, 3) | (CHECK, 2) => snap.phones.iter().map(|p| &*p.mac).collect(),
        (RENDER, 2) => snap.routes.iter().map(|r| &*r.uri).collect(),
        _ => return None,
    };
    candidates
        .into_iter()
        .filter(|c| c.starts_with(word))
        .nth(usize::try_from(state).ok()?)
        .map(str::to_owned)
}
