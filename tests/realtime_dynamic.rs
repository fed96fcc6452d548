//! Dynamic lookup mode (`users_realtime`) against a real PostgreSQL through the stock
//! res_config_pgsql: phones only in the database are served on their first request, cached
//! for the TTL (found and unknown alike), follow inserts, updates and deletes within it, and
//! survive a database outage (cached phones served, others 503, recovery on its own).

mod common;

use std::time::{Duration, Instant};

use common::postgres::{quote, Postgres};
use common::realtime::database;
use common::{Asterisk, Builder, Impl};
use phoneprov_core::render::xmlcheck;

/// Short, for the tests of what changes within the TTL.
const TTL_SECONDS: u64 = 2;
/// Long, for the tests of what the cache saves: nothing expires while they run, however
/// slow the machine.
const LONG_TTL: u64 = 600;

fn phoneprov_conf(ttl: u64) -> String {
    format!(
        "[general]\n\
         serveraddr = 127.0.0.1\n\
         default_profile = snom\n\
         users_realtime = phoneprov_users\n\
         realtime_cache_ttl = {ttl}\n\
         realtime_cache_size = 100\n\
         \n\
         [snom]\n\
         mime_type => application/xml\n\
         ${{MAC}}.xml => snom.xml\n\
         ${{TOLOWER(${{MAC}})}}-dir.xml => directory.xml\n\
         ${{USERNAME}}.user => snom.xml\n\
         \n\
         [yealink]\n\
         mime_type => text/plain\n\
         ${{TOUPPER(${{MAC}})}}.cfg => yealink.cfg\n"
    )
}

const SNOM: &str = "<settings><name>${PP_XML(${DISPLAY_NAME})}</name>\
<user>${PP_XML(${USERNAME})}</user><vm>${VOICEMAIL_EXTEN}</vm><pass>${PP_XML(${SECRET})}</pass>\
<lines>${PP_EACH_EXTENSION(${MAC},line.xml)}</lines></settings>\n";

const LINE: &str = "<l n=\"${LINE}\">${USERNAME}</l>";

const DIRECTORY: &str = "<tbook>${PP_EACH_USER(<item>%{USERNAME}</item>,)}</tbook>\n";

const YEALINK: &str = "account.1.user_name = ${USERNAME}\naccount.1.mac = ${MAC}\n";

/// The users file: one phone in memory, beside the database's.
const USERS: &str = "[general]\nvmexten = *98\n\n[6000]\nautoprov = yes\nmacaddress = 0000000000aa\nprofile = snom\n\
                     fullname = Memory\nsecret = m\n";

/// extconfig.conf for dynamic mode only (the sample also maps the files for static realtime,
/// which would put every phone in memory).
const EXTCONFIG: &str = "[settings]\nphoneprov_users => pgsql,asterisk,phoneprov_lines\n";

fn start(pg: &Postgres) -> Asterisk {
    start_with(pg, TTL_SECONDS)
}

fn start_with(pg: &Postgres, ttl: u64) -> Asterisk {
    Builder::new(Impl::Rust)
        .module("func_strings")
        .realtime(pg)
        .conf("extconfig.conf", EXTCONFIG)
        .conf("phoneprov.conf", phoneprov_conf(ttl))
        .conf("users.conf", USERS)
        .file("snom.xml", SNOM)
        .file("line.xml", LINE)
        .file("directory.xml", DIRECTORY)
        .file("yealink.cfg", YEALINK)
        .start()
}

fn insert_line(pg: &Postgres, section: &str, mac: &str, profile: &str, line: i32, name: &str) {
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, profile, username, secret, fullname, \
         linenumber) VALUES ({}, {}, {}, {}, {}, {}, {line});",
        quote(section),
        quote(mac),
        quote(profile),
        quote(section),
        quote("s&<'\"cret"),
        quote(name)
    ));
}

