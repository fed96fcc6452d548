//! `make bench`: the stock C res_phoneprov and ours, in two Asterisk instances of the
//! sandbox with the same configuration (serveraddr set: the only setting in which the C
//! module survives concurrency), measured in turns with wrk on loopback. Prints one table
//! and writes it to BENCHMARKS.md.
//!
//! Also ours with `auth = digest` against ours without, with the bench's own client
//! (benches/keepalive: wrk cannot answer challenges). `cargo bench --bench compare -- digest`
//! runs only that and updates its rows of BENCHMARKS.md in place.
//!
//! Also ours against a minimal C module in the same Asterisk (benches/minmod: the least any
//! module can do per request), and ours against the stock module on Asterisk's own sample
//! template snom-mac.xml. `cargo bench --bench compare -- ceiling` runs only those and
//! updates their rows in place.
//!
//! `cargo bench --bench compare -- static` runs only the static files' rows (4 KB, 4 KB
//! binary, 50 MB) and updates them in place.
//!
//! Also ours over TFTP against tftpd-hpa (benches/tftp). `cargo bench --bench compare --
//! tftp` runs only those rows and updates them in place.

#[path = "../tests/common/mod.rs"]
mod common;
mod keepalive;
mod tftp;
mod wrk;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::load::rss_kib;
use common::{Asterisk, Builder, Impl};
use wrk::{median, today, Run};

const PHONES: usize = 10_000;
const ROUNDS: usize = 5;
const SECONDS: u32 = 2;
/// The Digest rows compare ours with itself over a gap of a few percent: a ratio of two
/// 2-second rates on two shared cores moves by more than that, so each run is longer.
const DIGEST_SECONDS: u32 = 4;
const CONNECTIONS: [u32; 3] = [1, 8, 64];

const PHONEPROV: &str = "\
[general]
serveraddr = 127.0.0.1
default_profile = snom

[snom]
mime_type => application/xml
static_file => small.bin,application/octet-stream
static_file => random.bin,application/octet-stream
static_file => big.bin,application/octet-stream
${MAC}.xml => snom.xml
${MAC}-dir.xml => directory.xml
";

/// The same route and template as [snom], behind Digest. The nonce lifetime is longer than
/// the run: a nonce expiring mid-run would be answered 401 and counted as a failure.
const DIGEST_PROFILE: &str = "
[snomdigest]
mime_type => application/xml
auth = digest
auth_nonce_ttl = 86400
${MAC}.xml => snom.xml
";

/// A Snom-sized settings file with a handful of variables.
const SNOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<settings>
  <phone-settings e="2">
    <language perm="">English</language>
    <web_language perm="">English</web_language>
    <timezone perm="">GBR-0</timezone>
    <tone_scheme perm="">GBR</tone_scheme>
    <date_us_format perm="">off</date_us_format>
    <time_24_format perm="">on</time_24_format>
    <user_active idx="1" perm="">on</user_active>
    <user_realname idx="1" perm="">${DISPLAY_NAME}</user_realname>
    <user_name idx="1" perm="">${USERNAME}</user_name>
    <user_pname idx="1" perm="">${USERNAME}</user_pname>
    <user_pass idx="1" perm="">${SECRET}</user_pass>
    <user_host idx="1" perm="">${SERVER}:${SERVER_PORT}</user_host>
    <user_outbound idx="1" perm="">${SERVER}:${SERVER_PORT};transport=udp</user_outbound>
    <user_mailbox idx="1" perm="">${VOICEMAIL_EXTEN}</user_mailbox>
    <user_idle_text idx="1" perm="">${LABEL}</user_idle_text>
    <ntp_server perm="">pool.ntp.org</ntp_server>
    <http_user perm="">admin</http_user>
  </phone-settings>
</settings>
"#;

const DIRECTORY: &str = "<tbook>\
${PP_EACH_USER(<item><name>%{DISPLAY_NAME}</name><number>%{USERNAME}</number></item>,${MAC})}\
</tbook>\n";

