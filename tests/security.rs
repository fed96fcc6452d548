//! Who may fetch a phone's secrets (issue 9): access lists, HTTP authentication, security
//! events and the fail2ban filter, rate limits, each against a real Asterisk.

mod common;

use std::process::Command;
use std::time::Duration;

use common::digest::{challenges, digest_header};
use common::{Asterisk, Builder, Impl, Response};
use phoneprov_core::access::auth::base64_encode;

const TEMPLATE: &str = "user=${USERNAME} secret=${SECRET}\n";

fn user(section: &str, mac: &str, profile: &str, extra: &str) -> String {
    format!(
        "[{section}]\nautoprov = yes\nmacaddress = {mac}\nprofile = {profile}\n\
         secret = pw-{section}\n{extra}\n"
    )
}

const ACL_CONF: &str = "\
[general]
default_profile = open
deny = ::/0

[v4only]
deny = 0.0.0.0/0.0.0.0
deny = ::/0
permit = 127.0.0.1/32
static_file => v4.txt
${MAC}.cfg => phone.cfg

[v6only]
deny = 0.0.0.0/0
${MAC}.cfg => phone.cfg

[named]
acl = office
${MAC}.cfg => phone.cfg

[missing]
acl = nosuchacl
${MAC}.cfg => phone.cfg

[open]
static_file => open.txt
";

#[test]
fn access_lists_ipv4_ipv6_named_and_general() {
    let users = [
        user("a", "0000000000a1", "v4only", ""),
        user("b", "0000000000b1", "v6only", ""),
        user("c", "0000000000c1", "named", ""),
        user("d", "0000000000d1", "missing", ""),
    ]
    .concat();
    let ast = Builder::new(Impl::Rust)
        .bindaddr("::")
        .conf("phoneprov.conf", ACL_CONF)
        .conf("phoneprov_users.conf", users)
        .conf(
            "acl.conf",
            "[office]\ndeny = 0.0.0.0/0\ndeny = ::/0\npermit = 127.0.0.0/8\n",
        )
        .file("phone.cfg", TEMPLATE)
        .file("v4.txt", "v4\n")
        .file("open.txt", "open\n")
        .start();
    let status = |ip: &str, path: &str| ast.get_at(ip, path, "").status;
    // permit / deny, IPv4 and IPv6, dynamic and static files.
    assert_eq!(status("127.0.0.1", "/phoneprov/0000000000a1.cfg"), 200);
    assert_eq!(status("::1", "/phoneprov/0000000000a1.cfg"), 403);
    assert_eq!(status("127.0.0.1", "/phoneprov/v4.txt"), 200);
    assert_eq!(status("::1", "/phoneprov/v4.txt"), 403);
    assert_eq!(status("127.0.0.1", "/phoneprov/0000000000b1.cfg"), 403);
    assert_eq!(status("::1", "/phoneprov/0000000000b1.cfg"), 200);
    // A named ACL of acl.conf; an unknown name denies everyone.
    assert_eq!(status("127.0.0.1", "/phoneprov/0000000000c1.cfg"), 200);
    assert_eq!(status("::1", "/phoneprov/0000000000c1.cfg"), 403);
    assert_eq!(status("127.0.0.1", "/phoneprov/0000000000d1.cfg"), 403);
    // [general]'s list for a profile without its own.
    assert_eq!(status("127.0.0.1", "/phoneprov/open.txt"), 200);
    assert_eq!(status("::1", "/phoneprov/open.txt"), 403);
    // Names nothing serves: the same 403 as a file of a profile that refuses ::1, so that
    // the answer tells no MAC from an unknown one (issue 24; tests/acl_first.rs). Here some
    // profile refuses every address.
    assert_eq!(status("::1", "/phoneprov/nothing.cfg"), 403);
    assert_eq!(status("127.0.0.1", "/phoneprov/nothing.cfg"), 403);
    let denied = ast.get_at("::1", "/phoneprov/0000000000a1.cfg", "");
    assert!(!denied.text().contains("pw-a"));
}

const AUTH_CONF: &str = "\
[general]
default_profile = dig

[dig]
auth = digest
auth_nonce_ttl = 3
${MAC}.cfg => phone.cfg

[basic]
auth = basic
${MAC}.cfg => phone.cfg

[basicplain]
auth = basic
auth_basic_plain = yes
auth_realm = office phones
${MAC}.cfg => phone.cfg
static_file => plain-static.txt

[rollout]
auth = digest
auth_rollout = yes
${MAC}.cfg => phone.cfg

[tls]
require_tls = yes
${MAC}.cfg => phone.cfg
";

fn auth_users() -> String {
    [
        user(
            "h",
            "000000000001",
            "dig",
            "http_username = prov1\nhttp_secret = httppw1",
        ),
        user("plain", "000000000002", "dig", ""),
        user("bb", "000000000003", "basic", ""),
        user("bp", "000000000004", "basicplain", ""),
        user("ro", "000000000005", "rollout", ""),
        user("tl", "000000000006", "tls", ""),
    ]
    .concat()
}

