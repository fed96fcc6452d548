//! Issue 24, points 5 and 6, against a real Asterisk: the access lists run before anything
//! that depends on the URI, scans for MACs raise (rate-limited) security events, and
//! configurations that silently opened files are refused or warned about.

mod common;

use std::time::{Duration, Instant};

use common::{http_raw, Asterisk, Builder, Impl, Response};
use phoneprov_core::access::auth::base64_encode;

fn put_at(ast: &Asterisk, ip: &str, path: &str, body: &str, headers: &str) -> Response {
    let headers = format!("Content-Length: {}\r\n{headers}", body.len());
    ast.send_at(ip, "PUT", path, &headers, body.as_bytes())
}

const LOGGER: &str = "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n\
                      security.log => security\n";

/// `office` admits IPv4 loopback only, with Basic authentication; `open` has no list.
const ACL_CONF: &str = "\
[general]
default_profile = open

[office]
deny = ::/0
deny = 0.0.0.0/0
permit = 127.0.0.1/32
auth = basic
auth_basic_plain = yes
${MAC}.cfg => phone.cfg

[open]
static_file => open.txt
";

const ACL_USERS: &str = "\
[a1]
autoprov = yes
macaddress = 0000000000a1
profile = office
secret = pw-a1
";

fn security_log(ast: &Asterisk) -> String {
    std::fs::read_to_string(ast.dir.join("log/security.log")).unwrap_or_default()
}

/// Waits (up to 10 s) until security.log holds a line with `text`: Asterisk's logger
/// writes in order, so every event raised before it is written too.
fn wait_security(ast: &Asterisk, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = security_log(ast);
        if log.contains(text) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no {text} in security.log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn access_lists_run_before_the_uri_is_looked_at() {
    let ast = Builder::new(Impl::Rust)
        .bindaddr("::")
        .conf("phoneprov.conf", ACL_CONF)
        .conf("phoneprov_users.conf", ACL_USERS)
        .file("phone.cfg", "secret=${SECRET}\n")
        .file("open.txt", "open\n")
        .start();
    // ::1 is refused by office's list, admitted by open's: a known MAC and an unknown one
    // get the same answer, byte for byte.
    let known = ast.get_at("::1", "/phoneprov/0000000000a1.cfg", "");
    let unknown = ast.get_at("::1", "/phoneprov/0000000000ff.cfg", "");
    assert_eq!(known.status, 403);
    assert_eq!(unknown.status, 403, "unknown MAC: {}", unknown.text());
    assert_eq!(known.body, unknown.body);
    assert_eq!(
        ast.get_at("::1", "/phoneprov/open.txt", "").status,
        200,
        "the open profile still serves ::1"
    );
    // A PUT of an existing route: the access list and authentication first.
    let put = put_at(&ast, "::1", "/phoneprov/0000000000a1.cfg", "x", "");
    assert_eq!(put.status, 403);
    assert_eq!(put.body, known.body);
    let put = put_at(&ast, "127.0.0.1", "/phoneprov/0000000000a1.cfg", "x", "");
    assert_eq!(
        put.status, 401,
        "a PUT of a route must ask for credentials first"
    );
    let creds = format!("Authorization: Basic {}\r\n", base64_encode(b"a1:pw-a1"));
    let put = put_at(
        &ast,
        "127.0.0.1",
        "/phoneprov/0000000000a1.cfg",
        "x",
        &creds,
    );
    assert_eq!(put.status, 403, "then the route is not replaced");
    // From the admitted address, unknown names stay 404.
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/0000000000ff.cfg", "")
            .status,
        404
    );

    // Every profile refusing: 403 for anything, before the URI is looked at.
    ast.write_conf(
        "phoneprov.conf",
        ACL_CONF.replace(
            "default_profile = open\n",
            "default_profile = open\ndeny = ::/0\n",
        ),
    );
    ast.cli("module reload res_phoneprov.so");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ast.get_at("::1", "/phoneprov/open.txt", "").status != 403 {
        assert!(Instant::now() < deadline, "reload not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    for path in [
        "/phoneprov/0000000000a1.cfg",
        "/phoneprov/0000000000ff.cfg",
        "/phoneprov/nothing",
        "/phoneprov/enroll/00112233445566778899aabbccddeeff",
    ] {
        let r = ast.get_at("::1", path, "");
        assert_eq!((path, r.status), (path, 403));
        assert_eq!(r.body, known.body, "{path}");
    }
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/open.txt", "").status,
        200
    );
}

#[test]
fn a_scan_for_macs_raises_rate_limited_events_the_filter_matches() {
    let ast = Builder::new(Impl::Rust)
        .module("res_security_log")
        .conf("phoneprov.conf", ACL_CONF)
        .conf("phoneprov_users.conf", ACL_USERS)
        .conf("logger.conf", LOGGER)
        .file("phone.cfg", "secret=${SECRET}\n")
        .file("open.txt", "open\n")
        .start();
    for i in 0..20 {
        let r = ast.get_at("127.0.0.1", &format!("/phoneprov/0004f2{i:06x}.cfg"), "");
        assert_eq!(r.status, 404);
    }
    // Not shaped like a phone's file: no event.
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/favicon.ico", "").status,
        404
    );
    // A marker after them: a wrong password.
    let creds = format!("Authorization: Basic {}\r\n", base64_encode(b"a1:no"));
    let r = ast.request_at("127.0.0.1", "GET", "/phoneprov/0000000000a1.cfg", &creds);
    assert_eq!(r.status, 401);
    let log = wait_security(&ast, "\"InvalidPassword\"");
    let scans: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"InvalidAccountID\""))
        .collect();
    assert_eq!(scans.len(), 1, "one event per address per 10 s:\n{log}");
    assert!(
        scans[0].contains("AccountID=\"0004f2000000.cfg\""),
        "{}",
        scans[0]
    );
    assert!(!log.contains("favicon"), "{log}");
    // The shipped filter counts it against the scanner.
    let re = common::failregex();
    let event = common::security_event(scans[0]);
    let caps = re
        .captures(event)
        .unwrap_or_else(|| panic!("no match: {event}"));
    assert_eq!(&caps["host"], "127.0.0.1");
}

