//! The head of an answer Asterisk rendered (`ast_http_send`, with no body) framed again for
//! a body the module writes itself.
//!
//! `ast_http_send` writes `Content-Length: 0` into every answer it makes without a body. A
//! 304 must carry either no length or the one a 200 would have had (RFC 9110, 8.6), so it
//! goes without; a body with NUL bytes (which Asterisk's string path would cut) gets its own
//! length, just before the blank line that ends the head, and follows it in the same
//! buffer, so that head and body leave in one write; a file gets its length, and its bytes
//! are sent after the head.

use std::io::Write;
use std::ops::Range;

/// The longest head taken, exclusive: a head is a few hundred bytes, and a larger one is
/// refused rather than cut.
pub const MAX_HEAD: usize = 8192;

/// The line whose length is replaced.
const LENGTH: &[u8] = b"Content-Length:";

/// What follows the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// Nothing, and no length either (a 304).
    None,
    /// The length of a body that does not follow in the same buffer: an answer to HEAD, or
    /// a file sent after the head.
    Length(u64),
    /// The length, then the body.
    Bytes(&'a [u8]),
}

/// Whether `read`, the bytes read so far, ends with the blank line that ends a head.
pub fn complete(read: &[u8]) -> bool {
    read.ends_with(b"\r\n\r\n")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The first header line (its CRLF included) starting with `name`, compared without
/// regard to case, within the head block of `text` (up to its first blank line). The
/// status line is never one.
fn header_line(text: &[u8], name: &[u8]) -> Option<Range<usize>> {
    // `end` is where the CRLF of the last header line starts.
    let end = find(text, b"\r\n\r\n")?;
    let mut line = 0;
    while line < end {
        let next = line + find(&text[line..end + 2], b"\r\n")? + 2;
        // Longer than the name alone, so that the name lies inside the block.
        if line != 0
            && end - line > name.len()
            && text[line..line + name.len()].eq_ignore_ascii_case(name)
        {
            return Some(line..next);
        }
        line = next;
    }
    None
}

/// The answer to write: `head` without its `Content-Length` line, then, for a body, the
/// body's length as the last header and the body. None when `head` is not a whole head
/// shorter than [`MAX_HEAD`] (it must not reach the client cut), or when memory runs out.
pub fn frame(head: &[u8], body: Body<'_>) -> Option<Vec<u8>> {
    if head.len() >= MAX_HEAD || !complete(head) {
        return None;
    }
    let bytes = match body {
        Body::Bytes(b) => b,
        _ => &[],
    };
    let mut out = Vec::new();
    // Room for the length line too (at most 39 bytes); a body too large for memory is
    // refused, not a reason to abort Asterisk.
    out.try_reserve_exact(head.len() + 48 + bytes.len()).ok()?;
    match header_line(head, LENGTH) {
        Some(line) => {
            out.extend_from_slice(&head[..line.start]);
            out.extend_from_slice(&head[line.end..]);
        }
        None => out.extend_from_slice(head),
    }
    let len = match body {
        Body::None => return Some(out),
        Body::Length(len) => len,
        Body::Bytes(b) => b.len() as u64,
    };
    if out.ends_with(b"\r\n") {
        // The head ends with its blank line: the length goes just before it.
        out.truncate(out.len() - 2);
        write!(out, "Content-Length: {len}\r\n\r\n").ok()?;
        out.extend_from_slice(bytes);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: Asterisk\r\nContent-Type: text/plain\r\n\
                          Content-Length: 0\r\nCache-Control: no-cache\r\n\r\n";

    #[test]
    fn a_304_loses_its_length() {
        let out = frame(HEAD, Body::None).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nServer: Asterisk\r\nContent-Type: text/plain\r\n\
              Cache-Control: no-cache\r\n\r\n"
        );
    }

    #[test]
    fn a_body_gets_its_own_length_and_follows_the_head() {
        let body = b"a\0b\0\xff";
        let out = frame(HEAD, Body::Bytes(body)).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nServer: Asterisk\r\nContent-Type: text/plain\r\n\
              Cache-Control: no-cache\r\nContent-Length: 5\r\n\r\na\0b\0\xff"
        );
    }

    #[test]
    fn head_gets_the_length_alone() {
        let out = frame(HEAD, Body::Length(4096)).unwrap();
        assert!(out.ends_with(b"no-cache\r\nContent-Length: 4096\r\n\r\n"));
        assert_eq!(frame(HEAD, Body::Bytes(b"")), frame(HEAD, Body::Length(0)));
        // A file past 4 GiB: its whole length.
        let out = frame(HEAD, Body::Length(5 << 30)).unwrap();
        assert!(out.ends_with(b"Content-Length: 5368709120\r\n\r\n"));
    }

    #[test]
    fn the_length_line_is_found_in_any_case_and_only_the_first_goes() {
        let head = b"HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\nX: 1\r\n\
                     CONTENT-LENGTH: 7\r\n\r\n";
        assert_eq!(
            frame(head, Body::None).unwrap(),
            b"HTTP/1.1 304 Not Modified\r\nX: 1\r\nCONTENT-LENGTH: 7\r\n\r\n"
        );
    }

    #[test]
    fn the_last_header_line_can_be_the_length() {
        let head = b"HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            frame(head, Body::Bytes(b"xy")).unwrap(),
            b"HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: 2\r\n\r\nxy"
        );
    }

    #[test]
    fn the_status_line_and_a_bare_name_are_kept() {
        // A status line is never a header, however it reads; a line holding only the
        // name is not taken either (nothing after it inside the block).
        let head = b"Content-Length: 1\r\nContent-Length:\r\n\r\n";
        assert_eq!(frame(head, Body::None).unwrap(), head);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length:x\r\n\r\n";
        assert_eq!(frame(head, Body::None).unwrap(), b"HTTP/1.1 200 OK\r\n\r\n");
    }

    #[test]
    fn without_a_length_line_the_head_is_kept_whole() {
        let head = b"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n";
        assert_eq!(frame(head, Body::None).unwrap(), head);
        assert_eq!(
            frame(head, Body::Length(3)).unwrap(),
            b"HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn a_cut_or_oversized_head_is_refused() {
        assert_eq!(frame(b"", Body::None), None);
        assert_eq!(frame(b"HTTP/1.1 200 OK\r\nX: 1\r\n", Body::None), None);
        assert_eq!(frame(&HEAD[..HEAD.len() - 1], Body::Bytes(b"x")), None);
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_HEAD - 4, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(big.len(), MAX_HEAD);
        assert_eq!(frame(&big, Body::None), None);
        big.remove(20);
        assert!(frame(&big, Body::None).is_some());
    }

    #[test]
    fn complete_wants_the_blank_line_at_the_end() {
        assert!(complete(b"\r\n\r\n"));
        assert!(complete(HEAD));
        assert!(!complete(b"\r\n\r"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\n\r\nx"));
        assert!(!complete(b""));
    }
}
