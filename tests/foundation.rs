//! Our module inside a real Asterisk: identity, lifecycle, static files, errors.

mod common;

use common::{Asterisk, Builder, Impl};

const PHONEPROV: &str = "\
[general]
default_profile = pol

[pol]
staticdir = configs/
mime_type = text/xml
static_file => sip.ld,application/octet-stream
static_file => sip.cfg
static_file => fw/boot.bin,application/x-firmware

[plain]
static_file => readme.txt
static_file => notes.cfg,text/x-notes
";

fn start() -> Asterisk {
    Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .file("configs/sip.ld", vec![0u8, 1, 2, 255, b'\n', 7])
        .file("configs/sip.cfg", "<sip/>\n")
        .file("configs/fw/boot.bin", "boot")
        .file("readme.txt", "hello\n")
        .file("notes.cfg", "n")
        .start()
}

#[test]
fn module_identity() {
    let ast = start();
    let show = ast.cli("module show like phoneprov");
    let row = show
        .lines()
        .find(|l| l.starts_with("res_phoneprov.so"))
        .unwrap_or_else(|| panic!("no res_phoneprov.so row in:\n{show}"));
    assert!(row.contains("HTTP Phone Provisioning (Rust, "), "{row}");
    assert!(row.contains("Running"), "{row}");
    assert!(row.contains("extended"), "{row}");
    // The module carries this Asterisk's real build-option sum (an empty one would switch
    // the loader's check off), and the loader accepted it.
    let buildopts =
        std::fs::read_to_string(common::sandbox_root().join("usr/include/asterisk/buildopts.h"))
            .expect("buildopts.h");
    let sum = buildopts
        .lines()
        .find_map(|l| l.strip_prefix("#define AST_BUILDOPT_SUM \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("AST_BUILDOPT_SUM in buildopts.h");
    assert_eq!(sum.len(), 32);
    let so = std::fs::read(common::our_module()).expect("module");
    assert!(so.windows(sum.len()).any(|w| w == sum.as_bytes()));
    assert!(!ast
        .log()
        .contains("not compiled with the same compile-time options"));
    // The HTTP handler is registered under /phoneprov.
    assert!(ast.cli("http show status").contains("/phoneprov/..."));
    assert!(ast
        .cli("core show function PP_EACH_USER")
        .contains("PP_EACH_USER"));
    assert!(ast
        .cli("core show help phoneprov")
        .contains("phoneprov show routes"));
}

#[test]
fn static_files_with_each_mime_rule() {
    let ast = start();
    let cases = [
        (
            "sip.ld",
            "application/octet-stream",
            &b"\0\x01\x02\xff\n\x07"[..],
        ),
        ("sip.cfg", "text/xml", b"<sip/>\n"),
        ("fw/boot.bin", "application/x-firmware", b"boot"),
        ("readme.txt", "text/plain", b"hello\n"),
        ("notes.cfg", "text/x-notes", b"n"),
    ];
    for (uri, mime, body) in cases {
        let r = ast.get(&format!("/phoneprov/{uri}"));
        assert_eq!(r.status, 200, "{uri}");
        assert_eq!(r.header("Content-Type"), Some(mime), "{uri}");
        assert_eq!(r.body, body, "{uri}");
        assert_eq!(r.header("Content-Length"), Some(&*body.len().to_string()));
    }
}

#[test]
fn head_get_404_and_other_methods() {
    let ast = start();
    let get = ast.get("/phoneprov/sip.cfg");
    let head = ast.request("HEAD", "/phoneprov/sip.cfg", "");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
    assert_eq!(head.header("Content-Type"), Some("text/xml"));

    let missing = ast.get("/phoneprov/nothing.cfg");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("nothing.cfg"));
    // The configured file lives under staticdir, not at the top: only the URI counts.
    assert_eq!(ast.get("/phoneprov/configs/sip.cfg").status, 404);

    let hostile = ast.get("/phoneprov/%3Cscript%3Ealert(1)%3C/script%3E");
    assert_eq!(hostile.status, 404);
    assert!(!hostile.text().contains("<script>"), "{}", hostile.text());

    let post = ast.request("POST", "/phoneprov/sip.cfg", "Content-Length: 0\r\n");
    assert_eq!(post.status, 501);
}

#[test]
fn missing_static_file_is_500_and_logged() {
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .start();
    assert_eq!(ast.get("/phoneprov/sip.cfg").status, 500);
    assert!(ast.log_has("configs/sip.cfg"), "{}", ast.log());
}

/// How many of the process's descriptors name something starting with `kind`.
fn descriptors(ast: &Asterisk, kind: &str) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", ast.pid()))
        .expect("the process's descriptors")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with(kind))
        .count()
}

