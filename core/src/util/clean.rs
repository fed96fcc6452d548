//! Text a client chose (user names, User-Agents, URIs, upload names, token paths) made safe,
//! once, where it enters the module, for every place a human or a log parser reads it: log
//! lines, security events, AMI events and CLI output.
//!
//! Asterisk writes such text as given (`res_security_log` prints `AccountID="%s"`): a
//! newline in a Basic user name would start a line of the client's choosing in
//! security.log, which fail2ban would read as an event about anyone; a `"` would end a field
//! early. A [`Clean`] can only be made by escaping, so a function that takes one (the
//! security event's account, say) cannot be handed raw request bytes.
//!
//! The rule (docs/security.md says the same): bytes that are not UTF-8 become U+FFFD; every
//! control character (U+0000 to U+001F, U+007F to U+009F), `"`, `\` and the Unicode line
//! and paragraph separators (U+2028, U+2029) become `\xNN` (two lowercase hex digits of the
//! code point) or `\u2028` / `\u2029`; the result is at most [`Clean::LIMIT`] bytes, cut at a
//! character or escape and then ended with `...`.

use std::fmt;

/// Text from a request, escaped (see the module's comment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clean(String);

impl Clean {
    /// The longest text a [`Clean`] holds, in bytes, `...` included: long enough for a
    /// User-Agent or a provisioning URI, short enough that one header cannot fill a log.
    pub const LIMIT: usize = 256;

    /// `raw` escaped and bounded.
    pub fn new(raw: &[u8]) -> Clean {
        let mut out = String::with_capacity(raw.len().min(Clean::LIMIT));
        // Room kept for the "..." of a cut.
        let room = Clean::LIMIT - 3;
        let mut cut = false;
        'all: for chunk in raw.utf8_chunks() {
            // An invalid sequence stands for one U+FFFD, as in String::from_utf8_lossy.
            let bad = (!chunk.invalid().is_empty()).then_some('\u{fffd}');
            for c in chunk.valid().chars().chain(bad) {
                let mut buf = [0u8; 8];
                let piece: &str = match c {
                    '"' | '\\' | '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => {
                        let code = u32::from(c);
                        let hex = b"0123456789abcdef";
                        buf[..2].copy_from_slice(b"\\x");
                        buf[2] = hex[(code >> 4) as usize & 0xf];
                        buf[3] = hex[code as usize & 0xf];
                        // ASCII only, written just above.
                        std::str::from_utf8(&buf[..4]).unwrap_or("?")
                    }
                    '\u{2028}' => "\\u2028",
                    '\u{2029}' => "\\u2029",
                    c => c.encode_utf8(&mut buf),
                };
                if out.len() + piece.len() > room {
                    cut = true;
                    break 'all;
                }
                out.push_str(piece);
            }
        }
        if cut {
            out.push_str("...");
        }
        Clean(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Clean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Clean;

    #[test]
    fn plain_text_is_kept() {
        let ua = b"Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc";
        assert_eq!(Clean::new(ua).as_bytes(), ua);
        assert_eq!(Clean::new("Zoë".as_bytes()).as_str(), "Zoë");
    }

    #[test]
    fn line_breaks_quotes_and_backslashes_are_escaped() {
        let c = Clean::new(b"x\n[2024] SECURITY: \"a\\b\"\r\t\x7f\0");
        assert_eq!(
            c.as_str(),
            r"x\x0a[2024] SECURITY: \x22a\x5cb\x22\x0d\x09\x7f\x00"
        );
        assert!(!c.as_str().contains(['\n', '\r', '"']));
        assert_eq!(
            Clean::new("a\u{85}b\u{2028}c\u{2029}".as_bytes()).as_str(),
            r"a\x85b\u2028c\u2029"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_become_the_replacement_character() {
        assert_eq!(Clean::new(b"a\xffb\xe9").as_str(), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn long_text_is_cut_at_an_escape_and_marked() {
        let long = vec![b'a'; 1000];
        let c = Clean::new(&long);
        assert_eq!(c.as_str().len(), Clean::LIMIT);
        assert!(c.as_str().ends_with("a..."));
        let newlines = vec![b'\n'; 1000];
        let c = Clean::new(&newlines);
        assert!(c.as_str().len() <= Clean::LIMIT);
        // Whole escapes only, then the mark.
        assert!(c.as_str().strip_suffix("...").unwrap().ends_with("\\x0a"));
        let exact = vec![b'b'; Clean::LIMIT - 3];
        assert_eq!(Clean::new(&exact).as_str().len(), Clean::LIMIT - 3);
    }
}
