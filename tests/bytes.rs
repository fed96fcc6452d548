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
