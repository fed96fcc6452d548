//! Issue 12, item 3: phones upload files with PUT (`uploads` patterns, `upload_max`), into
//! `AST_SPOOL_DIR/phoneprov/uploads/<MAC>/`, atomically, and get them back with GET; every
//! other name, every oversized body and every path trick is refused, and nothing is
//! written anywhere else. All against a real Asterisk, over real HTTP.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::digest::{challenges, digest_header_for};
use common::{parse_response, Asterisk, Builder, Impl, Response};

const MAC1: &str = "0004f2000001";
const MAC2: &str = "0004f2000002";
const SECURE: &str = "0004f2000003";
const QUIET: &str = "0004f2000004";
const BIG: &str = "0004f2000005";
/// Its pattern also takes its own route `<mac>.cfg`.
const WIDE: &str = "0004f2000006";
/// Its profile's access list refuses 127.0.0.1 (the other tests speak from ::1).
const FENCED: &str = "0004f2000007";
/// Its patterns would store different names in one file.
const CLASH: &str = "0004f2000008";
const LIMIT: usize = 4096;

const PHONEPROV: &str = "[general]\ndefault_profile = pol\n\n\
    [pol]\n\
    uploads = ${MAC}-phone.cfg, logs/${MAC}-*.log\n\
    uploads_unauthenticated = yes\n\
    upload_max = 4K\n\
    mime_type = text/xml\n\
    ${MAC}.cfg => phone.cfg\n\n\
    [secure]\n\
    auth = digest\n\
    uploads = ${MAC}-phone.cfg\n\
    ${MAC}.cfg => phone.cfg\n\n\
    [quiet]\n\
    ${MAC}.cfg => phone.cfg\n\n\
    [big]\n\
    uploads = ${MAC}-phone.cfg\n\
    uploads_unauthenticated = yes\n\n\
    [wide]\n\
    uploads = ${MAC}.c*\n\
    uploads_unauthenticated = yes\n\
    ${MAC}.cfg => phone.cfg\n\n\
    [fenced]\n\
    deny = 127.0.0.0/8\n\
    uploads = ${MAC}-phone.cfg\n\
    ${MAC}.cfg => phone.cfg\n\n\
    [clash]\n\
    uploads_unauthenticated = yes\n\
    uploads = logs/${MAC}-*.log, ${MAC}-*.log, ${MAC}-*/x.log, ${MAC}-phone.cfg\n";

fn users() -> String {
    [
        (MAC1, "6001", "pol"),
        (MAC2, "6002", "pol"),
        (SECURE, "6003", "secure"),
        (QUIET, "6004", "quiet"),
        (BIG, "6005", "big"),
        (WIDE, "6006", "wide"),
        (FENCED, "6007", "fenced"),
        (CLASH, "6008", "clash"),
    ]
    .iter()
    .map(|(mac, user, profile)| {
        format!(
            "[{user}]\nautoprov = yes\nmacaddress = {mac}\nprofile = {profile}\n\
             secret = pw{user}\n\n"
        )
    })
    .collect()
}

fn start() -> Asterisk {
    start_with("")
}

/// [`start`] with more `[general]` options.
fn start_with(general: &str) -> Asterisk {
    let conf = PHONEPROV.replacen("[general]\n", &format!("[general]\n{general}"), 1);
    // The tests speak from ::1; only the fenced profile's test from 127.0.0.1, which that
    // profile refuses: an address some access list refuses gets 403 for every name nothing
    // serves (issue 24), which the other tests do not expect.
    Builder::new(Impl::Rust)
        .bindaddr("::")
        .module("res_security_log")
        .conf("phoneprov.conf", conf)
        .conf("phoneprov_users.conf", users())
        .conf(
            "logger.conf",
            "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n\
             security.log => security\n",
        )
        .file("phone.cfg", "<cfg mac=\"${MAC}\"/>\n")
        .start()
}

