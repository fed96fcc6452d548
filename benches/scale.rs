//! `make bench-scale`: dynamic lookup mode (`users_realtime`) with 1,000,000 phones in a real
//! PostgreSQL (res_config_pgsql), against the in-memory mode with 100,000 phones from the
//! users file, in the same sandbox, in one run. Writes its section of BENCHMARKS.md.
//!
//! - cached phones: requests/s and p99 with wrk over 5,000 phones already fetched once,
//!   alternating the two modes for [`ROUNDS`] rounds (the ratio is the median of per-round
//!   ratios, with their spread);
//! - first fetch (cache miss): p50/p99 of requests for phones never fetched, from 8 clients;
//! - memory: Asterisk's RSS after fetching 20,000 distinct phones (twice the cache), with
//!   1,000,000 phones in the database and with none (an empty table), both from the same
//!   RSS at start.

#[path = "../tests/common/mod.rs"]
mod common;
mod wrk;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::load::rss_kib;
use common::postgres::Postgres;
use common::realtime::database;
use common::{Asterisk, Builder, Impl};
use wrk::{median, today};

const DB_PHONES: usize = 1_000_000;
const MEMORY_PHONES: usize = 100_000;
const HOT: usize = 5_000;
const MISSES: usize = 2_000;
const MISS_CLIENTS: usize = 8;
const RSS_FETCHES: usize = 20_000;
const ROUNDS: usize = 5;
const SECONDS: u32 = 2;
const CONNECTIONS: [u32; 2] = [8, 64];

const TEMPLATE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<settings>
  <phone-settings e="2">
    <user_realname idx="1" perm="">${PP_XML(${DISPLAY_NAME})}</user_realname>
    <user_name idx="1" perm="">${USERNAME}</user_name>
    <user_pass idx="1" perm="">${PP_XML(${SECRET})}</user_pass>
    <user_host idx="1" perm="">${SERVER}:${SERVER_PORT}</user_host>
  </phone-settings>
</settings>
"#;

fn mac(i: usize) -> String {
    format!("{i:012x}")
}

fn phoneprov_conf(realtime: Option<&str>) -> String {
    let mode = realtime.map_or(String::new(), |family| {
        format!("users_realtime = {family}\nrealtime_cache_ttl = 3600\n")
    });
    format!(
        "[general]\nserveraddr = 127.0.0.1\ndefault_profile = snom\n{mode}\n\
         [snom]\nmime_type => application/xml\n${{MAC}}.xml => snom.xml\n"
    )
}

fn users(n: usize) -> String {
    let mut s = String::with_capacity(n * 110);
    for i in 1..=n {
        s.push_str(&format!(
            "[u{i}]\nautoprov = yes\nmacaddress = {}\nfullname = User {i}\nsecret = secret{i}\n\
             linenumber = 1\n",
            mac(i)
        ));
    }
    s
}

fn realtime_node(pg: &Postgres, table: &str) -> Asterisk {
    Builder::new(Impl::Rust)
        .realtime(pg)
        .conf(
            "extconfig.conf",
            format!("[settings]\nphoneprov_users => pgsql,asterisk,{table}\n"),
        )
        .conf("phoneprov.conf", phoneprov_conf(Some("phoneprov_users")))
        .file("snom.xml", TEMPLATE)
        .start()
}

fn memory_node() -> Asterisk {
    Builder::new(Impl::Rust)
        .conf("phoneprov.conf", phoneprov_conf(None))
        .conf("users.conf", users(MEMORY_PHONES))
        .file("snom.xml", TEMPLATE)
        .start()
}

/// One request on its own connection; the status and how long it took.
fn fetch(ast: &Asterisk, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(ast.addr()).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("read");
    let status = std::str::from_utf8(&answer[..answer.len().min(12)])
        .ok()
        .and_then(|l| l.get(9..12))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

/// Fetches `paths` from `clients` threads at once; every latency, in milliseconds.
fn fetch_all(ast: &Asterisk, paths: &[String], clients: usize) -> Vec<f64> {
    let chunk = paths.len().div_ceil(clients);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| {
                            let (status, took) = fetch(ast, p);
                            assert_eq!(status, 200, "{p}");
                            took.as_secs_f64() * 1000.0
                        })
                        .collect::<Vec<f64>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("client"))
            .collect()
    })
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A wrk script that cycles through `paths`.
fn wrk_script(paths: &[String]) -> std::path::PathBuf {
    let mut lua = String::from("local paths = {\n");
    for p in paths {
        lua.push_str(&format!("  \"{p}\",\n"));
    }
    lua.push_str(
        "}\nlocal i = math.random(#paths)\n\
         request = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n",
    );
    let path = std::env::temp_dir().join(format!("pp-scale-{}.lua", std::process::id()));
    std::fs::write(&path, lua).expect("write the wrk script");
    path
}

/// Requests/s and p99 (ms) of wrk over the script's paths; panics on any failure.
fn wrk(ast: &Asterisk, script: &std::path::Path, conns: u32) -> (f64, f64) {
    let run = wrk::run(ast, "/", conns, SECONDS, Some(script), &[], true);
    assert_eq!(run.failed, 0, "wrk saw failures: {run:?}");
    (run.rps, run.p99_ms)
}

fn spread(ratios: &[f64]) -> String {
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.2}–{hi:.2}")
}

