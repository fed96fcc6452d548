//! The `phoneprov` CLI commands: show routes, show phones, show phone, render, check. No
//! secret is printed unless asked for (`phoneprov render URI secrets`).

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::sync::Arc;

use crate::ffi::host::{cli_print, data_file, function_exists, Command};
use crate::module::ops::resync::{self, Selection};
use crate::module::ops::{rollout, status};
use crate::module::render::substitute::{render_dynamic, Failure, Serving};
use crate::module::serve::realtime::{Lookup, RealtimePhone};
use crate::module::serve::{tokens, uploads};
use crate::module::telemetry::audit;
use crate::module::telemetry::cluster::{Down, Row};
use crate::module::Module;
use phoneprov_core::config::profile::FileEntry;
use phoneprov_core::http::httpdate;
use phoneprov_core::model::check;
use phoneprov_core::model::snapshot::{without_secret, Phone, Snapshot, Target};
use phoneprov_core::ops::cli;
use phoneprov_core::ops::mask::{is_secret, Secrets, MASK};
use phoneprov_core::render::template::problems;
use phoneprov_core::render::{qr, xmlcheck};
use phoneprov_core::util::bytes::{lossy, utf8_or_latin1};

/// The word after `phoneprov render URI` that prints secrets as they are.
const SECRETS: &[u8] = b"secrets";

/// What the CLI renders with: the phone's own SERVER, else 127.0.0.1 (there is no
/// connection to take it from).
fn cli_serving(snap: &Arc<Snapshot>, phone: &Phone) -> Serving {
    Serving::new(snap.clone(), phone, Some("127.0.0.1".into()), None)
}

/// `phone`'s `file` rendered as the CLI shows it (see [`cli_serving`]).
fn render_file(
    m: &Module,
    snap: &Arc<Snapshot>,
    phone: &Phone,
    file: &FileEntry,
) -> Result<Vec<u8>, Failure> {
    let functions = m.functions();
    let call = |name: &str, data: &[u8], out: &mut Vec<u8>| functions.call_into(name, data, out);
    render_dynamic(
        &m.templates,
        phone,
        file,
        |_| cli_serving(snap, phone),
        &call,
    )
}

/// `text` padded with spaces to `width` bytes, as printf's `%-Ns` does.
fn padded(out: &mut Vec<u8>, text: &[u8], width: usize) {
    out.extend_from_slice(text);
    out.resize(out.len() + width.saturating_sub(text.len()), b' ');
}

