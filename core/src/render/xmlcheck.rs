//! Whether a body is well-formed XML, and where it is not.

use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, PartialEq, Eq)]
pub struct XmlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

/// Checks that `text` is one well-formed XML document (tags balanced, attributes quoted,
/// entities known, exactly one root element).
pub fn check(text: &str) -> Result<(), XmlError> {
    let mut r = Reader::from_str(text);
    let mut depth = 0usize;
    let mut roots = 0usize;
    let err = |offset: usize, message: String| {
        let (line, column) = position(text, offset);
        Err(XmlError {
            line,
            column,
            message,
        })
    };
    loop {
        let at = r.buffer_position() as usize;
        match r.read_event() {
            Err(e) => return err(r.error_position() as usize, e.to_string()),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                for a in e.attributes() {
                    if let Err(e) = a {
                        return err(at, e.to_string());
                    }
                }
            }
            Ok(Event::Empty(e)) => {
                if depth == 0 {
                    roots += 1;
                }
                for a in e.attributes() {
                    if let Err(e) = a {
                        return err(at, e.to_string());
                    }
                }
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::GeneralRef(g)) => {
                let name = g.decode().map_err(|e| e.to_string());
                let known = matches!(name.as_deref(), Ok("amp" | "lt" | "gt" | "quot" | "apos"))
                    || g.resolve_char_ref().ok().flatten().is_some();
                if !known {
                    return err(at, format!("unknown entity &{};", name.unwrap_or_default()));
                }
            }
            Ok(Event::Text(t)) if depth == 0 => {
                if !t.iter().all(u8::is_ascii_whitespace) {
                    return err(at, "text outside the root element".into());
                }
            }
            Ok(_) => {}
        }
    }
    match (depth, roots) {
        (0, 1) => Ok(()),
        (0, 0) => err(text.len(), "no root element".into()),
        (0, _) => err(text.len(), "more than one root element".into()),
        _ => err(text.len(), "an element is not closed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_documents() {
        assert_eq!(
            check("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n"),
            Ok(())
        );
        let e = check("<a>\n  <b>Jane <User> & Co</b>\n</a>").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        let e = check("<a>\n<b></c>\n</a>").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(check("<a><b></b>").is_err());
        assert!(check("<a/><b/>").is_err());
        assert!(check("").is_err());
        assert!(check("<a>&nbsp;</a>").is_err());
        assert!(check("<a>&#65;</a>").is_ok());
    }
}
