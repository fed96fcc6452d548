//! Configuration files, templates and static files in ISO-8859-1: Asterisk passes bytes
//! through, and so must we. Every route must answer what the stock C module answers, byte
//! for byte.

mod common;
mod differential;

use common::Impl;
use differential::{compare, start, Case};

/// Two users whose names differ in one byte only, so `${USERNAME}.cfg` makes two routes.
const USERS: &[u8] = b"\
[general]
vmexten = *97

[m\xfcller]
username = m\xfcller
autoprov = yes
macaddress = 000000000001
fullname = J\xfcrgen M\xfcller
secret = s\xe9cret\xa7
label = 20\xb0C
cid_number = 6001

[m\xe9ller]
username = m\xe9ller
autoprov = yes
macaddress = 000000000002
fullname = Ren\xe9 M\xe9ller
secret = \xa7\xe9
label = \xb0
";

const PHONEPROV: &[u8] = b"\
[general]
default_profile = pol

[pol]
static_file => high.bin,application/octet-stream
${USERNAME}.cfg => latin1.cfg
${MAC}.cfg => all.cfg
setvar => GREETING=Gr\xfc\xdf Gott ${DISPLAY_NAME}
";

const TEMPLATE: &[u8] = b"# f\xfcr ${USERNAME}\nname=${DISPLAY_NAME}\nsecret=${SECRET}\n\
label=${LABEL}\n${GREETING}\n\xa7\xb0\n";

const ALL_VARS: &[u8] = b"U=${USERNAME} D=${DISPLAY_NAME} S=${SECRET} L=${LABEL} \
C=${CALLERID} G=${GREETING} ${PP_EACH_EXTENSION(${MAC},latin1.cfg)}\n";

/// Every byte from 0x80 to 0xff.
const HIGH: [u8; 128] = {
    let mut bytes = [0; 128];
    let mut i = 0;
    while i < 128 {
        bytes[i] = 0x80 + i as u8;
        i += 1;
    }
    bytes
};

const CASE: Case = Case {
    phoneprov: PHONEPROV,
    users: Some(USERS),
    users_new_name: false,
    pjsip: None,
    files: &[
        ("latin1.cfg", TEMPLATE),
        ("all.cfg", ALL_VARS),
        ("high.bin", &HIGH),
    ],
    preload: &[],
    modules: &[],
    extra_uris: &[],
    must_serve: &[
        b"high.bin",
        b"m\xfcller.cfg",
        b"m\xe9ller.cfg",
        b"000000000001.cfg",
        b"000000000002.cfg",
    ],
    unordered: None,
    after_reload: false,
};

/// What the stock module serves, checked by hand, so the comparison below compares against
/// the right answers: the bytes of the files come back unchanged.
#[test]
fn the_stock_module_keeps_iso_8859_1_bytes() {
    let stock = start(&CASE, Impl::Stock);
    let high = stock.get("/phoneprov/high.bin");
    assert_eq!((high.status, &high.body[..]), (200, &HIGH[..]));
    let m = stock.get("/phoneprov/m%FCller.cfg");
    assert_eq!(m.status, 200);
    assert_eq!(
        m.body,
        b"# f\xfcr m\xfcller\nname=J\xfcrgen M\xfcller\nsecret=s\xe9cret\xa7\n\
          label=20\xb0C\nGr\xfc\xdf Gott J\xfcrgen M\xfcller\n\xa7\xb0\n",
        "{:02x?}",
        m.body
    );
    let e = stock.get("/phoneprov/m%E9ller.cfg");
    assert_eq!(e.status, 200);
    assert_eq!(
        e.body,
        b"# f\xfcr m\xe9ller\nname=Ren\xe9 M\xe9ller\nsecret=\xa7\xe9\nlabel=\xb0\n\
          Gr\xfc\xdf Gott Ren\xe9 M\xe9ller\n\xa7\xb0\n",
        "{:02x?}",
        e.body
    );
}

#[test]
fn iso_8859_1_files_are_served_as_the_stock_module_serves_them() {
    let n = compare(&CASE);
    assert!(n >= 5, "only {n} URIs compared");
}

/// Where the module needs Unicode, ISO-8859-1 bytes are read as the letters they stand for:
/// a Linphone file (XML in UTF-8, by its declaration) carries `Jürgen` in UTF-8, and the
/// XML check of `phoneprov check` accepts a Latin-1 XML file. Elsewhere bytes stay bytes:
/// PP_XML escapes markup and keeps them, and the CLI prints them as configured.
#[test]
fn iso_8859_1_where_unicode_is_needed() {
    let ast = common::Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = lin\n\n[lin]\n\
             ${MAC}.xml => account.linphonerc\n\
             ${MAC}-dir.xml => dir.xml,text/xml\n",
        )
        .conf(
            "phoneprov_users.conf",
            &b"[j\xfcrgen]\nautoprov = yes\nmacaddress = 00000000000a\n\
               fullname = J\xfcrgen <M\xfcller> & Co\nsecret = s\xe9\xa7\n"[..],
        )
        .file(
            "account.linphonerc",
            "[proxy_0]\nreg_identity=\"${DISPLAY_NAME}\" <sip:${USERNAME}@example.org>\n\n\
             [auth_info_0]\nusername=${USERNAME}\npasswd=${SECRET}\n",
        )
        .file(
            "dir.xml",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<d n=\"${PP_XML(${DISPLAY_NAME})}\"/>\n",
        )
        .start();
    let lin = ast.get("/phoneprov/00000000000a.xml");
    assert_eq!(lin.status, 200);
    let text = String::from_utf8(lin.body.clone()).expect("Linphone's XML is UTF-8");
    assert!(
        text.contains("J\u{fc}rgen &lt;M\u{fc}ller&gt; &amp; Co"),
        "{text}"
    );
    assert!(text.contains(">s\u{e9}\u{a7}<"), "{text}");

    let dir = ast.get("/phoneprov/00000000000a-dir.xml");
    assert_eq!(dir.status, 200);
    assert!(
        contains(&dir.body, b"J\xfcrgen &lt;M\xfcller&gt; &amp; Co"),
        "{:02x?}",
        dir.body
    );

    let check = ast.cli("phoneprov check");
    assert!(
        check.contains("2 dynamic routes checked, 0 with problems"),
        "{check}"
    );
    let show = ast.cli_raw("phoneprov show phone 00000000000a");
    assert!(
        contains(&show, b"(j\xfcrgen):"),
        "{}",
        String::from_utf8_lossy(&show)
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