fn users(n: usize) -> String {
    let mut s = String::from("[general]\nvmexten = *97\n\n");
    for i in 0..n {
        let _ = write!(
            s,
            "[{u}]\nusername = {u}\nautoprov = yes\nmacaddress = 0004f2{i:06x}\n\
             fullname = Phone User {i}\nsecret = secret-{i}\nlabel = L{i}\n",
            u = 10_000 + i
        );
    }
    s
}

/// Bytes like a logo's or a ringtone's: every value, NULs included (xorshift, fixed seed).
fn random_bytes(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn start(imp: Impl, phones: usize) -> Asterisk {
    Builder::new(imp)
        .conf("phoneprov.conf", PHONEPROV)
        .conf("users.conf", users(phones))
        .file("snom.xml", SNOM)
        .file("directory.xml", DIRECTORY)
        .file("small.bin", vec![b'x'; 4096])
        .file("random.bin", random_bytes(4096))
        .start()
}

fn wrk(ast: &Asterisk, path: &str, conns: u32, expect_2xx: bool, storm: bool) -> Run {
    let headers: &[&str] = if storm { &["Connection: close"] } else { &[] };
    wrk::run(ast, path, conns, SECONDS, None, headers, expect_2xx)
}

/// Phones powering up at once: each request on a connection of its own, so connections
/// are opened all the time, 64 at once (wrk reconnects after each answer). Asterisk's
/// listen backlog of 10 drops the handshakes beyond it unless raised (`http_backlog`).
const STORM: &str = "dynamic route p99 latency, a new connection per request";

/// A figure measured on both modules.
struct Row {
    name: String,
    c: Vec<f64>,
    ours: Vec<f64>,
    /// Higher is better (throughput) or lower (time, memory, latency).
    higher_better: bool,
    goal: Option<f64>,
    /// Ours against itself, and what `c` then holds (e.g. ours without the feature measured:
    /// the C module has no such feature): the table must not show it under "C".
    self_compared: Option<&'static str>,
}

impl Row {
    /// Ours / C per round: the two were measured back to back, so a round's ratio is free of
    /// what drifts between rounds (other load, the CPU's clock). One figure each (memory):
    /// that one ratio.
    fn ratios(&self) -> Vec<f64> {
        if self.c.len() == self.ours.len() {
            self.c
                .iter()
                .zip(&self.ours)
                .map(|(c, o)| if *c > 0.0 { o / c } else { f64::NAN })
                .collect()
        } else {
            vec![median(self.ours.clone()) / median(self.c.clone())]
        }
    }

    fn line(&self) -> String {
        let (c, o) = (median(self.c.clone()), median(self.ours.clone()));
        let ratios = self.ratios();
        let ratio = median(ratios.clone());
        let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let spread = if ratios.len() > 1 {
            format!("{lowest:.2}–{highest:.2}")
        } else {
            String::new()
        };
        let (goal, met) = match self.goal {
            Some(g) if self.higher_better => {
                (format!("≥ {g}"), if ratio >= g { "yes" } else { "no" })
            }
            Some(g) => (format!("≤ {g}"), if ratio <= g { "yes" } else { "no" }),
            None => (String::new(), ""),
        };
        let (c, o) = match self.self_compared {
            Some(what) => ("–".to_owned(), format!("{o:.2} ({what}: {c:.2})")),
            None => (format!("{c:.2}"), format!("{o:.2}")),
        };
        format!(
            "| {} | {c} | {o} | {ratio:.2} | {spread} | {goal} | {met} |",
            self.name
        )
    }
}

const DIGEST_ROW: &str = "dynamic route, digest auth / no auth";

fn digest_note(date: &str, failed: u64) -> String {
    format!(
        "Rows \"{DIGEST_ROW}\" ({date}): ours against itself, the same route and template in a \
         profile with `auth = digest` and one without, in one Asterisk, measured in turns \
         for {DIGEST_SECONDS} s each with the bench's own keep-alive client (benches/keepalive: \
         wrk cannot answer challenges; it builds each request from a prepared prefix and hash \
         state, so its share of the cores stays close to a plain request's). Each connection takes one challenge, then answers every request with \
         that nonce and an increasing nonce count, qop=auth, MD5 (what curl and liblinphone \
         answer with by default). {failed} failed requests in these runs.\n"
    )
}

/// Ours with and without Digest auth on the same dynamic route, in turns; one row per
/// connection count, and the failed requests.
fn digest_rows() -> (Vec<Row>, u64) {
    let plain = "/phoneprov/0004f2000001.xml";
    let behind = "/phoneprov/0004f2000002.xml";
    let users = users(PHONES).replace(
        "macaddress = 0004f2000002\n",
        "macaddress = 0004f2000002\nprofile = snomdigest\n",
    );
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", format!("{PHONEPROV}{DIGEST_PROFILE}"))
        .conf("users.conf", users)
        .file("snom.xml", SNOM)
        .start();
    assert_eq!(ast.get(plain).status, 200);
    assert_eq!(ast.get(behind).status, 401, "{behind} is not behind Digest");
    let login = keepalive::Login {
        user: "10002".into(),
        password: "secret-2".into(),
    };
    let mut rows: Vec<Row> = CONNECTIONS
        .iter()
        .map(|&c| Row {
            name: format!(
                "{DIGEST_ROW}, {c} conn{} (req/s)",
                if c == 1 { "" } else { "s" }
            ),
            c: Vec::new(),
            ours: Vec::new(),
            higher_better: true,
            goal: Some(0.9),
            self_compared: Some("without"),
        })
        .collect();
    let mut failed = 0;
    for round in 0..ROUNDS {
        println!("digest: round {} of {ROUNDS}", round + 1);
        for (row, &c) in rows.iter_mut().zip(&CONNECTIONS) {
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for auth in order {
                let (path, login) = if auth {
                    (behind, Some(login.clone()))
                } else {
                    (plain, None)
                };
                let out = keepalive::run(ast.addr(), path, c, DIGEST_SECONDS, login);
                println!(
                    "  {c:>2} conns, {}: {:.0} req/s, {} failed",
                    if auth { "digest " } else { "no auth" },
                    out.rps(),
                    out.failed
                );
                failed += out.failed;
                if auth {
                    row.ours.push(out.rps());
                } else {
                    row.c.push(out.rps());
                }
            }
        }
    }
    (rows, failed)
}

/// Replaces (or adds) `rows` and `note` in the table of the last full run, which keeps
/// everything else. The rows replaced are the table's lines that start with one of
/// `names`; the note replaced is the paragraph that starts like `note` up to the end of its
/// first quoted name (`Rows "NAME"`). Both keep their place; new ones go where a full run
/// puts them: rows before the failed requests, the note after the table. Rows without a
/// note of their own (None) leave every note as it is.
fn update_in_place(rows: &[Row], names: &[&str], note: Option<&str>) {
    let out = common::project_dir().join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&out).unwrap_or_default();
    let key = note.map(|note| {
        note.char_indices()
            .filter(|&(_, c)| c == '"')
            .nth(1)
            .map_or(note, |(i, _)| &note[..=i])
    });
    let mut lines: Vec<String> = Vec::new();
    let (mut rows_at, mut note_at) = (None, None);
    let mut it = old.lines().peekable();
    while let Some(l) = it.next() {
        if key.is_some_and(|key| l.starts_with(key)) {
            note_at.get_or_insert(lines.len());
            // The note and the blank line that separates it from what follows.
            it.next_if(|l| l.is_empty());
        } else if names.iter().any(|n| l.starts_with(&format!("| {n}"))) {
            rows_at.get_or_insert(lines.len());
        } else {
            lines.push(l.to_owned());
        }
    }
    let find = |p: &dyn Fn(&str) -> bool| lines.iter().position(|l| p(l));
    let rows_at = rows_at
        .or_else(|| find(&|l| l.starts_with("| failed requests")))
        .or_else(|| {
            lines
                .iter()
                .rposition(|l| l.starts_with('|'))
                .map(|i| i + 1)
        })
        .unwrap_or(lines.len());
    let note_at = note_at
        .or_else(|| find(&|l| l.starts_with("Total time")))
        .unwrap_or(lines.len());
    let note: Vec<String> = note
        .map(|note| vec![note.trim_end().to_owned(), String::new()])
        .unwrap_or_default();
    // The later place first, so that the other's index still holds.
    if note_at >= rows_at {
        lines.splice(note_at..note_at, note);
        lines.splice(rows_at..rows_at, rows.iter().map(Row::line));
    } else {
        lines.splice(rows_at..rows_at, rows.iter().map(Row::line));
        lines.splice(note_at..note_at, note);
    }
    let mut md = lines.join("\n");
    md.push('\n');
    for r in rows {
        println!("{}", r.line());
    }
    std::fs::write(&out, md).expect("write BENCHMARKS.md");
    println!("written to {}", out.display());
}

