//! XML escaping for values inserted into XML templates (`${PP_XML(...)}`).

/// `s` made safe for XML text and attribute values (double- or single-quoted): the five
/// markup characters become entities, and the control characters and the UTF-8 of U+FFFE
/// and U+FFFF, which XML 1.0 cannot carry, are dropped. Other bytes pass unchanged, so a
/// value keeps the encoding the template's declaration names (ISO-8859-1 or UTF-8).
pub fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&apos;"),
            b'\t' | b'\n' | b'\r' => out.push(b),
            0..=0x1f => {}
            0xef if matches!(s.get(i + 1..i + 3), Some([0xbf, 0xbe | 0xbf])) => i += 2,
            _ => out.push(b),
        }
        i += 1;
    }
}

pub fn escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        String::from_utf8(escape(s.as_bytes())).unwrap()
    }

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(esc("Jane <User> & Co"), "Jane &lt;User&gt; &amp; Co");
        assert_eq!(esc(r#"a"b'c"#), "a&quot;b&apos;c");
        assert_eq!(esc("tab\there\u{1}\u{0}"), "tab\there");
        assert_eq!(
            esc("Zoë, Łukasz\u{fffe}\u{ffff}\u{fffd}"),
            "Zoë, Łukasz\u{fffd}"
        );
        assert_eq!(escape(b"J\xfcrgen & \xa7"), b"J\xfcrgen &amp; \xa7");
    }
}
