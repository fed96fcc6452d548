//! A fast path for Asterisk substitution: a template made only of literal text and plain
//! `${NAME}` references is rendered in Rust, with exactly Asterisk's result; anything else
//! (functions, expressions, substrings, nesting, built-in names) goes to Asterisk.
//!
//! Asterisk copies text up to the next `${` or `$[` (a lone `$` is literal), looks a plain
//! name up first among its built-in names, then in the variable list (first match), then in
//! the global variables; a name found nowhere renders empty.
//!
//! `${PP_XML(${NAME})}`, the module's own escaping function around a plain name, is plain
//! too: the value, XML-escaped.

use std::ops::Range;

use crate::config::vars::Vars;
use crate::host::Host;

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
    Text(Range<usize>),
    Var(Range<usize>),
    /// One of [`FUNCTIONS`], its argument text made of plain pieces.
    Func(&'static str, Vec<Piece>),
}

/// The module's own dialplan functions, which it can run without Asterisk. Asterisk
/// substitutes a function's argument first and hands the function the result; so does the
/// fast path.
pub const FUNCTIONS: [&str; 4] = ["PP_EACH_USER", "PP_EACH_EXTENSION", "PP_XML", "PP_QRCODE"];

/// Appends a variable's value to the output; false when it does not know the name.
pub type LookupFn<'a> = dyn FnMut(&[u8], &mut Vec<u8>) -> bool + 'a;
/// Appends what a function returns for an argument; false when it cannot run it.
pub type CallFn<'a> = dyn FnMut(&str, &[u8], &mut Vec<u8>) -> bool + 'a;

/// A template, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    text: Vec<u8>,
    /// None when Asterisk must render it.
    pieces: Option<Vec<Piece>>,
}

fn plain_name(name: &[u8]) -> bool {
    !name.is_empty()
        && !name.starts_with(b"_")
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && !BUILTIN.iter().any(|b| b.as_bytes() == name)
}

/// The end (exclusive) of the `${...}` starting at `at`, found as Asterisk finds it.
fn closing(b: &[u8], at: usize) -> Option<usize> {
    let mut depth = 1;
    let mut i = at + 2;
    while depth > 0 {
        match (b.get(i)?, b.get(i + 1)) {
            (b'$', Some(b'{')) => {
                depth += 1;
                i += 1;
            }
            (b'{', _) => depth += 1,
            (b'}', _) => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    Some(i)
}

fn parse_pieces(text: &[u8], range: Range<usize>, nested: bool) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut start = range.start;
    let mut i = range.start;
    while let Some(off) = text[i..range.end].iter().position(|&b| b == b'$') {
        let at = i + off;
        match text.get(at + 1) {
            Some(b'[') if at + 1 < range.end => return None,
            Some(b'{') if at + 1 < range.end => {
                let end = closing(text, at).filter(|&e| e <= range.end)?;
                let inner = at + 2..end - 1;
                let body = &text[inner.clone()];
                let piece = if plain_name(body) {
                    Piece::Var(inner)
                } else {
                    let paren = body.iter().position(|&b| b == b'(')?;
                    let (name, rest) = (&body[..paren], &body[paren + 1..]);
                    let name = FUNCTIONS
                        .iter()
                        .find(|f| f.as_bytes() == name)
                        .filter(|_| !nested)?;
                    let args_end =
                        inner.start + name.len() + 1 + rest.iter().rposition(|&b| b == b')')?;
                    if args_end + 1 != inner.end {
                        return None;
                    }
                    let args = parse_pieces(text, inner.start + name.len() + 1..args_end, true)?;
                    Piece::Func(name, args)
                };
                if at > start {
                    pieces.push(Piece::Text(start..at));
                }
                pieces.push(piece);
                start = end;
                i = end;
            }
            _ => i = at + 1,
        }
    }
    if start < range.end {
        pieces.push(Piece::Text(start..range.end));
    }
    Some(pieces)
}

impl Template {
    pub fn parse(text: impl Into<Vec<u8>>) -> Template {
        let text = text.into();
        Template {
            pieces: parse_pieces(&text, 0..text.len(), false),
            text,
        }
    }

    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Whether Rust can render it (given the variables and functions it names).
    pub fn is_plain(&self) -> bool {
        self.pieces.is_some()
    }

    /// Whether rendering it may read the variable `name`: it names it, or it runs a
    /// function or Asterisk's substitution (which may read anything).
    pub fn may_read(&self, name: &[u8]) -> bool {
        let Some(pieces) = &self.pieces else {
            return true;
        };
        pieces.iter().any(|p| match p {
            Piece::Var(r) => &self.text[r.clone()] == name,
            Piece::Func(..) => true,
            Piece::Text(_) => false,
        })
    }

    /// The variable names it refers to (function arguments included), when plain.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        fn walk<'a>(text: &'a [u8], pieces: &'a [Piece], out: &mut Vec<&'a [u8]>) {
            for p in pieces {
                match p {
                    Piece::Var(r) => out.push(&text[r.clone()]),
                    Piece::Func(_, args) => walk(text, args, out),
                    Piece::Text(_) => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.text, self.pieces.as_deref().unwrap_or(&[]), &mut out);
        out.into_iter()
    }

    /// The functions it calls, when plain.
    pub fn functions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.pieces.iter().flatten().filter_map(|p| match p {
            Piece::Func(name, _) => Some(*name),
            _ => None,
        })
    }

    /// Renders into `out` when plain. `lookup(name, out)` appends a variable's value and
    /// says whether it knew it; `call(function, argument, out)` appends what a function
    /// returns and says whether it could run it. False (with `out` left as it was) when
    /// the template is not plain or either said no: then Asterisk must render it.
    pub fn render_into(&self, out: &mut Vec<u8>, lookup: &mut LookupFn, call: &mut CallFn) -> bool {
        let Some(pieces) = &self.pieces else {
            return false;
        };
        let mark = out.len();
        let done = render_pieces(&self.text, pieces, out, lookup, call);
        if !done {
            out.truncate(mark);
        }
        done
    }
}