/// Ours over TFTP against tftpd-hpa (see benches/tftp).
fn tftp_rows() -> Vec<Row> {
    let [firmware, phones] = tftp::measure(ROUNDS, SNOM, &users(1_000), random_bytes(4 << 20));
    vec![
        Row {
            name: tftp::FIRMWARE_ROW.to_owned(),
            c: firmware.0,
            ours: firmware.1,
            higher_better: true,
            goal: Some(1.0),
            self_compared: Some("tftpd-hpa"),
        },
        Row {
            name: tftp::PHONES_ROW.to_owned(),
            c: phones.0,
            ours: phones.1,
            higher_better: true,
            goal: Some(2.0),
            self_compared: Some("tftpd-hpa"),
        },
    ]
}

/// `-- digest`: only the Digest rows.
fn digest_only() {
    let (rows, failed) = digest_rows();
    update_in_place(&rows, &[DIGEST_ROW], Some(&digest_note(&today(), failed)));
}

const MINIMAL_ROW: &str = "dynamic route / minimal C module";
const SAMPLE_ROW: &str = "realistic per-phone file (Asterisk's sample snom-mac.xml)";
/// An office's phones: each phone's file lists every other user (the sample's phone book,
/// PP_EACH_USER), so the count sets the file's size; 10,000 would make it the directory
/// rows' figure again.
const SAMPLE_PHONES: usize = 100;

