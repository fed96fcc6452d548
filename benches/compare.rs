//! `make bench`: the stock C res_phoneprov and ours, in two Asterisk instances of the
//! sandbox with the same configuration (serveraddr set: the only setting in which the C
//! module survives concurrency), measured in turns with wrk on loopback. Prints one table
//! and writes it to BENCHMARKS.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use common::load::rss_kib;
use common::{Asterisk, Builder, Impl};

const PHONES: usize = 10_000;
const ROUNDS: usize = 3;
const SECONDS: u32 = 2;
const CONNECTIONS: [u32; 3] = [1, 8, 64];

const PHONEPROV: &str = "\
[general]
serveraddr = 127.0.0.1
default_profile = snom

[snom]
mime_type => application/xml
static_file => small.bin,application/octet-stream
static_file => big.bin,application/octet-stream
${MAC}.xml => snom.xml
${MAC}-dir.xml => directory.xml
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

fn start(imp: Impl, phones: usize) -> Asterisk {
    Builder::new(imp)
        .conf("phoneprov.conf", PHONEPROV)
        .conf("users.conf", users(phones))
        .file("snom.xml", SNOM)
        .file("directory.xml", DIRECTORY)
        .file("small.bin", vec![b'x'; 4096])
        .start()
}

/// What one wrk run saw.
#[derive(Clone, Copy, Default, Debug)]
struct Run {
    rps: f64,
    mb_per_s: f64,
    p99_ms: f64,
    failed: u64,
}

fn unit_value(s: &str, units: &[(&str, f64)]) -> f64 {
    for (u, m) in units {
        if let Some(n) = s.strip_suffix(u) {
            return n.parse::<f64>().unwrap_or(0.0) * m;
        }
    }
    s.parse().unwrap_or(0.0)
}

