//! Reading a request body (HTTP/1.1 framing: `Content-Length` or chunked) from the
//! connection into a file, with a size limit.
//!
//! The connection is shared with the requests that follow on it (keep-alive): the reader
//! takes exactly the body's bytes and not one more, or the next request would start in
//! the middle. Asterisk hands a handler the connection with its headers read and the body
//! untouched; it frames bodies the same way (chunked wins over Content-Length).

use std::io::{self, Write};

/// How the body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes (0 when the header is absent, as Asterisk assumes).
    Length(u64),
    Chunked,
}

/// Why a body was not stored.
#[derive(Debug)]
pub enum BodyError {
    /// More than the limit: the connection cannot be reused (the rest was not read).
    TooLarge,
    /// The client sent less than announced, stopped sending (Asterisk's read timeout) or
    /// broke the chunked framing.
    Truncated,
    Malformed,
    /// Writing the file failed.
    Write(io::Error),
}

/// The connection, as the body reader needs it.
pub trait BodySource {
    /// Reads at most `buf.len()` bytes; 0 at the end of the stream or on a timeout.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Reads one line, up to and including its `\n`, at most `max` bytes; empty at the end
    /// of the stream. Never reads past the line.
    fn read_line(&mut self, max: usize) -> io::Result<Vec<u8>>;
}

/// Longest chunk-size line or trailer line accepted.
const MAX_LINE: usize = 1024;

/// The framing of a request from its `Content-Length` and `Transfer-Encoding` headers.
/// None for a `Content-Length` that is not plain digits (the caller refuses it and closes
/// the connection rather than guess where the body ends).
pub fn framing(content_length: Option<&[u8]>, transfer_encoding: Option<&[u8]>) -> Option<Framing> {
    if transfer_encoding.is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked")) {
        return Some(Framing::Chunked);
    }
    let Some(len) = content_length else {
        return Some(Framing::Length(0));
    };
    let len = len.trim_ascii();
    if len.is_empty() || len.len() > 18 || !len.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(len)
        .ok()?
        .parse()
        .ok()
        .map(Framing::Length)
}

fn read_exact_into(
    src: &mut impl BodySource,
    mut left: u64,
    sink: &mut impl Write,
    buf: &mut [u8],
) -> Result<(), BodyError> {
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = src
            .read(&mut buf[..want])
            .map_err(|_| BodyError::Truncated)?;
        if n == 0 {
            return Err(BodyError::Truncated);
        }
        sink.write_all(&buf[..n]).map_err(BodyError::Write)?;
        left -= n as u64;
    }
    Ok(())
}

/// A chunk-size line: hex digits, optionally `;extensions`, then CRLF (a bare LF is
/// tolerated).
fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let line = line.strip_suffix(b"\n").ok_or(BodyError::Truncated)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let hex = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or(b"")
        .trim_ascii();
    if hex.is_empty() || hex.len() > 15 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(BodyError::Malformed);
    }
    let hex = std::str::from_utf8(hex).map_err(|_| BodyError::Malformed)?;
    u64::from_str_radix(hex, 16).map_err(|_| BodyError::Malformed)
}

fn line(src: &mut impl BodySource) -> Result<Vec<u8>, BodyError> {
    let l = src.read_line(MAX_LINE).map_err(|_| BodyError::Truncated)?;
    if l.is_empty() {
        return Err(BodyError::Truncated);
    }
    if !l.ends_with(b"\n") {
        // Longer than MAX_LINE, or the stream ended inside it.
        return Err(if l.len() >= MAX_LINE {
            BodyError::Malformed
        } else {
            BodyError::Truncated
        });
    }
    Ok(l)
}

/// Copies the body into `sink`, at most `limit` bytes of content; the number copied.
/// A `Length` over the limit is refused before anything is read.
pub fn copy(
    src: &mut impl BodySource,
    framing: Framing,
    limit: u64,
    sink: &mut impl Write,
) -> Result<u64, BodyError> {
    let mut buf = vec![0u8; 16 * 1024];
    match framing {
        Framing::Length(len) => {
            if len > limit {
                return Err(BodyError::TooLarge);
            }
            read_exact_into(src, len, sink, &mut buf)?;
            Ok(len)
        }
        Framing::Chunked => {
            let mut total = 0u64;
            loop {
                let size = chunk_size(&line(src)?)?;
                if size == 0 {
                    break;
                }
                if total.saturating_add(size) > limit {
                    return Err(BodyError::TooLarge);
                }
                read_exact_into(src, size, sink, &mut buf)?;
                total += size;
                let end = line(src)?;
                if end != b"\r\n" && end != b"\n" {
                    return Err(BodyError::Malformed);
                }
            }
            // Trailer fields, up to the empty line that ends the message.
            for _ in 0..64 {
                let l = line(src)?;
                if l == b"\r\n" || l == b"\n" {
                    return Ok(total);
                }
            }
            Err(BodyError::Malformed)
        }
    }
}

/// A body source over bytes already in memory, handed out in pieces of at most `piece`
/// bytes as a connection may: for the tests and the fuzz target of [`copy`].
pub struct PieceSource<'a> {
    data: &'a [u8],
    pos: usize,
    piece: usize,
}

