//! Security at the seams (issue 24, points 2, 3, 4 and 7): where two controls meet, each
//! against a real Asterisk. An empty secret opens nothing; a reload never serves a file
//! open; the rate limit keys IPv6 by prefix, keeps its bans and spares trusted networks;
//! nonces, challenges and enrollment tokens hold under floods and failures.

mod common;

use common::digest::{challenges, digest_header};
use common::{Asterisk, Builder, Impl, Response};
use phoneprov_core::access::auth::base64_encode;

const TEMPLATE: &str = "user=${USERNAME} secret=${SECRET}\n";

fn user(section: &str, mac: &str, profile: &str, extra: &str) -> String {
    format!("[{section}]\nautoprov = yes\nmacaddress = {mac}\nprofile = {profile}\n{extra}\n")
}

fn basic(user: &str, pw: &str) -> String {
    let token = base64_encode(format!("{user}:{pw}").as_bytes());
    format!("Authorization: Basic {token}\r\n")
}

/// `uri` fetched with an answer to a fresh MD5 challenge as `user`/`pw`.
fn digest_fetch(ast: &Asterisk, uri: &str, user: &str, pw: &str) -> Response {
    let r = ast.get_at("127.0.0.1", uri, "");
    assert_eq!(r.status, 401, "{uri}: {}", r.text());
    let challenge = challenges(&r)
        .into_iter()
        .find(|c| c.contains("algorithm=MD5"))
        .expect("an MD5 challenge");
    ast.get_at(
        "127.0.0.1",
        uri,
        &digest_header(&challenge, user, pw, uri, 1),
    )
}

const EMPTY_CONF: &str = "\
[general]
default_profile = dig

[dig]
auth = digest
${MAC}.cfg => phone.cfg

[basic]
auth = basic
auth_basic_plain = yes
${MAC}.cfg => phone.cfg
";

/// Point 2: `secret =` or `http_secret =` without a value is no credential. On the code
/// before issue 24, the empty password opened both files (200) and the empty http_secret
/// hid the phone's SECRET.
#[test]
fn an_empty_secret_opens_nothing() {
    let users = [
        user("e1", "0000000000e1", "dig", "secret ="),
        user("e2", "0000000000e2", "basic", "secret ="),
        user("e3", "0000000000e3", "dig", "secret = s3\nhttp_secret ="),
        user(
            "e4",
            "0000000000e4",
            "dig",
            "secret = s4\nhttp_username = h4\nhttp_secret =",
        ),
    ]
    .concat();
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", EMPTY_CONF)
        .conf("phoneprov_users.conf", users)
        .file("phone.cfg", TEMPLATE)
        .start();
    // Nobody opens the files of a phone without a secret: not the empty password.
    let e1 = "/phoneprov/0000000000e1.cfg";
    assert_eq!(digest_fetch(&ast, e1, "e1", "").status, 401);
    let e2 = "/phoneprov/0000000000e2.cfg";
    assert_eq!(ast.get_at("127.0.0.1", e2, &basic("e2", "")).status, 401);
    assert_eq!(ast.get_at("127.0.0.1", e2, "").status, 401);
    // An empty http_secret does not override a non-empty secret.
    let e3 = "/phoneprov/0000000000e3.cfg";
    assert_eq!(digest_fetch(&ast, e3, "e3", "").status, 401);
    let r = digest_fetch(&ast, e3, "e3", "s3");
    assert_eq!(r.status, 200, "{}", r.text());
    let e4 = "/phoneprov/0000000000e4.cfg";
    assert_eq!(digest_fetch(&ast, e4, "h4", "").status, 401);
    assert_eq!(digest_fetch(&ast, e4, "h4", "s4").status, 200);
    // A WARNING at load names the phones and their profile.
    assert!(
        ast.log_has("WARNING"),
        "no warning in the log: {}",
        ast.log_tail()
    );
    assert!(ast.log_has(
        "phoneprov: profile [dig] asks for authentication, but phone 0000000000e1 has no secret"
    ));
    assert!(ast.log_has(
        "phoneprov: profile [basic] asks for authentication, but phone 0000000000e2 has no secret"
    ));
    // `phoneprov check` lists them.
    let check = ast.cli("phoneprov check");
    assert!(
        check.contains("profile [dig] asks for authentication, but phone 0000000000e1 has"),
        "{check}"
    );
    assert!(
        check.contains("2 profiles with phones that have no secret"),
        "{check}"
    );
    assert!(!check.contains("0000000000e3"), "{check}");
    // Once per load or reload, not once per rebuild.
    let count = || {
        ast.log()
            .matches("but phone 0000000000e1 has no secret")
            .count()
    };
    assert_eq!(count(), 1, "{}", ast.log());
    ast.cli("module reload res_phoneprov");
    // Asterisk's logger writes asynchronously: waits for the reload's line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(count(), 2);
}