fn wrk(ast: &Asterisk, path: &str, conns: u32, expect_2xx: bool) -> Run {
    let url = format!("http://127.0.0.1:{}{path}", ast.port);
    let out = Command::new("wrk")
        .args(["-t", &conns.min(2).to_string(), "-c", &conns.to_string()])
        .args([
            "-d",
            &format!("{SECONDS}s"),
            "--timeout",
            "10s",
            "--latency",
            &url,
        ])
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut run = Run::default();
    let mut in_distribution = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["Requests/sec:", v] => run.rps = v.parse().unwrap_or(0.0),
            ["Transfer/sec:", v] => {
                let units = [
                    ("GB", 1073741824.0),
                    ("MB", 1048576.0),
                    ("KB", 1024.0),
                    ("B", 1.0),
                ];
                run.mb_per_s = unit_value(v, &units) / 1e6;
            }
            ["Latency", "Distribution"] => in_distribution = true,
            ["99%", v] if in_distribution => {
                run.p99_ms = unit_value(v, &[("us", 0.001), ("ms", 1.0), ("s", 1000.0)]);
            }
            ["Non-2xx", "or", "3xx", "responses:", n] if expect_2xx => {
                run.failed += n.parse::<u64>().unwrap_or(0);
            }
            ["Socket", "errors:", rest @ ..] => {
                run.failed += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    assert!(
        run.rps > 0.0 || run.mb_per_s > 0.0,
        "wrk {url} gave no result:\n{text}"
    );
    run
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A figure measured on both modules.
struct Row {
    name: String,
    c: Vec<f64>,
    ours: Vec<f64>,
    /// Higher is better (throughput) or lower (time, memory, latency).
    higher_better: bool,
    goal: Option<f64>,
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

fn main() {
    let mac = "0004f2000001";
    let dynamic = Box::leak(format!("/phoneprov/{mac}.xml").into_boxed_str());
    let dir = Box::leak(format!("/phoneprov/{mac}-dir.xml").into_boxed_str());
    let rps: fn(&Run) -> f64 = |r| r.rps;
    let figures = [
        Figure {
            name: "dynamic route",
            path: dynamic,
            expect_2xx: true,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: Some(1.2),
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
            name: "static 50 MB",
            path: "/phoneprov/big.bin",
            expect_2xx: true,
            pick: |r| r.mb_per_s,
            unit: "MB/s",
            higher_better: true,
            goal: None,
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
            path: dir,
            expect_2xx: true,
            pick: rps,
            unit: "req/s",
            higher_better: true,
            goal: Some(10.0),
        },
        Figure {
            name: "directory p99 latency",
            path: dir,
            expect_2xx: true,
            pick: |r| r.p99_ms,
            unit: "ms",
            higher_better: false,
            goal: None,
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
    ];

    let started = Instant::now();
    println!("starting the stock module and ours with {PHONES} phones");
    let instances = [
        (Impl::Stock, start(Impl::Stock, PHONES)),
        (Impl::Rust, start(Impl::Rust, PHONES)),
    ];
    for (_, ast) in &instances {
        let f = std::fs::File::create(common::data_path(ast, "big.bin")).expect("big file");
        f.set_len(50 << 20).expect("50 MB");
        assert_eq!(ast.get(dynamic).status, 200);
        assert_eq!(ast.get(dir).status, 200);
    }
    // Same bytes from both, or the comparison means nothing.
    assert_eq!(
        instances[0].1.get(dynamic).body,
        instances[1].1.get(dynamic).body
    );

    let mut rows: Vec<Row> = Vec::new();
    let mut failed = [0u64; 2];
    // Figures that share a path share runs (the directory's rate and latency).
    let mut runs: std::collections::HashMap<(usize, u32, usize, &str), Run> = Default::default();
    for round in 0..ROUNDS {
        println!("round {} of {ROUNDS}", round + 1);
        for fig in &figures {
            let conns: &[u32] = if fig.name.starts_with("HTTP server") {
                &[8]
            } else {
                &CONNECTIONS
            };
            for &c in conns {
                // A, B, A, B: which module goes first alternates each round.
                let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for which in order {
                    let key = (round, c, which, fig.path);
                    if let std::collections::hash_map::Entry::Vacant(e) = runs.entry(key) {
                        let run = wrk(&instances[which].1, fig.path, c, fig.expect_2xx);
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
                            goal: fig
                                .goal
                                .filter(|_| !fig.name.starts_with("dynamic") || c >= 8),
                        });
                        rows.last_mut().expect("pushed")
                    }
                };
                row.c.push((fig.pick)(&runs[&(round, c, 0, fig.path)]));
                row.ours.push((fig.pick)(&runs[&(round, c, 1, fig.path)]));
            }
        }
    }
    drop(instances);

    // Reload time and memory: from no phones to N, then reloads of N.
    for n in [10_000usize, 100_000] {
        let mut times = [Vec::new(), Vec::new()];
        let mut growth = [0.0f64; 2];
        for (which, imp) in [Impl::Stock, Impl::Rust].into_iter().enumerate() {
            let ast = start(imp, 0);
            let before = rss_kib(ast.pid());
            ast.write_conf("users.conf", users(n));
            for i in 0..ROUNDS {
                let t = Instant::now();
                ast.cli("module reload res_phoneprov.so");
                times[which].push(t.elapsed().as_secs_f64());
                if i == 0 {
                    growth[which] = (rss_kib(ast.pid()) as f64 - before as f64) * 1024.0 / n as f64;
                }
            }
            let probe = format!("/phoneprov/0004f2{:06x}.xml", n - 1);
            assert_eq!(
                ast.get(&probe).status,
                200,
                "{imp:?} did not load {n} phones"
            );
        }
        rows.push(Row {
            name: format!("module reload, {n} phones (s)"),
            c: times[0].clone(),
            ours: times[1].clone(),
            higher_better: false,
            goal: (n == 100_000).then_some(0.25),
        });
        rows.push(Row {
            name: format!("memory growth per phone, {n} phones (bytes)"),
            c: vec![growth[0]],
            ours: vec![growth[1]],
            higher_better: false,
            goal: (n == 100_000).then_some(0.33),
        });
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = String::from_utf8_lossy(
        &Command::new("date")
            .arg("-u")
            .arg("+%Y-%m-%d")
            .output()
            .expect("date")
            .stdout,
    )
    .trim()
    .to_owned();
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
         {PHONES} phones, `serveraddr` set. Ratio = ours / C; the goal is the ratio issue 5 asks for \
         (at least it for rates, at most it for times and memory).\n\n\
         | figure | C | ours | ratio | goal | met |\n|---|---:|---:|---:|---:|---|\n"
    );
    for r in &rows {
        let (c, o) = (median(r.c.clone()), median(r.ours.clone()));
        let ratio = if c > 0.0 { o / c } else { f64::NAN };
        let (goal, met) = match r.goal {
            Some(g) if r.higher_better => (format!("≥ {g}"), if ratio >= g { "yes" } else { "no" }),
            Some(g) => (format!("≤ {g}"), if ratio <= g { "yes" } else { "no" }),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            md,
            "| {} | {c:.2} | {o:.2} | {ratio:.2} | {goal} | {met} |",
            r.name
        );
    }
    let _ = writeln!(
        md,
        "| failed requests during the whole benchmark | {} | {} | | 0 | {} |",
        failed[0],
        failed[1],
        if failed[1] == 0 { "yes" } else { "no" }
    );
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