fn ceiling_note(date: &str, failed: u64) -> String {
    format!(
        "Rows \"{MINIMAL_ROW}\" and \"{SAMPLE_ROW}\" ({date}): the first measures ours against \
         benches/minmod/res_ppmin.c, a minimal C module the bench compiles against the \
         sandbox's headers and loads into the same Asterisk as ours, measured in turns: it \
         registers /ppmin and answers every request with one ast_http_send of a body read once \
         at load, the bytes and Content-type our dynamic route returns for the bench's phone \
         (no lookup, no template, no header of its own): what any module at least pays \
         Asterisk's HTTP server per request. The second measures ours against the stock \
         module like the dynamic route rows, with Asterisk's own sample template snom-mac.xml \
         (taken from the sandbox at bench time) as `snom-${{MAC}}.xml`, {SAMPLE_PHONES} phones \
         with a time zone and caller ID each: each file holds the time zone's DST dates and a \
         phone book of the other {} users. {failed} failed requests in these runs.\n",
        SAMPLE_PHONES - 1
    )
}

/// benches/minmod/res_ppmin.c, compiled against the sandbox's Asterisk headers.
fn build_minimal_module() -> PathBuf {
    let src = common::project_dir().join("benches/minmod/res_ppmin.c");
    let root = common::sandbox_root();
    let include = root
        .parent()
        .expect("the sandbox holds root/")
        .join("include");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("res_ppmin.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-D_GNU_SOURCE", "-D_REENTRANT"])
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("cc");
    assert!(status.success(), "cc could not build {}", src.display());
    out
}

/// A body's lines, sorted: PP_EACH_USER lists users in each module's own order.
fn sorted_lines(body: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    lines.sort();
    lines
}

fn sample_users(n: usize) -> String {
    let mut s = String::from("[general]\nvmexten = *97\n\n");
    for i in 0..n {
        let _ = write!(
            s,
            "[{u}]\nusername = {u}\nautoprov = yes\nmacaddress = 000413{i:06x}\n\
             fullname = Phone User {i}\nsecret = secret-{i}\ncid_number = {u}\n\
             timezone = Europe/Berlin\n",
            u = 10_000 + i
        );
    }
    s
}