fn show_phone(m: &Module, snap: &Snapshot, mac: &[u8]) -> Vec<u8> {
    let found: Arc<RealtimePhone>;
    let mut from_database = None;
    let phone = match snap.phone(mac) {
        Some(phone) => phone,
        // Dynamic lookup mode: a phone of the database (no routes of its own in memory).
        None => match m.realtime.by_mac(&m.users, snap, mac) {
            Lookup::Found(phone) => {
                found = phone;
                from_database = Some(&found);
                &found.phone
            }
            Lookup::NotFound => {
                return format!("No phone with MAC '{}'.\n", lossy(mac)).into_bytes()
            }
            Lookup::Unavailable => {
                return format!(
                    "No phone with MAC '{}' in memory, and the realtime database does not \
                     answer.\n",
                    lossy(mac)
                )
                .into_bytes()
            }
        },
    };
    let mut out = Vec::new();
    let _ = write!(out, "Phone ");
    out.extend_from_slice(phone.mac());
    let _ = write!(out, " (provider {}, profile ", phone.provider);
    out.extend_from_slice(&phone.profile.name);
    out.extend_from_slice(b")\n");
    for line in phone.lines() {
        let _ = write!(out, "\nLine {} (", line.index);
        out.extend_from_slice(line.name());
        out.extend_from_slice(b"):\n");
        for (k, v) in line.vars.iter() {
            let v = if is_secret(k) && !v.is_empty() {
                MASK
            } else {
                v
            };
            out.extend_from_slice(b"  ");
            padded(&mut out, k, 20);
            out.extend_from_slice(b" = ");
            out.extend_from_slice(v);
            out.push(b'\n');
        }
    }
    let fetches = m.audit.fetches(phone.mac());
    let _ = writeln!(out, "\nLast fetches ({}):", fetches.len());
    for f in fetches.iter().rev() {
        out.extend_from_slice(b"  ");
        fetch_line(&mut out, f);
    }
    match m.cluster.last(phone.mac()) {
        None => {}
        Some(Ok(Some(row))) => {
            out.extend_from_slice(b"\nLast fetch in the cluster (audit_realtime):\n  ");
            row_line(&mut out, &row);
        }
        Some(Ok(None)) => {
            out.extend_from_slice(b"\nLast fetch in the cluster (audit_realtime): never\n");
        }
        Some(Err(Down)) => out.extend_from_slice(
            b"\nLast fetch in the cluster (audit_realtime): its database does not answer\n",
        ),
    }
    out.extend_from_slice(b"\nRoutes:\n");
    for (uri, file) in from_database.iter().flat_map(|f| f.uris()) {
        let f = &phone.profile.dynamic_files[file];
        out.extend_from_slice(b"  ");
        padded(&mut out, uri, 40);
        out.push(b' ');
        out.extend_from_slice(&f.template);
        out.extend_from_slice(b" (");
        out.extend_from_slice(&f.mime_type);
        out.extend_from_slice(b", looked up in the database)\n");
    }
    for r in snap.routes() {
        if let Target::Dynamic { phone: p, file } = r.target {
            if snap.phones[p].mac() == phone.mac() {
                let f = &phone.profile.dynamic_files[file];
                out.extend_from_slice(b"  ");
                padded(&mut out, r.uri, 40);
                out.push(b' ');
                out.extend_from_slice(&f.template);
                out.extend_from_slice(b" (");
                out.extend_from_slice(&f.mime_type);
                out.extend_from_slice(b")\n");
            }
        }
    }
    if !phone.uploads.is_empty() {
        let dir = uploads::phone_dir(phone);
        let _ = writeln!(out, "\nUploads (PUT, stored in {}):", dir.display());
        for pattern in &phone.uploads {
            out.extend_from_slice(b"  ");
            out.extend_from_slice(pattern);
            out.push(b'\n');
        }
    }
    out
}

/// One fetch: time, status, client, TLS, URI and User-Agent (an upload: PUT, the URI and
/// the bytes stored).
fn fetch_line(out: &mut Vec<u8>, f: &audit::Fetch) {
    let _ = write!(
        out,
        "{}  {}  {} {}  ",
        httpdate::format(f.at),
        f.status,
        f.client(),
        if f.tls { "tls" } else { "plain" }
    );
    if f.upload.is_some() {
        out.extend_from_slice(b"PUT ");
    }
    out.extend_from_slice(f.uri());
    if let Some(size) = f.upload {
        let _ = write!(out, " ({size} bytes)");
    }
    let _ = write!(out, "  \"{}\"", f.user_agent().escape_debug());
    if !f.model().is_empty() {
        let _ = write!(out, " ({} {})", f.model(), f.firmware());
    }
    out.push(b'\n');
}

/// A last fetch as the cluster's family holds it: like [`fetch_line`], with the node that
/// answered.
fn row_line(out: &mut Vec<u8>, r: &Row) {
    let _ = write!(
        out,
        "{}  {}  {}  node {}  ",
        httpdate::format(r.at),
        r.status,
        r.address,
        r.node
    );
    out.extend_from_slice(&r.uri);
    let _ = write!(out, "  \"{}\"", r.user_agent.escape_debug());
    if !r.model.is_empty() {
        let _ = write!(out, " ({} {})", r.model, r.firmware);
    }
    out.push(b'\n');
}

