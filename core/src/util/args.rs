//! Asterisk's small text conventions, reimplemented: argument splitting as dialplan
//! applications and functions see it, whitespace stripping and truth values.

/// Splits `input` the way Asterisk's standard argument parser does, into at most `max`
/// arguments. Every argument but the last is scanned: parentheses and square brackets nest
/// (a delimiter inside them does not split), double quotes group and, with `remove_chars`,
/// are dropped, and a backslash makes the next character literal (dropped with
/// `remove_chars`). The last argument is the raw rest of the input. A trailing delimiter
/// yields one more, empty, argument.
pub fn separate_args(input: &[u8], delim: u8, remove_chars: bool, max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if max == 0 {
        return out;
    }
    let chars = input;
    let mut pos = 0;
    let (mut paren, mut bracket, mut quote) = (0u32, 0u32, false);
    let mut ended_on_delim = false;
    while pos < chars.len() && out.len() < max - 1 {
        let mut arg = Vec::new();
        ended_on_delim = false;
        while pos < chars.len() {
            let c = chars[pos];
            pos += 1;
            match c {
                b'(' => paren += 1,
                b')' => paren = paren.saturating_sub(1),
                b'[' => bracket += 1,
                b']' => bracket = bracket.saturating_sub(1),
                b'"' if delim != b'"' => {
                    quote = !quote;
                    if remove_chars {
                        continue;
                    }
                }
                b'\\' => {
                    if !remove_chars {
                        arg.push(c);
                    }
                    // The next character is literal, whatever it is.
                    if pos < chars.len() {
                        arg.push(chars[pos]);
                        pos += 1;
                    }
                    continue;
                }
                c if c == delim && paren == 0 && bracket == 0 && !quote => {
                    ended_on_delim = true;
                    break;
                }
                _ => {}
            }
            arg.push(c);
        }
        out.push(arg);
    }
    if pos < chars.len() || ended_on_delim {
        out.push(chars[pos..].to_vec());
    }
    out
}

pub use crate::util::bytes::strip;

/// Asterisk's notion of a true configuration value.
pub fn is_true(s: &[u8]) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| t.as_bytes().eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        separate_args(s.as_bytes(), b',', true, 2)
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn two_args_keep_the_rest_raw() {
        assert_eq!(split("a,b,c"), ["a", "b,c"]);
        assert_eq!(split("file.cfg"), ["file.cfg"]);
        assert_eq!(split("file.cfg, text/xml"), ["file.cfg", " text/xml"]);
        assert_eq!(split("a,"), ["a", ""]);
        assert_eq!(split(""), Vec::<String>::new());
    }

    #[test]
    fn quotes_group_and_are_removed_from_scanned_args_only() {
        assert_eq!(
            split(r#"<k c="x,y">,"00:11""#),
            [r#"<k c=x,y>"#, r#""00:11""#]
        );
    }

    #[test]
    fn parentheses_and_brackets_nest() {
        assert_eq!(split("${F(a,b)},m"), ["${F(a,b)}", "m"]);
        assert_eq!(split("$[1,2],m"), ["$[1,2]", "m"]);
        assert_eq!(split("a)b,c"), ["a)b", "c"]);
    }

    #[test]
    fn backslash_makes_next_literal() {
        assert_eq!(split(r"a\,b,c"), ["a,b", "c"]);
        assert_eq!(
            separate_args(br"a\,b,c", b',', false, 2),
            [&br"a\,b"[..], b"c"]
        );
        assert_eq!(split("a\\"), ["a"]);
    }

    #[test]
    fn other_delimiters() {
        assert_eq!(
            separate_args(b"NAME = v=1", b'=', true, 2),
            [&b"NAME "[..], b" v=1"]
        );
    }

    #[test]
    fn strip_and_truth() {
        assert_eq!(strip(b"\t a b \n"), b"a b");
        assert!(is_true(b"Yes") && is_true(b"on") && is_true(b"1"));
        assert!(!is_true(b"no") && !is_true(b"") && !is_true(b"2"));
    }
}
