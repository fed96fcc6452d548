//! Issue 26: state the nodes of a cluster share through PostgreSQL. Two Asterisk nodes read
//! phoneprov.conf and the phones from one database (static realtime, the samples of
//! asterisk-conf/realtime/) and keep their enrollment tokens (`tokens_realtime`) in it.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::postgres::Postgres;
use common::realtime::{database, one_phone_database, same_port_or_reconfigure};
use common::{Asterisk, Builder, Impl};

const MAC: &str = "0004f2000001";
const TEMPLATE: &str = "<x>${USERNAME}:${SECRET}</x>";

/// The configuration in the database: one profile with an enrollment file, one phone, and
/// `general` as extra `[general]` lines.
fn cluster_database(general: &[(&str, &str)]) -> Postgres {
    let mut lines = vec![("default_profile", "lin")];
    lines.extend_from_slice(general);
    one_phone_database(
        &lines,
        "lin",
        &[
            ("linphone/${MAC}.xml", "phone.xml"),
            ("enroll_file", "linphone/${MAC}.xml"),
        ],
        MAC,
    )
}

fn node(pg: &Postgres) -> Asterisk {
    named_node(pg, None)
}

fn named_node(pg: &Postgres, name: Option<&str>) -> Asterisk {
    let mut b = Builder::new(Impl::Rust)
        .realtime(pg)
        .file("phone.xml", TEMPLATE);
    if let Some(name) = name {
        b = b.system_name(name);
    }
    b.start()
}

/// The phone's file, as a Yealink would ask for it.
fn fetch(node: &Asterisk, agent: &str) -> u16 {
    node.request(
        "GET",
        &format!("/phoneprov/linphone/{MAC}.xml"),
        &format!("User-Agent: {agent}\r\n"),
    )
    .status
}