/// `phoneprov show phones`: every phone with its profile, lines and last fetch (with
/// audit_realtime, the cluster's: whichever node served it).
fn show_phones(m: &Module, snap: &Snapshot) -> Vec<u8> {
    let mut out = Vec::new();
    let cluster = match m.cluster.of_phones(snap.phones.iter().map(Phone::mac)) {
        Some(Ok(rows)) => Some(rows),
        Some(Err(Down)) => {
            out.extend_from_slice(
                b"The audit_realtime family does not answer: last fetches of this node only.\n",
            );
            None
        }
        None => None,
    };
    let cluster_at = |mac: &[u8]| {
        cluster
            .as_ref()
            .and_then(|rows| rows.get(&mac.to_ascii_lowercase()))
    };
    let _ = writeln!(
        out,
        "{:<24} {:<16} {:>5}  Last fetch",
        "MAC", "Profile", "Lines"
    );
    for phone in &snap.phones {
        padded(&mut out, phone.mac(), 24);
        out.push(b' ');
        padded(&mut out, &phone.profile.name, 16);
        let _ = write!(out, " {:>5}  ", phone.lines().len());
        let local = m.audit.last(phone.mac());
        match (cluster_at(phone.mac()), local) {
            // The newer of the two: the family is written at most once per interval.
            (Some(row), Some(f)) if f.at > row.at => fetch_line(&mut out, &f),
            (Some(row), _) => row_line(&mut out, row),
            (None, Some(f)) => fetch_line(&mut out, &f),
            (None, None) => out.extend_from_slice(b"never\n"),
        }
    }
    let _ = writeln!(out, "{} phones", snap.phones.len());
    for profile in &snap.config.profiles {
        let Some(since) = rollout::since(&profile.name) else {
            continue;
        };
        let waiting: Vec<&[u8]> = snap
            .phones
            .iter()
            .filter(|p| p.profile.name == profile.name)
            .filter(|p| {
                let local = m.audit.last(p.mac()).is_some_and(|f| f.at >= since);
                !local && !cluster_at(p.mac()).is_some_and(|r| r.at >= since)
            })
            .map(|p| p.mac())
            .collect();
        out.extend_from_slice(b"Profile [");
        out.extend_from_slice(&profile.name);
        let _ = write!(out, "]: auth_rollout since {}: ", httpdate::format(since));
        if waiting.is_empty() {
            let _ = writeln!(
                out,
                "every phone has fetched since; auth_rollout can be switched off"
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{} phones have not fetched since (keep auth_rollout until they have):",
            waiting.len()
        );
        for mac in waiting {
            out.extend_from_slice(b"  ");
            out.extend_from_slice(mac);
            out.push(b'\n');
        }
    }
    out
}

/// Every secret value of the snapshot's phones (a body may hold other phones' secrets
/// through PP_EACH_USER).
fn secrets_of(snap: &Snapshot) -> Secrets {
    let mut secrets = Secrets::default();
    for phone in &snap.phones {
        for line in phone.lines() {
            for (k, v) in line.vars.iter() {
                if is_secret(k) {
                    secrets.add(v);
                }
            }
        }
    }
    secrets
}

/// What `uri` serves, secret values masked unless `show_secrets`.
fn render_masked(m: &Module, snap: &Arc<Snapshot>, uri: &[u8], show_secrets: bool) -> Vec<u8> {
    let body = render(m, snap, uri);
    if show_secrets {
        return body;
    }
    secrets_of(snap).mask(&body)
}

fn render(m: &Module, snap: &Arc<Snapshot>, uri: &[u8]) -> Vec<u8> {
    let Some(res) = snap.resolve(uri) else {
        return format!("No route for '{}'.\n", lossy(uri)).into_bytes();
    };
    match res.phone {
        None => match fs::read(data_file(&res.file.template)) {
            Ok(bytes) if bytes.contains(&0) => {
                format!("({} bytes of binary data)\n", bytes.len()).into_bytes()
            }
            Ok(bytes) => bytes,
            Err(e) => format!("Cannot read {}: {e}\n", lossy(&res.file.template)).into_bytes(),
        },
        Some(phone) => match render_file(m, snap, phone, res.file) {
            Ok(body) => body,
            Err(e) => format!("{e}\n").into_bytes(),
        },
    }
}

/// What is wrong with one dynamic route, if anything.
fn check_route(m: &Module, snap: &Arc<Snapshot>, phone: &Phone, file: &FileEntry) -> Vec<String> {
    let path = data_file(&file.template);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) => return vec![format!("missing template {} ({e})", path.display())],
    };
    let name = lossy(&file.template);
    let mut found: Vec<String> = problems(&text, &function_exists)
        .into_iter()
        .map(|(l, c, m)| format!("{name}:{l}:{c}: {m}"))
        .collect();
    match render_file(m, snap, phone, file) {
        Err(e) => found.push(e.to_string()),
        Ok(body) => {
            let is_xml = file.mime_type.windows(3).any(|w| w == b"xml")
                || file.template.ends_with(b".linphonerc");
            if is_xml {
                // Well-formedness does not depend on the encoding of letters: bytes that
                // are not UTF-8 are read as ISO-8859-1 for the check.
                if let Err(e) = xmlcheck::check(&utf8_or_latin1(&body)) {
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

/// Static files that do not exist (`mac` given: those of the phone's profile).
fn check_static(snap: &Snapshot, mac: Option<&[u8]>, out: &mut String) -> usize {
    let profile = mac.and_then(|m| snap.phone(m)).map(|p| &p.profile);
    let mut missing = 0;
    for p in &snap.config.profiles {
        if profile.is_some_and(|mine| !Arc::ptr_eq(mine, p)) {
            continue;
        }
        for f in &p.static_files {
            let path = data_file(&f.template);
            if !path.is_file() {
                missing += 1;
                let _ = writeln!(
                    out,
                    "{} (static file of profile [{}]): missing {}",
                    lossy(&f.uri),
                    lossy(&p.name),
                    path.display()
                );
            }
        }
    }
    missing
}

fn check(m: &Module, snap: &Arc<Snapshot>, mac: Option<&[u8]>) -> String {
    let mut out = String::new();
    let missing_static = check_static(snap, mac, &mut out);
    let (mut routes, mut bad) = (0, 0);
    let mut secrets = None;
    for r in snap.routes() {
        let Target::Dynamic { phone, file } = r.target else {
            continue;
        };
        let phone = &snap.phones[phone];
        if mac.is_some_and(|m| m != phone.mac()) {
            continue;
        }
        routes += 1;
        let found = check_route(m, snap, phone, &phone.profile.dynamic_files[file]);
        if !found.is_empty() {
            bad += 1;
            let _ = writeln!(out, "{} (phone {}):", lossy(r.uri), lossy(phone.mac()));
            // A parser's message may quote the rendered body.
            let secrets = secrets.get_or_insert_with(|| secrets_of(snap));
            for f in found {
                let f = secrets.mask(f.as_bytes());
                let _ = writeln!(out, "  {}", String::from_utf8_lossy(&f));
            }
        }
    }
    let own = |uri: &[u8]| -> Option<Vec<u8>> {
        let res = snap.resolve(uri)?;
        let phone = res.phone?;
        render_file(m, snap, phone, res.file).ok()
    };
    let asked = check::check(snap, mac, &own);
    for line in &asked {
        let _ = writeln!(out, "{line}");
    }
    let phones = snap
        .phones
        .iter()
        .filter(|p| mac.map_or(true, |m| m == p.mac()));
    let secretless = without_secret(&snap.config, phones);
    for line in &secretless {
        let _ = writeln!(out, "{line}");
    }
    let _ = write!(
        out,
        "{routes} dynamic routes checked, {bad} with problems; {missing_static} static files \
         missing"
    );
    // Only configurations that name families hear about them.
    if snap.config.profiles.iter().any(|p| p.family.is_some()) {
        let _ = write!(
            out,
            "; {} files their family asks for not served",
            asked.len()
        );
    }
    if !secretless.is_empty() {
        let _ = write!(
            out,
            "; {} profiles with phones that have no secret",
            secretless.len()
        );
    }
    out.push_str(".\n");
    out
}

/// `phoneprov token <mac> [ttl] [qr]`.
fn token(m: &Module, args: &[Vec<u8>]) -> Vec<u8> {
    let mac = args.first().map(Vec::as_slice).unwrap_or_default();
    let mut rest: Vec<&[u8]> = args.iter().skip(1).map(Vec::as_slice).collect();
    let qr = rest.last() == Some(&&b"qr"[..]);
    if qr {
        rest.pop();
    }
    let path = match tokens::create(m, mac, rest.first().copied()) {
        Ok(path) => path,
        Err(why) => return format!("{why}\n").into_bytes(),
    };
    let Some((base, tls)) = tokens::base_url(m, mac) else {
        let mut out = format!("Enrollment URL (single use): http(s)://<server>{path}\n");
        if qr {
            out += "No QR code: this phone's server address is only known per request (set \
                    serveraddr in phoneprov.conf).\n";
        }
        return out.into_bytes();
    };
    let url = format!("{base}{path}");
    let mut out = format!("Enrollment URL (single use): {url}\n");
    if qr {
        match qr::terminal(url.as_bytes()) {
            // Each line starts with a space: Asterisk's remote console takes a line that
            // starts with a byte above 127 for a verbose message and drops it.
            Ok(code) => code.lines().for_each(|l| out += &format!(" {l}\n")),
            Err(e) => out += &format!("No QR code: {e}\n"),
        }
    }
    if !tls {
        out += "Warning: Asterisk's HTTP server has no TLS (http.conf tlsenable), so this URL and \
                the phone's file it serves, SIP password included, travel in clear; see \
                docs/security.md for an http.conf TLS example.\n";
    }
    out.into_bytes()
}

/// Runs `command` on `args`, the words after the command's own (as many as the glue's table
/// allows it), and prints its output on the CLI session `fd`.
pub fn run(m: &Module, command: Command, fd: i32, args: &[Vec<u8>]) {
    let Some(snap) = m.registry.current() else {
        return;
    };
    let arg = |i: usize| args.get(i).map(Vec::as_slice);
    let text = match command {
        Command::ShowRoutes => cli::show_routes(&snap),
        Command::ShowPhone => show_phone(m, &snap, arg(0).unwrap_or_default()),
        Command::ShowPhones => show_phones(m, &snap),
        Command::ShowTokens => tokens::list(&m.registry),
        Command::ShowStatus => status::show(m, &snap).into_bytes(),
        Command::Resync => {
            let selection = match (arg(0).unwrap_or_default(), arg(1)) {
                (b"all", None) => Some(Selection::All),
                (b"profile", Some(name)) => Some(Selection::Profile(name)),
                (mac, None) if mac != b"profile" => Some(Selection::Mac(mac)),
                _ => None,
            };
            match selection.map(|s| resync::resync(m, s)) {
                Some(Ok(report)) | Some(Err(report)) => (report + "\n").into_bytes(),
                None => b"Usage: phoneprov resync <mac>|profile <name>|all\n".to_vec(),
            }
        }
        Command::Token => token(m, args),
        Command::Render => match arg(1) {
            None => render_masked(m, &snap, arg(0).unwrap_or_default(), false),
            Some(SECRETS) => render_masked(m, &snap, arg(0).unwrap_or_default(), true),
            Some(_) => b"Usage: phoneprov render <uri> [secrets]\n".to_vec(),
        },
        Command::Check => check(m, &snap, arg(0)).into_bytes(),
    };
    cli_print(fd, &text);
}

/// Tab completion: the `state`-th MAC or URI starting with `word` at the position that
/// takes one (`pos` counts the words after the command's own, from 0).
pub fn complete(
    m: &Module,
    command: Command,
    word: &[u8],
    pos: i32,
    state: i32,
) -> Option<Vec<u8>> {
    use Command::*;
    let snap = m.registry.current()?;
    let candidates: Vec<&[u8]> = match (command, pos) {
        (ShowPhone | Check | Token, 0) => snap.phones.iter().map(|p| p.mac()).collect(),
        (Render, 0) => snap.routes().map(|r| r.uri).collect(),
        (Render, 1) => vec![SECRETS],
        (Resync, 0) => [&b"all"[..], b"profile"]
            .into_iter()
            .chain(snap.phones.iter().map(|p| p.mac()))
            .collect(),
        (Resync, 1) => snap.config.profiles.iter().map(|p| &p.name[..]).collect(),
        _ => return None,
    };
    candidates
        .into_iter()
        .filter(|c| c.starts_with(word))
        .nth(usize::try_from(state).ok()?)
        .map(<[u8]>::to_vec)
}