/// Ours against the minimal module at 8 connections, then ours against the stock module on
/// the sample template; the failed requests of the stock module, ours and the minimal one.
fn ceiling_rows() -> (Vec<Row>, [u64; 3]) {
    let mut failed = [0u64; 3];
    let mut rows = Vec::new();

    let module = build_minimal_module();
    let dynamic = "/phoneprov/0004f2000001.xml";
    let ast = start(Impl::Rust, PHONES);
    let ours = ast.get(dynamic);
    assert_eq!(ours.status, 200);
    std::fs::write(ast.dir.join("data/ppmin.body"), &ours.body).expect("body file");
    std::fs::copy(&module, ast.dir.join("mod/res_ppmin.so")).expect("copy res_ppmin.so");
    ast.cli("module load res_ppmin.so");
    let minimal = ast.get("/ppmin");
    assert_eq!(
        minimal.status,
        200,
        "res_ppmin did not load:\n{}",
        ast.log_tail()
    );
    assert_eq!(minimal.body, ours.body);
    assert_eq!(minimal.header("Content-Type"), ours.header("Content-Type"));
    let mut row = Row {
        name: format!("{MINIMAL_ROW}, 8 conns (req/s)"),
        c: Vec::new(),
        ours: Vec::new(),
        higher_better: true,
        goal: Some(0.8),
        self_compared: Some("minimal C module"),
    };
    for round in 0..ROUNDS {
        println!("minimal module: round {} of {ROUNDS}", round + 1);
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ours in order {
            let run = wrk(
                &ast,
                if is_ours { dynamic } else { "/ppmin" },
                8,
                true,
                false,
            );
            println!(
                "  {}: {:.0} req/s",
                if is_ours { "ours   " } else { "minimal" },
                run.rps
            );
            failed[if is_ours { 1 } else { 2 }] += run.failed;
            if is_ours {
                row.ours.push(run.rps);
            } else {
                row.c.push(run.rps);
            }
        }
    }
    rows.push(row);
    drop(ast);

    let template =
        std::fs::read(common::sandbox_root().join("usr/share/asterisk/phoneprov/snom-mac.xml"))
            .expect("the sandbox's snom-mac.xml");
    let path = "/phoneprov/snom-000413000001.xml";
    let conf = "[general]\nserveraddr = 127.0.0.1\ndefault_profile = snom\n\n\
                [snom]\nmime_type => application/xml\nsnom-${MAC}.xml => snom-mac.xml\n";
    let instances = [Impl::Stock, Impl::Rust].map(|imp| {
        Builder::new(imp)
            .conf("phoneprov.conf", conf)
            .conf("users.conf", sample_users(SAMPLE_PHONES))
            .file("snom-mac.xml", &template)
            .start()
    });
    let bodies = instances.each_ref().map(|ast| ast.get(path));
    for b in &bodies {
        assert_eq!(b.status, 200);
        assert!(!b.text().contains("${"), "unsubstituted:\n{}", b.text());
    }
    // Same bytes from both, but for the phone book's order.
    assert_eq!(sorted_lines(&bodies[0].body), sorted_lines(&bodies[1].body));
    let mut sample: Vec<Row> = CONNECTIONS
        .iter()
        .map(|&c| Row {
            name: format!(
                "{SAMPLE_ROW}, {c} conn{} (req/s)",
                if c == 1 { "" } else { "s" }
            ),
            c: Vec::new(),
            ours: Vec::new(),
            higher_better: true,
            goal: (c >= 8).then_some(1.2),
            self_compared: None,
        })
        .collect();
    for round in 0..ROUNDS {
        println!("sample template: round {} of {ROUNDS}", round + 1);
        for (row, &c) in sample.iter_mut().zip(&CONNECTIONS) {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let run = wrk(&instances[which], path, c, true, false);
                println!(
                    "  {c:>2} conns, {}: {:.0} req/s",
                    if which == 0 { "C   " } else { "ours" },
                    run.rps
                );
                failed[which] += run.failed;
                if which == 0 {
                    row.c.push(run.rps);
                } else {
                    row.ours.push(run.rps);
                }
            }
        }
    }
    rows.extend(sample);
    (rows, failed)
}