/// Waits (bounded) until the family's row of the phone satisfies `ok`: the writer is a
/// thread of its own.
fn fetch_row(pg: &Postgres, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = pg.rows(&format!(
            "SELECT node, address, user_agent, model, firmware, status, uri, at \
               FROM phoneprov_fetches WHERE mac = '{MAC}'"
        ));
        if let Some(row) = rows.first().filter(|r| ok(r)) {
            return row.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no such row within 10 s: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
    // Expired for more than a week: deleted when a token is made; expired lately: kept.
    pg.sql(&format!(
        "INSERT INTO phoneprov_tokens (hash, mac, expires, used) VALUES \
         ('{}', '{MAC}', 1000, 0), ('{}', '{MAC}', extract(epoch from now())::bigint - 60, 1);",
        "0".repeat(40),
        "1".repeat(40)
    ));

    // Made on a, raced by 16 clients on both nodes: one 200, every other request 410.
    let path = a.token(MAC);
    assert_eq!(
        pg.rows("SELECT left(hash, 1) FROM phoneprov_tokens WHERE expires < 1000000000"),
        Vec::<Vec<String>>::new(),
        "the old token was deleted"
    );
    pg.sql(&format!(
        "DELETE FROM phoneprov_tokens WHERE hash = '{}';",
        "1".repeat(40)
    ));
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
    let path = b.token(MAC);
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
    let path = a.token(MAC);
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
    let path = a.token(MAC);
    assert_eq!(b.get(&path).status, 404, "astdb is per node");
    assert_eq!(a.get(&path).status, 200);
    assert_eq!(
        pg.rows("SELECT count(*) FROM phoneprov_tokens"),
        vec![vec!["0".to_owned()]]
    );
}

#[test]
fn the_last_fetch_is_the_clusters_on_every_node() {
    let mut pg = cluster_database(&[
        ("audit_realtime", "phoneprov_fetches"),
        ("audit_realtime_interval", "2"),
    ]);
    let a = named_node(&pg, Some("node-a"));
    let b = named_node(&pg, Some("node-b"));

    // Fetched from a: both nodes show a's fetch.
    assert_eq!(fetch(&a, "Yealink SIP-T46S 66.86.0.15"), 200);
    let row = fetch_row(&pg, |r| r[0] == "node-a");
    let uri = format!("linphone/{MAC}.xml");
    let want = [
        "node-a",
        "127.0.0.1",
        "Yealink SIP-T46S 66.86.0.15",
        "Yealink T46S",
        "66.86.0.15",
        "200",
        &uri,
    ];
    assert_eq!(&row[..7], want);
    for n in [&a, &b] {
        let out = n.cli(&format!("phoneprov show phone {MAC}"));
        assert!(
            out.contains("Last fetch in the cluster (audit_realtime):")
                && out.contains("node node-a"),
            "{out}"
        );
        let out = n.cli("phoneprov show phones");
        assert!(out.contains("node node-a"), "{out}");
    }

    // Fetched from b within a's interval: b writes its own (the interval is per node and
    // phone), and the row says b.
    assert_eq!(fetch(&b, "Yealink SIP-T46S 66.86.0.16"), 200);
    fetch_row(&pg, |r| r[0] == "node-b" && r[4] == "66.86.0.16");
    assert!(a.cli("phoneprov show phones").contains("node node-b"));

    // At most once per phone per interval from one node: a burst of ten fetches (shorter
    // than the interval) makes at most two writes, the last with the burst's last fetch.
    let before = counts(&a);
    let started = Instant::now();
    for i in 0..10 {
        assert_eq!(fetch(&a, &format!("Yealink SIP-T46S 66.86.1.{i}")), 200);
    }
    let burst = started.elapsed();
    let last = fetch_row(&pg, |r| r[4] == "66.86.1.9");
    assert_eq!(last[0], "node-a");
    let after = counts(&a);
    eprintln!("ten fetches in {burst:?}: {} writes", after.0 - before.0);
    assert!(burst < Duration::from_secs(2), "{burst:?}");
    assert!(after.0 - before.0 <= 2, "{before:?} {after:?}");

    // The database stops: requests are answered as fast as ever, writes are dropped and
    // counted, and the writer takes up again once it is back.
    let port = pg.port;
    pg.stop();
    let started = Instant::now();
    for i in 0..20 {
        assert_eq!(fetch(&a, &format!("Yealink SIP-T46S 66.86.2.{i}")), 200);
    }
    let spent = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while counts(&a).1 == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing dropped: {}",
            a.cli("phoneprov show status")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "20 fetches with the audit database down: {spent:?}; {:?}",
        counts(&a)
    );
    assert!(spent < Duration::from_secs(2), "{spent:?}");
    pg.start_again();
    same_port_or_reconfigure(&a, &pg, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    loop {
        i += 1;
        let ua = format!("Yealink SIP-T46S 66.86.3.{i}");
        assert_eq!(fetch(&a, &ua), 200);
        let rows = pg.rows(&format!(
            "SELECT firmware FROM phoneprov_fetches WHERE mac = '{MAC}'"
        ));
        if rows.first().is_some_and(|r| r[0].starts_with("66.86.3.")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not written again after the database came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// (written, dropped) from `phoneprov show status`.
fn counts(n: &Asterisk) -> (u64, u64) {
    let out = n.cli("phoneprov show status");
    let line = out
        .lines()
        .find(|l| l.starts_with("Audit:"))
        .unwrap_or_else(|| panic!("{out}"));
    let number = |word: &str| -> u64 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| w.trim_end_matches(',') == word)
            .unwrap_or_else(|| panic!("{line}"));
        words[at - 1].parse().unwrap_or_else(|_| panic!("{line}"))
    };
    (number("written"), number("dropped"))
}

/// extconfig.conf for dynamic lookup mode with the shared families (the sample also maps the
/// files for static realtime, which would put every phone in memory).
const DYNAMIC_EXTCONFIG: &str = "[settings]\nphoneprov_users => pgsql,asterisk,phoneprov_lines\n\
                                 phoneprov_tokens => pgsql,asterisk\n";
const DYNAMIC_CONF: &str = "[general]\ndefault_profile = lin\nusers_realtime = phoneprov_users\n\
                            tokens_realtime = phoneprov_tokens\n\n[lin]\n\
                            linphone/${MAC}.xml => phone.xml\nenroll_file = linphone/${MAC}.xml\n\
                            uploads = ${MAC}-phone.cfg\nuploads_unauthenticated = yes\n";

fn dynamic_node(pg: &Postgres) -> Asterisk {
    Builder::new(Impl::Rust)
        .realtime(pg)
        .conf("extconfig.conf", DYNAMIC_EXTCONFIG)
        .conf("phoneprov.conf", DYNAMIC_CONF)
        .file("phone.xml", TEMPLATE)
        .start()
}

#[test]
fn database_phones_have_show_phone_resync_tokens_and_uploads_in_dynamic_mode() {
    let pg = database();
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, secret) \
         VALUES ('6001', '{MAC}', 'TopSecret1');"
    ));
    let a = dynamic_node(&pg);
    let b = dynamic_node(&pg);
    assert!(a.cli("phoneprov show phones").contains("0 phones"));

    // show phone: the phone is only in the database.
    let out = a.cli(&format!("phoneprov show phone {MAC}"));
    assert!(
        out.contains(&format!("Phone {MAC} (provider realtime")),
        "{out}"
    );
    assert!(out.contains("Line 1 (6001)"), "{out}");
    assert!(
        out.contains(&format!("linphone/{MAC}.xml")) && out.contains("looked up in the database"),
        "{out}"
    );
    assert!(a
        .cli("phoneprov show phone 0004f2999999")
        .contains("No phone with MAC"));

    // resync names its endpoint (the first line's USERNAME) instead of "no such phone".
    let out = a.cli(&format!("phoneprov resync {MAC}"));
    assert!(out.contains(&format!("{MAC}  endpoint '6001'")), "{out}");

    // A token for it, made on a, is served once through b, which looks the phone up itself.
    let path = a.token(MAC);
    let r = b.get(&path);
    assert_eq!(r.status, 200, "{}", b.log_tail());
    assert_eq!(r.text(), "<x>6001:TopSecret1</x>");
    assert_eq!(a.get(&path).status, 410);
    assert_eq!(b.get(&path).status, 410);

    // A Linphone account in the database: its "MAC" is a long random key, not 12 digits.
    let account = "9f86d081884c7d659a2feaa0";
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, secret) \
         VALUES ('6002', '{account}', 'Other2');"
    ));
    let r = a.get(&format!("/phoneprov/linphone/{account}.xml"));
    assert_eq!(r.status, 200, "{}", a.log_tail());
    assert_eq!(r.text(), "<x>6002:Other2</x>");
    assert!(a
        .cli(&format!("phoneprov show phone {account}"))
        .contains("Line 1 (6002)"));
    let enroll = a.token(account);
    assert_eq!(b.get(&enroll).text(), "<x>6002:Other2</x>");

    // Uploads: stored for the database phone, served back to it; another MAC's refused.
    let upload = format!("/phoneprov/{MAC}-phone.cfg");
    assert_eq!(a.get(&upload).status, 404, "nothing stored yet");
    assert_eq!(put(&a, &upload, b"<o/>"), 201, "{}", a.log_tail());
    assert_eq!(a.get(&upload).body, b"<o/>");
    assert_eq!(put(&a, &upload, b"<p/>"), 200);
    assert_eq!(a.get(&upload).body, b"<p/>");
    assert_eq!(put(&a, "/phoneprov/0004f2999999-phone.cfg", b"x"), 404);
    let stored = a
        .dir
        .join(format!("spool/phoneprov/uploads/{MAC}/{MAC}-phone.cfg"));
    assert_eq!(std::fs::read(stored).expect("stored file"), b"<p/>");
}

