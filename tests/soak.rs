//! `make soak`: the stress tests of tests/reliability.rs, for minutes (SOAK_SECONDS, default
//! 300), printing the counts and Asterisk's memory. Ignored in `make test`.

mod common;

use std::time::{Duration, Instant};

use common::load::{rss_kib, Load, Target};
use common::{Builder, Impl};

fn soak_seconds() -> u64 {
    std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

const PHONES: usize = 20_000;

#[test]
#[ignore = "minutes long; run by make soak"]
fn soak() {
    let total = Duration::from_secs(soak_seconds());
    let mut users = String::new();
    for i in 0..PHONES {
        users += &format!("[u{i}]\nusername = u{i}\nautoprov = yes\nmacaddress = {i:012x}\n");
    }
    let mut ast = Builder::new(Impl::Rust)
        .bindaddr("::")
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\n${MAC}.cfg => t.cfg\nstatic_file => fw.bin\n",
        )
        .conf("users.conf", &users)
        .file("t.cfg", "${USERNAME}|${SERVER}\n")
        .file("fw.bin", vec![7u8; 4096])
        .start();
    let mut targets = Vec::new();
    for ip in ["127.0.0.1", "127.0.0.2", "::1"] {
        for i in (0..PHONES).step_by(211) {
            targets.push(Target {
                addr: ast.addr_at(ip),
                path: format!("/phoneprov/{i:012x}.cfg"),
                body: Some(format!("u{i}|{ip}\n")),
            });
        }
        targets.push(Target {
            addr: ast.addr_at(ip),
            path: "/phoneprov/fw.bin".into(),
            body: None,
        });
    }

    // Phase 1, most of the time: 32 clients while the configuration reloads over and over.
    let phase1 = total.mul_f64(0.8);
    let start = Instant::now();
    let rss_start = rss_kib(ast.pid());
    let mut samples = vec![(0u64, rss_start)];
    let load = Load::start(targets.clone(), 32, phase1);
    let mut reloads = 0;
    while start.elapsed() < phase1 {
        ast.cli("module reload res_phoneprov.so");
        reloads += 1;
        let t = start.elapsed().as_secs();
        if t >= samples.last().expect("sampled").0 + 30 {
            samples.push((t, rss_kib(ast.pid())));
        }
    }
    let st = load.finish();
    let rss_phase1 = rss_kib(ast.pid());
    println!(
        "soak phase 1: {}s, {reloads} reloads of {PHONES} phones, {} requests, {} ok, \
         {} non-200, {} wrong bodies, {} errors",
        phase1.as_secs(),
        st.requests,
        st.ok,
        st.non_200,
        st.wrong_body,
        st.errors
    );
    println!("soak RSS KiB over time (s, KiB): {samples:?}");
    assert_eq!(st.failures(), 0, "{st:?}");

    // Phase 2: 100 unload/load cycles under the same load.
    let load = Load::start(targets, 32, total);
    let before = rss_kib(ast.pid());
    for _ in 0..100 {
        ast.cli("module unload res_phoneprov.so");
        ast.cli("module load res_phoneprov.so");
    }
    let st2 = load.stop();
    let after = rss_kib(ast.pid());
    println!(
        "soak phase 2: 100 unload/load cycles, {} requests, {} ok (404s expected while \
         unloaded: {}), {} errors; RSS {before} -> {after} KiB",
        st2.requests, st2.ok, st2.non_200, st2.errors
    );
    assert!(ast.is_running(), "Asterisk died");
    assert_eq!(st2.errors + st2.wrong_body, 0, "{st2:?}");
    println!(
        "soak RSS: start {rss_start} KiB, after phase 1 {rss_phase1} KiB, after phase 2 {after} KiB"
    );
    ast.stop();
}