/// Polls `path` until it answers `status`, for at most `limit`; the last status seen.
fn status_within(ast: &Asterisk, path: &str, status: u16, limit: Duration) -> u16 {
    let deadline = Instant::now() + limit;
    loop {
        let got = ast.get(path).status;
        if got == status || Instant::now() >= deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number in `phoneprov show status`'s realtime line before `label`.
fn counter(ast: &Asterisk, label: &str) -> u64 {
    let status = ast.cli("phoneprov show status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Realtime requests:"))
        .unwrap_or_else(|| panic!("no realtime line in:\n{status}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = line
        .split(',')
        .find(|part| part.contains(label))
        .and_then(|part| part.split_whitespace().find_map(|w| w.parse().ok()))
        .unwrap_or_else(|| panic!("no '{label}' in {words:?}"));
    at
}

#[test]
fn phones_only_in_the_database_are_served_and_cached() {
    let pg = database();
    insert_line(&pg, "6001", "0004f2000001", "snom", 1, "Jane <J> & \"Co\"");
    insert_line(&pg, "6002", "0004f2000001", "snom", 2, "Jane's second");
    insert_line(&pg, "7001", "0015651234AB", "yealink", 1, "Upper");
    let ast = start(&pg);

    let r = ast.get("/phoneprov/0004f2000001.xml");
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    xmlcheck::check(&body).unwrap_or_else(|e| panic!("{e:?}\n{body}"));
    assert!(body.contains("<user>6001</user>"), "{body}");
    assert!(
        body.contains("<vm>*98</vm>"),
        "the users file's [general] applies to database phones too: {body}"
    );
    assert!(
        body.contains("Jane &lt;J&gt; &amp; &quot;Co&quot;"),
        "{body}"
    );
    assert!(body.contains("s&amp;&lt;&apos;&quot;cret"), "{body}");
    assert!(
        body.contains("<l n=\"1\">6001</l><l n=\"2\">6002</l>"),
        "both rows are the phone's lines, in order: {body}"
    );
    assert_eq!(r.header("Content-Type"), Some("application/xml"));

    // The URI must be exactly the phone's: ${MAC} is the MAC as stored.
    assert_eq!(ast.get("/phoneprov/0004F2000001.xml").status, 404);
    // Lower-case URI of a MAC stored in upper case, and the reverse, through TOLOWER/TOUPPER.
    assert_eq!(ast.get("/phoneprov/0004f2000001-dir.xml").status, 200);
    let y = ast.get("/phoneprov/0015651234AB.cfg");
    assert_eq!(y.status, 200, "{}", y.text());
    assert!(
        y.text().contains("account.1.user_name = 7001"),
        "{}",
        y.text()
    );
    assert!(
        y.text().contains("account.1.mac = 0015651234AB"),
        "{}",
        y.text()
    );
    // A file whose URI names no MAC is served for phones in memory only.
    assert_eq!(ast.get("/phoneprov/6001.user").status, 404);
    assert_eq!(ast.get("/phoneprov/6000.user").status, 200);

    // PP_EACH_USER lists the phones in memory, never the database's (which may be millions).
    let dir = ast.get("/phoneprov/0004f2000001-dir.xml").text();
    assert_eq!(dir, "<tbook><item>6000</item></tbook>\n");

    // Served from the cache: more requests, no more lookups (a node whose TTL cannot run
    // out during the test).
    let cached = start_with(&pg, LONG_TTL);
    assert_eq!(cached.get("/phoneprov/0004f2000001.xml").status, 200);
    let looked_up = counter(&cached, "looked up");
    for _ in 0..20 {
        assert_eq!(cached.get("/phoneprov/0004f2000001.xml").status, 200);
    }
    assert_eq!(counter(&cached, "looked up"), looked_up);
    assert!(counter(&cached, "from the cache") >= 20);

    // An update shows within the TTL.
    pg.sql("UPDATE phoneprov_lines SET username = 'renamed' WHERE section = '6001';");
    let deadline = Instant::now() + Duration::from_secs(TTL_SECONDS + 3);
    while !ast
        .get("/phoneprov/0004f2000001.xml")
        .text()
        .contains("<user>renamed</user>")
    {
        assert!(
            Instant::now() < deadline,
            "the update was not served within the TTL"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A deleted phone is gone within the TTL.
    pg.sql("DELETE FROM phoneprov_lines WHERE macaddress = '0004f2000001';");
    let limit = Duration::from_secs(TTL_SECONDS + 3);
    assert_eq!(
        status_within(&ast, "/phoneprov/0004f2000001.xml", 404, limit),
        404
    );
}

#[test]
fn unknown_macs_are_remembered_and_inserts_show_within_the_ttl() {
    let pg = database();
    let ast = start_with(&pg, LONG_TTL);
    let guesses: Vec<String> = (0..30)
        .map(|i| format!("/phoneprov/00aabb{i:06x}.xml"))
        .collect();
    for path in &guesses {
        assert_eq!(ast.get(path).status, 404);
    }
    let looked_up = counter(&ast, "looked up");
    assert_eq!(looked_up, 30, "one lookup per unknown MAC");
    for path in &guesses {
        assert_eq!(ast.get(path).status, 404);
    }
    assert_eq!(
        counter(&ast, "looked up"),
        looked_up,
        "guessing again costs the database nothing within the TTL"
    );
    // Not a MAC, or not a pattern: never looked up.
    assert_eq!(ast.get("/phoneprov/00aabb00000g.xml").status, 404);
    assert_eq!(ast.get("/phoneprov/whatever.xml").status, 404);
    assert_eq!(counter(&ast, "looked up"), looked_up);

    // A phone inserted after its MAC was found unknown is served once the TTL is over.
    let short = start(&pg);
    assert_eq!(short.get(&guesses[1]).status, 404);
    insert_line(&pg, "8001", "00aabb000001", "snom", 1, "Late");
    assert_eq!(ast.get(&guesses[1]).status, 404, "remembered as unknown");
    let limit = Duration::from_secs(TTL_SECONDS + 3);
    assert_eq!(status_within(&short, &guesses[1], 200, limit), 200);
}

#[test]
fn a_database_outage_serves_cached_phones_and_503_for_others() {
    let mut pg = database();
    insert_line(&pg, "6001", "0004f2000001", "snom", 1, "Cached");
    insert_line(&pg, "6002", "0004f2000002", "snom", 1, "Not yet fetched");
    let ast = start(&pg);
    assert_eq!(ast.get("/phoneprov/0004f2000001.xml").status, 200);

    let port = pg.port;
    pg.stop();
    // Past the TTL: the cached phone is served stale rather than lost.
    std::thread::sleep(Duration::from_secs(TTL_SECONDS) + Duration::from_millis(200));
    let cached = ast.get("/phoneprov/0004f2000001.xml");
    assert_eq!(cached.status, 200, "{}", cached.text());
    let other = ast.get("/phoneprov/0004f2000002.xml");
    assert_eq!(other.status, 503, "{}", other.text());
    assert_eq!(other.header("Retry-After"), Some("1"));
    // A phone in memory does not depend on the database.
    assert_eq!(ast.get("/phoneprov/0000000000aa.xml").status, 200);
    assert!(ast.log_has("does not answer: phones not in the cache get 503"));
    assert!(ast.cli("phoneprov show status").contains("(not answering)"));
    assert!(counter(&ast, "answered 503") >= 1);
    assert!(counter(&ast, "served stale") >= 1);

    pg.start_again();
    common::realtime::same_port_or_reconfigure(&ast, &pg, port);
    let limit = Duration::from_secs(15);
    assert_eq!(
        status_within(&ast, "/phoneprov/0004f2000002.xml", 200, limit),
        200,
        "recovers by itself once the database answers"
    );
    assert!(ast.log_has("Realtime lookups of phones work again."));
}

#[test]
fn two_nodes_serve_the_same_database() {
    let pg = database();
    let mut one = start(&pg);
    let two = start(&pg);
    insert_line(&pg, "6001", "0004f2000001", "snom", 1, "Both");
    for node in [&one, &two] {
        assert_eq!(node.get("/phoneprov/0004f2000001.xml").status, 200);
    }
    // One node stopped: the other keeps serving, from the cache and from the database.
    one.stop();
    insert_line(&pg, "6002", "0004f2000002", "snom", 1, "Second");
    for path in ["/phoneprov/0004f2000001.xml", "/phoneprov/0004f2000002.xml"] {
        assert_eq!(two.get(path).status, 200, "{path}");
    }
    // Deleted: gone from the running node within the TTL.
    pg.sql("DELETE FROM phoneprov_lines WHERE section = '6001';");
    let limit = Duration::from_secs(TTL_SECONDS + 3);
    assert_eq!(
        status_within(&two, "/phoneprov/0004f2000001.xml", 404, limit),
        404
    );
    // A node reloading, under requests to it and to the other: both answer throughout.
    let three = start(&pg);
    let done = std::sync::atomic::AtomicBool::new(false);
    let answered = std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..5 {
                three.cli("module reload res_phoneprov.so");
            }
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        let mut answered = 0;
        while !done.load(std::sync::atomic::Ordering::Acquire) && answered < 10_000 {
            for node in [&two, &three] {
                let r = node.get("/phoneprov/0004f2000002.xml");
                assert_eq!(r.status, 200, "{}", r.text());
                answered += 1;
            }
        }
        answered
    });
    assert!(answered >= 2, "no request ran during the reloads");
    assert_eq!(three.get("/phoneprov/0004f2000002.xml").status, 200);
}

/// An empty answer is "no such phone" only when a check made after the query finds the
/// database answering: just after the database stops, uncached phones get 503 on every
/// node (at 0 ms, 100 ms and 1 s), never a 404 that would be remembered; once the database
/// is back, the same phones are served.
#[test]
fn no_404_that_the_database_did_not_say() {
    let mut pg = database();
    let macs: Vec<String> = (1..=6).map(|i| format!("0004f20000{i:02}")).collect();
    for (i, mac) in macs.iter().enumerate() {
        insert_line(&pg, &format!("60{i:02}"), mac, "snom", 1, "Outage");
    }
    let one = start(&pg);
    let two = start(&pg);
    // A check that found the database answering, a moment before it stops.
    for node in [&one, &two] {
        assert_eq!(node.get("/phoneprov/0004f2ffff01.xml").status, 404);
    }
    let port = pg.port;
    pg.stop();
    let stopped = Instant::now();
    let mut next = macs.iter();
    for after in [0, 100, 1000] {
        let at = stopped + Duration::from_millis(after);
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        for node in [&one, &two] {
            let mac = next.next().expect("a phone per request");
            let r = node.get(&format!("/phoneprov/{mac}.xml"));
            assert_eq!(
                r.status,
                503,
                "{mac} {after} ms after the stop: {}",
                r.text()
            );
        }
    }
    pg.start_again();
    for node in [&one, &two] {
        common::realtime::same_port_or_reconfigure(node, &pg, port);
    }
    for (n, mac) in macs.iter().enumerate() {
        let node = if n % 2 == 0 { &one } else { &two };
        let path = format!("/phoneprov/{mac}.xml");
        assert_eq!(
            status_within(node, &path, 200, Duration::from_secs(15)),
            200
        );
    }
}