#[test]
fn a_node_started_while_the_database_is_down_serves_once_it_is_back() {
    let mut pg = cluster_database(&[]);
    let port = pg.port;
    pg.stop();
    let a = node(&pg);
    let path = format!("/phoneprov/linphone/{MAC}.xml");
    assert_eq!(a.get(&path).status, 404, "nothing could be read");
    let started = Instant::now();
    pg.start_again();
    same_port_or_reconfigure(&a, &pg, port);
    // Nobody reloads: the module retries on its own (1 s, 2 s, 4 s... after its load).
    let deadline = Instant::now() + Duration::from_secs(40);
    while a.get(&path).status != 200 {
        assert!(Instant::now() < deadline, "{}", a.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "served {:?} after the database came back",
        started.elapsed()
    );
    assert_eq!(a.get(&path).text(), "<x>6001:TopSecret1</x>");
    let log = a.log();
    assert_eq!(log.matches("retrying on its own").count(), 1, "{log}");
    assert_eq!(
        log.matches("The database answers again").count(),
        1,
        "{log}"
    );
}

/// PUT `body` at `path` on `node`: the status.
fn put(node: &Asterisk, path: &str, body: &[u8]) -> u16 {
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    common::http_raw(node.addr(), &req).map_or(0, |r| r.status)
}

#[test]
fn two_nodes_on_one_uploads_directory() {
    let pg = one_phone_database(
        &[("default_profile", "pol")],
        "pol",
        &[
            ("uploads", "${MAC}-phone.cfg"),
            ("uploads_unauthenticated", "yes"),
            ("${MAC}.cfg", "phone.xml"),
        ],
        MAC,
    );
    let a = node(&pg);
    let b = node(&pg);
    // One directory for both, as shared storage (NFS...) would be: b's is a link to a's
    // (relative: the nodes run in the sandbox's root, where a.dir has another path).
    std::fs::create_dir_all(a.dir.join("spool/phoneprov/uploads")).expect("uploads dir");
    std::fs::create_dir_all(b.dir.join("spool/phoneprov")).expect("spool dir");
    let a_name = a
        .dir
        .file_name()
        .expect("a's dir")
        .to_string_lossy()
        .into_owned();
    assert_eq!(a.dir.parent(), b.dir.parent());
    std::os::unix::fs::symlink(
        format!("../../../{a_name}/spool/phoneprov/uploads"),
        b.dir.join("spool/phoneprov/uploads"),
    )
    .expect("link");

    let path = format!("/phoneprov/{MAC}-phone.cfg");
    assert_eq!(put(&a, &path, b"<a/>"), 201);
    assert_eq!(
        b.get(&path).body,
        b"<a/>",
        "uploaded through a, read through b"
    );
    assert_eq!(put(&b, &path, b"<b/>"), 200);
    assert_eq!(a.get(&path).body, b"<b/>");

    // Both nodes store the phone's file at once, many times: each read is one whole body
    // (stored by renaming a finished file), never a mix or a truncated one.
    let big = |c: u8| vec![c; 3000];
    let writers: Vec<_> = [(a.addr(), b'x'), (b.addr(), b'y')]
        .into_iter()
        .map(|(addr, c)| {
            let body = big(c);
            let path = path.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|_| {
                        let mut req = format!(
                            "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
                             Connection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        req.extend_from_slice(&body);
                        common::http_raw(addr, &req).map_or(0, |r| r.status)
                    })
                    .filter(|&s| s == 200 || s == 201)
                    .count()
            })
        })
        .collect();
    let mut reads = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        for n in [&a, &b] {
            let r = n.get(&path);
            assert_eq!(r.status, 200);
            // The one before the writers, or one of theirs.
            let whole = r.body == b"<b/>" || r.body == big(b'x') || r.body == big(b'y');
            assert!(whole, "a mixed or cut body: {} bytes", r.body.len());
            reads += 1;
        }
    }
    let stored: Vec<usize> = writers.into_iter().map(|w| w.join().unwrap_or(0)).collect();
    eprintln!("100 PUTs on two nodes into one directory ({stored:?} stored), {reads} whole reads");
    assert_eq!(stored, [50, 50]);
}
