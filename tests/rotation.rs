//! Rotation without lockout (issue 25, `auth_grace`): a phone whose HTTP secret changed still
//! holds the old one, and must fetch the file that carries the new one with it. Fetched with
//! curl's own Digest and Basic, against a real Asterisk, across a reload and a restart. The
//! real Linphone client's rotation is in tests/linphone.rs.

mod common;

use std::process::Command;

use common::{Asterisk, Builder, Impl};

const TEMPLATE: &str = "user=${USERNAME} secret=${SECRET}\n";

fn users(secret_a: &str, secret_b: &str) -> String {
    format!(
        "[100]\nautoprov = yes\nmacaddress = 0000000000a1\nprofile = p\nsecret = {secret_a}\n\n\
         [200]\nautoprov = yes\nmacaddress = 0000000000b1\nprofile = p\nsecret = {secret_b}\n"
    )
}

fn start(options: &str, secret_a: &str) -> Asterisk {
    Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            format!("[general]\ndefault_profile = p\n\n[p]\n{options}${{MAC}}.cfg => phone.cfg\n"),
        )
        .conf("phoneprov_users.conf", users(secret_a, "pw-b"))
        .file("phone.cfg", TEMPLATE)
        .start()
}

/// curl's answer to fetching `mac`'s file as `user:password` (`scheme`: --digest or
/// --basic): its status and body.
fn fetch(ast: &Asterisk, scheme: &str, mac: &str, user: &str, password: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{}/phoneprov/{mac}.cfg", ast.port);
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", scheme, "-u"])
        .arg(format!("{user}:{password}"))
        .arg(&url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (code.parse().expect("a status"), body.to_owned())
}

/// Asserts the status curl gets for each (MAC, user, password, status) with `scheme`.
fn expect(ast: &Asterisk, scheme: &str, cases: &[(&str, &str, &str, u16)]) {
    for &(mac, user, password, want) in cases {
        let (status, body) = fetch(ast, scheme, mac, user, password);
        assert_eq!(status, want, "{scheme} {user}:{password} for {mac}: {body}");
    }
}

fn rotate(ast: &Asterisk, secret_a: &str) {
    ast.write_conf("phoneprov_users.conf", users(secret_a, "pw-b"));
    ast.cli("module reload res_phoneprov.so");
}

#[test]
fn the_old_digest_secret_opens_its_own_phone_until_it_fetched_with_the_new_one() {
    let mut ast = start("auth = digest\n", "old-a");
    // Known before the change: its credentials are remembered from the first snapshot.
    expect(&ast, "--digest", &[("0000000000a1", "100", "old-a", 200)]);

    rotate(&ast, "new-a");
    let (status, body) = fetch(&ast, "--digest", "0000000000a1", "100", "old-a");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body, "user=100 secret=new-a\n",
        "the file that carries the new one"
    );
    // Its own files only: the old secret with another phone's user, or another phone's
    // credentials, open nothing of this phone's.
    expect(
        &ast,
        "--digest",
        &[
            ("0000000000b1", "100", "old-a", 401),
            ("0000000000b1", "200", "old-a", 401),
            ("0000000000a1", "200", "pw-b", 401),
            ("0000000000a1", "100", "guess", 401),
        ],
    );
    let status = ast.cli("phoneprov show status");
    assert!(
        status.contains("Grace:   1 phone(s)") && status.contains("0000000000a1"),
        "{status}"
    );

    // Kept across a restart (astdb), not only in memory.
    ast.restart();
    expect(&ast, "--digest", &[("0000000000a1", "100", "old-a", 200)]);

    // The phone fetches with its new secret: it holds it, the old one is done.
    expect(
        &ast,
        "--digest",
        &[
            ("0000000000a1", "100", "new-a", 200),
            ("0000000000a1", "100", "old-a", 401),
        ],
    );
    assert!(!ast.cli("phoneprov show status").contains("Grace:"));
    ast.stop();
}

#[test]
fn a_change_made_while_asterisk_was_stopped_is_seen_and_basic_is_covered_too() {
    let mut ast = start("auth = basic\nauth_basic_plain = yes\n", "old-a");
    expect(&ast, "--basic", &[("0000000000a1", "100", "old-a", 200)]);
    ast.stop();
    ast.write_conf("phoneprov_users.conf", users("new-a", "pw-b"));
    ast.restart();
    // The first request after boot builds the phones; their credentials are compared on
    // another thread, so the old secret may be refused for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, body) = fetch(&ast, "--basic", "0000000000a1", "100", "old-a");
        if status == 200 {
            assert_eq!(body, "user=100 secret=new-a\n");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}: {body}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    expect(
        &ast,
        "--basic",
        &[
            ("0000000000b1", "100", "old-a", 401),
            ("0000000000a1", "100", "new-a", 200),
            ("0000000000a1", "100", "old-a", 401),
        ],
    );
    ast.stop();
}

#[test]
fn auth_grace_zero_refuses_the_old_secret_at_once() {
    let mut ast = start("auth = digest\nauth_grace = 0\n", "old-a");
    expect(&ast, "--digest", &[("0000000000a1", "100", "old-a", 200)]);
    rotate(&ast, "new-a");
    expect(
        &ast,
        "--digest",
        &[
            ("0000000000a1", "100", "old-a", 401),
            ("0000000000a1", "100", "new-a", 200),
        ],
    );
    ast.stop();
}