fn start_auth(extra_general: &str) -> Asterisk {
    Builder::new(Impl::Rust)
        .module("res_security_log")
        .conf(
            "phoneprov.conf",
            AUTH_CONF.replace(
                "default_profile = dig\n",
                &format!("default_profile = dig\n{extra_general}"),
            ),
        )
        .conf("phoneprov_users.conf", auth_users())
        .conf(
            "logger.conf",
            "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n\
             security.log => security\n",
        )
        .file("phone.cfg", TEMPLATE)
        .file("plain-static.txt", "static\n")
        .start()
}

fn challenge_for(ast: &Asterisk, uri: &str, alg: &str) -> String {
    let r = ast.get_at("127.0.0.1", uri, "");
    assert_eq!(r.status, 401, "{}", r.text());
    challenges(&r)
        .into_iter()
        .find(|c| c.contains(&format!("algorithm={alg}")))
        .unwrap_or_else(|| panic!("no {alg} challenge in {:?}", r.headers))
}

/// `uri` fetched with an answer to `challenge` as `user`/`pw` (nonce count 1).
fn answer(ast: &Asterisk, uri: &str, challenge: &str, user: &str, pw: &str) -> Response {
    ast.get_at(
        "127.0.0.1",
        uri,
        &digest_header(challenge, user, pw, uri, 1),
    )
}

/// `uri` fetched with an answer to a fresh `alg` challenge.
fn digest_fetch(ast: &Asterisk, uri: &str, alg: &str, user: &str, pw: &str) -> Response {
    let challenge = challenge_for(ast, uri, alg);
    answer(ast, uri, &challenge, user, pw)
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (body.to_owned(), code.to_owned())
}

#[test]
fn digest_accepts_md5_and_sha256_and_refuses_the_rest() {
    let ast = start_auth("");
    let uri = "/phoneprov/000000000001.cfg";
    let first = ast.get_at("127.0.0.1", uri, "");
    assert_eq!(first.status, 401);
    let offered = challenges(&first);
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert!(offered[0].contains("algorithm=SHA-256") && offered[1].contains("algorithm=MD5"));
    assert!(offered[0].contains("realm=\"phoneprov\"") && offered[0].contains("qop=\"auth\""));
    assert!(!first.text().contains("pw-h"));

    // curl's own Digest implementation.
    let url = format!("http://127.0.0.1:{}{uri}", ast.port);
    let (body, code) = curl(&["--digest", "-u", "prov1:httppw1", &url]);
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("secret=pw-h"), "{body}");
    let (_, code) = curl(&["--digest", "-u", "prov1:wrong", &url]);
    assert_eq!(code, "401");

    // Our client, both algorithms.
    for alg in ["SHA-256", "MD5"] {
        let c = challenge_for(&ast, uri, alg);
        let r = answer(&ast, uri, &c, "prov1", "httppw1");
        assert_eq!(r.status, 200, "{alg}: {}", r.text());
        // The nonce again with a higher count works; the same count again is a replay.
        let r = ast.get_at(
            "127.0.0.1",
            uri,
            &digest_header(&c, "prov1", "httppw1", uri, 2),
        );
        assert_eq!(r.status, 200, "{alg} nc=2");
        let r = ast.get_at(
            "127.0.0.1",
            uri,
            &digest_header(&c, "prov1", "httppw1", uri, 2),
        );
        assert_eq!(r.status, 401, "{alg}: replayed nonce count accepted");
    }
    // Wrong password; the line's SIP credentials when HTTP ones are set; another phone's.
    let wrong = digest_fetch(&ast, uri, "MD5", "prov1", "nope");
    assert_eq!(wrong.status, 401);
    let sip = digest_fetch(&ast, uri, "MD5", "h", "pw-h");
    assert_eq!(sip.status, 401);
    let other = digest_fetch(&ast, uri, "MD5", "plain", "pw-plain");
    assert_eq!(other.status, 401);
    // A phone without HTTP_* credentials opens its own file with its line's.
    let own = "/phoneprov/000000000002.cfg";
    let r = digest_fetch(&ast, own, "SHA-256", "plain", "pw-plain");
    assert_eq!(r.status, 200);
    // Basic where Digest is asked.
    let r = ast.get_at(
        "127.0.0.1",
        uri,
        "Authorization: Basic cHJvdjE6aHR0cHB3MQ==\r\n",
    );
    assert_eq!(r.status, 401);
    // An expired nonce: stale=true, and a fresh one works.
    let c = challenge_for(&ast, uri, "SHA-256");
    std::thread::sleep(Duration::from_secs(5));
    let r = answer(&ast, uri, &c, "prov1", "httppw1");
    assert_eq!(r.status, 401);
    assert!(
        challenges(&r).iter().all(|c| c.contains("stale=true")),
        "{:?}",
        r.headers
    );
    let r = digest_fetch(&ast, uri, "SHA-256", "prov1", "httppw1");
    assert_eq!(r.status, 200);
}

