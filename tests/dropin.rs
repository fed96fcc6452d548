//! What an administrator sees when the module replaces the stock one: a clean log, documented
//! dialplan functions, log lines that say where they come from, and conditional GETs that
//! keep the connection usable.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{parse_response, read_head, Asterisk, Builder, Impl};

const PHONEPROV: &str = "\
[general]
default_profile = pol

[pol]
staticdir = configs/
mime_type = text/xml
static_file => sip.cfg
${MAC}.cfg => phone.cfg
${MAC}-directory.xml => directory.xml
";

const USERS: &str = "\
[6001]
autoprov = yes
macaddress = 0004f2000001
fullname = Jane & Co
secret = s1
[6002]
autoprov = yes
macaddress = 0004f2000002
fullname = Bob
secret = s2
";

/// Our configuration, and empty files for what Asterisk's core logs as ERROR when missing,
/// so that any ERROR line is about us. Every line also goes to a JSON log, the only file
/// format of Asterisk's logger that keeps a line's source line and function.
fn builder() -> Builder {
    let mut b = Builder::new(Impl::Rust);
    for name in [
        "cdr.conf",
        "cel.conf",
        "features.conf",
        "acl.conf",
        "udptl.conf",
    ] {
        b = b.conf(name, "");
    }
    b.conf(
        "logger.conf",
        "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n\
         messages.json => [json]notice,warning,error\n",
    )
    .conf("phoneprov.conf", PHONEPROV)
    .conf("phoneprov_users.conf", USERS)
    .conf("extensions.conf", "[globals]\n")
    .file("configs/sip.cfg", "<sip/>\n")
    .file("phone.cfg", "<user>${PP_XML(${DISPLAY_NAME})}</user>\n")
    .file(
        "directory.xml",
        "<d>${PP_EACH_USER(<e>%{PP_XML(%{DISPLAY_NAME})}</e>,${MAC})}</d>\n",
    )
}

/// The JSON log's lines (see [`builder`]).
fn json_log(ast: &Asterisk) -> String {
    std::fs::read_to_string(ast.dir.join("log/messages.json")).unwrap_or_default()
}

