//! Issue 26: state the nodes of a cluster share through PostgreSQL. Two Asterisk nodes read
//! phoneprov.conf and the phones from one database (static realtime, the samples of
//! asterisk-conf/realtime/) and keep their enrollment tokens (`tokens_realtime`) in it.

mod common;

use std::sync::{Arc, Barrier};

use common::postgres::Postgres;
use common::realtime::{database, same_port_or_reconfigure, section_sql};
use common::{Asterisk, Builder, Impl};

const MAC: &str = "0004f2000001";
const TEMPLATE: &str = "<x>${USERNAME}:${SECRET}</x>";

/// The configuration in the database: one profile with an enrollment file, one phone, and
/// `general` as extra `[general]` lines.
fn cluster_database(general: &[(&str, &str)]) -> Postgres {
    let pg = database();
    let mut lines = vec![("default_profile", "lin")];
    lines.extend_from_slice(general);
    pg.sql(
        &[
            section_sql("phoneprov.conf", 2, "general", &lines),
            section_sql(
                "phoneprov.conf",
                1,
                "lin",
                &[
                    ("linphone/${MAC}.xml", "phone.xml"),
                    ("enroll_file", "linphone/${MAC}.xml"),
                ],
            ),
        ]
        .concat(),
    );
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, secret) \
         VALUES ('6001', '{MAC}', 'TopSecret1');"
    ));
    pg
}

fn node(pg: &Postgres) -> Asterisk {
    Builder::new(Impl::Rust)
        .realtime(pg)
        .file("phone.xml", TEMPLATE)
        .start()
}

/// The path of a new token for the phone, made on `node`.
fn token(node: &Asterisk) -> String {
    let out = node.cli(&format!("phoneprov token {MAC}"));
    let at = out
        .find("/phoneprov/enroll/")
        .unwrap_or_else(|| panic!("{out}\n{}", node.log_tail()));
    out[at..]
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `clients` requests for `path` at once, spread over `nodes` in turn: their statuses.
fn race(nodes: &[&Asterisk], path: &str, clients: usize) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let addr = nodes[i % nodes.len()].addr();
            let barrier = barrier.clone();
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            std::thread::spawn(move || {
                barrier.wait();
                common::http_raw(addr, req.as_bytes()).map_or(0, |r| r.status)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap_or(0)).collect()
}

#[test]
fn a_token_made_on_one_node_is_spent_exactly_once_across_both() {
    let pg = cluster_database(&[("tokens_realtime", "phoneprov_tokens")]);
    let a = node(&pg);
    let b = node(&pg);

    // Made on a, raced by 16 clients on both nodes: one 200, every other request 410.
    let path = token(&a);
    assert_eq!(
        pg.rows("SELECT count(*) FROM phoneprov_tokens WHERE used = 0"),
        vec![vec!["1".to_owned()]],
        "the token is in the shared table, unused"
    );
    let statuses = race(&[&a, &b], &path, 16);
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let gone = statuses.iter().filter(|&&s| s == 410).count();
    eprintln!("16 clients on two nodes, one token: {ok} x 200, {gone} x 410: {statuses:?}");
    assert_eq!((ok, gone), (1, 15), "{statuses:?}");
    for n in [&a, &b] {
        assert_eq!(n.get(&path).status, 410);
    }
    assert!(b.cli("phoneprov show tokens").contains("used"));

    // Made on b, spent through a: the body is the phone's file.
    let path = token(&b);
    assert!(a.cli("phoneprov show tokens").contains("valid"));
    let r = a.get(&path);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<x>6001:TopSecret1</x>");
    assert_eq!(b.get(&path).status, 410);

    // A token nobody made is unknown on both nodes.
    for n in [&a, &b] {
        assert_eq!(
            n.get("/phoneprov/enroll/0123456789abcdef0123456789abcdef")
                .status,
            404
        );
    }
}

#[test]
fn a_token_asked_while_the_database_is_down_is_503_then_served() {
    let mut pg = cluster_database(&[("tokens_realtime", "phoneprov_tokens")]);
    let a = node(&pg);
    let path = token(&a);
    let port = pg.port;
    pg.stop();
    // Not 404 (the database did not say "no such token") and not spent.
    let r = a.get(&path);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("Retry-After"), Some("1"));
    pg.start_again();
    same_port_or_reconfigure(&a, &pg, port);
    let r = a.get(&path);
    assert_eq!(r.status, 200, "{}", a.log_tail());
    assert_eq!(a.get(&path).status, 410);
}

#[test]
fn without_tokens_realtime_each_node_keeps_its_own() {
    let pg = cluster_database(&[]);
    let a = node(&pg);
    let b = node(&pg);
    let path = token(&a);
    assert_eq!(b.get(&path).status, 404, "astdb is per node");
    assert_eq!(a.get(&path).status, 200);
    assert_eq!(
        pg.rows("SELECT count(*) FROM phoneprov_tokens"),
        vec![vec!["0".to_owned()]]
    );
}
