//! Issue 26, point 6: two nodes behind a real load balancer (HAProxy, round robin, an HTTP
//! health check on a static file), on one PostgreSQL: a token is spent once through the
//! balancer, and a rolling upgrade (each node in turn drained, its module replaced in place,
//! returned) under 8 clients fails no request.

mod common;

use std::time::{Duration, Instant};

use common::haproxy::Haproxy;
use common::load::{Load, Target};
use common::postgres::Postgres;
use common::realtime::one_phone_database;
use common::{Asterisk, Builder, Impl};

const MAC: &str = "0004f2000001";
const TEMPLATE: &str = "<x>${USERNAME}:${SECRET}</x>";
const BODY: &str = "<x>6001:TopSecret1</x>";
const HEALTH: &str = "/phoneprov/health.txt";

fn cluster_database() -> Postgres {
    one_phone_database(
        &[
            ("default_profile", "lin"),
            ("tokens_realtime", "phoneprov_tokens"),
        ],
        "lin",
        &[
            ("static_file", "health.txt"),
            ("linphone/${MAC}.xml", "phone.xml"),
            ("enroll_file", "linphone/${MAC}.xml"),
        ],
        MAC,
    )
}

fn node(pg: &Postgres, name: &str) -> Asterisk {
    Builder::new(Impl::Rust)
        .realtime(pg)
        .system_name(name)
        .file("phone.xml", TEMPLATE)
        .file("health.txt", "ok\n")
        .start()
}

fn cluster() -> (Postgres, Asterisk, Asterisk, Haproxy) {
    let pg = cluster_database();
    let a = node(&pg, "node-a");
    let b = node(&pg, "node-b");
    let lb = Haproxy::start(&[("a", a.addr()), ("b", b.addr())], HEALTH);
    (pg, a, b, lb)
}

#[test]
fn a_token_is_spent_once_through_the_balancer() {
    let (_pg, a, b, lb) = cluster();
    let out = a.cli(&format!("phoneprov token {MAC}"));
    let at = out
        .find("/phoneprov/enroll/")
        .unwrap_or_else(|| panic!("{out}"));
    let path = out[at..]
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();

    let first = lb.get(&path);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.text(), BODY);
    // Round robin: the next two requests reach one node each.
    let again: Vec<u16> = (0..2).map(|_| lb.get(&path).status).collect();
    assert_eq!(again, [410, 410]);
    for n in [&a, &b] {
        assert_eq!(n.get(&path).status, 410);
    }
    let served: Vec<String> = ["a", "b"].iter().map(|s| lb.stat(s, "stot")).collect();
    eprintln!("requests per node through the balancer (with health checks apart): {served:?}");
}

/// Replaces the node's module in place: unloaded, the file swapped for a fresh copy of the
/// build (renamed over, as a package upgrade does), loaded again.
fn replace_module(node: &Asterisk) {
    let out = node.cli("module unload res_phoneprov.so");
    assert!(out.contains("Unloaded"), "{out}\n{}", node.log_tail());
    let installed = node.dir.join("mod/res_phoneprov.so");
    let fresh = node.dir.join("mod/res_phoneprov.so.new");
    std::fs::copy(common::our_module(), &fresh).expect("copy the new build");
    std::fs::rename(&fresh, &installed).expect("replace the module");
    let out = node.cli("module load res_phoneprov.so");
    assert!(out.contains("Loaded"), "{out}\n{}", node.log_tail());
    // The new file is what runs: the old image was unmapped at unload.
    let inode =
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&installed).expect("module"));
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", node.pid())).expect("maps");
    let mapped: Vec<&str> = maps
        .lines()
        .filter(|l| l.contains("res_phoneprov.so"))
        .collect();
    assert!(
        !mapped.is_empty()
            && mapped
                .iter()
                .all(|l| l.split_whitespace().nth(4) == Some(&inode.to_string())),
        "{mapped:?} (new inode {inode})"
    );
    // Serving again before the balancer is told (its own check would also wait for it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.get(HEALTH).status != 200 {
        assert!(Instant::now() < deadline, "{}", node.log_tail());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) until the balancer has sent `n` more requests to `name`.
fn served_more(lb: &Haproxy, name: &str, n: u64) {
    let total = || lb.stat(name, "stot").parse::<u64>().unwrap_or(0);
    let from = total();
    let deadline = Instant::now() + Duration::from_secs(15);
    while total() < from + n {
        assert!(
            Instant::now() < deadline,
            "{name} got no requests\n{}",
            lb.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_rolling_upgrade_behind_the_balancer_fails_no_request() {
    let (_pg, a, b, lb) = cluster();
    let targets = vec![
        Target {
            addr: lb.addr,
            path: format!("/phoneprov/linphone/{MAC}.xml"),
            body: Some(BODY.to_owned()),
        },
        Target {
            addr: lb.addr,
            path: HEALTH.to_owned(),
            body: Some("ok\n".to_owned()),
        },
    ];
    let load = Load::start(targets, 8, Duration::from_secs(120));
    let started = Instant::now();
    // Requests on both nodes first.
    for name in ["a", "b"] {
        served_more(&lb, name, 50);
    }
    for (name, n) in [("a", &a), ("b", &b)] {
        lb.drain(name);
        replace_module(n);
        lb.ready(name);
        // The upgraded node takes requests again before the next one goes.
        served_more(&lb, name, 50);
    }
    let rolled = started.elapsed();
    let st = load.stop();
    eprintln!("rolling upgrade of two nodes in {rolled:?} under 8 clients through HAProxy: {st:?}");
    assert_eq!(st.failures(), 0, "{st:?}\n{}", lb.log());
    assert!(st.ok > 100, "{st:?}");
    for name in ["a", "b"] {
        let status = lb.stat(name, "status");
        assert!(status.starts_with("UP"), "{name}: {status}");
    }
}