/// The JSON log's line holding `text`, waiting for the logger thread to write it.
fn json_line(ast: &Asterisk, text: &str) -> String {
    assert!(ast.log_has(text), "{}", ast.log());
    for _ in 0..100 {
        if let Some(l) = json_log(ast).lines().find(|l| l.contains(text)) {
            return l.to_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {text:?} in the JSON log:\n{}", json_log(ast));
}

/// The log lines written by Asterisk at ERROR level, and those about missing documentation.
fn complaints(ast: &Asterisk) -> Vec<String> {
    ast.log()
        .lines()
        .filter(|l| l.contains("ERROR[") || l.contains("in XML documentation"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn clean_load_logs_nothing_and_every_function_is_documented() {
    let ast = builder().start();
    // The logger writes asynchronously: wait until the load's own lines are in.
    assert!(ast.log_has("Asterisk Ready"), "{}", ast.log());
    assert_eq!(complaints(&ast), Vec::<String>::new());
    let docs = [
        ("PP_XML", "Escapes text for XML.", "PP_XML(text)"),
        (
            "PP_QRCODE",
            "Draws text as a QR code in SVG.",
            "PP_QRCODE(text)",
        ),
        (
            "PP_EACH_USER",
            "Renders a template once for every provisioned phone.",
            "PP_EACH_USER(template[,exclude_mac])",
        ),
        (
            "PP_EACH_EXTENSION",
            "Renders a template file once for every line of a phone.",
            "PP_EACH_EXTENSION(mac,template_file)",
        ),
    ];
    let check = |ast: &Asterisk| {
        for (name, synopsis, syntax) in docs {
            let show = ast.cli(&format!("core show function {name}"));
            for part in [
                synopsis,
                syntax,
                "[Description]",
                "[Arguments]",
                "[See Also]",
                "res_phoneprov",
            ] {
                assert!(show.contains(part), "{name}: no {part:?} in:\n{show}");
            }
            assert!(!show.contains("Not Available"), "{name}:\n{show}");
        }
        let list = ast.cli("core show functions like PP_");
        assert!(
            list.contains("4 matching custom functions installed"),
            "{list}"
        );
    };
    check(&ast);
    // The documentation lives in the module: it comes back with every load, and unloading
    // leaves nothing behind that a later load would trip over.
    for _ in 0..3 {
        let out = ast.cli("module unload res_phoneprov.so");
        assert!(out.contains("Unloaded"), "{out}");
        assert!(ast
            .cli("core show function PP_XML")
            .contains("No function by that name"));
        let out = ast.cli("module load res_phoneprov.so");
        assert!(out.contains("Loaded"), "{out}");
    }
    check(&ast);
    assert_eq!(ast.get("/phoneprov/0004f2000001.cfg").status, 200);
    assert_eq!(complaints(&ast), Vec::<String>::new());
}

#[test]
fn not_modified_has_no_content_length_and_keeps_the_connection() {
    let ast = builder().start();
    let path = "/phoneprov/sip.cfg";
    let first = ast.get(path);
    assert_eq!(first.status, 200);
    let etag = first.header("ETag").expect("ETag").to_owned();
    let host = format!("Host: 127.0.0.1:{}\r\n", ast.port);

    for method in ["GET", "HEAD"] {
        let mut s = ast.connect();
        // Two conditional requests, one with a body to discard, then a plain one.
        let conditional =
            format!("{method} {path} HTTP/1.1\r\n{host}If-None-Match: {etag}\r\n\r\n");
        s.write_all(conditional.as_bytes()).expect("send");
        let r = read_head(&mut s);
        assert_eq!(r.status, 304, "{method}: {r:?}");
        assert_eq!(r.header("Content-Length"), None, "{method}: {r:?}");
        assert_eq!(r.header("Connection"), None, "{method}: {r:?}");
        assert_eq!(r.header("ETag"), Some(etag.as_str()), "{method}: {r:?}");
        assert!(r.header("Date").is_some(), "{method}: {r:?}");
        assert!(r.header("Server").is_some(), "{method}: {r:?}");
        assert_eq!(r.header("Cache-Control"), None, "{method}: {r:?}");

        let with_body = format!(
            "{method} {path} HTTP/1.1\r\n{host}If-None-Match: {etag}\r\nContent-Length: 5\r\n\r\nhello"
        );
        s.write_all(with_body.as_bytes()).expect("send");
        let r = read_head(&mut s);
        assert_eq!((r.status, r.header("Content-Length")), (304, None), "{r:?}");

        let plain = format!("GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n");
        s.write_all(plain.as_bytes()).expect("send");
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).expect("read");
        let r = parse_response(&rest).expect("answer");
        assert_eq!((r.status, r.text().as_str()), (200, "<sip/>\n"), "{method}");
    }

    // A client that asks to close is told so, and the connection ends after the 304.
    let mut s = ast.connect();
    let closing =
        format!("GET {path} HTTP/1.1\r\n{host}If-None-Match: {etag}\r\nConnection: close\r\n\r\n");
    s.write_all(closing.as_bytes()).expect("send");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read");
    let r = parse_response(&all).expect("answer");
    assert_eq!(r.status, 304);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.header("Content-Length"), None);
    assert!(r.body.is_empty(), "{r:?}");
}

#[test]
fn log_lines_name_their_file_and_function() {
    // A missing static file is found by the core while the module reads its configuration;
    // a PP_EACH_EXTENSION call without arguments is logged by the core through the host.
    let ast = builder()
        .conf(
            "phoneprov.conf",
            format!("{PHONEPROV}static_file => missing.bin\n${{MAC}}-lines.cfg => lines.cfg\n"),
        )
        .file("lines.cfg", "${PP_EACH_EXTENSION(,)}")
        .start();
    let line = json_line(&ast, "missing.bin");
    assert!(line.contains("WARNING"), "{line}");
    assert!(!line.contains("src/module/mod.rs"), "{line}");
    assert!(line.contains("\"core/src/config/profile.rs\""), "{line}");
    assert!(line.contains("\"read_config\""), "{line}");

    assert_eq!(ast.get("/phoneprov/0004f2000001-lines.cfg").status, 200);
    let line = json_line(&ast, "requires both a macaddress");
    assert!(line.contains("\"core/src/render/funcs.rs\""), "{line}");
}
