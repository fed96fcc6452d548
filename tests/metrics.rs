//! Metrics through res_prometheus (scraped from Asterisk's own /metrics), and the module
//! without it: at a normal boot whichever module loads first, across a reload and an
//! unload/load of res_prometheus, and never left behind in it.

mod common;

use std::time::{Duration, Instant};

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
        b = prometheus_ready(b);
    }
    let ast = b.start();
    if prometheus {
        // Loaded by hand once Asterisk runs, after this module.
        std::os::unix::fs::symlink(
            format!("{}/res_prometheus.so", common::STOCK_MODULES),
            ast.dir.join("mod/res_prometheus.so"),
        )
        .expect("module link");
        let out = ast.cli("module load res_prometheus.so");
        assert!(out.contains("Loaded res_prometheus.so"), "{out}");
        scrape_until(&ast, "offered after res_prometheus loaded", |s| {
            s.contains("asterisk_phoneprov_phones")
        });
    }
    ast
}

/// Scrapes until `ok` holds (bounded); the scrape that did, and how many it took.
fn scrape_until(ast: &Asterisk, what: &str, ok: impl Fn(&str) -> bool) -> (String, usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    loop {
        n += 1;
        let r = ast.get("/metrics");
        let text = r.text();
        if r.status == 200 && ok(&text) {
            return (text, n);
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 5 s ({n} scrapes); last:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How many times the metrics list one of this module's families: once, never twice.
fn families(scrape: &str) -> usize {
    scrape
        .matches("# TYPE asterisk_phoneprov_requests_total counter")
        .count()
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
    let (back, _) = scrape_until(&ast, "offered again after load", |s| {
        s.contains("asterisk_phoneprov_phones")
    });
    assert_eq!(families(&back), 1, "{back}");
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

/// What res_prometheus needs to run: res_pjsip loaded (its registration metrics bind it to
/// it) with a transport, and its configuration serving `/metrics`.
fn prometheus_ready(mut b: Builder) -> Builder {
    for m in common::PJSIP_MODULES {
        b = b.module(m);
    }
    b.conf(
        "pjsip.conf",
        "[udp]\ntype = transport\nprotocol = udp\nbind = @SIP_ADDR@:5060\n",
    )
    .conf(
        "prometheus.conf",
        "[general]\nenabled = yes\nuri = metrics\ncore_metrics_enabled = no\n",
    )
}

/// A configuration and modules.conf with res_prometheus loaded at boot: `modules` is the
/// whole [modules] section.
fn boot(modules: &str) -> Asterisk {
    let b = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\nstatic_file => fw.bin\n",
        )
        .file("fw.bin", "firmware")
        .module("res_prometheus");
    prometheus_ready(b)
        .conf("modules.conf", format!("[modules]\n{modules}"))
        .start()
}

#[test]
fn metrics_at_a_normal_boot_whichever_module_loads_first() {
    let pjsip: String = common::PJSIP_MODULES
        .iter()
        .map(|m| format!("load => {m}.so\n"))
        .collect();
    let orders = [
        (
            "ours first",
            format!(
                "autoload = no\npreload => res_phoneprov.so\n{pjsip}load => res_prometheus.so\n"
            ),
        ),
        (
            "res_prometheus first",
            format!("autoload = no\n{pjsip}load => res_prometheus.so\nload => res_phoneprov.so\n"),
        ),
        ("autoload", "autoload = yes\n".to_owned()),
    ];
    for (name, modules) in orders {
        let ast = boot(&modules);
        assert!(
            ast.cli("module show like res_prometheus")
                .contains("1 modules loaded"),
            "{name}"
        );
        let (scrape, scrapes) = scrape_until(&ast, name, |s| s.contains("asterisk_phoneprov_"));
        assert_eq!(families(&scrape), 1, "{name}: {scrape}");
        eprintln!("{name}: the series were in scrape {scrapes} after boot");
    }
}

#[test]
fn metrics_survive_a_reload_of_res_prometheus_and_come_back_after_unload_and_load() {
    let pjsip: String = common::PJSIP_MODULES
        .iter()
        .map(|m| format!("load => {m}.so\n"))
        .collect();
    let ast = boot(&format!(
        "autoload = no\n{pjsip}load => res_prometheus.so\nload => res_phoneprov.so\n"
    ));
    scrape_until(&ast, "at boot", |s| s.contains("asterisk_phoneprov_"));

    ast.cli("module reload res_prometheus.so");
    let kept = scrape(&ast);
    assert_eq!(families(&kept), 1, "{kept}");

    assert!(ast
        .cli("module unload res_prometheus.so")
        .contains("Unloaded"));
    assert_eq!(ast.get("/metrics").status, 404);
    // Really gone: had this module pinned it (a symbol looked up with
    // dlsym(RTLD_DEFAULT) makes its library a dependency), the next load would reuse the
    // image and this module's unload would unmap it under its running URI handler.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", ast.pid())).expect("maps");
    assert!(
        !maps.contains("res_prometheus.so"),
        "still mapped after unload"
    );

    assert!(ast.cli("module load res_prometheus.so").contains("Loaded"));

    let (back, _) = scrape_until(&ast, "after unload and load", |s| {
        s.contains("asterisk_phoneprov_")
    });
    assert_eq!(families(&back), 1, "{back}");

    // Unloaded, this module leaves no callback behind: scrapes go on, without its series.
    assert!(ast
        .cli("module unload res_phoneprov.so")
        .contains("Unloaded"));
    for _ in 0..3 {
        let r = ast.get("/metrics");
        assert_eq!(r.status, 200);
        assert!(!r.text().contains("asterisk_phoneprov_"), "{}", r.text());
    }
    assert!(ast.cli("module load res_phoneprov.so").contains("Loaded"));
    let (again, _) = scrape_until(&ast, "loaded again", |s| s.contains("asterisk_phoneprov_"));
    assert_eq!(families(&again), 1, "{again}");
}
