//! A fast path for Asterisk substitution: a template made only of literal text and plain
//! `${NAME}` references is rendered in Rust, with exactly Asterisk's result; anything else
//! (functions, expressions, substrings, nesting, built-in names) goes to Asterisk.
//!
//! Asterisk copies text up to the next `${` or `$[` (a lone `$` is literal), looks a plain
//! name up first among its built-in names, then in the variable list (first match), then in
//! the global variables; a name found nowhere renders empty.

use crate::host::Host;
use crate::vars::Vars;

/// Names Asterisk answers itself, before any variable list.
const BUILTIN: [&str; 15] = [
    "EPOCH",
    "SYSTEMNAME",
    "ENTITYID",
    "ASTCACHEDIR",
    "ASTETCDIR",
    "ASTMODDIR",
    "ASTVARLIBDIR",
    "ASTDBDIR",
    "ASTKEYDIR",
    "ASTDATADIR",
    "ASTAGIDIR",
    "ASTSPOOLDIR",
    "ASTRUNDIR",
    "ASTLOGDIR",
    "ASTSBINDIR",
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(std::ops::Range<usize>),
    Var(std::ops::Range<usize>),
}

/// A template, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    text: String,
    /// None when Asterisk must render it.
    pieces: Option<Vec<Piece>>,
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !BUILTIN.contains(&name)
}

fn parse_pieces(text: &str) -> Option<Vec<Piece>> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(off) = text[i..].find('$') {
        let at = i + off;
        match bytes.get(at + 1) {
            Some(b'[') => return None,
            Some(b'{') => {
                let name_start = at + 2;
                let end = name_start + text[name_start..].find('}')?;
                let name = &text[name_start..end];
                if !plain_name(name) {
                    return None;
                }
                if at > start {
                    pieces.push(Piece::Text(start..at));
                }
                pieces.push(Piece::Var(name_start..end));
                start = end + 1;
                i = start;
            }
            _ => i = at + 1,
        }
    }
    if start < text.len() {
        pieces.push(Piece::Text(start..text.len()));
    }
    Some(pieces)
}

impl Template {
    pub fn parse(text: &str) -> Template {
        Template {
            text: text.to_owned(),
            pieces: parse_pieces(text),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether Rust can render it (given the variables it names can be found).
    pub fn is_plain(&self) -> bool {
        self.pieces.is_some()
    }

    /// The names it refers to, when plain.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().flatten().filter_map(|p| match p {
            Piece::Var(r) => Some(&self.text[r.clone()]),
            Piece::Text(_) => None,
        })
    }

    /// Renders into `out` when plain: `lookup(name, out)` appends the value of a name and
    /// says whether it knew it. False (with `out` left as it was) when the template is not
    /// plain or a name was unknown: then Asterisk must render it.
    pub fn render_into(
        &self,
        out: &mut String,
        mut lookup: impl FnMut(&str, &mut String) -> bool,
    ) -> bool {
        let Some(pieces) = &self.pieces else {
            return false;
        };
        let mark = out.len();
        for p in pieces {
            match p {
                Piece::Text(r) => out.push_str(&self.text[r.clone()]),
                Piece::Var(r) => {
                    if !lookup(&self.text[r.clone()], out) {
                        out.truncate(mark);
                        return false;
                    }
                }
            }
        }
        true
    }
}

/// Whether Asterisk would see these variables under other names (a leading `_` marks an
/// inherited variable, which Asterisk looks up without it).
pub fn has_inherited(vars: &Vars) -> bool {
    vars.iter().any(|(k, _)| k.starts_with('_'))
}

/// Renders `template` with `vars`: in Rust when every name is in `vars`, else by the host.
pub fn render(host: &dyn Host, template: &Template, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.text.len() + 32);
    let found = !has_inherited(vars)
        && template.render_into(&mut out, |name, out| match vars.find(name) {
            Some(v) => {
                out.push_str(v);
                true
            }
            None => false,
        });
    if found {
        out
    } else {
        host.substitute(&template.text, vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::FakeHost;

    fn plain(t: &str) -> bool {
        Template::parse(t).is_plain()
    }

    #[test]
    fn what_is_plain() {
        assert!(plain("no variables at all"));
        assert!(plain("a ${MAC}.cfg and ${USER_NAME2} $ 5$ $$ {x} }"));
        assert!(plain(""));
        assert!(!plain("${TOLOWER(${MAC})}"));
        assert!(!plain("$[1+1]"));
        assert!(!plain("${MAC:0:4}"));
        assert!(!plain("${EPOCH}"));
        assert!(!plain("${_INHERITED}"));
        assert!(!plain("${${NAME}}"));
        assert!(!plain("${}"));
        assert!(!plain("unclosed ${MAC"));
        assert!(!plain("${A B}"));
    }

    #[test]
    fn renders_like_asterisk() {
        let vars: Vars = [("MAC", "0004f2"), ("A", "1"), ("A", "2"), ("EMPTY", "")]
            .into_iter()
            .collect();
        let host = FakeHost::default();
        let t = Template::parse("<${MAC}|${A}|${EMPTY}|$|${A}>");
        assert_eq!(render(&host, &t, &vars), "<0004f2|1||$|1>");
        let names: Vec<_> = t.names().collect();
        assert_eq!(names, ["MAC", "A", "EMPTY", "A"]);
    }

    #[test]
    fn unknown_names_and_non_plain_templates_go_to_the_host() {
        struct Marker;
        impl Host for Marker {
            fn substitute(&self, t: &str, _: &Vars) -> String {
                format!("host:{t}")
            }
            fn tz(&self, _: Option<&str>) -> crate::host::TzInfo {
                Default::default()
            }
            fn log(&self, _: crate::host::Level, _: &str) {}
        }
        let vars: Vars = [("MAC", "m")].into_iter().collect();
        assert_eq!(render(&Marker, &Template::parse("${MAC}"), &vars), "m");
        assert_eq!(
            render(&Marker, &Template::parse("${GLOBAL}"), &vars),
            "host:${GLOBAL}"
        );
        assert_eq!(
            render(&Marker, &Template::parse("$[1]"), &vars),
            "host:$[1]"
        );
        let inherited: Vars = [("_X", "1"), ("MAC", "m")].into_iter().collect();
        assert_eq!(
            render(&Marker, &Template::parse("${MAC}"), &inherited),
            "host:${MAC}"
        );
        let mut out = String::from("keep");
        assert!(!Template::parse("a${NOPE}").render_into(&mut out, |_, _| false));
        assert_eq!(out, "keep");
    }
}
