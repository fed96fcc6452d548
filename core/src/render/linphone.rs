//! Linphone remote provisioning: a template written in linphonerc (INI) form, served as
//! the XML liblinphone reads (`lpconfig.xsd`). Every entry gets `overwrite="true"` (the
//! server wins), except keys written with a leading `~`, which only set a default the user
//! may change. liblinphone honours `overwrite` on entries only, never on sections.

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

pub const NAMESPACE: &str = "http://www.linphone.org/xsds/lpconfig.xsd";

#[derive(Debug, PartialEq, Eq)]
pub struct IniError {
    pub line: usize,
    pub message: String,
}

struct Section<'a> {
    name: &'a str,
    entries: Vec<(&'a str, &'a str, bool)>,
}

fn parse(ini: &str) -> Result<Vec<Section<'_>>, IniError> {
    let mut sections: Vec<Section> = Vec::new();
    for (n, raw) in ini.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let err = |message: &str| IniError {
            line: n + 1,
            message: message.to_owned(),
        };
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| err("a section header needs a closing ]"))?
                .trim();
            if name.is_empty() {
                return Err(err("a section needs a name"));
            }
            sections.push(Section {
                name,
                entries: Vec::new(),
            });
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| err("expected key=value or [section]"))?;
        let section = sections
            .last_mut()
            .ok_or_else(|| err("an entry before any [section]"))?;
        let key = key.trim();
        let (key, overwrite) = match key.strip_prefix('~') {
            Some(k) => (k.trim(), false),
            None => (key, true),
        };
        if key.is_empty() {
            return Err(err("an entry needs a name"));
        }
        section.entries.push((key, value.trim(), overwrite));
    }
    Ok(sections)
}

/// Converts a rendered linphonerc to Linphone's provisioning XML.
pub fn to_xml(ini: &str) -> Result<String, IniError> {
    let sections = parse(ini)?;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let io = |e: std::io::Error| IniError {
        line: 0,
        message: e.to_string(),
    };
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io)?;
    w.create_element("config")
        .with_attributes([
            ("xmlns", NAMESPACE),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            (
                "xsi:schemaLocation",
                "http://www.linphone.org/xsds/lpconfig.xsd lpconfig.xsd",
            ),
        ])
        .write_inner_content(|w| {
            for s in &sections {
                w.create_element("section")
                    .with_attribute(("name", s.name))
                    .write_inner_content(|w| {
                        for (key, value, overwrite) in &s.entries {
                            let mut e = w.create_element("entry").with_attribute(("name", *key));
                            if *overwrite {
                                e = e.with_attribute(("overwrite", "true"));
                            }
                            e.write_text_content(BytesText::new(value))?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })
        .map_err(io)?;
    let mut out = String::from_utf8(w.into_inner()).expect("the writer writes UTF-8");
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linphonerc as the Linphone app writes one (trimmed), with hostile values.
    const RC: &str = "\
[sip]
sip_port=5060
sip_tcp_port=5060
default_proxy=0
register_only_when_network_is_up=1
~ping_with_options=0

# an account
[proxy_0]
reg_proxy=<sip:pbx.example.com;transport=tcp>
reg_identity=\"Jane <User> & Co\" <sip:6001@pbx.example.com>
reg_expires=3600
reg_sendregister=1

[auth_info_0]
username=6001
passwd=ab&cd\"'<>
realm=asterisk
domain=pbx.example.com

[video_codec_0]
mime=H264
rate=90000
enabled=1
";

    #[test]
    fn converts_a_linphonerc() {
        let xml = to_xml(RC).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(xml.contains(&format!("<config xmlns=\"{NAMESPACE}\"")));
        assert!(xml.contains("<section name=\"proxy_0\">"));
        assert!(xml.contains(
            "<entry name=\"reg_proxy\" overwrite=\"true\">&lt;sip:pbx.example.com;transport=tcp&gt;</entry>"
        ));
        assert!(xml.contains("<entry name=\"ping_with_options\">0</entry>"));
        assert!(xml.contains("ab&amp;cd"));
        // Parsed back, every value is intact.
        let mut r = quick_xml::Reader::from_str(&xml);
        let mut texts = Vec::new();
        loop {
            match r.read_event().unwrap() {
                Event::Text(t) => texts.push(t.decode().unwrap().into_owned()),
                Event::GeneralRef(g) => {
                    let resolved = match &*g.decode().unwrap() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("entity {other}"),
                    };
                    match texts.last_mut() {
                        Some(t) => t.push_str(resolved),
                        None => texts.push(resolved.to_owned()),
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let joined = texts.join("");
        assert!(
            joined.contains("\"Jane <User> & Co\" <sip:6001@pbx.example.com>"),
            "{joined}"
        );
        assert!(joined.contains("ab&cd\"'<>"), "{joined}");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(to_xml("k=v").unwrap_err().line, 1);
        assert_eq!(to_xml("[s]\n\nnot an entry").unwrap_err().line, 3);
        assert_eq!(to_xml("[s\nk=v").unwrap_err().line, 1);
        assert!(to_xml("").unwrap().contains("<config"));
    }
}
