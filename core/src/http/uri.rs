//! Request URIs and file paths: what a request may name and what a configuration may serve.

use std::borrow::Cow;

/// Why a request URI is refused before any lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriError {
    /// A `%00`: C code would see a shorter URI than the client sent.
    Nul,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a request path as Asterisk's HTTP server does (`+` is a space), keeping
/// malformed escapes literally. The result is bytes, as routes are: `%FC` is the byte
/// 0xFC, which an ISO-8859-1 configuration may name.
pub fn decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, UriError> {
    // Most paths have nothing to decode: no copy for those.
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return match raw.contains(&0) {
            true => Err(UriError::Nul),
            false => Ok(Cow::Borrowed(raw)),
        };
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        let escaped = match (b, raw.get(i + 1), raw.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (b, escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if out.contains(&0) {
        return Err(UriError::Nul);
    }
    Ok(Cow::Owned(out))
}

/// Whether a configured file name stays below `AST_DATA_DIR/phoneprov`: no `..` component,
/// no NUL. A leading `/` is harmless: names are appended to `AST_DATA_DIR/phoneprov/`, as the
/// C module does.
pub fn is_contained(path: &[u8]) -> bool {
    !path.is_empty() && !path.contains(&0) && path.split(|&b| b == b'/').all(|c| c != b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert!(matches!(decode(b"sip.cfg"), Ok(Cow::Borrowed(b"sip.cfg"))));
        assert_eq!(&*decode(b"a%2Fb%2fc").unwrap(), b"a/b/c");
        assert_eq!(&*decode(b"a+b%20c").unwrap(), b"a b c");
        assert_eq!(&*decode(b"100%").unwrap(), b"100%");
        assert_eq!(&*decode(b"%zz%4").unwrap(), b"%zz%4");
        assert_eq!(&*decode(b"%C3%A9").unwrap(), "\u{e9}".as_bytes());
        assert_eq!(&*decode(b"%FF").unwrap(), b"\xff");
        assert_eq!(decode(b"sip.cfg%00.txt"), Err(UriError::Nul));
        assert_eq!(
            &*decode(b"%2e%2e/%2e%2e/etc/passwd").unwrap(),
            b"../../etc/passwd"
        );
    }

    #[test]
    fn containment() {
        assert!(is_contained(b"configs/sip.cfg"));
        assert!(is_contained(b"a..b/..c"));
        assert!(!is_contained(b"../etc/passwd"));
        assert!(!is_contained(b"configs/../../x"));
        assert!(is_contained(b"/configs/sip.cfg"));
        assert!(!is_contained(b""));
    }
}