#[test]
fn basic_rollout_and_require_tls_over_plain_http() {
    let ast = start_auth("");
    let basic = |user: &str, pw: &str| {
        let token = base64_encode(format!("{user}:{pw}").as_bytes());
        format!("Authorization: Basic {token}\r\n")
    };
    // Basic over plain HTTP is refused, even with the right password.
    let r = ast.get_at(
        "127.0.0.1",
        "/phoneprov/000000000003.cfg",
        &basic("bb", "pw-bb"),
    );
    assert_eq!(r.status, 403);
    // ... unless auth_basic_plain; static files stay open without auth_static.
    let uri = "/phoneprov/000000000004.cfg";
    let r = ast.get_at("127.0.0.1", uri, "");
    assert_eq!(r.status, 401);
    assert_eq!(
        challenges(&r),
        vec!["Basic realm=\"office phones\", charset=\"UTF-8\"".to_owned()]
    );
    assert_eq!(
        ast.get_at("127.0.0.1", uri, &basic("bp", "pw-bp")).status,
        200
    );
    assert_eq!(ast.get_at("127.0.0.1", uri, &basic("bp", "no")).status, 401);
    assert_eq!(
        ast.get_at("127.0.0.1", uri, &basic("bb", "pw-bb")).status,
        401
    );
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/plain-static.txt", "")
            .status,
        200
    );
    // Rollout: served, and the log names who would have been challenged.
    let r = ast.get_at("127.0.0.1", "/phoneprov/000000000005.cfg", "");
    assert_eq!(r.status, 200);
    assert!(ast.log_has("phoneprov rollout: 127.0.0.1 fetched /phoneprov/000000000005.cfg"));
    // require_tls: plain HTTP gets 403.
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/000000000006.cfg", "")
            .status,
        403
    );
}

#[test]
fn security_log_lines_match_the_fail2ban_filter() {
    let ast = start_auth("deny = ::/0\n");
    let uri = "/phoneprov/000000000001.cfg";
    // A wrong Digest answer, an unknown user, a success.
    digest_fetch(&ast, uri, "MD5", "prov1", "nope");
    digest_fetch(&ast, uri, "MD5", "intruder", "x");
    let ok = digest_fetch(&ast, uri, "MD5", "prov1", "httppw1");
    assert_eq!(ok.status, 200);
    let log_path = ast.dir.join("log/security.log");
    let mut log = String::new();
    for _ in 0..100 {
        log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("SuccessfulAuth") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for event in [
        "ChallengeSent",
        "ChallengeResponseFailed",
        "InvalidAccountID",
        "SuccessfulAuth",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("SecurityEvent=\"{event}\""))
                    && l.contains("Service=\"phoneprov\"")),
            "no {event} in:\n{log}"
        );
    }
    let re = common::failregex();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| {
            [
                "ChallengeResponseFailed",
                "InvalidAccountID",
                "InvalidPassword",
                "FailedACL",
            ]
            .iter()
            .any(|e| l.contains(&format!("\"{e}\"")))
        })
        .collect();
    assert!(failures.len() >= 2, "{log}");
    // The failregex is anchored at the event's start: see common::security_event.
    let event = common::security_event;
    for line in &failures {
        let caps = re
            .captures(event(line))
            .unwrap_or_else(|| panic!("no match: {line}"));
        assert_eq!(&caps["host"], "127.0.0.1", "{line}");
    }
    for line in log
        .lines()
        .filter(|l| l.contains("\"SuccessfulAuth\"") || l.contains("\"ChallengeSent\""))
    {
        assert!(!re.is_match(event(line)), "counted as a failure: {line}");
    }
}

#[test]
fn misses_lead_to_429_then_recovery() {
    let ast = start_auth("miss_limit = 3\nmiss_window = 60\nmiss_ban = 2\n");
    // First challenges are not misses.
    for _ in 0..6 {
        assert_eq!(
            ast.get_at("127.0.0.1", "/phoneprov/000000000001.cfg", "")
                .status,
            401
        );
    }
    for _ in 0..4 {
        assert_eq!(
            ast.get_at("127.0.0.1", "/phoneprov/guess.cfg", "").status,
            404
        );
    }
    let r = ast.get_at("127.0.0.1", "/phoneprov/000000000002.cfg", "");
    assert_eq!(r.status, 429);
    let retry: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    std::thread::sleep(Duration::from_secs(retry + 1));
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/guess.cfg", "").status,
        404
    );
}

#[test]
fn require_tls_serves_over_asterisks_https() {
    let ast = start_auth("");
    let tls_port = ast.reconfigure_http("", true).expect("a TLS port");
    let url = format!("https://127.0.0.1:{tls_port}/phoneprov/000000000006.cfg");
    let mut got = (String::new(), String::new());
    for _ in 0..50 {
        got = curl(&["-k", &url]);
        if got.1 == "200" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got.1, "200", "{got:?}");
    assert!(got.0.contains("secret=pw-tl"));
    // Basic is accepted over HTTPS.
    let basic = format!("https://127.0.0.1:{tls_port}/phoneprov/000000000003.cfg");
    assert_eq!(curl(&["-k", "-u", "bb:pw-bb", &basic]).1, "200");
    assert_eq!(curl(&["-k", "-u", "bb:no", &basic]).1, "401");
    // Plain HTTP still refused.
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/000000000006.cfg", "")
            .status,
        403
    );
}