impl<'a> PieceSource<'a> {
    pub fn new(data: &'a [u8], piece: usize) -> Self {
        PieceSource {
            data,
            pos: 0,
            piece: piece.max(1),
        }
    }

    /// What was not read.
    pub fn rest(&self) -> &[u8] {
        &self.data[self.pos..]
    }
}

impl BodySource for PieceSource<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        data: &[u8],
        framing: Framing,
        limit: u64,
    ) -> (Result<u64, BodyError>, Vec<u8>, Vec<u8>) {
        let mut c = PieceSource::new(data, 7);
        let mut out = Vec::new();
        let r = copy(&mut c, framing, limit, &mut out);
        let rest = c.rest().to_vec();
        (r, out, rest)
    }

    const NEXT: &[u8] = b"GET /next HTTP/1.1\r\n\r\n";

    #[test]
    fn framing_from_headers() {
        assert_eq!(framing(None, None), Some(Framing::Length(0)));
        assert_eq!(framing(Some(b" 12 "), None), Some(Framing::Length(12)));
        assert_eq!(
            framing(Some(b"12"), Some(b"Chunked")),
            Some(Framing::Chunked)
        );
        assert_eq!(
            framing(Some(b"12"), Some(b"identity")),
            Some(Framing::Length(12))
        );
        assert_eq!(framing(Some(b"-1"), None), None);
        assert_eq!(framing(Some(b"12abc"), None), None);
        assert_eq!(framing(Some(b"1 2"), None), None);
        assert_eq!(framing(Some(b""), None), None);
        assert_eq!(framing(Some(b"9999999999999999999999"), None), None);
    }

    #[test]
    fn length_bodies_are_read_exactly() {
        let data = [&b"hello\0world"[..], NEXT].concat();
        let (r, out, rest) = run(&data, Framing::Length(11), 100);
        assert_eq!(r.unwrap(), 11);
        assert_eq!(out, b"hello\0world");
        assert_eq!(rest, NEXT, "the next request is left on the connection");

        let (r, out, rest) = run(&data, Framing::Length(0), 100);
        assert_eq!(r.unwrap(), 0);
        assert!(out.is_empty());
        assert_eq!(rest, data);

        // Over the limit: refused before reading anything.
        let (r, out, rest) = run(&data, Framing::Length(11), 10);
        assert!(matches!(r, Err(BodyError::TooLarge)));
        assert!(out.is_empty());
        assert_eq!(rest, data);
        // Exactly the limit is fine.
        assert_eq!(run(&data, Framing::Length(11), 11).0.unwrap(), 11);

        // Shorter than announced.
        let (r, _, _) = run(b"abc", Framing::Length(5), 100);
        assert!(matches!(r, Err(BodyError::Truncated)));
    }

    #[test]
    fn chunked_bodies() {
        let body = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let data = [&body[..], NEXT].concat();
        let (r, out, rest) = run(&data, Framing::Chunked, 100);
        assert_eq!(r.unwrap(), 16);
        assert_eq!(out, b"hello 0123456789");
        assert_eq!(rest, NEXT);

        // Bare LFs, upper-case hex.
        let (r, out, _) = run(b"B\nhello world\n0\n\n", Framing::Chunked, 100);
        assert_eq!(r.unwrap(), 11);
        assert_eq!(out, b"hello world");

        // The limit counts content, not framing; it stops before reading the chunk over it.
        let (r, _, rest) = run(&data, Framing::Chunked, 16);
        assert_eq!(r.unwrap(), 16);
        assert_eq!(rest, NEXT);
        let (r, out, rest) = run(&data, Framing::Chunked, 15);
        assert!(matches!(r, Err(BodyError::TooLarge)));
        assert_eq!(out, b"hello ");
        assert!(rest.starts_with(b"0123456789"));
        // A huge announced chunk is refused at its size line.
        let (r, _, _) = run(b"FFFFFFFFFFFFFFF\r\n", Framing::Chunked, 1 << 20);
        assert!(matches!(r, Err(BodyError::TooLarge)));
    }

    #[test]
    fn broken_chunked_framing() {
        for (data, truncated) in [
            (&b"zz\r\nab\r\n0\r\n\r\n"[..], false),
            (b"\r\n", false),
            (b"-1\r\n", false),
            (b"10000000000000000\r\n", false),
            (b"2\r\nabc\r\n0\r\n\r\n", false),
            (b"5\r\nab", true),
            (b"2\r\nab", true),
            (b"2\r\nab\r\n0\r\n", true),
            (b"", true),
        ] {
            let (r, _, _) = run(data, Framing::Chunked, 100);
            match r {
                Err(BodyError::Truncated) if truncated => {}
                Err(BodyError::Malformed) if !truncated => {}
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(data)),
            }
        }
        // A size line longer than any real one.
        let long = [vec![b'0'; 2000], b"1\r\n".to_vec()].concat();
        assert!(matches!(
            run(&long, Framing::Chunked, 100).0,
            Err(BodyError::Malformed)
        ));
        // Endless trailers.
        let trailers = [&b"0\r\n"[..], &b"X: y\r\n".repeat(100)].concat();
        assert!(matches!(
            run(&trailers, Framing::Chunked, 100).0,
            Err(BodyError::Malformed)
        ));
    }
}