fn uploads_dir(ast: &Asterisk) -> PathBuf {
    ast.dir.join("spool/phoneprov/uploads")
}

/// Every file below `dir`, relative to it.
fn files_below(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// A keep-alive connection to Asterisk's HTTP server.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(ast: &Asterisk) -> Conn {
        let s = TcpStream::connect_timeout(&ast.addr(), Duration::from_secs(5)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn { s, buf: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send");
    }

    /// Reads one answer (framed by its Content-Length).
    fn answer(&mut self) -> Response {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = parse_response(&self.buf[..end + 4]).expect("head");
                let len: usize = head
                    .header("Content-Length")
                    .map_or(0, |v| v.trim().parse().expect("length"));
                if head.status == 100 {
                    self.buf.drain(..end + 4);
                    return head;
                }
                if self.buf.len() >= end + 4 + len {
                    let r = parse_response(&self.buf[..end + 4 + len]).expect("answer");
                    self.buf.drain(..end + 4 + len);
                    return r;
                }
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk).expect("read an answer");
            assert!(
                n > 0,
                "connection closed before a whole answer: {:?}",
                self.buf
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Whether the server closed the connection (EOF within the read timeout).
    fn closed(&mut self) -> bool {
        self.s
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut b = [0u8; 1];
        matches!(self.s.read(&mut b), Ok(0))
    }
}

fn put_request(ast: &Asterisk, path: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n{extra}\r\n",
        ast.port,
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// PUT on a connection of its own, closed after the answer.
fn put(ast: &Asterisk, path: &str, body: &[u8]) -> Response {
    put_with(ast, path, "Connection: close\r\n", body)
}

fn put_with(ast: &Asterisk, path: &str, extra: &str, body: &[u8]) -> Response {
    let mut c = Conn::open(ast);
    c.send(&put_request(ast, path, extra, body));
    c.answer()
}

fn chunked(body: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// No temporary file is left in the phone's directory.
fn no_temp_files(ast: &Asterisk, mac: &str) -> bool {
    !files_below(&uploads_dir(ast).join(mac))
        .iter()
        .any(|f| f.starts_with(".upload-"))
}

fn security_log(ast: &Asterisk) -> String {
    std::fs::read_to_string(ast.dir.join("log/security.log")).unwrap_or_default()
}

#[test]
fn uploads_are_stored_and_served_back() {
    let ast = start();
    let name = format!("{MAC1}-phone.cfg");
    let path = format!("/phoneprov/{name}");
    // Nothing uploaded yet: 404 (and not the route of another file).
    assert_eq!(ast.get(&path).status, 404);

    // Bytes XML and C care about, NUL included.
    let first: Vec<u8> = b"<overrides a=\"1\"/>\n\0\xff\r\n".to_vec();
    let r = put(&ast, &path, &first);
    assert_eq!(r.status, 201, "{}", r.text());
    let stored = uploads_dir(&ast).join(MAC1).join(&name);
    assert_eq!(std::fs::read(&stored).expect("stored file"), first);
    let got = ast.get(&path);
    assert_eq!(got.status, 200);
    assert_eq!(got.body, first);
    assert_eq!(got.header("Content-Type"), Some("text/xml"));
    assert_eq!(got.header("Cache-Control"), Some("no-cache, no-store"));

    // Replaced: 200, and the next boot gets the new version.
    let second = b"<overrides a=\"2\"/>\n".to_vec();
    assert_eq!(put(&ast, &path, &second).status, 200);
    assert_eq!(ast.get(&path).body, second);
    assert_eq!(ast.request("HEAD", &path, "").status, 200);

    // A wildcard pattern with a directory: stored under the last component.
    let log = format!("/phoneprov/logs/{MAC1}-app.log");
    assert_eq!(put(&ast, &log, b"boot ok\n").status, 201);
    assert_eq!(
        std::fs::read(uploads_dir(&ast).join(MAC1).join(format!("{MAC1}-app.log"))).unwrap(),
        b"boot ok\n"
    );
    // An empty upload is a file too.
    let empty = format!("/phoneprov/logs/{MAC1}-boot.log");
    assert_eq!(put(&ast, &empty, b"").status, 201);
    assert_eq!(ast.get(&empty).body, b"");

    // Another phone's upload is its own.
    let other = format!("/phoneprov/{MAC2}-phone.cfg");
    assert_eq!(put(&ast, &other, b"two").status, 201);
    assert_eq!(ast.get(&other).body, b"two");
    assert_eq!(ast.get(&path).body, second);

    // The routes still serve their files.
    assert_eq!(
        ast.get(&format!("/phoneprov/{MAC1}.cfg")).text(),
        format!("<cfg mac=\"{MAC1}\"/>\n")
    );
    assert_eq!(
        files_below(&uploads_dir(&ast)),
        [
            format!("{MAC1}/{MAC1}-phone.cfg"),
            format!("{MAC1}/{MAC1}-app.log"),
            format!("{MAC1}/{MAC1}-boot.log"),
            format!("{MAC2}/{MAC2}-phone.cfg"),
        ]
        .into_iter()
        .collect()
    );

    // Audit: the CLI lists the uploads, the log has a line for each.
    let phone = ast.cli(&format!("phoneprov show phone {MAC1}"));
    assert!(
        phone.contains(&format!(
            "Uploads (PUT, stored in /tmp/{}/spool/phoneprov/uploads/{MAC1}):\n  \
             {MAC1}-phone.cfg\n  logs/{MAC1}-*.log\n",
            ast.dir.file_name().unwrap().to_string_lossy()
        )),
        "{phone}"
    );
    assert!(
        phone.contains(&format!("PUT {MAC1}-phone.cfg ({} bytes)", second.len())),
        "{phone}"
    );
    assert!(ast.log_has(&format!(
        "uploaded /phoneprov/{MAC1}-phone.cfg for {MAC1}: {} bytes stored",
        first.len()
    )));
    let status = ast.cli("phoneprov show status");
    assert!(status.contains("upload"), "{status}");
}

#[test]
fn size_limit_and_framing() {
    let ast = start();
    let path = format!("/phoneprov/{MAC1}-phone.cfg");
    let stored = uploads_dir(&ast)
        .join(MAC1)
        .join(format!("{MAC1}-phone.cfg"));

    // Exactly the limit is accepted.
    let full = vec![b'a'; LIMIT];
    assert_eq!(put(&ast, &path, &full).status, 201);
    assert_eq!(std::fs::read(&stored).unwrap(), full);

    // Announced over the limit: 413 at once, without waiting for the body, and the
    // connection closes (its unread body is never taken for the next request).
    let mut c = Conn::open(&ast);
    c.send(
        format!(
            "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            LIMIT + 1
        )
        .as_bytes(),
    );
    let started = Instant::now();
    let r = c.answer();
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(c.closed());
    // An empty upload replaces it; then a huge announcement is refused too.
    let r = put_with(&ast, &path, "", b"");
    assert_eq!(r.status, 200);
    let mut c = Conn::open(&ast);
    c.send(
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(c.answer().status, 413);
    // Chunked: the limit counts what arrives.
    let mut c = Conn::open(&ast);
    let over = chunked(&vec![b'b'; LIMIT + 10], 1000);
    c.send(
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes(),
    );
    c.send(&over);
    let r = c.answer();
    assert_eq!(r.status, 413);
    assert_eq!(r.header("Connection"), Some("close"));
    // The file of before is untouched.
    assert_eq!(std::fs::read(&stored).unwrap(), b"");
    // Chunked within the limit, with a chunk extension and a trailer.
    let mut c = Conn::open(&ast);
    c.send(
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes(),
    );
    c.send(b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Check: 1\r\n\r\n");
    let r = c.answer();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(std::fs::read(&stored).unwrap(), b"hello world");
    assert_ne!(r.header("Connection"), Some("close"));
    // ... and the connection goes on.
    c.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    assert_eq!(c.answer().body, b"hello world");

    // A body longer than announced: the announced bytes are the file; the rest is the
    // next request as far as HTTP goes (Asterisk refuses it), never part of the file.
    let mut c = Conn::open(&ast);
    c.send(&put_request(&ast, &path, "", b"0123456789"));
    c.send(b"TRAILING GARBAGE THAT IS NO REQUEST\r\n\r\n");
    assert_eq!(c.answer().status, 200);
    assert_eq!(std::fs::read(&stored).unwrap(), b"0123456789");

    // A body shorter than announced (the client gives up): nothing is stored.
    let mut c = Conn::open(&ast);
    c.send(
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort").as_bytes(),
    );
    c.s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = c.s.read_to_end(&mut rest);
    wait_for("the aborted upload to be cleaned up", || {
        no_temp_files(&ast, MAC1)
    });
    assert_eq!(std::fs::read(&stored).unwrap(), b"0123456789");

    // A malformed chunked body: 400, nothing stored.
    let mut c = Conn::open(&ast);
    c.send(
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            .as_bytes(),
    );
    assert_eq!(c.answer().status, 400);
    assert_eq!(std::fs::read(&stored).unwrap(), b"0123456789");
    assert!(no_temp_files(&ast, MAC1));

    wait_for("413 security events", || {
        security_log(&ast).contains("upload refused: more than upload_max")
    });
    assert!(security_log(&ast).contains("upload refused: 4097 bytes announced"));
}

#[test]
fn names_outside_the_patterns_and_path_tricks_are_refused() {
    let ast = start();
    let spool_before = files_below(&ast.dir.join("spool"));
    let data_before = files_below(&ast.dir.join("data/phoneprov"));
    let cases: &[(&str, u16)] = &[
        // Unknown phone, unknown name, a phone whose profile takes no uploads.
        ("ffffffffffff-phone.cfg", 404),
        (&format!("{MAC1}-web.cfg"), 404),
        (&format!("{QUIET}-phone.cfg"), 404),
        (&format!("{MAC1}-app.log"), 404),
        // A file served here cannot be overwritten.
        (&format!("{MAC1}.cfg"), 403),
        // Traversal, encoded or not, slashes, backslashes, NUL.
        ("../../../../etc/passwd", 404),
        ("%2e%2e/%2e%2e/%2e%2e/tmp/x", 404),
        (&format!("../{MAC1}-phone.cfg"), 404),
        (&format!("%2e%2e%2f{MAC1}-phone.cfg"), 404),
        (&format!("logs/{MAC1}-..%2f..%2f..%2fx.log"), 404),
        (&format!("logs/{MAC1}-a%2fb.log"), 404),
        (&format!("logs/{MAC1}-a/b.log"), 404),
        (&format!("logs/{MAC1}-a%5cb.log"), 404),
        (&format!("logs/{MAC1}-a\\b.log"), 404),
        (&format!("logs/{MAC1}-a%20b.log"), 404),
        (&format!("logs/../{MAC1}-phone.cfg"), 404),
        (&format!("logs/{MAC1}-x.log%2f.."), 404),
        (&format!("{MAC1}-phone.cfg/.."), 404),
        (&format!("{MAC1}-phone.cfg/"), 404),
        (&format!("/{MAC1}-phone.cfg"), 404),
        (&format!("{MAC1}-phone.cfg%00"), 400),
        (&format!("logs/{MAC1}-%00.log"), 400),
        (&format!("logs/{MAC1}-x.log%00.cfg"), 400),
    ];
    for (name, want) in cases {
        let r = put(&ast, &format!("/phoneprov/{name}"), b"evil");
        assert_eq!(r.status, *want, "PUT {name}: {}", r.text());
    }
    // A star matching dots is still one name inside the phone's directory.
    let dots = format!("/phoneprov/logs/{MAC1}-%2e%2e.log");
    assert_eq!(put(&ast, &dots, b"dots").status, 201);
    let mut want = spool_before.clone();
    want.insert(format!("phoneprov/uploads/{MAC1}/{MAC1}-...log"));
    assert_eq!(files_below(&ast.dir.join("spool")), want);
    assert_eq!(files_below(&ast.dir.join("data/phoneprov")), data_before);
    // Nothing anywhere else in the instance's tree either.
    assert!(!ast.dir.join("etc/passwd").exists());
    assert!(!ast.dir.join("tmp").exists());

    // One RequestNotAllowed event per refused name (the NUL ones stop before: 400).
    let refused = || {
        security_log(&ast)
            .lines()
            .filter(|l| l.contains("SecurityEvent=\"RequestNotAllowed\""))
            .filter(|l| l.contains("upload of a name no phone may upload"))
            .count()
    };
    wait_for("security events for refused uploads", || refused() >= 20);
    assert!(ast.log_has("tried to upload /phoneprov/ffffffffffff-phone.cfg"));
}

#[test]
fn concurrent_uploads_of_one_name_leave_one_whole_version() {
    let ast = start();
    // The default upload_max (1 MB): bodies large enough that each is written in several
    // pieces, sent in pieces so that the uploads overlap.
    let path = format!("/phoneprov/{BIG}-phone.cfg");
    let stored = uploads_dir(&ast).join(BIG).join(format!("{BIG}-phone.cfg"));
    let bodies: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'a' + i; 256 * 1024]).collect();
    for round in 0..3 {
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|body| {
                    let ast = &ast;
                    let path = &path;
                    s.spawn(move || {
                        let mut c = Conn::open(ast);
                        let req = put_request(ast, path, "Connection: close\r\n", body);
                        for piece in req.chunks(16 * 1024) {
                            c.send(piece);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        c.answer().status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 201),
            "round {round}: {statuses:?}"
        );
        let got = std::fs::read(&stored).unwrap();
        assert!(bodies.contains(&got), "round {round}: a mixed file");
        assert_eq!(ast.get(&path).body, got);
        assert!(
            no_temp_files(&ast, BIG),
            "round {round}: temporary files left"
        );
    }
    // The default limit: 1 MB exactly is taken, one byte more is not.
    let mb = vec![b'z'; 1024 * 1024];
    assert_eq!(put(&ast, &path, &mb).status, 200);
    assert_eq!(std::fs::read(&stored).unwrap(), mb);
    let over = vec![b'y'; 1024 * 1024 + 1];
    assert_eq!(put(&ast, &path, &over).status, 413);
    assert_eq!(std::fs::read(&stored).unwrap(), mb);
}

#[test]
fn connections_stay_usable_after_puts() {
    let ast = start();
    let path = format!("/phoneprov/{MAC1}-phone.cfg");
    let mut c = Conn::open(&ast);
    // Accepted, refused (small body: Asterisk reads it) and accepted again, then GETs, all
    // on one connection.
    c.send(&put_request(&ast, &path, "", b"one"));
    let r = c.answer();
    assert_eq!(r.status, 201);
    assert_ne!(r.header("Connection"), Some("close"));
    c.send(&put_request(&ast, "/phoneprov/nobody.cfg", "", b"xyz"));
    assert_eq!(c.answer().status, 404);
    c.send(&put_request(&ast, &path, "", b"two"));
    assert_eq!(c.answer().status, 200);
    c.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    assert_eq!(c.answer().body, b"two");
    c.send(format!("GET /phoneprov/{MAC1}.cfg HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    assert_eq!(c.answer().status, 200);

    // Expect: 100-continue: the interim answer comes before the body is sent.
    c.send(
        format!(
            "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(c.answer().status, 100);
    c.send(b"three");
    assert_eq!(c.answer().status, 200);
    c.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    assert_eq!(c.answer().body, b"three");
    // A refused Expect: 100-continue upload gets its answer without sending the body, and
    // the connection closes (the client might still send it).
    c.send(
        b"PUT /phoneprov/nobody.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    let r = c.answer();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(c.closed());
}

#[test]
fn digest_protected_uploads() {
    let ast = start();
    let path = format!("/phoneprov/{SECURE}-phone.cfg");
    let first = put(&ast, &path, b"secret overrides");
    assert_eq!(first.status, 401);
    let challenge = challenges(&first)
        .into_iter()
        .find(|c| c.contains("algorithm=MD5"))
        .expect("an MD5 challenge");
    // An answer computed for GET does not open a PUT.
    let wrong = digest_header_for("GET", &challenge, "6003", "pw6003", &path, 1);
    assert_eq!(
        put_with(&ast, &path, &format!("Connection: close\r\n{wrong}"), b"x").status,
        401
    );
    let first = put(&ast, &path, b"secret overrides");
    let challenge = challenges(&first)
        .into_iter()
        .find(|c| c.contains("algorithm=MD5"))
        .expect("an MD5 challenge");
    let auth = digest_header_for("PUT", &challenge, "6003", "pw6003", &path, 1);
    let r = put_with(
        &ast,
        &path,
        &format!("Connection: close\r\n{auth}"),
        b"secret overrides",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Served back to its phone only with credentials.
    assert_eq!(ast.get(&path).status, 401);
    let r = common::digest::get(&ast, &path, "6003", "pw6003");
    assert_eq!(r.body, b"secret overrides");
}

/// The Polycom sample: the phone's overrides and logs (uploaded beside its configuration,
/// master.cfg naming no directory for them) are taken and the overrides come back at its next boot, while the files the
/// module generates keep being served and cannot be overwritten.
#[test]
fn polycom_sample_overrides_come_back() {
    let conf = common::project_dir().join("asterisk-conf");
    let sample = |name: &str| std::fs::read(conf.join("phoneprov/polycom").join(name)).unwrap();
    let mac = "0004f2abcdef";
    let users = format!(
        "[6001]\nautoprov = yes\nmacaddress = {}\nprofile = polycom\nsecret = pw&<1>\n",
        mac.to_uppercase()
    );
    let ast = Builder::new(Impl::Rust)
        .module("func_strings")
        .conf(
            "phoneprov.conf",
            std::fs::read(conf.join("phoneprov.conf")).unwrap(),
        )
        .conf("phoneprov_users.conf", users)
        .file("polycom/master.cfg", sample("master.cfg"))
        .file("polycom/reg.cfg", sample("reg.cfg"))
        .file("polycom/line.cfg", sample("line.cfg"))
        .file("polycom/directory.xml", sample("directory.xml"))
        .start();
    let digest_put = |path: &str, body: &[u8]| {
        let first = put(&ast, path, body);
        if first.status != 401 {
            return first;
        }
        let challenge = challenges(&first)
            .into_iter()
            .find(|c| c.contains("algorithm=MD5"))
            .expect("an MD5 challenge");
        let auth = digest_header_for("PUT", &challenge, "6001", "pw&<1>", path, 1);
        put_with(&ast, path, &format!("Connection: close\r\n{auth}"), body)
    };
    let get = |path: &str| common::digest::get(&ast, path, "6001", "pw&<1>");

    let master = get(&format!("/phoneprov/{mac}.cfg")).text();
    assert!(
        master.contains("OVERRIDES_DIRECTORY=\"\"") && master.contains("LOG_FILE_DIRECTORY=\"\""),
        "{master}"
    );
    let overrides = format!("/phoneprov/{mac}-phone.cfg");
    // A phone that never uploaded: 404, as Polycom expects.
    assert_eq!(get(&overrides).status, 404);
    let body = b"<PHONE_CONFIG><OVERRIDES up.backlight.idleIntensity=\"1\"/></PHONE_CONFIG>\n";
    assert_eq!(digest_put(&overrides, body).status, 201);
    assert_eq!(
        digest_put(&format!("/phoneprov/{mac}-app.log"), b"log").status,
        201
    );
    assert_eq!(
        digest_put(&format!("/phoneprov/{mac}-web.cfg"), b"web").status,
        201
    );
    // Its next boot: the overrides as uploaded, and its generated settings as before.
    let back = get(&overrides);
    assert_eq!(back.status, 200);
    assert_eq!(back.body, body);
    let settings = get(&format!("/phoneprov/{mac}-reg.cfg"));
    assert!(
        settings
            .text()
            .contains("reg.1.auth.password=\"pw&amp;&lt;1&gt;\""),
        "{}",
        settings.text()
    );
    // The generated files cannot be replaced by an upload.
    assert_eq!(
        digest_put(&format!("/phoneprov/{mac}-reg.cfg"), b"x").status,
        403
    );
    assert_eq!(
        files_below(&uploads_dir(&ast).join(mac)),
        [
            format!("{mac}-phone.cfg"),
            format!("{mac}-app.log"),
            format!("{mac}-web.cfg"),
        ]
        .into_iter()
        .collect()
    );
}

/// A name a phone may upload but has not: after the phone's access rules, the very answer
/// of any unknown name, counted as a miss unless the phone itself asked. Otherwise
/// `GET <mac>-phone.cfg` tells known MACs from unknown ones, as often as one likes.
#[test]
fn a_missing_upload_answers_as_any_unknown_name() {
    let ast = start_with("miss_limit = 4\nmiss_window = 60\nmiss_ban = 60\n");
    // The phone itself, authenticated, asking for overrides it never uploaded: no miss.
    let own = format!("/phoneprov/{SECURE}-phone.cfg");
    for _ in 0..6 {
        let r = common::digest::get(&ast, &own, "6003", "pw6003");
        assert_eq!(r.status, 404, "{}", r.text());
    }
    // The access list comes first, as for the phone's files.
    let fenced = common::http_raw(
        ast.addr_at("127.0.0.1"),
        format!(
            "GET /phoneprov/{FENCED}-phone.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .expect("GET from 127.0.0.1");
    assert_eq!(fenced.status, 403, "{}", fenced.text());
    // Known and unknown MAC: the same 404, each a miss.
    let unknown = ast.get("/phoneprov/ffffffffffff-phone.cfg");
    let known = ast.get(&format!("/phoneprov/{MAC1}-phone.cfg"));
    assert_eq!((unknown.status, known.status), (404, 404));
    assert_eq!(known.text().replace(MAC1, "ffffffffffff"), unknown.text());
    // Misses 3, 4 and 5 (more than miss_limit), then the address is refused.
    let statuses: Vec<u16> = (0..4)
        .map(|_| ast.get(&format!("/phoneprov/{MAC1}-phone.cfg")).status)
        .collect();
    assert_eq!(statuses, [404, 404, 404, 429]);
}

/// A name that is a route is never an upload: PUT is refused even when a pattern takes the
/// name, and a file stored under it is never served instead of the route.
#[test]
fn an_upload_never_replaces_a_route() {
    let ast = start();
    let route = format!("/phoneprov/{WIDE}.cfg");
    let template = format!("<cfg mac=\"{WIDE}\"/>\n");
    let r = put(&ast, &route, b"<cfg secret=\"mine\"/>\n");
    assert_eq!(r.status, 403, "{}", r.text());
    // Phones are built at the first request after boot: now the warning is there.
    assert!(
        ast.log_has(&format!(
            "uploads pattern '${{MAC}}.c*' takes the phone's own file '{WIDE}.cfg'"
        )),
        "{}",
        ast.log()
    );
    assert_eq!(ast.get(&route).text(), template);
    // The pattern's other names are taken.
    let other = format!("/phoneprov/{WIDE}.conf");
    assert_eq!(put(&ast, &other, b"kept").status, 201);
    assert_eq!(ast.get(&other).body, b"kept");
    // A file already stored under the route's name (an earlier configuration) stays unused.
    let dir = uploads_dir(&ast).join(WIDE);
    std::fs::write(dir.join(format!("{WIDE}.cfg")), b"<stale/>").unwrap();
    assert_eq!(ast.get(&route).text(), template);
}

/// Only the last component of a name is kept: patterns whose names would be stored in one
/// file are refused when the configuration is read, so a GET of one name never serves
/// what was sent as another.
#[test]
fn patterns_storing_into_one_file_are_refused() {
    let ast = start();
    let in_logs = format!("/phoneprov/logs/{CLASH}-app.log");
    let beside = format!("/phoneprov/{CLASH}-app.log");
    assert_eq!(put(&ast, &in_logs, b"from logs").status, 201);
    let r = put(&ast, &beside, b"beside");
    assert_eq!(r.status, 404, "{}", r.text());
    for (pattern, why) in [
        (
            "${MAC}-*.log",
            "its names would be stored in the same files as those of 'logs/${MAC}-*.log'",
        ),
        ("${MAC}-*/x.log", "a '*' before its last '/'"),
    ] {
        assert!(
            ast.log_has(&format!("uploads pattern '{pattern}' gives")) && ast.log_has(why),
            "{pattern}: {}",
            ast.log()
        );
    }
    assert_eq!(ast.get(&beside).status, 404);
    assert_eq!(ast.get(&in_logs).body, b"from logs");
    for name in [format!("{CLASH}-a/x.log"), format!("{CLASH}-b/x.log")] {
        assert_eq!(put(&ast, &format!("/phoneprov/{name}"), b"x").status, 404);
    }
    // The phone's other pattern is untouched.
    let own = format!("/phoneprov/{CLASH}-phone.cfg");
    assert_eq!(put(&ast, &own, b"own").status, 201);
    assert_eq!(
        files_below(&uploads_dir(&ast).join(CLASH)),
        [format!("{CLASH}-app.log"), format!("{CLASH}-phone.cfg")]
            .into_iter()
            .collect()
    );
}

/// Temporary files left by a crash never count towards the files a phone may have, and
/// they go when the directory is next counted; files that are no upload name do not count.
#[test]
fn leftover_temporary_files_do_not_fill_a_phone_directory() {
    let ast = start();
    let dir = uploads_dir(&ast).join(MAC1);
    std::fs::create_dir_all(&dir).unwrap();
    // What an Asterisk that crashed during uploads leaves (another process, another run),
    // unchanged for an hour.
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for n in 0..70 {
        let path = dir.join(format!(".upload-1-{n}"));
        std::fs::write(&path, b"half").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(hour_ago).unwrap();
    }
    // Another node's upload in progress, on shared storage: fresh, so left alone.
    let other_node = dir.join(".upload-2-0");
    std::fs::write(&other_node, b"in progress").unwrap();
    std::fs::write(dir.join("notes~"), b"an administrator's").unwrap();
    let log = |n: usize| format!("/phoneprov/logs/{MAC1}-{n}.log");
    let r = put(&ast, &log(0), b"0");
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(ast.log_has("removed 70 temporary files of an earlier run"));
    assert!(
        other_node.exists(),
        "another node's upload in progress was removed"
    );
    std::fs::remove_file(&other_node).unwrap();
    assert!(no_temp_files(&ast, MAC1));
    assert!(dir.join("notes~").exists());
    // The limit itself still holds: 64 stored names, then 507 for a new one; replacing
    // one of them is still fine.
    for n in 1..64 {
        std::fs::write(dir.join(format!("{MAC1}-{n}.log")), b"n").unwrap();
    }
    let r = put(&ast, &log(64), b"one too many");
    assert_eq!(r.status, 507, "{}", r.text());
    assert_eq!(put(&ast, &log(5), b"again").status, 200);
    assert_eq!(
        std::fs::read(dir.join(format!("{MAC1}-5.log"))).unwrap(),
        b"again"
    );
}
