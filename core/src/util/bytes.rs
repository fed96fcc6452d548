//! Configuration values, templates, variables and URIs are bytes, as in the C module: an
//! ISO-8859-1 users file or template passes through unchanged. Text for humans (log lines,
//! CLI messages) shows bytes that are not UTF-8 as U+FFFD; nothing served does.

use std::borrow::Cow;

/// `b` for a message: UTF-8 as is, other bytes as U+FFFD.
pub fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `b` as text for consumers that need Unicode (Linphone's XML, which declares UTF-8, and
/// the XML checker): UTF-8 sequences as they are, every other byte read as ISO-8859-1, so
/// a Latin-1 value becomes the same letters in UTF-8 instead of U+FFFD.
pub fn utf8_or_latin1(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(b.len() + 16);
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|&c| char::from(c)));
    }
    Cow::Owned(out)
}

/// The first position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// C's `isspace` in the C locale, which Asterisk's `ast_strip` and `sscanf` use (Rust's
/// `is_ascii_whitespace` leaves out the vertical tab).
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `s` without leading and trailing C white space (`ast_strip`).
pub fn strip(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_c_space(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// Every occurrence of `from` replaced by `to`.
pub fn replace(s: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = find(rest, from).filter(|_| !from.is_empty()) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(lossy(b"J\xfcrgen"), "J\u{fffd}rgen");
        assert_eq!(utf8_or_latin1(b"J\xfcrgen \xa7"), "Jürgen §");
        assert_eq!(utf8_or_latin1("Zoë".as_bytes()), "Zoë");
        assert_eq!(utf8_or_latin1(b"Zo\xc3\xab \xe9"), "Zoë é");
        assert_eq!(find(b"ab${c", b"${"), Some(2));
        assert_eq!(find(b"abc", b"x"), None);
        assert_eq!(strip(b" \x0b a\xe9 \t"), b"a\xe9");
        assert_eq!(strip(b"   "), b"");
        assert_eq!(replace(b"%{A}%{\xfc}", b"%{", b"${"), b"${A}${\xfc}");
    }
}