/// `-- ceiling`: only the minimal module's and the sample template's rows.
fn ceiling_only() {
    let (rows, failed) = ceiling_rows();
    update_in_place(
        &rows,
        &[MINIMAL_ROW, SAMPLE_ROW],
        Some(&ceiling_note(&today(), failed.iter().sum())),
    );
}

struct Figure {
    name: &'static str,
    path: &'static str,
    expect_2xx: bool,
    pick: fn(&Run) -> f64,
    unit: &'static str,
    higher_better: bool,
    goal: Option<f64>,
}

/// Reload time, its split, and memory: from no phones to N, then reloads of N. Memory is read
/// as an operator sees it: one second after the first reload's last phone answers.
fn reload_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for n in [10_000usize, 100_000] {
        let mut times = [Vec::new(), Vec::new()];
        let mut growth = [0.0f64; 2];
        let (mut config_api, mut own) = (Vec::new(), Vec::new());
        let probe = format!("/phoneprov/0004f2{:06x}.xml", n - 1);
        for (which, imp) in [Impl::Stock, Impl::Rust].into_iter().enumerate() {
            let ast = start(imp, 0);
            let before = rss_kib(ast.pid());
            ast.write_conf("users.conf", users(n));
            for i in 0..ROUNDS {
                let t = Instant::now();
                ast.cli("module reload res_phoneprov.so");
                times[which].push(t.elapsed().as_secs_f64());
                if i == 0 {
                    assert_eq!(
                        ast.get(&probe).status,
                        200,
                        "{imp:?} did not load {n} phones"
                    );
                    std::thread::sleep(Duration::from_secs(1));
                    growth[which] = (rss_kib(ast.pid()) as f64 - before as f64) * 1024.0 / n as f64;
                }
                if imp == Impl::Rust {
                    let status = ast.cli("phoneprov show status");
                    let (_, api, ours) = common::reload_split(&status)
                        .unwrap_or_else(|| panic!("no reload timing in:\n{status}"));
                    config_api.push(api);
                    own.push(ours);
                }
            }
        }
        rows.push(Row {
            name: format!("module reload, {n} phones (s)"),
            c: times[0].clone(),
            ours: times[1].clone(),
            higher_better: false,
            goal: (n == 100_000).then_some(0.25),
            self_compared: None,
        });
        // Our own part of a reload against Asterisk's config API's part (parsing and
        // walking the files), from `phoneprov show status`: at most 1/3 means ours is at
        // most a quarter of the whole.
        rows.push(Row {
            name: format!("module reload, {n} phones: res_phoneprov / config API (ms)"),
            c: config_api,
            ours: own,
            higher_better: false,
            goal: (n == 100_000).then_some(0.33),
            self_compared: Some("config API"),
        });
        rows.push(Row {
            name: format!("memory growth per phone after reload, {n} phones (bytes)"),
            c: vec![growth[0]],
            ours: vec![growth[1]],
            higher_better: false,
            goal: (n == 100_000).then_some(0.25),
            self_compared: None,
        });
    }
    rows
}

const DYNAMIC: &str = "/phoneprov/0004f2000001.xml";
const DIRECTORY_PATH: &str = "/phoneprov/0004f2000001-dir.xml";

/// The wrk figures, measured on both modules.
fn figures() -> Vec<Figure> {
    let rps: fn(&Run) -> f64 = |r| r.rps;
    vec![
        Figure {
            name: "dynamic route",
            path: DYNAMIC,
            expect_2xx: true,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: Some(1.2),
        },
        Figure {
            name: "dynamic route p99 latency",
            path: DYNAMIC,
            expect_2xx: true,
            pick: |r| r.p99_ms,
            unit: "ms",
            higher_better: false,
            goal: Some(0.5),
        },
        Figure {
            name: STORM,
            path: DYNAMIC,
            expect_2xx: true,
            pick: |r| r.p99_ms,
            unit: "ms",
            higher_better: false,
            goal: None,
        },
        Figure {
            name: "static 4 KB",
            path: "/phoneprov/small.bin",
            expect_2xx: true,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: Some(1.0),
        },
        Figure {
            name: "static 4 KB binary",
            path: "/phoneprov/random.bin",
            expect_2xx: true,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: Some(2.0),
        },
        Figure {
            name: "static 50 MB",
            path: "/phoneprov/big.bin",
            expect_2xx: true,
            pick: |r| r.mb_per_s,
            unit: "MB/s",
            higher_better: true,
            goal: Some(1.0),
        },
        Figure {
            name: "404",
            path: "/phoneprov/no-such-file.cfg",
            expect_2xx: false,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: Some(1.0),
        },
        Figure {
            name: "directory, 10,000 phones",
            path: DIRECTORY_PATH,
            expect_2xx: true,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: Some(10.0),
        },
        Figure {
            name: "directory p99 latency",
            path: DIRECTORY_PATH,
            expect_2xx: true,
            pick: |r| r.p99_ms,
            unit: "ms",
            higher_better: false,
            goal: Some(0.5),
        },
        Figure {
            name: "HTTP server ceiling (core 404)",
            path: "/no-handler-here",
            expect_2xx: false,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: None,
        },
    ]
}

