//! Two Asterisk nodes, one database: both read phoneprov.conf and the phones from the same
//! PostgreSQL server through static realtime (the samples of asterisk-conf/realtime/), each
//! with its own HTTP port, both in the one sandbox. What one node does (reload, stop, start)
//! must not disturb the other.

mod common;

use std::time::{Duration, Instant};

use common::load::{Load, Target};
use common::postgres::{quote, Postgres};
use common::realtime::{database, section_sql};
use common::{Asterisk, Builder, Impl};

/// Phones in the table at the start (1..=PHONES); a few are fetched under load.
const PHONES: u32 = 200;
const TEMPLATE: &str = "${MAC} ${USERNAME}:${SECRET}\n";

fn mac(n: u32) -> String {
    format!("0004f2{n:06x}")
}

fn body(n: u32) -> String {
    format!("{} u{n}:s{n}\n", mac(n))
}

fn insert_phones(pg: &Postgres, from: u32, to: u32) {
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, secret) \
         SELECT 'u' || n, '0004f2' || lpad(to_hex(n), 6, '0'), 's' || n \
           FROM generate_series({from}, {to}) n;"
    ));
}

fn node(pg: &Postgres) -> Asterisk {
    Builder::new(Impl::Rust)
        .realtime(pg)
        .file("t.cfg", TEMPLATE)
        .start()
}

fn get(node: &Asterisk, n: u32) -> common::Response {
    node.get(&format!("/phoneprov/{}.cfg", mac(n)))
}

fn reload(node: &Asterisk) {
    let out = node.cli("module reload res_phoneprov.so");
    assert!(out.contains("reloaded successfully"), "{out}");
}

fn targets(nodes: &[&Asterisk]) -> Vec<Target> {
    nodes
        .iter()
        .flat_map(|node| {
            [1, 7, 50, PHONES].map(|n| Target {
                addr: node.addr(),
                path: format!("/phoneprov/{}.cfg", mac(n)),
                body: Some(body(n)),
            })
        })
        .collect()
}

#[test]
fn two_nodes_on_one_database() {
    let pg = database();
    pg.sql(
        &[
            section_sql(
                "phoneprov.conf",
                2,
                "general",
                &[("serveraddr", "192.0.2.1"), ("default_profile", "pol")],
            ),
            section_sql("phoneprov.conf", 1, "pol", &[("${MAC}.cfg", "t.cfg")]),
        ]
        .concat(),
    );
    insert_phones(&pg, 1, PHONES);
    let mut a = node(&pg);
    let b = node(&pg);
    assert_ne!(a.port, b.port);
    for node in [&a, &b] {
        assert_eq!(get(node, 1).text(), body(1), "{}", node.log_tail());
        assert_eq!(get(node, PHONES).text(), body(PHONES));
    }

    // A phone inserted is served by each node from its next reload on.
    let new = PHONES + 1;
    insert_phones(&pg, new, new);
    reload(&a);
    assert_eq!(get(&a, new).text(), body(new));
    assert_eq!(get(&b, new).status, 404, "b has not reloaded yet");
    reload(&b);
    assert_eq!(get(&b, new).text(), body(new));

    // A phone deleted is gone from each node after its reload.
    pg.sql(&format!(
        "DELETE FROM phoneprov_lines WHERE section = {};",
        quote("u2")
    ));
    for node in [&a, &b] {
        assert_eq!(get(node, 2).status, 200);
        reload(node);
        assert_eq!(get(node, 2).status, 404);
    }

    // Both nodes reload, in turn, while phones fetch from both: nobody sees a failure.
    let load = Load::start(targets(&[&a, &b]), 4, Duration::from_secs(60));
    let started = Instant::now();
    for _ in 0..10 {
        reload(&a);
        reload(&b);
    }
    let reloading = started.elapsed();
    let st = load.stop();
    eprintln!("20 reloads of two nodes in {reloading:?}, 4 clients on both: {st:?}");
    assert_eq!(st.failures(), 0, "{st:?}");
    assert!(st.ok > 20, "{st:?}");

    // One node stops, and starts again, while phones fetch from the other.
    let load = Load::start(targets(&[&b]), 4, Duration::from_secs(60));
    let started = Instant::now();
    a.stop();
    let ok_while_a_down = get(&b, 1).status;
    a.restart();
    assert_eq!(get(&a, new).text(), body(new));
    let cycle = started.elapsed();
    let st = load.stop();
    eprintln!("a stopped and started again in {cycle:?}, 4 clients on b: {st:?}");
    assert_eq!(ok_while_a_down, 200);
    assert_eq!(st.failures(), 0, "{st:?}");
    assert!(st.ok > 20, "{st:?}");
}
