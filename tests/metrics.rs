//! Metrics through res_prometheus (scraped from Asterisk's own /metrics), and the module
//! without it.

mod common;

use common::{Asterisk, Builder, Impl};

fn start(prometheus: bool) -> Asterisk {
    let mut b = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\nserveraddr = 127.0.0.1\n\n\
             [p]\nstatic_file => fw.bin\n${MAC}.cfg => t.cfg\n",
        )
        .conf(
            "users.conf",
            "[a]\nautoprov = yes\nmacaddress = 000000000001\n\n\
             [b]\nautoprov = yes\nmacaddress = 000000000002\n",
        )
        .file("fw.bin", "firmware")
        .file("t.cfg", "${USERNAME}\n");
    if prometheus {
        // res_prometheus is bound to res_pjsip (its registration metrics).
        for m in common::PJSIP_MODULES {
            b = b.module(m);
        }
        b = b
            .conf(
                "pjsip.conf",
                "[udp]\ntype = transport\nprotocol = udp\nbind = @SIP_ADDR@:5060\n",
            )
            .conf(
                "prometheus.conf",
                "[general]\nenabled = yes\nuri = metrics\ncore_metrics_enabled = no\n",
            );
    }
    let ast = b.start();
    if prometheus {
        // Loaded by hand once Asterisk runs, after this module: its metrics are offered at
        // the next reload (or request).
        std::os::unix::fs::symlink(
            format!("{}/res_prometheus.so", common::STOCK_MODULES),
            ast.dir.join("mod/res_prometheus.so"),
        )
        .expect("module link");
        let out = ast.cli("module load res_prometheus.so");
        assert!(out.contains("Loaded res_prometheus.so"), "{out}");
        ast.cli("module reload res_phoneprov.so");
    }
    ast
}

/// The value of the sample whose name and labels are exactly `series`, 0 when absent.
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

fn scrape(ast: &Asterisk) -> String {
    let r = ast.get("/metrics");
    assert_eq!(
        r.status,
        200,
        "{}\n{}",
        ast.cli("module show like res_"),
        ast.log()
    );
    r.text()
}

#[test]
fn counters_move_with_the_requests() {
    let ast = start(true);
    let before = scrape(&ast);
    assert!(
        before.contains("# TYPE asterisk_phoneprov_requests_total counter"),
        "{before}"
    );
    assert_eq!(
        sample(&before, "asterisk_phoneprov_phones{provider=\"sipusers\"}"),
        2.0,
        "{before}"
    );
    assert_eq!(
        sample(&before, "asterisk_phoneprov_routes{kind=\"static\"}"),
        1.0
    );
    assert_eq!(
        sample(&before, "asterisk_phoneprov_routes{kind=\"dynamic\"}"),
        2.0
    );

    for mac in ["000000000001", "000000000002"] {
        assert_eq!(ast.get(&format!("/phoneprov/{mac}.cfg")).status, 200);
    }
    let fw = ast.get("/phoneprov/fw.bin");
    assert_eq!(fw.status, 200);
    let etag = fw.header("ETag").expect("ETag").to_owned();
    let again = ast.request(
        "GET",
        "/phoneprov/fw.bin",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(again.status, 304);
    assert_eq!(ast.get("/phoneprov/nothing.cfg").status, 404);
    assert_eq!(ast.request("POST", "/phoneprov/fw.bin", "").status, 501);
    ast.cli("module reload res_phoneprov.so");

    let after = scrape(&ast);
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    let req = |kind: &str, status: &str| {
        moved(&format!(
            "asterisk_phoneprov_requests_total{{kind=\"{kind}\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(req("dynamic", "200"), 2.0, "{after}");
    assert_eq!(req("static", "200"), 1.0, "{after}");
    assert_eq!(req("304", "304"), 1.0, "{after}");
    assert_eq!(req("404", "404"), 1.0, "{after}");
    assert_eq!(req("error", "501"), 1.0, "{after}");
    assert_eq!(
        moved("asterisk_phoneprov_render_seconds_count"),
        2.0,
        "{after}"
    );
    assert!(
        moved("asterisk_phoneprov_render_seconds_sum") > 0.0,
        "{after}"
    );
    assert_eq!(moved("asterisk_phoneprov_reloads_total"), 1.0, "{after}");
    assert_eq!(
        sample(&after, "asterisk_phoneprov_reload_failures_total"),
        0.0
    );
    assert!(
        sample(
            &after,
            "asterisk_phoneprov_reload_last_seconds{part=\"total\"}"
        ) > 0.0
    );

    // The same figures on the CLI.
    let status = ast.cli("phoneprov show status");
    assert!(
        status.contains("Phones by provider: sipusers 2"),
        "{status}"
    );
    assert!(status.contains("dynamic  200    2"), "{status}");
    assert!(status.contains("Rendering: 2 dynamic files"), "{status}");

    // Unloaded, the metrics go; loaded again, they come back.
    assert!(ast
        .cli("module unload res_phoneprov.so")
        .contains("Unloaded"));
    assert!(!scrape(&ast).contains("asterisk_phoneprov_"));
    ast.cli("module load res_phoneprov.so");
    assert!(scrape(&ast).contains("asterisk_phoneprov_phones"));
}

#[test]
fn without_res_prometheus_the_module_works_as_before() {
    let ast = start(false);
    assert!(ast
        .cli("module show like res_prometheus")
        .contains("0 modules loaded"));
    assert_eq!(ast.get("/phoneprov/000000000001.cfg").status, 200);
    assert_eq!(ast.get("/metrics").status, 404);
    assert!(ast
        .cli("phoneprov show status")
        .contains("dynamic  200    1"));
}