fn main() {
    let started = Instant::now();
    let pg = database();
    pg.sql("CREATE TABLE phoneprov_lines_empty (LIKE phoneprov_lines INCLUDING ALL);");
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, profile, username, secret, fullname, \
         linenumber) SELECT 'u' || i, lpad(to_hex(i), 12, '0'), 'snom', 'u' || i, \
         'secret' || i, 'User ' || i, 1 FROM generate_series(1, {DB_PHONES}) AS i;\nANALYZE;"
    ));
    eprintln!(
        "{DB_PHONES} phones in PostgreSQL after {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let realtime = realtime_node(&pg, "phoneprov_lines");
    let memory = memory_node();
    let hot: Vec<String> = (1..=HOT)
        .map(|i| format!("/phoneprov/{}.xml", mac(i * 17)))
        .collect();
    for ast in [&realtime, &memory] {
        fetch_all(ast, &hot, 4);
    }
    let script = wrk_script(&hot);
    let mut rows = Vec::new();
    for conns in CONNECTIONS {
        let (mut mem, mut rt, mut ratios, mut p99s) = (vec![], vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let (m, mp) = wrk(&memory, &script, conns);
            let (r, rp) = wrk(&realtime, &script, conns);
            mem.push(m);
            rt.push(r);
            ratios.push(r / m);
            p99s.push((rp, mp));
        }
        let p99_rt = median(p99s.iter().map(|p| p.0).collect());
        let p99_mem = median(p99s.iter().map(|p| p.1).collect());
        rows.push(format!(
            "| cached phones, {conns} connections: requests/s | {:.0} | {:.0} | {:.2} | {} | ≥ 0.8 | {} |",
            median(mem),
            median(rt.clone()),
            median(ratios.clone()),
            spread(&ratios),
            if median(ratios.clone()) >= 0.8 { "yes" } else { "no" }
        ));
        rows.push(format!(
            "| cached phones, {conns} connections: p99 ms | {p99_mem:.2} | {p99_rt:.2} | {:.2} | | | |",
            p99_rt / p99_mem.max(1e-9)
        ));
    }
    std::fs::remove_file(&script).ok();

    // Phones never fetched: the database is asked for each.
    let misses: Vec<String> = (0..MISSES)
        .map(|i| format!("/phoneprov/{}.xml", mac(500_000 + i * 211)))
        .collect();
    let lat = fetch_all(&realtime, &misses, MISS_CLIENTS);
    let (p50, p99) = (percentile(lat.clone(), 0.5), percentile(lat, 0.99));
    rows.push(format!(
        "| first fetch (cache miss), {MISS_CLIENTS} clients: p50 / p99 ms | – | {p50:.2} / {p99:.2} | | | p99 ≤ 20 ms | {} |",
        if p99 <= 20.0 { "yes" } else { "no" }
    ));
    drop(realtime);
    drop(memory);

    // Memory: the same fetches against a full and an empty table.
    let full = realtime_node(&pg, "phoneprov_lines");
    let empty = realtime_node(&pg, "phoneprov_lines_empty");
    let fetches: Vec<String> = (0..RSS_FETCHES)
        .map(|i| format!("/phoneprov/{}.xml", mac(1 + i * 47)))
        .collect();
    let (full_before, empty_before) = (rss_kib(full.pid()), rss_kib(empty.pid()));
    fetch_all(&full, &fetches, 4);
    for p in &fetches {
        assert_eq!(fetch(&empty, p).0, 404);
    }
    std::thread::sleep(Duration::from_secs(1));
    let (full_after, empty_after) = (rss_kib(full.pid()), rss_kib(empty.pid()));
    let mb = |kib: u64| kib as f64 / 1024.0;
    let growth = mb(full_after.saturating_sub(full_before));
    rows.push(format!(
        "| RSS after {RSS_FETCHES} distinct phones (cache 10,000), MB: empty table / {DB_PHONES} phones | {:.1} | {:.1} | | | growth ≤ 50 MB | {} |",
        mb(empty_after),
        mb(full_after),
        if growth <= 50.0 { "yes" } else { "no" }
    ));
    rows.push(format!(
        "| RSS growth from start, MB: empty table / {DB_PHONES} phones | {:.1} | {growth:.1} | | | | |",
        mb(empty_after.saturating_sub(empty_before)),
    ));

    let table = format!(
        "| | in memory (100,000 phones) or empty table | dynamic mode ({DB_PHONES} phones in PostgreSQL) | ratio | spread | goal | met |\n\
         |---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    println!("{table}");
    write_section(&table, started.elapsed());
}

const BEGIN: &str = "<!-- bench-scale: begin -->";
const END: &str = "<!-- bench-scale: end -->";

/// Replaces this bench's section of BENCHMARKS.md (appended the first time).
fn write_section(table: &str, took: Duration) {
    let path = common::project_dir().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let section = format!(
        "{BEGIN}\n## Scaling out: dynamic lookup mode (`make bench-scale`)\n\n\
         Measured {} on this machine (2 cores, loopback), {:.0} s in all. Cached rows: wrk over \
         {HOT} phones fetched once before, {ROUNDS} rounds of {SECONDS} s alternating the two \
         instances; the ratio is the median of the per-round ratios. First fetch: {MISSES} \
         phones never fetched, from {MISS_CLIENTS} clients at once, each request on a new \
         connection. RSS: one second after the last of {RSS_FETCHES} fetches of distinct \
         phones.\n\n{table}{END}\n",
        today(),
        took.as_secs_f64()
    );
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{section}{}", &text[..b], &text[e + END.len() + 1..])
        }
        _ => format!("{text}\n{section}"),
    };
    std::fs::write(&path, new).expect("write BENCHMARKS.md");
}
