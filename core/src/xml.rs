//! XML escaping for values inserted into XML templates (`${PP_XML(...)}`).

/// `s` made safe for XML text and attribute values (double- or single-quoted): the five
/// markup characters become entities, and control characters XML 1.0 cannot carry are
/// dropped.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(escape("Jane <User> & Co"), "Jane &lt;User&gt; &amp; Co");
        assert_eq!(escape(r#"a"b'c"#), "a&quot;b&apos;c");
        assert_eq!(escape("tab\there\u{1}\u{0}"), "tab\there");
        assert_eq!(escape("Zoë, Łukasz"), "Zoë, Łukasz");
    }
}