fn renaming_conf(profile: &str) -> String {
    format!(
        "[general]\ndefault_profile = {profile}\n\n[{profile}]\nauth = digest\n\
         ${{MAC}}.cfg => phone.cfg\n"
    )
}

fn renaming_users(profile: &str, phones: usize) -> String {
    (0..phones)
        .map(|i| {
            user(
                &format!("u{i}"),
                &format!("0000aa{i:06x}"),
                profile,
                &format!("secret = pw{i}"),
            )
        })
        .collect()
}

/// Point 3: policy and snapshot change together. A Digest profile is renamed by reload
/// while 8 clients without credentials fetch its phones' files: not one 200. On the code
/// before issue 24 the new policy (which has no profile of the old name) was published
/// before the new snapshot, and the old snapshot's files were served open meanwhile.
#[test]
fn renaming_a_digest_profile_by_reload_serves_nothing_open() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const PHONES: usize = 3000;
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", renaming_conf("dig"))
        .conf("phoneprov_users.conf", renaming_users("dig", PHONES))
        .file("phone.cfg", TEMPLATE)
        .start();
    assert_eq!(
        ast.get_at("127.0.0.1", "/phoneprov/0000aa000001.cfg", "")
            .status,
        401
    );
    let done = AtomicBool::new(false);
    let (ok, challenged, other) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let reloads = 6;
    std::thread::scope(|s| {
        for t in 0..8 {
            let (ast, done, ok, challenged, other) = (&ast, &done, &ok, &challenged, &other);
            s.spawn(move || {
                let mut i = t * 373;
                while !done.load(Ordering::Relaxed) {
                    i = (i + 7919) % PHONES;
                    let uri = format!("/phoneprov/0000aa{i:06x}.cfg");
                    match ast.get_at("127.0.0.1", &uri, "").status {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        401 => challenged.fetch_add(1, Ordering::Relaxed),
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        for n in 0..reloads {
            let name = if n % 2 == 0 { "renamed" } else { "dig" };
            ast.write_conf("phoneprov.conf", renaming_conf(name));
            ast.write_conf("phoneprov_users.conf", renaming_users(name, PHONES));
            ast.cli("module reload res_phoneprov");
        }
        done.store(true, Ordering::Relaxed);
    });
    let (ok, challenged, other) = (ok.into_inner(), challenged.into_inner(), other.into_inner());
    eprintln!(
        "{reloads} renaming reloads: {ok} answers 200, {challenged} 401, {other} other \
         (503 while no policy applies)"
    );
    assert!(challenged > 100, "too few requests: {challenged}");
    assert_eq!(ok, 0, "files served open during a renaming reload");
    // Served as configured after the last reload.
    let uri = "/phoneprov/0000aa000002.cfg";
    assert_eq!(digest_fetch(&ast, uri, "u2", "pw2").status, 200);
}

const TOKEN_CONF: &str = "[general]\ndefault_profile = lin\n\n[lin]\nauth = digest\n\
                          linphone/${MAC}.xml => phone.xml\nenroll_file = linphone/${MAC}.xml\n";

fn start_tokens() -> Asterisk {
    Builder::new(Impl::Rust)
        .conf("phoneprov.conf", TOKEN_CONF)
        .conf(
            "phoneprov_users.conf",
            user("6001", "abc123", "lin", "secret = TopSecret1"),
        )
        .file("phone.xml", "<x>${USERNAME}:${SECRET}</x>")
        .start()
}

/// Point 7: HEAD only looks at an enrollment URL. On the code before issue 24, a HEAD spent
/// the token and the phone's GET got 410.
#[test]
fn head_never_spends_an_enrollment_token() {
    let ast = start_tokens();
    let path = ast.token("abc123");
    for _ in 0..3 {
        let head = ast.request("HEAD", &path, "");
        assert_eq!(head.status, 200, "{}", head.text());
        assert!(head.body.is_empty());
    }
    assert!(ast.cli("phoneprov show tokens").contains("valid"));
    let r = ast.get(&path);
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "<x>6001:TopSecret1</x>")
    );
    assert_eq!(ast.get(&path).status, 410);
    assert_eq!(ast.request("HEAD", &path, "").status, 410);
}

/// Point 7: a token whose spending Asterisk's database refuses is not served (500), and
/// stays unused for a retry. The database is made to refuse writes for real: another
/// process holds its write lock (`BEGIN IMMEDIATE` in the sqlite3 shell). On the code
/// before issue 24, the failed write was ignored and the file served (200), the token
/// left unspent in the database.
#[test]
fn a_token_astdb_refuses_to_spend_is_not_served() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let ast = start_tokens();
    let path = ast.token("abc123");
    let db = ast.dir.join("lib/astdb.sqlite3");
    let mut shell = Command::new("sqlite3")
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sqlite3 (apt-get install sqlite3)");
    let mut input = shell.stdin.take().expect("stdin");
    // Waits for Asterisk's own transaction (committed within a second) to let go.
    input
        .write_all(b".timeout 20000\nBEGIN IMMEDIATE;\nSELECT 'locked';\n")
        .expect("to sqlite3");
    let mut out = BufReader::new(shell.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("from sqlite3");
    assert_eq!(line.trim(), "locked");
    let r = ast.get(&path);
    input.write_all(b"ROLLBACK;\n.quit\n").expect("to sqlite3");
    drop(input);
    shell.wait().expect("sqlite3 ends");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(!r.text().contains("TopSecret1"));
    assert!(ast.log_has("refused to mark it used; the file is not served"));
    // Unlocked, the token is still good, once.
    let r = ast.get(&path);
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "<x>6001:TopSecret1</x>")
    );
    assert_eq!(ast.get(&path).status, 410);
}