/// `figures` measured on the stock module and ours, in turns: their rows and the failed
/// requests of each.
fn wrk_rows(figures: &[Figure]) -> (Vec<Row>, [u64; 2]) {
    println!("starting the stock module and ours with {PHONES} phones");
    let instances = [
        (Impl::Stock, start(Impl::Stock, PHONES)),
        (Impl::Rust, start(Impl::Rust, PHONES)),
    ];
    for (_, ast) in &instances {
        let f = std::fs::File::create(common::data_path(ast, "big.bin")).expect("big file");
        f.set_len(50 << 20).expect("50 MB");
        assert_eq!(ast.get(DYNAMIC).status, 200);
        assert_eq!(ast.get(DIRECTORY_PATH).status, 200);
    }
    // Same bytes from both, or the comparison means nothing.
    assert_eq!(
        instances[0].1.get(DYNAMIC).body,
        instances[1].1.get(DYNAMIC).body
    );

    let mut rows: Vec<Row> = Vec::new();
    let mut failed = [0u64; 2];
    // Figures that share a path share runs (the directory's rate and latency).
    let mut runs: std::collections::HashMap<(usize, u32, usize, &str, bool), Run> =
        Default::default();
    for round in 0..ROUNDS {
        println!("round {} of {ROUNDS}", round + 1);
        for fig in figures {
            let storm = fig.name == STORM;
            let conns: &[u32] = if fig.name.starts_with("HTTP server") {
                &[8]
            } else if storm {
                &[64]
            } else {
                &CONNECTIONS
            };
            for &c in conns {
                // A, B, A, B: which module goes first alternates each round.
                let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for which in order {
                    let key = (round, c, which, fig.path, storm);
                    if let std::collections::hash_map::Entry::Vacant(e) = runs.entry(key) {
                        let run = wrk(&instances[which].1, fig.path, c, fig.expect_2xx, storm);
                        println!(
                            "  {}, {c:>2} conns, {}: {:.2} {}",
                            fig.name,
                            if which == 0 { "C   " } else { "ours" },
                            (fig.pick)(&run),
                            fig.unit
                        );
                        failed[which] += run.failed;
                        e.insert(run);
                    }
                }
                let plural = if c == 1 { "" } else { "s" };
                let name = format!("{}, {c} conn{plural} ({})", fig.name, fig.unit);
                let row = match rows.iter_mut().position(|r| r.name == name) {
                    Some(i) => &mut rows[i],
                    None => {
                        rows.push(Row {
                            name,
                            c: Vec::new(),
                            ours: Vec::new(),
                            higher_better: fig.higher_better,
                            // Throughput goals from 8 connections, tail latency goals
                            // at 64 (a building's phones booting at once).
                            goal: fig.goal.filter(|_| match fig.name {
                                n if n.contains("p99") => c == 64,
                                n if n.starts_with("dynamic") => c >= 8,
                                _ => true,
                            }),
                            self_compared: None,
                        });
                        rows.last_mut().expect("pushed")
                    }
                };
                row.c
                    .push((fig.pick)(&runs[&(round, c, 0, fig.path, storm)]));
                row.ours
                    .push((fig.pick)(&runs[&(round, c, 1, fig.path, storm)]));
            }
        }
    }
    drop(instances);
    (rows, failed)
}