fn render_pieces(
    text: &[u8],
    pieces: &[Piece],
    out: &mut Vec<u8>,
    lookup: &mut LookupFn,
    call: &mut CallFn,
) -> bool {
    for p in pieces {
        let ok = match p {
            Piece::Text(r) => {
                out.extend_from_slice(&text[r.clone()]);
                true
            }
            Piece::Var(r) => lookup(&text[r.clone()], out),
            Piece::Func(name, args) => {
                let mut arg = Vec::new();
                render_pieces(text, args, &mut arg, lookup, call) && call(name, &arg, out)
            }
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Runs the functions the core can run alone (PP_XML); the others need the module.
pub fn core_functions(name: &str, arg: &[u8], out: &mut Vec<u8>) -> bool {
    match name {
        "PP_XML" => {
            crate::render::xml::escape_into(out, arg);
            true
        }
        _ => false,
    }
}

/// Line and column (from 1, in characters when the line is UTF-8, else in bytes) of a
/// byte offset.
pub fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = match std::str::from_utf8(&before[start..]) {
        Ok(s) => s.chars().count(),
        Err(_) => before.len() - start,
    };
    (line, column + 1)
}

/// What Asterisk's substitution would stumble on in `text`: a `${` without its `}`, or a
/// function `exists` does not know. Each as (line, column, message).
pub fn problems(text: &[u8], exists: &dyn Fn(&str) -> bool) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let starts = (0..text.len().saturating_sub(1)).filter(|&i| text[i..].starts_with(b"${"));
    for at in starts {
        let (line, col) = line_col(text, at);
        let Some(end) = closing(text, at) else {
            out.push((line, col, "'${' without its closing '}'".to_owned()));
            continue;
        };
        let inner = &text[at + 2..end - 1];
        if let Some(paren) = inner.iter().position(|&b| b == b'(') {
            let name = &inner[..paren];
            let name = std::str::from_utf8(name)
                .ok()
                .filter(|n| !n.is_empty())
                .filter(|n| n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            if let Some(name) = name.filter(|n| !exists(n)) {
                out.push((line, col, format!("unknown function {name}()")));
            }
        }
    }
    out
}

/// Renders `template` with `vars`: in Rust when every name is in `vars` (and every function
/// is one the core runs), else by the host.
pub fn render(host: &dyn Host, template: &Template, vars: &Vars) -> Vec<u8> {
    let mut out = Vec::with_capacity(template.text.len() + 32);
    render_with(host, template, vars, &mut out);
    out
}

/// [`render`], appended to `out` (a buffer used again and again spares an allocation).
pub fn render_with(host: &dyn Host, template: &Template, vars: &Vars, out: &mut Vec<u8>) {
    let start = out.len();
    let found = !vars.has_inherited()
        && template.render_into(
            out,
            &mut |name, out| match vars.find(name) {
                Some(v) => {
                    out.extend_from_slice(v);
                    true
                }
                None => false,
            },
            &mut core_functions,
        );
    if !found {
        out.truncate(start);
        out.extend_from_slice(&host.substitute(&template.text, vars));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;

    fn plain(t: &str) -> bool {
        Template::parse(t).is_plain()
    }

    #[test]
    fn what_a_template_may_read() {
        let reads = |t: &str| Template::parse(t).may_read(b"PP_BASE_URL");
        assert!(!reads("${MAC}.xml <a>${SERVER}</a> PP_BASE_URL"));
        assert!(reads("x ${PP_BASE_URL}y"));
        // A function's items may name anything; so may Asterisk's substitution.
        assert!(reads("${PP_EACH_EXTENSION(${MAC},%{PP_BASE_URL})}"));
        assert!(reads("${CUT(a,b,1)}"));
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).expect("UTF-8 in these tests")
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
        assert!(plain("<n>${PP_XML(${DISPLAY_NAME})}</n>"));
        assert!(plain(
            "${PP_EACH_USER(<i n='%{PP_XML(%{USERNAME})}'/>,${MAC})}"
        ));
        assert!(plain("${PP_QRCODE(${PP_BASE_URL}${MAC}.xml)}"));
        assert!(!plain("${PP_XML(${TOLOWER(${A})})}"));
        assert!(!plain("${PP_XML(x)y}"));
        assert!(!plain("${OTHER_FUNC(x)}"));
    }

    #[test]
    fn renders_like_asterisk() {
        let vars: Vars = [("MAC", "0004f2"), ("A", "1"), ("A", "2"), ("EMPTY", "")]
            .into_iter()
            .collect();
        let host = FakeHost::default();
        let t = Template::parse("<${MAC}|${A}|${EMPTY}|$|${A}>");
        assert_eq!(text(render(&host, &t, &vars)), "<0004f2|1||$|1>");
        let names: Vec<_> = t.names().collect();
        assert_eq!(names, [&b"MAC"[..], b"A", b"EMPTY", b"A"]);
        let latin1: Vars = [(&b"N"[..], &b"J\xfcrgen"[..])].into_iter().collect();
        let t = Template::parse(&b"\xa9 ${N} ${PP_XML(${N})}"[..]);
        assert_eq!(render(&host, &t, &latin1), b"\xa9 J\xfcrgen J\xfcrgen");
        let vars: Vars = [("N", "Jane <User> & Co"), ("S", "ab&cd")]
            .into_iter()
            .collect();
        let t = Template::parse("<u n=\"${PP_XML(${N})}\">${PP_XML(x${S})}</u>${N}");
        assert_eq!(
            text(render(&host, &t, &vars)),
            "<u n=\"Jane &lt;User&gt; &amp; Co\">xab&amp;cd</u>Jane <User> & Co"
        );
        let each = Template::parse("${PP_EACH_USER(<i n='%{USERNAME}'/>,${MAC})}");
        let mut out = Vec::new();
        let mut seen = Vec::new();
        assert!(each.render_into(
            &mut out,
            &mut |n, o| {
                o.extend_from_slice(vars.find(n).unwrap_or(b"?"));
                true
            },
            &mut |f, a, o| {
                seen.push((f.to_owned(), text(a.to_vec())));
                o.extend_from_slice(b"items");
                true
            }
        ));
        assert_eq!(out, b"items");
        assert_eq!(
            seen,
            [(
                "PP_EACH_USER".to_owned(),
                "<i n='%{USERNAME}'/>,?".to_owned()
            )]
        );
        let vars: Vars = [("N", "Jane <User> & Co"), ("S", "ab&cd")]
            .into_iter()
            .collect();
        let t = Template::parse("<u n=\"${PP_XML(${N})}\">${PP_XML(${S})}</u>${N}");
        assert_eq!(
            text(render(&host, &t, &vars)),
            "<u n=\"Jane &lt;User&gt; &amp; Co\">ab&amp;cd</u>Jane <User> & Co"
        );
    }

    #[test]
    fn problems_are_located() {
        let exists = |n: &str| n == "TOLOWER";
        let text = "ok ${MAC}\n  ${TOLOWER(${MAC})} ${NOPE(x)}\n${BROKEN";
        let p = problems(text.as_bytes(), &exists);
        assert_eq!(
            p,
            [
                (2, 22, "unknown function NOPE()".to_owned()),
                (3, 1, "'${' without its closing '}'".to_owned())
            ]
        );
        assert!(problems(b"${PP_XML(${A})}", &|n| n == "PP_XML").is_empty());
        assert_eq!(line_col(b"\xfc\xfc${", 2), (1, 3));
    }

    #[test]
    fn unknown_names_and_non_plain_templates_go_to_the_host() {
        struct Marker;
        impl Host for Marker {
            fn substitute(&self, t: &[u8], _: &Vars) -> Vec<u8> {
                [&b"host:"[..], t].concat()
            }
            fn tz(&self, _: Option<&[u8]>) -> crate::host::TzInfo {
                Default::default()
            }
            fn log(&self, _: crate::host::Level, _: &str) {}
        }
        let vars: Vars = [("MAC", "m")].into_iter().collect();
        assert_eq!(render(&Marker, &Template::parse("${MAC}"), &vars), b"m");
        assert_eq!(
            render(&Marker, &Template::parse("${GLOBAL}"), &vars),
            b"host:${GLOBAL}"
        );
        assert_eq!(
            render(&Marker, &Template::parse("$[1]"), &vars),
            b"host:$[1]"
        );
        let inherited: Vars = [("_X", "1"), ("MAC", "m")].into_iter().collect();
        assert_eq!(
            render(&Marker, &Template::parse("${MAC}"), &inherited),
            b"host:${MAC}"
        );
        let mut out = b"keep".to_vec();
        assert!(!Template::parse("a${NOPE}").render_into(
            &mut out,
            &mut |_, _| false,
            &mut core_functions
        ));
        assert_eq!(out, b"keep");
    }
}