/// The inotify instances the process holds (Asterisk's own, and the module's once it
/// keeps a file in memory).
fn inotify_instances(ast: &Asterisk) -> usize {
    descriptors(ast, "anon_inode:inotify")
}

#[test]
fn unload_and_load_again() {
    let mut ast = start();
    assert_eq!(ast.get("/phoneprov/sip.cfg").status, 200);
    let watching = inotify_instances(&ast);
    for _ in 0..5 {
        assert!(ast
            .cli("module unload res_phoneprov.so")
            .contains("Unloaded"));
        assert_eq!(ast.get("/phoneprov/sip.cfg").status, 404);
        assert!(ast.cli("module load res_phoneprov.so").contains("Loaded"));
        assert_eq!(ast.get("/phoneprov/sip.cfg").status, 200);
    }
    // Each unload closed the instance its load opened.
    assert_eq!(inotify_instances(&ast), watching);
    assert!(ast.is_running());
    ast.stop();
}

#[test]
fn reload_applies_changes_and_survives_a_broken_file() {
    let ast = start();
    assert_eq!(ast.get("/phoneprov/extra.txt").status, 404);
    ast.write_file("extra.txt", "more");
    ast.write_conf(
        "phoneprov.conf",
        format!("{PHONEPROV}static_file => extra.txt\n"),
    );
    ast.cli("module reload res_phoneprov.so");
    let r = ast.get("/phoneprov/extra.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "more"));

    // A file that cannot be used keeps the previous state served.
    ast.write_conf("phoneprov.conf", "[general]\ndefault_profile = nope\n");
    ast.cli("module reload res_phoneprov.so");
    assert_eq!(ast.get("/phoneprov/extra.txt").status, 200);
    ast.remove_conf("phoneprov.conf");
    ast.cli("module reload res_phoneprov.so");
    assert_eq!(ast.get("/phoneprov/sip.cfg").status, 200);
    assert!(ast.log_has("reload aborted"));
    assert!(ast.cli("module show like phoneprov").contains("Running"));
}

#[test]
fn static_files_answer_conditional_gets_and_dynamic_files_are_not_stored() {
    let ast = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\nstatic_file => fw.bin\nstatic_file => big.bin\n\
             ${MAC}.cfg => t.cfg\n",
        )
        .conf("users.conf", "[a]\nusername = a\nautoprov = yes\nmacaddress = 1\n")
        .file("fw.bin", "firmware v1")
        .file("big.bin", vec![0u8; 200_000])
        .file("t.cfg", "${USERNAME}")
        .start();
    for (path, len) in [("/phoneprov/fw.bin", 11), ("/phoneprov/big.bin", 200_000)] {
        let first = ast.get(path);
        assert_eq!((first.status, first.body.len()), (200, len), "{path}");
        let etag = first.header("ETag").expect("ETag").to_owned();
        let modified = first
            .header("Last-Modified")
            .expect("Last-Modified")
            .to_owned();
        assert!(!first
            .header("Cache-Control")
            .unwrap_or("")
            .contains("no-store"));

        let r = ast.request("GET", path, &format!("If-None-Match: {etag}\r\n"));
        assert_eq!((r.status, r.body.len()), (304, 0), "{path}");
        assert_eq!(r.header("ETag"), Some(etag.as_str()));
        let r = ast.request("GET", path, &format!("If-Modified-Since: {modified}\r\n"));
        assert_eq!(r.status, 304, "{path}");
        let r = ast.request("GET", path, "If-None-Match: \"other\"\r\n");
        assert_eq!(r.status, 200, "{path}");
        let r = ast.request(
            "GET",
            path,
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
        );
        assert_eq!(r.status, 200, "{path}");
    }
    let before = ast.get("/phoneprov/fw.bin");
    ast.write_file("fw.bin", "firmware v2!");
    let etag = before.header("ETag").expect("ETag");
    let after = ast.request(
        "GET",
        "/phoneprov/fw.bin",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!((after.status, after.text().as_str()), (200, "firmware v2!"));
    assert_ne!(after.header("ETag"), Some(etag));

    let dynamic = ast.get("/phoneprov/1.cfg");
    assert_eq!(dynamic.text(), "a");
    assert_eq!(dynamic.header("Cache-Control"), Some("no-cache, no-store"));
    assert_eq!(dynamic.header("ETag"), None);
}

/// Reads one answer framed by its Content-Length from a kept-alive connection.
fn read_framed(s: &mut std::net::TcpStream) -> common::Response {
    use std::io::Read;
    let head = common::read_head(s);
    let len: usize = head
        .header("Content-Length")
        .expect("Content-Length")
        .parse()
        .expect("a length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("body");
    common::Response { body, ..head }
}

#[test]
fn small_binary_files_are_served_whole_from_memory_and_keep_the_connection() {
    use std::io::Write;
    // Every byte value, NULs first and in the middle: a C-string path would cut it.
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    let ast = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\nstatic_file => logo.bin,application/octet-stream\n\
             static_file => t.txt\n",
        )
        .file("logo.bin", binary.clone())
        .file("t.txt", "text\n")
        .start();
    let r = ast.get("/phoneprov/logo.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, binary);
    assert_eq!(r.header("Content-Length"), Some("4096"));
    assert_eq!(r.header("Content-type"), Some("application/octet-stream"));
    assert_eq!(
        r.head
            .windows(15)
            .filter(|w| w == b"Content-Length:")
            .count(),
        1
    );

    let head = ast.request("HEAD", "/phoneprov/logo.bin", "");
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("Content-Length"), Some("4096"));

    let etag = r.header("ETag").expect("ETag");
    let not_modified = ast.request(
        "GET",
        "/phoneprov/logo.bin",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!((not_modified.status, not_modified.body.len()), (304, 0));

    // Three answers on one connection: each framed exactly, the connection kept open.
    let mut s = ast.connect();
    for path in ["logo.bin", "t.txt", "logo.bin"] {
        write!(s, "GET /phoneprov/{path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        let r = read_framed(&mut s);
        assert_eq!(r.status, 200, "{path}");
        let want = if path == "t.txt" {
            b"text\n".to_vec()
        } else {
            binary.clone()
        };
        assert_eq!(r.body, want, "{path}");
        assert_eq!(r.header("Connection"), None, "{path}: closed after it");
    }
}

/// The pipes the process holds (the module keeps a few to render binary answers).
fn pipes(ast: &Asterisk) -> usize {
    descriptors(ast, "pipe:")
}

#[test]
fn binary_answers_from_many_connections_stay_whole_and_unload_closes_their_pipes() {
    use std::io::Write;
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 13 % 256) as u8).collect();
    let mut ast = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\nstatic_file => logo.bin,application/octet-stream\n",
        )
        .file("logo.bin", binary.clone())
        .start();
    let before = pipes(&ast);
    let etag = ast
        .get("/phoneprov/logo.bin")
        .header("ETag")
        .expect("ETag")
        .to_string();
    // Each connection mixes a 200, a HEAD and a 304; every other one ends with a request
    // asking to close: an answer that closes its connection must not hand a closed pipe to
    // the next one.
    std::thread::scope(|scope| {
        for t in 0..12 {
            let (ast, binary, etag) = (&ast, &binary, &etag);
            scope.spawn(move || {
                for round in 0..5 {
                    let mut s = ast.connect();
                    for step in 0..4 {
                        let (method, extra) = match (step + t + round) % 3 {
                            0 => ("GET", String::new()),
                            1 => ("HEAD", String::new()),
                            _ => ("GET", format!("If-None-Match: {etag}\r\n")),
                        };
                        let closing = step == 3 && round % 2 == 1;
                        let close = if closing { "Connection: close\r\n" } else { "" };
                        write!(
                            s,
                            "{method} /phoneprov/logo.bin HTTP/1.1\r\nHost: x\r\n{extra}{close}\r\n"
                        )
                        .expect("send");
                        let r = if method == "HEAD" || !extra.is_empty() {
                            common::read_head(&mut s)
                        } else {
                            read_framed(&mut s)
                        };
                        match (method, extra.is_empty()) {
                            ("HEAD", _) => {
                                assert_eq!(r.status, 200);
                                assert_eq!(r.header("Content-Length"), Some("4096"));
                            }
                            (_, true) => assert_eq!((r.status, &r.body), (200, binary)),
                            _ => assert_eq!((r.status, r.header("Content-Length")), (304, None)),
                        }
                        assert_eq!(r.header("Connection").is_some(), closing, "{method}");
                    }
                }
            });
        }
    });
    // A few pipes are kept for the next answers, never one per answer or per connection.
    let kept = pipes(&ast) - before;
    assert!(
        kept > 0 && kept <= 2 * 12,
        "{kept} pipes kept after 240 answers"
    );
    assert!(ast
        .cli("module unload res_phoneprov.so")
        .contains("Unloaded"));
    assert_eq!(pipes(&ast), before, "pipes left open after unload");
    assert!(ast.cli("module load res_phoneprov.so").contains("Loaded"));
    assert_eq!(ast.get("/phoneprov/logo.bin").body, binary);
    ast.stop();
}