const STATIC_ROW: &str = "static ";

/// `-- static`: only the static files' rows.
fn static_only() {
    let figures: Vec<Figure> = figures()
        .into_iter()
        .filter(|f| f.name.starts_with(STATIC_ROW))
        .collect();
    let (rows, failed) = wrk_rows(&figures);
    println!("failed requests: C {}, ours {}", failed[0], failed[1]);
    update_in_place(&rows, &[STATIC_ROW], None);
}

fn main() {
    // cargo passes `--bench` to a bench without the default harness; look past it.
    if std::env::args().skip(1).any(|a| a == "digest") {
        digest_only();
        return;
    }
    if std::env::args().skip(1).any(|a| a == "ceiling") {
        ceiling_only();
        return;
    }
    if std::env::args().skip(1).any(|a| a == "static") {
        static_only();
        return;
    }
    if std::env::args().skip(1).any(|a| a == "tftp") {
        update_in_place(&tftp_rows(), &["TFTP:"], None);
        return;
    }
    // `-- reload`: only the reload and memory rows, printed (BENCHMARKS.md untouched).
    if std::env::args().skip(1).any(|a| a == "reload") {
        for r in reload_rows() {
            println!("{}", r.line());
        }
        return;
    }
    // `-- only TEXT`: the wrk figures whose names hold TEXT, printed, BENCHMARKS.md untouched
    // (to try one change quickly).
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let figures: Vec<Figure> = figures()
        .into_iter()
        .filter(|f| only.as_ref().map_or(true, |o| f.name.contains(o.as_str())))
        .collect();

    let started = Instant::now();
    let (mut rows, mut failed) = wrk_rows(&figures);
    if only.is_some() {
        for r in &rows {
            println!("{}", r.line());
        }
        return;
    }

    // Alone on the machine, like every other run.
    let (digest, digest_failed) = digest_rows();
    failed[1] += digest_failed;

    // Beside the wrk rows above, where `-- ceiling` keeps them.
    let (ceiling, ceiling_failed) = ceiling_rows();
    failed[0] += ceiling_failed[0];
    failed[1] += ceiling_failed[1];
    rows.extend(ceiling);

    rows.extend(reload_rows());
    rows.extend(tftp_rows());

    // Last, where `-- digest` puts them too.
    rows.extend(digest);

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = today();
    let version = String::from_utf8_lossy(
        &Command::new("chroot")
            .arg(common::sandbox_root())
            .args(["/usr/sbin/asterisk", "-V"])
            .output()
            .expect("asterisk -V")
            .stdout,
    )
    .trim()
    .to_owned();
    let mut md = format!(
        "# Benchmark: stock C res_phoneprov vs res_phoneprov in Rust\n\n\
         {date}, {cores} cores, {version} (the sandbox), `make bench`. Each figure is the median of \
         {ROUNDS} rounds measured in turns (A, B, A, B) with wrk for {SECONDS} s on loopback, \
         {PHONES} phones, `serveraddr` set. Ratio = ours / C: the median of the rounds' ratios \
         (each round measures both back to back), and their spread (lowest–highest); the goal is \
         the ratio the issues ask for (at least it for rates, at most it for times and \
         memory).\n\n\
         | figure | C | ours | ratio | spread | goal | met |\n|---|---:|---:|---:|---:|---:|---|\n"
    );
    for r in &rows {
        let _ = writeln!(md, "{}", r.line());
    }
    let _ = writeln!(
        md,
        "| failed requests during the whole benchmark | {} | {} | | | 0 | {} |",
        failed[0],
        failed[1],
        if failed[1] == 0 { "yes" } else { "no" }
    );
    let _ = write!(md, "\n{}", digest_note(&date, digest_failed));
    let _ = write!(md, "\n{}", ceiling_note(&date, ceiling_failed.iter().sum()));
    let _ = writeln!(
        md,
        "\nTotal time: {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    println!("\n{md}");
    let out = common::project_dir().join("BENCHMARKS.md");
    std::fs::write(&out, md).expect("write BENCHMARKS.md");
    println!("written to {}", out.display());
}
