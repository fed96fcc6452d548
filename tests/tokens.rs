//! Issue 9, item 3: single-use, expiring enrollment tokens that survive reloads.

mod common;

use std::time::Duration;

use common::ami::{self, Ami};
use common::{Asterisk, Builder, Impl};

const PHONEPROV: &str = "[general]\ndefault_profile = lin\n\n[lin]\n\
                         linphone/${MAC}.xml => phone.xml\nenroll_file = linphone/${MAC}.xml\n";
const USERS: &str = "[6001]\nusername = 6001\nautoprov = yes\nmacaddress = abc123\n\
                     secret = TopSecret1\n";

fn start(ami_port: u16) -> Asterisk {
    Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .conf("users.conf", USERS)
        .conf("manager.conf", ami::manager_conf(ami_port, "config"))
        .file("phone.xml", "<x>${USERNAME}:${SECRET}</x>")
        .start()
}

#[test]
fn a_token_serves_once_then_410() {
    let ast = start(common::free_port());
    let path = ast.token("abc123");
    assert!(!ast.cli("phoneprov show tokens").contains(&path[18..]));
    assert!(ast.cli("phoneprov show tokens").contains("valid"));
    let r = ast.get(&path);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<x>6001:TopSecret1</x>");
    assert_eq!(ast.get(&path).status, 410);
    assert!(ast.cli("phoneprov show tokens").contains("used"));
    assert_eq!(
        ast.get("/phoneprov/enroll/0123456789abcdef0123456789abcdef")
            .status,
        404
    );
    assert!(ast
        .cli("phoneprov show phone abc123")
        .contains("Last fetches (1):"));
}

#[test]
fn an_expired_token_is_410() {
    let ast = start(common::free_port());
    let path = ast.token("abc123 1");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(ast.get(&path).status, 410);
    assert!(ast.cli("phoneprov show tokens").contains("expired"));
}

#[test]
fn tokens_survive_reload_a_fresh_load_and_a_restart() {
    let port = common::free_port();
    let mut ast = start(port);
    let fourth = ast.token("abc123");
    let first = ast.token("abc123");
    let second = ast.token("abc123");
    // The AMI action, for a user with the config permission.
    let mut ami = Ami::login(&ast, port);
    let r = ami.action("PhoneprovToken", &[("MAC", "abc123"), ("TTL", "600")]);
    assert_eq!(ami::get(&r, "Response"), Some("Success"), "{r:?}");
    let third = ami::get(&r, "Message").expect("the URL path").to_owned();
    assert!(third.starts_with("/phoneprov/enroll/"), "{third}");
    drop(ami);
    ast.cli("module reload res_phoneprov.so");
    assert_eq!(ast.get(&first).status, 200);
    assert_eq!(ast.get(&first).status, 410);
    ast.cli("module unload res_phoneprov.so");
    ast.cli("module load res_phoneprov.so");
    assert_eq!(ast.get(&first).status, 410);
    assert_eq!(ast.get(&second).status, 200);
    assert_eq!(ast.get(&third).status, 200);
    assert_eq!(ast.get(&third).status, 410);
    // Asterisk itself restarts: astdb keeps what was spent and what was not.
    ast.restart();
    assert_eq!(ast.get(&second).status, 410);
    assert_eq!(ast.get(&fourth).status, 200);
    assert_eq!(ast.get(&fourth).status, 410);
}

/// Many clients redeem the same token at once: exactly one gets the file.
#[test]
fn a_token_raced_by_many_clients_serves_once() {
    let ast = start(common::free_port());
    for round in 0..5 {
        let path = ast.token("abc123");
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let clients: Vec<_> = (0..8).map(|_| s.spawn(|| ast.get(&path).status)).collect();
            clients
                .into_iter()
                .map(|c| c.join().expect("client"))
                .collect()
        });
        let ok = statuses.iter().filter(|&&s| s == 200).count();
        let gone = statuses.iter().filter(|&&s| s == 410).count();
        assert_eq!((ok, gone), (1, 7), "round {round}: {statuses:?}");
    }
}

/// An instance whose phones have a fixed SERVER (serveraddr), so that the CLI prints whole
/// enrollment URLs.
fn start_with_serveraddr() -> Asterisk {
    let phoneprov = PHONEPROV.replace("[general]\n", "[general]\nserveraddr = 127.0.0.1\n");
    Builder::new(Impl::Rust)
        .conf("phoneprov.conf", phoneprov)
        .conf("users.conf", USERS)
        .file("phone.xml", "<x>${USERNAME}:${SECRET}</x>")
        .start()
}

/// With serveraddr set, `phoneprov token MAC TTL qr` prints the whole URL and a QR code of
/// it for a terminal: decoded again, the code is the URL, and the URL serves the phone once.
#[test]
fn a_token_as_a_qr_code_in_the_terminal() {
    let ast = start_with_serveraddr();
    // The harness's http.conf binds its own port: the URL must carry it.
    let base = format!("http://127.0.0.1:{}", ast.port);
    let out = ast.cli("phoneprov token abc123 600 qr");
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("Enrollment URL (single use): "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    assert!(
        url.starts_with(&format!("{base}/phoneprov/enroll/")),
        "{url}"
    );
    // Light modules are drawn (█ both, ▀ top, ▄ bottom); dark ones are blank.
    let rows: Vec<Vec<char>> = out
        .lines()
        .skip(1)
        .map(|l| l.chars().skip(1).collect())
        .filter(|l: &Vec<char>| !l.is_empty())
        .collect();
    assert!(!rows.is_empty(), "{out:?}");
    let side = rows[0].len();
    let dark = |x: usize, y: usize| {
        let c = rows[y / 2][x];
        !matches!(
            (c, y % 2),
            ('\u{2588}', _) | ('\u{2580}', 0) | ('\u{2584}', 1)
        )
    };
    let scale = 4;
    let px = side * scale;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(px, px, |x, y| {
        if y / scale >= 2 * rows.len() || dark(x / scale, y / scale) {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "{out}");
    let (_, content) = grids[0].decode().expect("decodes");
    assert_eq!(content, url);
    let path = &url[base.len()..];
    assert_eq!(ast.get(path).status, 200);
    assert_eq!(ast.get(path).status, 410);
}

/// Enrollment URLs go out as https on the TLS port whenever Asterisk's HTTP server has TLS;
/// over plain HTTP the CLI says the URL travels in clear.
#[test]
fn enrollment_urls_are_https_when_tls_is_on() {
    let ast = start_with_serveraddr();
    let plain = ast.cli("phoneprov token abc123");
    assert!(plain.contains(&format!("http://127.0.0.1:{}/phoneprov/enroll/", ast.port)));
    assert!(
        plain.contains("Warning: Asterisk's HTTP server has no TLS"),
        "{plain}"
    );

    let tls_port = ast.reconfigure_http("", true).expect("a TLS port");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "no HTTPS on {tls_port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = ast.cli("phoneprov token abc123 600 qr");
    assert!(!out.contains("Warning"), "{out}");
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("Enrollment URL (single use): "))
        .unwrap_or_else(|| panic!("{out}"));
    let base = format!("https://127.0.0.1:{tls_port}/phoneprov/enroll/");
    assert!(url.starts_with(&base), "{url}");
    let fetched = std::process::Command::new("curl")
        .args(["-sk", url])
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&fetched.stdout),
        "<x>6001:TopSecret1</x>"
    );
}
