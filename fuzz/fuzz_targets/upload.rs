//! Uploads: the request body reader (Content-Length and chunked framing, with a limit) on
//! any bytes a client may send, and upload names against a pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::http::body::{copy, framing, Framing, PieceSource};
use phoneprov_core::http::uploads::{is_safe_component, matches, stored_name};

fuzz_target!(|input: (&[u8], &[u8], bool, u16, u8)| {
    let (body, name, chunked, limit, piece) = input;
    let limit = u64::from(limit);
    let framed = if chunked {
        Framing::Chunked
    } else {
        Framing::Length(body.len() as u64 / 2)
    };
    let mut conn = PieceSource::new(body, usize::from(piece));
    let mut out = Vec::new();
    if let Ok(n) = copy(&mut conn, framed, limit, &mut out) {
        assert_eq!(n as usize, out.len());
    }
    // Never more than the limit is stored, never more than was sent is read.
    assert!(out.len() as u64 <= limit);
    assert!(body.ends_with(conn.rest()));
    let _ = framing(Some(name), None);

    // A name a pattern takes is one safe file name inside the phone's directory.
    for pattern in [
        &b"0004f2000001-*.log"[..],
        b"logs/0004f2000001-*",
        b"0004f2000001-phone.cfg",
    ] {
        if matches(pattern, name) {
            let stored = stored_name(name).unwrap_or(b"");
            assert!(stored.is_empty() || is_safe_component(stored));
            assert!(!name.contains(&b'\\') && !name.contains(&0));
            assert!(!name.split(|&b| b == b'/').any(|c| c == b".."));
        }
    }
});
