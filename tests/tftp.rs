//! TFTP (issue 27) against a real Asterisk: the same routes as HTTP, fetched with curl
//! (`tftp://`), tftp-hpa's `tftp` and `atftp`, byte-identical to the HTTP answers; the
//! protocol's corners (RFC 2347 options, 2348 blksize, 2349 tsize and timeout, 7440
//! windowsize, lost and duplicate ACKs, write requests, hostile names) with a client written
//! here; the rules (profile `tftp`, access lists, bans) and the lifecycle (reload, unload,
//! a port taken).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::tftp::{Client, DATA, ERROR, OACK};
use common::{free_port, Asterisk, Builder, Impl};

const TEMPLATE: &str = "mac=${MAC} user=${USERNAME} server=${SERVER}\nsecret=${SECRET}\n";

fn firmware() -> Vec<u8> {
    // 300 KB that no text conversion would leave alone.
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn users() -> String {
    "[100]\nautoprov = yes\nmacaddress = 0004f2000001\nprofile = all\nsecret = s-100\n\n\
     [200]\nautoprov = yes\nmacaddress = 0004f2000002\nprofile = statics\nsecret = s-200\n\n\
     [300]\nautoprov = yes\nmacaddress = 0004f2000003\nprofile = fenced\nsecret = s-300\n"
        .to_owned()
}

fn conf(port: u16, general: &str) -> String {
    format!(
        "[general]\ndefault_profile = all\ntftp = yes\ntftp_bindaddr = 127.0.0.1\n\
         tftp_port = {port}\n{general}\n\
         [all]\ntftp = all\nstatic_file => fw.bin\nstatic_file => notes.txt\n\
         ${{MAC}}.cfg => phone.cfg\n\n\
         [statics]\ntftp = static\nstatic_file => common.cfg\n${{MAC}}.cfg => phone.cfg\n\n\
         [fenced]\ntftp = all\ndeny = 0.0.0.0/0\npermit = 127.0.0.1/32\n\
         static_file => fenced.bin\n${{MAC}}.cfg => phone.cfg\n\n\
         [secret]\ntftp = all\nauth = digest\n${{MAC}}-s.cfg => phone.cfg\n"
    )
}

fn start_with(general: &str) -> (Asterisk, SocketAddr) {
    let port = free_port();
    let ast = Builder::new(Impl::Rust)
        .module("res_security_log")
        .conf(
            "logger.conf",
            "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n\
             security.log => security\n",
        )
        .conf("phoneprov.conf", conf(port, general))
        .conf("phoneprov_users.conf", users())
        .file("fw.bin", firmware())
        .file("notes.txt", "line one\nline two\r\nend\n")
        .file("common.cfg", "common=1\n")
        .file("fenced.bin", "fenced\n")
        .file("phone.cfg", TEMPLATE)
        .start();
    (ast, ([127, 0, 0, 1], port).into())
}

fn start() -> (Asterisk, SocketAddr) {
    start_with("")
}

fn http_body(ast: &Asterisk, name: &str) -> Vec<u8> {
    let r = ast.get(&format!("/phoneprov/{name}"));
    assert_eq!(r.status, 200, "HTTP {name}");
    r.body
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("the client runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn scratch(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("pp-tftp-{}-{name}", std::process::id()))
}

#[test]
fn real_clients_fetch_what_http_serves() {
    let (ast, addr) = start();
    for name in ["fw.bin", "0004f2000001.cfg", "notes.txt"] {
        let over_http = http_body(&ast, name);
        // curl's own TFTP, default and negotiated block sizes.
        for blksize in ["512", "1428"] {
            let out = run(Command::new("curl")
                .args(["-s", "--tftp-blksize", blksize])
                .arg(format!("tftp://{addr}/{name}")));
            assert_eq!(out.stdout, over_http, "curl blksize {blksize}: {name}");
        }
        // tftp-hpa's client (RFC 1350, no options).
        let local = scratch(&format!("hpa-{name}"));
        run(Command::new("tftp")
            .args([
                "127.0.0.1",
                &addr.port().to_string(),
                "-m",
                "binary",
                "-c",
                "get",
            ])
            .arg(name)
            .arg(&local));
        assert_eq!(
            std::fs::read(&local).expect("fetched"),
            over_http,
            "tftp: {name}"
        );
        // atftp, with blksize and tsize.
        run(Command::new("atftp")
            .args(["-g", "-r", name, "-l"])
            .arg(&local)
            .args(["--option", "blksize 1024", "--option", "tsize 0"])
            .args(["127.0.0.1", &addr.port().to_string()]));
        assert_eq!(
            std::fs::read(&local).expect("fetched"),
            over_http,
            "atftp: {name}"
        );
        let _ = std::fs::remove_file(&local);
    }
    // netascii: the text comes back as it is once the client has converted it.
    let local = scratch("ascii");
    run(Command::new("tftp")
        .args([
            "127.0.0.1",
            &addr.port().to_string(),
            "-m",
            "netascii",
            "-c",
            "get",
        ])
        .arg("0004f2000001.cfg")
        .arg(&local));
    assert_eq!(
        std::fs::read(&local).expect("fetched"),
        http_body(&ast, "0004f2000001.cfg")
    );
    let _ = std::fs::remove_file(&local);
    // SERVER is the local address the request reached.
    let body = String::from_utf8(http_body(&ast, "0004f2000001.cfg")).expect("text");
    assert!(body.contains("server=127.0.0.1"), "{body}");
    // The audit names the transport; the metrics count it.
    let shown = ast.cli("phoneprov show phone 0004f2000001");
    assert!(shown.contains("tftp://127.0.0.1:"), "{shown}");
}

#[test]
fn options_window_and_retransmission() {
    let (_ast, addr) = start();
    let fw = firmware();
    let c = Client::new("127.0.0.1", addr);
    c.request(
        false,
        b"/fw.bin",
        "octet",
        &[
            ("blksize", "1000"),
            ("tsize", "0"),
            ("timeout", "1"),
            ("windowsize", "8"),
            ("bogus", "1"),
        ],
    );
    // RFC 2347: an OACK with what was granted (tsize: the size), alone: one packet until the
    // client has answered, whatever window it asked for.
    let oack = c.receive();
    assert_eq!(oack.opcode, OACK, "{oack:?}");
    assert_eq!(
        oack.options(),
        [
            ("blksize".to_owned(), "1000".to_owned()),
            ("tsize".to_owned(), fw.len().to_string()),
            ("timeout".to_owned(), "1".to_owned()),
            ("windowsize".to_owned(), "8".to_owned())
        ]
    );
    assert_ne!(oack.from, addr, "a port of its own for the transfer");
    assert!(
        c.receive_within(Duration::from_millis(300))
            .map_or(true, |p| p == oack),
        "nothing but the OACK again before ACK 0"
    );
    // ACK 0: a window of 8 blocks.
    c.ack(oack.from, 0);
    let window: Vec<u16> = (0..8)
        .map(|_| {
            let p = c.receive();
            assert_eq!(p.opcode, DATA);
            p.number
        })
        .collect();
    assert_eq!(window, (1..=8).collect::<Vec<u16>>());
    // Block 5 "lost": the client acknowledges 4; the window restarts at 5.
    c.ack(oack.from, 4);
    let again = c.receive();
    assert_eq!((again.opcode, again.number), (DATA, 5));
    for n in 6..=12 {
        assert_eq!(c.receive().number, n);
    }
    // A duplicate ACK sends nothing: the next packet is the window after the next ACK.
    c.ack(oack.from, 4);
    c.ack(oack.from, 12);
    let next = c.receive();
    assert_eq!(
        next.number, 13,
        "no resend for a duplicate (Sorcerer's Apprentice)"
    );
    for n in 14..=20 {
        assert_eq!(c.receive().number, n);
    }
    // No ACK at all: after the timeout (1 s) the window comes again, the same bytes.
    let first = c
        .receive_within(Duration::from_secs(3))
        .expect("a retransmission");
    assert_eq!(first.number, 13);
    assert_eq!(first.payload, fw[12_000..13_000]);
}

#[test]
fn refused_requests() {
    let (ast, addr) = start();
    let c = Client::new("127.0.0.1", addr);
    let error = |name: &[u8], write: bool| {
        c.request(write, name, "octet", &[]);
        let p = c.receive();
        assert_eq!(p.opcode, ERROR, "{p:?}");
        p.number
    };
    // Write requests: access violation (RFC 1350's error 2), however short.
    assert_eq!(error(b"fw.bin", true), 2);
    assert_eq!(error(b"a", true), 2);
    // The listening port answers nothing larger than what it was sent: a stray ACK (4
    // bytes) gets nothing, so the next packet is the answer to the request after it.
    c.socket.send_to(&[0, 4, 0, 1], addr).expect("stray ack");
    c.socket.send_to(&[0, 1, b'x'], addr).expect("malformed");
    c.request(false, b"common.cfg", "octet", &[]);
    let next = c.receive();
    assert_eq!((next.opcode, next.number), (DATA, 1), "{next:?}");
    c.ack(next.from, 1);
    // Names that would leave the module's files, or carry control bytes.
    for name in [
        &b"../../etc/passwd"[..],
        b"a/../../x",
        b"fw.bin\x01",
        b"a\\b",
    ] {
        assert_eq!(error(name, false), 2, "{name:?}");
    }
    assert_eq!(error(&[b'a'; 300], false), 2);
    // Unknown names: file not found.
    assert_eq!(error(b"nothing.cfg", false), 1);
    // A profile serving static files only keeps its phones' files to HTTP.
    assert_eq!(error(b"0004f2000002.cfg", false), 1);
    let common = c.fetch("common.cfg", &[]).expect("static served");
    assert_eq!(common, b"common=1\n");
    // tftp = all on a profile with Digest: refused at load, with an ERROR that says why.
    assert!(ast.log_has("[secret]: tftp refused: the profile asks for authentication"));
    // A mode TFTP does not have.
    c.request(false, b"fw.bin", "mail", &[]);
    assert_eq!(c.receive().number, 4);
    // Nothing outside the module's files was read: the errors are all there was.
    assert!(!ast.log().contains("root:"));
}

#[test]
fn access_lists_and_bans_apply() {
    let (ast, addr) = start_with("miss_limit = 3\nmiss_window = 60\nmiss_ban = 60\n");
    // The fenced profile admits 127.0.0.1 only.
    let inside = Client::new("127.0.0.1", addr);
    assert_eq!(
        inside.fetch("fenced.bin", &[]).expect("admitted"),
        b"fenced\n"
    );
    let outside = Client::new("127.0.0.2", addr);
    let refused = outside.fetch("fenced.bin", &[]).expect_err("refused");
    assert_eq!(refused.number, 2);
    // Its security event, over UDP, is one the shipped fail2ban filter counts against it.
    let re = common::failregex();
    let security = ast.dir.join("log/security.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let line = loop {
        let log = std::fs::read_to_string(&security).unwrap_or_default();
        if let Some(l) = log
            .lines()
            .find(|l| l.contains("\"FailedACL\"") && l.contains("/UDP/"))
        {
            break l.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no FailedACL over UDP in:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let event = common::security_event(&line);
    let caps = re
        .captures(event)
        .unwrap_or_else(|| panic!("no match: {line}"));
    assert_eq!(&caps["host"], "127.0.0.2", "{line}");
    // Misses from one address get it banned, over TFTP as over HTTP.
    let guesser = Client::new("127.0.0.3", addr);
    for i in 0..4 {
        let _ = guesser.fetch(&format!("0004f20000{i:02}99.cfg"), &[]);
    }
    let banned = guesser.fetch("fw.bin", &[]).expect_err("banned");
    assert_eq!(banned.number, 2);
    assert_eq!(
        Client::new("127.0.0.4", addr)
            .fetch("notes.txt", &[])
            .expect("others served"),
        b"line one\nline two\r\nend\n"
    );
    let scrape = ast.cli("phoneprov show status");
    assert!(!scrape.is_empty());
}

#[test]
fn reload_unload_and_a_taken_port() {
    let (ast, addr) = start();
    let c = Client::new("127.0.0.1", addr);
    // A transfer running across a reload that leaves the TFTP options alone goes on.
    c.request(false, b"fw.bin", "octet", &[]);
    let first = c.receive();
    assert_eq!((first.opcode, first.number), (DATA, 1));
    ast.cli("module reload res_phoneprov.so");
    c.ack(first.from, 1);
    assert_eq!(c.receive().number, 2, "the transfer survived the reload");

    // A new port: the old one is given up, the new one serves.
    let port = free_port();
    ast.write_conf("phoneprov.conf", conf(port, ""));
    ast.cli("module reload res_phoneprov.so");
    let moved: SocketAddr = ([127, 0, 0, 1], port).into();
    assert_eq!(
        Client::new("127.0.0.1", moved)
            .fetch("common.cfg", &[])
            .expect("served"),
        b"common=1\n"
    );
    assert!(UdpSocket::bind(addr).is_ok(), "the old port is free again");

    // Unload: the port is closed and the library leaves the process.
    assert!(ast
        .cli("module unload res_phoneprov.so")
        .contains("Unloaded"));
    assert!(
        UdpSocket::bind(moved).is_ok(),
        "the port is free after unload"
    );
    assert!(!ast.module_mapped());
    assert!(ast.cli("module load res_phoneprov.so").contains("Loaded"));
    assert_eq!(
        Client::new("127.0.0.1", moved)
            .fetch("common.cfg", &[])
            .expect("served again"),
        b"common=1\n"
    );
}

#[test]
fn a_port_it_cannot_bind_is_an_error_and_http_goes_on() {
    let taken = UdpSocket::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port();
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", conf(port, ""))
        .conf("phoneprov_users.conf", users())
        .file("fw.bin", firmware())
        .file("common.cfg", "common=1\n")
        .file("phone.cfg", TEMPLATE)
        .start();
    assert!(ast.log_has("the TFTP server cannot listen on 127.0.0.1:"));
    assert_eq!(ast.get("/phoneprov/common.cfg").status, 200);
    drop(taken);
}