#[test]
fn show_status_counts_phones_and_splits_the_last_reload() {
    let users = |n: usize| -> String {
        (0..n)
            .map(|i| format!("[u{i}]\nautoprov = yes\nmacaddress = 0004f2{i:06x}\n\n"))
            .collect()
    };
    let ast = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\nstatic_file => s.txt\n${MAC}.cfg => t.cfg\n",
        )
        .conf("users.conf", users(0))
        .file("s.txt", "s")
        .file("t.cfg", "${USERNAME}")
        .start();
    let before = ast.cli("phoneprov show status");
    assert!(before.contains("Phones:  0"), "{before}");
    assert!(before.contains("Last reload: none"), "{before}");

    ast.write_conf("users.conf", users(2000));
    ast.cli("module reload res_phoneprov.so");
    let after = ast.cli("phoneprov show status");
    assert!(after.contains("Phones:  2000"), "{after}");
    assert!(
        after.contains("Routes:  2001 (1 static, 2000 dynamic)"),
        "{after}"
    );
    assert!(after.contains("Reloads: 1 (0 failed)"), "{after}");
    let (total, api, ours) = common::reload_split(&after).unwrap_or_else(|| panic!("{after}"));
    // Parsing 2000 sections is measurable; the parts add up to the whole (to the rounding
    // of the printed figures).
    assert!(api > 0.0 && ours > 0.0, "{after}");
    assert!((api + ours - total).abs() <= 0.2, "{after}");

    // A file Asterisk cannot parse: the reload is refused, and counted as failed.
    ast.write_conf("phoneprov.conf", "[p\n");
    ast.cli("module reload res_phoneprov.so");
    let failed = ast.cli("phoneprov show status");
    assert!(failed.contains("Reloads: 2 (1 failed)"), "{failed}");
    assert!(failed.contains("Phones:  2000"), "{failed}");
}