const NONCE_CONF: &str = "\
[general]
default_profile = dig
miss_limit = 3
miss_window = 60
miss_ban = 300

[dig]
auth = digest
${MAC}.cfg => phone.cfg
";

fn start_nonces() -> Asterisk {
    let users = [
        user("pa", "0000000000a1", "dig", "secret = pwa"),
        user("pb", "0000000000b1", "dig", "secret = pwb"),
    ]
    .concat();
    Builder::new(Impl::Rust)
        .module("res_security_log")
        .conf("phoneprov.conf", NONCE_CONF)
        .conf("phoneprov_users.conf", users)
        .conf(
            "logger.conf",
            "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n\
             security.log => security\n",
        )
        .file("phone.cfg", TEMPLATE)
        .start()
}

/// A fresh MD5 challenge for `uri`.
fn md5_challenge(ast: &Asterisk, uri: &str) -> String {
    let r = ast.get_at("127.0.0.1", uri, "");
    assert_eq!(r.status, 401);
    challenges(&r)
        .into_iter()
        .find(|c| c.contains("algorithm=MD5"))
        .expect("an MD5 challenge")
}

/// Requests on one kept-alive connection, each answer read whole; the statuses.
fn keep_alive(ast: &Asterisk, path: &str, headers: &str, n: usize) -> Vec<u16> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut s = ast.connect();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{headers}\r\n",
        ast.port
    );
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        s.write_all(req.as_bytes()).expect("send");
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        let status = line.split(' ').nth(1).and_then(|c| c.parse().ok());
        statuses.push(status.unwrap_or_else(|| panic!("status line {line:?}")));
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line).expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
    }
    statuses
}

/// Point 7: a nonce's counts are per user. Phone A, with its own valid credentials, uses
/// phone B's nonce up to count ffffffff; B goes on with count 2. On the code before issue
/// 24, counts were per nonce and B's next request was refused as a replay (401, a miss).
#[test]
fn nonce_counts_are_per_user() {
    let ast = start_nonces();
    let (a, b) = ("/phoneprov/0000000000a1.cfg", "/phoneprov/0000000000b1.cfg");
    let challenge = md5_challenge(&ast, b);
    let with = |uri: &str, user: &str, pw: &str, nc: u32| {
        ast.get_at(
            "127.0.0.1",
            uri,
            &digest_header(&challenge, user, pw, uri, nc),
        )
        .status
    };
    assert_eq!(with(b, "pb", "pwb", 1), 200);
    assert_eq!(with(a, "pa", "pwa", u32::MAX), 200);
    assert_eq!(with(b, "pb", "pwb", 2), 200);
    // Each user's own counts are still used once.
    assert_eq!(with(b, "pb", "pwb", 2), 401);
    assert_eq!(with(a, "pa", "pwa", u32::MAX), 401);
}