const UPLOAD_CONF: &str = "\
[general]
default_profile = open

[open]
uploads = ${MAC}-phone.cfg
${MAC}.cfg => phone.cfg

[meant]
uploads = ${MAC}-phone.cfg, ${MAC}-*.log
uploads_unauthenticated = yes
upload_max = 1K
upload_quota = 2K
${MAC}.cfg => phone.cfg

[dflt]
uploads = ${MAC}-*.log
uploads_unauthenticated = yes
upload_max = 1K
${MAC}.cfg => phone.cfg
";

const UPLOAD_USERS: &str = "\
[o1]
autoprov = yes
macaddress = 0000000000b1
profile = open
secret = pw-o1

[m1]
autoprov = yes
macaddress = 0000000000b2
profile = meant
secret = pw-m1

[d1]
autoprov = yes
macaddress = 0000000000b3
profile = dflt
secret = pw-d1
";

#[test]
fn open_uploads_are_refused_and_quotas_hold() {
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", UPLOAD_CONF)
        .conf("phoneprov_users.conf", UPLOAD_USERS)
        .file("phone.cfg", "secret=${SECRET}\n")
        .start();
    // auth = none, no access list, no uploads_unauthenticated: not loaded, with an ERROR.
    assert!(
        ast.log_has("[open]: uploads not loaded"),
        "{}",
        ast.log_tail()
    );
    assert!(ast.log().lines().any(|l| l.contains("ERROR")
        && l.contains("[open]")
        && l.contains("uploads_unauthenticated = yes")));
    let r = put_at(
        &ast,
        "127.0.0.1",
        "/phoneprov/0000000000b1-phone.cfg",
        "evil",
        "",
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(!ast.log().contains("[meant]: uploads not loaded"));

    // upload_quota = 2K: the replaced file does not count against its own upload.
    let k = "k".repeat(1000);
    let put = |path: &str| put_at(&ast, "127.0.0.1", &format!("/phoneprov/{path}"), &k, "").status;
    assert_eq!(put("0000000000b2-phone.cfg"), 201);
    assert_eq!(put("0000000000b2-1.log"), 201);
    assert_eq!(put("0000000000b2-phone.cfg"), 200);
    // 2,000 bytes stored: 100 more pass the 2,048.
    let r = put_at(
        &ast,
        "127.0.0.1",
        "/phoneprov/0000000000b2-2.log",
        &"x".repeat(100),
        "",
    );
    assert_eq!(r.status, 507, "{}", r.text());
    // Chunked, with no length announced: refused once past the quota, nothing stored.
    let chunked = format!(
        "PUT /phoneprov/0000000000b2-3.log HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{k}\r\n0\r\n\r\n",
        k.len()
    );
    let r = http_raw(ast.addr(), chunked.as_bytes()).expect("chunked PUT");
    assert_eq!(r.status, 507, "{}", r.text());

    // The default quota: 8 uploads of upload_max.
    for n in 0..8 {
        assert_eq!(put(&format!("0000000000b3-{n}.log")), 201, "upload {n}");
    }
    assert_eq!(put("0000000000b3-8.log"), 507);
}

#[test]
fn an_ipv4_only_access_list_on_an_ipv6_listener_warns() {
    let ast = Builder::new(Impl::Rust)
        .bindaddr("::")
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = v4\n\n\
             [v4]\ndeny = 0.0.0.0/0\npermit = 127.0.0.1/32\n${MAC}.cfg => phone.cfg\n\n\
             [both]\ndeny = 0.0.0.0/0\ndeny = ::/0\npermit = 127.0.0.1/32\n\
             ${MAC}.cfg => phone.cfg\n",
        )
        .conf(
            "phoneprov_users.conf",
            "[a]\nautoprov = yes\nmacaddress = 0000000000c1\nprofile = v4\nsecret = s\n\n\
             [b]\nautoprov = yes\nmacaddress = 0000000000c2\nprofile = both\nsecret = s\n",
        )
        .file("phone.cfg", "secret=${SECRET}\n")
        .start();
    assert!(
        ast.log_has("phoneprov.conf [v4]: its access list has IPv4 rules only"),
        "{}",
        ast.log_tail()
    );
    assert!(ast
        .log()
        .lines()
        .any(|l| l.contains("WARNING") && l.contains("[v4]") && l.contains("bindaddr = ::")));
    assert!(!ast.log().contains("phoneprov.conf [both]: its access list"));
    // What the warning is about: native IPv6 clients pass a list of IPv4 rules.
    assert_eq!(
        ast.get_at("::1", "/phoneprov/0000000000c1.cfg", "").status,
        200
    );
    assert_eq!(
        ast.get_at("::1", "/phoneprov/0000000000c2.cfg", "").status,
        403
    );
}