/// The header names of an answer, in order.
fn header_names(r: &common::Response) -> Vec<String> {
    r.headers.iter().map(|(k, _)| k.clone()).collect()
}

/// A file too large to keep in memory is streamed after a head laid out like a small file's
/// (the same lines in the same order, its own length), on a connection that stays usable;
/// HEAD gets the length alone, and a request asking to close gets the whole body, then the
/// close.
#[test]
fn large_files_are_framed_like_small_ones_and_keep_the_connection() {
    use std::io::Write;
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let ast = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\nstatic_file => big.bin,application/x-firmware\n\
             static_file => small.txt,application/x-firmware\n",
        )
        .file("big.bin", big.clone())
        .file("small.txt", "small\n")
        .start();
    let big_len = big.len().to_string();
    let mut s = ast.connect();
    let mut heads = Vec::new();
    for (method, path) in [
        ("GET", "big.bin"),
        ("GET", "small.txt"),
        ("HEAD", "big.bin"),
        ("GET", "big.bin"),
    ] {
        write!(s, "{method} /phoneprov/{path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        let r = if method == "HEAD" {
            common::read_head(&mut s)
        } else {
            read_framed(&mut s)
        };
        assert_eq!(r.status, 200, "{method} {path}");
        match (method, path) {
            ("GET", "big.bin") => assert!(r.body == big, "{method} {path}: body differs"),
            ("GET", _) => assert_eq!(r.body, b"small\n"),
            _ => assert_eq!(r.header("Content-Length"), Some(big_len.as_str())),
        }
        assert_eq!(
            r.header("Connection"),
            None,
            "{method} {path}: closed after it"
        );
        heads.push(r);
    }
    let small = header_names(&heads[1]);
    for r in [&heads[0], &heads[2], &heads[3]] {
        assert_eq!(header_names(r), small, "{}", r.head.escape_ascii());
    }
    // Nothing follows the HEAD answer but the next one: the connection is still in step.
    write!(s, "GET /phoneprov/small.txt HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    assert_eq!(read_framed(&mut s).body, b"small\n");

    let closing = ast.get("/phoneprov/big.bin");
    assert_eq!(closing.status, 200);
    assert!(closing.body == big, "the body differs");
    assert_eq!(closing.header("Connection"), Some("close"));
    assert_eq!(closing.header("Content-Length"), Some(big_len.as_str()));
    let small_closing = ast.get("/phoneprov/small.txt");
    assert_eq!(header_names(&closing), header_names(&small_closing));
}