/// Point 7: a flood of requests without credentials (20,000 challenges, more than the
/// 16,384 nonces the code before issue 24 remembered) neither pushes out a phone's nonce
/// in use nor writes a security line per challenge. Before: the phone's next request got a
/// stale challenge, and security.log one ChallengeSent line per request.
#[test]
fn a_flood_of_challenges_evicts_nothing_and_writes_a_line_per_minute() {
    const FLOOD: usize = 20_000;
    let ast = start_nonces();
    let b = "/phoneprov/0000000000b1.cfg";
    let challenge = md5_challenge(&ast, b);
    let phone = |nc: u32| {
        ast.get_at(
            "127.0.0.1",
            b,
            &digest_header(&challenge, "pb", "pwb", b, nc),
        )
    };
    assert_eq!(phone(1).status, 200);
    let statuses = keep_alive(&ast, b, "", FLOOD);
    assert!(statuses.iter().all(|&s| s == 401), "not all 401");
    let r = phone(2);
    assert_eq!(r.status, 200, "{:?}", challenges(&r));
    // The phone's success is logged once its session starts; then the log is complete.
    let log_path = ast.dir.join("log/security.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("SuccessfulAuth") || std::time::Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let sent = log
        .lines()
        .filter(|l| l.contains("SecurityEvent=\"ChallengeSent\""))
        .count();
    eprintln!("{FLOOD} challenges sent: {sent} ChallengeSent lines in security.log");
    assert!(
        sent <= 2,
        "{sent} ChallengeSent lines for {FLOOD} challenges"
    );
}

/// Point 7: no user-name oracle. A made-up nonce is answered the same (a stale challenge,
/// no miss) whether the user exists or not; with a valid nonce, an unknown user and a
/// wrong password are answered the same (a plain challenge) and both count a miss. On the
/// code before issue 24, an unknown user with a made-up nonce got a plain 401 and a miss
/// while a known one got stale=true and none.
#[test]
fn unknown_user_and_bad_nonce_answer_alike() {
    let ast = start_nonces();
    let b = "/phoneprov/0000000000b1.cfg";
    let real = md5_challenge(&ast, b);
    let forged = real.replace(
        &common::digest::param(&real, "nonce").expect("nonce"),
        &"0".repeat(64),
    );
    // Five made-up nonces per user name, more than miss_limit = 3: no 429, all stale.
    for user in ["pb", "nobody"] {
        for _ in 0..5 {
            let r = ast.get_at("127.0.0.1", b, &digest_header(&forged, user, "guess", b, 1));
            assert_eq!(r.status, 401, "{user}");
            assert!(
                challenges(&r).iter().all(|c| c.contains("stale=true")),
                "{user}: {:?}",
                challenges(&r)
            );
        }
    }
    // A valid nonce: the unknown user and the wrong password answer alike, and both count.
    let answers: Vec<Response> = ["nobody", "pb"]
        .iter()
        .enumerate()
        .map(|(i, user)| {
            ast.get_at(
                "127.0.0.1",
                b,
                &digest_header(&real, user, "guess", b, i as u32 + 1),
            )
        })
        .collect();
    for r in &answers {
        assert_eq!(r.status, 401);
        assert!(challenges(r).iter().all(|c| !c.contains("stale")));
    }
    assert_eq!(answers[0].body, answers[1].body);
    // Two misses so far; two more pass the limit of three.
    ast.get_at("127.0.0.1", b, &digest_header(&real, "nobody", "g", b, 3));
    ast.get_at("127.0.0.1", b, &digest_header(&real, "pb", "g", b, 4));
    assert_eq!(ast.get_at("127.0.0.1", b, "").status, 429);
}

/// Perl (perl-base's IO::Socket::IP): one GET per source address read from stdin, each on
/// a connection bound to that address; prints each answer's status (000: no connection).
/// The tests need thousands of client addresses, and std cannot bind a client socket.
const FROM_SOURCES: &str = r#"
use IO::Socket::IP;
my ($host, $port, $path) = @ARGV;
$| = 1;
while (my $src = <STDIN>) {
    chomp $src;
    my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, LocalHost => $src,
                                Proto => 'tcp');
    if (!$s) { print "000 $src $@\n"; next; }
    print $s "GET $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my $line = <$s> // '';
    my ($code) = $line =~ m{^HTTP/\S+ (\d+)};
    print(($code // '000'), "\n");
    close $s;
}
"#;

/// GET `path` once from each of `sources`, each from its own address; the statuses.
fn get_from(ast: &Asterisk, dest: &str, sources: &[String], path: &str) -> Vec<u16> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut perl = Command::new("perl")
        .args(["-e", FROM_SOURCES, dest, &ast.port.to_string(), path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("perl");
    let mut input = perl.stdin.take().expect("stdin");
    let list = sources.join("\n") + "\n";
    let writer = std::thread::spawn(move || input.write_all(list.as_bytes()));
    let out = perl.wait_with_output().expect("perl ends");
    writer.join().expect("writer").expect("to perl");
    let text = String::from_utf8_lossy(&out.stdout);
    let statuses: Vec<u16> = text
        .lines()
        .map(|l| {
            let code = l.split(' ').next().and_then(|c| c.parse().ok());
            match code {
                Some(0) | None => panic!("no answer: {l}"),
                Some(c) => c,
            }
        })
        .collect();
    assert_eq!(statuses.len(), sources.len(), "{text}");
    statuses
}

const LIMIT_CONF: &str = "\
[general]
default_profile = open
miss_limit = 2
miss_window = 60
miss_ban = 300
miss_ignore = 127.0.7.0/24, office

[open]
${MAC}.cfg => phone.cfg
";

fn start_limits() -> Asterisk {
    Builder::new(Impl::Rust)
        .bindaddr("::")
        .conf("phoneprov.conf", LIMIT_CONF)
        .conf(
            "phoneprov_users.conf",
            user("p1", "000000000001", "open", "secret = s1"),
        )
        .conf(
            "acl.conf",
            "[office]\ndeny = 0.0.0.0/0\ndeny = ::/0\npermit = 2001:db8:5ecb:1::/64\n",
        )
        .file("phone.cfg", TEMPLATE)
        .start()
}

/// Point 4: misses from ever more other addresses never lift a ban. A client is banned,
/// then 8,300 other loopback addresses (more than the 8,192 clients the table holds) miss
/// once each: the ban is still in force. On the code before issue 24 the table forgot the
/// oldest entry first, banned or not, and the ban was gone.
#[test]
fn a_ban_outlasts_misses_from_more_addresses_than_the_table_holds() {
    const OTHERS: usize = 8_300;
    let ast = start_limits();
    let attacker = vec!["127.0.5.1".to_owned()];
    let guess = "/phoneprov/guess.cfg";
    for want in [404, 404, 404, 429] {
        assert_eq!(get_from(&ast, "127.0.0.1", &attacker, guess), [want]);
    }
    let others: Vec<String> = (0..OTHERS)
        .map(|i| format!("127.1.{}.{}", i / 250, 1 + i % 250))
        .collect();
    let statuses = get_from(&ast, "127.0.0.1", &others, guess);
    assert!(statuses.iter().all(|&s| s == 404), "others refused");
    let still = get_from(&ast, "127.0.0.1", &attacker, "/phoneprov/000000000001.cfg");
    eprintln!(
        "ban after {OTHERS} other addresses' misses: {}",
        if still == [429] {
            "still in force"
        } else {
            "lifted"
        }
    );
    assert_eq!(still, [429]);
    // Every other address still misses and is served.
    assert_eq!(
        get_from(
            &ast,
            "127.0.0.1",
            &others[..1],
            "/phoneprov/000000000001.cfg"
        ),
        [200]
    );
}

/// IPv6 addresses of a documentation prefix on the loopback interface, removed on drop.
struct Loopback6(Vec<&'static str>);

impl Loopback6 {
    fn add(addrs: &[&'static str]) -> Loopback6 {
        for a in addrs {
            // An address left by an interrupted run is reused.
            let _ = std::process::Command::new("ip")
                .args([
                    "-6",
                    "addr",
                    "add",
                    &format!("{a}/64"),
                    "dev",
                    "lo",
                    "nodad",
                ])
                .status();
        }
        Loopback6(addrs.to_vec())
    }
}

impl Drop for Loopback6 {
    fn drop(&mut self) {
        for a in &self.0 {
            let _ = std::process::Command::new("ip")
                .args(["-6", "addr", "del", &format!("{a}/64"), "dev", "lo"])
                .status();
        }
    }
}

/// Point 4: IPv6 clients are counted by their /64 (`miss_prefix6`): a ban earned from one
/// address holds for its neighbours, not for another /64. `miss_ignore` spares a network
/// and a named ACL's addresses. On the code before issue 24 the neighbour was a fresh
/// client (404) and the spared networks were banned like any other (429).
#[test]
fn ipv6_prefixes_and_spared_networks() {
    let _addrs = Loopback6::add(&[
        "2001:db8:5ecb::a1",
        "2001:db8:5ecb::a2",
        "2001:db8:5ecb:1::a1",
        "2001:db8:5ecb:2::a1",
    ]);
    let ast = start_limits();
    let one = |src: &str, path: &str| {
        let dest = if src.contains(':') {
            "::1"
        } else {
            "127.0.0.1"
        };
        get_from(&ast, dest, &[src.to_owned()], path)[0]
    };
    let guess = "/phoneprov/guess.cfg";
    for _ in 0..3 {
        assert_eq!(one("2001:db8:5ecb::a1", guess), 404);
    }
    assert_eq!(one("2001:db8:5ecb::a1", guess), 429);
    // The neighbour in the same /64 is the same client; another /64 is not.
    assert_eq!(one("2001:db8:5ecb::a2", guess), 429);
    assert_eq!(one("2001:db8:5ecb:2::a1", guess), 404);
    // Spared: the office ACL's /64 and 127.0.7.0/24, however many misses.
    for _ in 0..6 {
        assert_eq!(one("2001:db8:5ecb:1::a1", guess), 404);
        assert_eq!(one("127.0.7.9", guess), 404);
    }
    assert_eq!(one("127.0.8.9", guess), 404);
    assert_eq!(one("127.0.8.9", guess), 404);
    assert_eq!(one("127.0.8.9", guess), 404);
    assert_eq!(one("127.0.8.9", guess), 429);
    // miss_prefix6 = 128: each address is a client of its own.
    let conf = LIMIT_CONF.replace("miss_ban = 300\n", "miss_ban = 300\nmiss_prefix6 = 128\n");
    ast.write_conf("phoneprov.conf", conf);
    ast.cli("module reload res_phoneprov");
    for _ in 0..3 {
        assert_eq!(one("2001:db8:5ecb:2::a1", guess), 404);
    }
    assert_eq!(one("2001:db8:5ecb:2::a1", guess), 429);
    assert_eq!(one("2001:db8:5ecb::a2", guess), 404);
}

/// Point 2, realtime: a phone looked up in the database (dynamic lookup mode, a real
/// PostgreSQL) whose `secret` is empty opens for nobody, and its lookup logs a WARNING. On
/// the code before issue 24 the empty password opened its file.
#[test]
fn an_empty_secret_from_the_database_opens_nothing() {
    use common::postgres::quote;
    let pg = common::realtime::database();
    for (mac, secret) in [("0004f20000e1", ""), ("0004f20000e2", "dbpw")] {
        pg.sql(&format!(
            "INSERT INTO phoneprov_lines (section, macaddress, profile, username, secret, \
             linenumber) VALUES ({}, {}, 'dig', {}, {}, 1);",
            quote(mac),
            quote(mac),
            quote(mac),
            quote(secret)
        ));
    }
    let ast = Builder::new(Impl::Rust)
        .realtime(&pg)
        .conf(
            "extconfig.conf",
            "[settings]\nphoneprov_users => pgsql,asterisk,phoneprov_lines\n",
        )
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = dig\nusers_realtime = phoneprov_users\n\n\
             [dig]\nauth = digest\n${MAC}.cfg => phone.cfg\n",
        )
        .file("phone.cfg", TEMPLATE)
        .start();
    let e1 = "/phoneprov/0004f20000e1.cfg";
    assert_eq!(digest_fetch(&ast, e1, "0004f20000e1", "").status, 401);
    let e2 = "/phoneprov/0004f20000e2.cfg";
    assert_eq!(digest_fetch(&ast, e2, "0004f20000e2", "dbpw").status, 200);
    assert!(ast.log_has(
        "phoneprov: realtime: profile [dig] asks for authentication, but phone 0004f20000e1 has \
         no secret"
    ));
}
