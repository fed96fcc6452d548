//! Uploads: the request body reader (Content-Length and chunked framing, with a limit) on
//! any bytes a client may send, and upload names against a pattern.
#![no_main]

use std::io;

use libfuzzer_sys::fuzz_target;
use phoneprov_core::body::{copy, framing, BodySource, Framing};
use phoneprov_core::uploads::{is_safe_component, matches, stored_name};

/// The connection: `data`, handed out in pieces of at most `piece` bytes.
struct Conn<'a> {
    data: &'a [u8],
    pos: usize,
    piece: usize,
}

impl BodySource for Conn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.piece).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
    fn read_line(&mut self, max: usize) -> io::Result<Vec<u8>> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1)
            .min(max);
        self.pos += end;
        Ok(rest[..end].to_vec())
    }
}

fuzz_target!(|input: (&[u8], &[u8], bool, u16, u8)| {
    let (body, name, chunked, limit, piece) = input;
    let limit = u64::from(limit);
    let framed = if chunked {
        Framing::Chunked
    } else {
        Framing::Length(body.len() as u64 / 2)
    };
    let mut conn = Conn {
        data: body,
        pos: 0,
        piece: usize::from(piece).max(1),
    };
    let mut out = Vec::new();
    if let Ok(n) = copy(&mut conn, framed, limit, &mut out) {
        assert_eq!(n as usize, out.len());
    }
    // Never more than the limit is stored, never more than was sent is read.
    assert!(out.len() as u64 <= limit);
    assert!(conn.pos <= body.len());
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
