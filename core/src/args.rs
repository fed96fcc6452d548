//! Asterisk's small text conventions, reimplemented: argument splitting as dialplan
//! applications and functions see it, whitespace stripping and truth values.

/// Splits `input` the way Asterisk's standard argument parser does, into at most `max`
/// arguments. Every argument but the last is scanned: parentheses and square brackets nest
/// (a delimiter inside them does not split), double quotes group and, with `remove_chars`,
/// are dropped, and a backslash makes the next character literal (dropped with
/// `remove_chars`). The last argument is the raw rest of the input. A trailing delimiter
/// yields one more, empty, argument.
pub fn separate_args(input: &str, delim: char, remove_chars: bool, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    if max == 0 {
        return out;
    }
    let chars: Vec<char> = input.chars().collect();
    let mut pos = 0;
    let (mut paren, mut bracket, mut quote) = (0u32, 0u32, false);
    let mut ended_on_delim = false;
    while pos < chars.len() && out.len() < max - 1 {
        let mut arg = String::new();
        ended_on_delim = false;
        while pos < chars.len() {
            let c = chars[pos];
            pos += 1;
            match c {
                '(' => paren += 1,
                ')' => paren = paren.saturating_sub(1),
                '[' => bracket += 1,
                ']' => bracket = bracket.saturating_sub(1),
                '"' if delim != '"' => {
                    quote = !quote;
                    if remove_chars {
                        continue;
                    }
                }
                '\\' => {
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
        out.push(chars[pos..].iter().collect());
    }
    out
}

/// Trims leading and trailing white space as C's `isspace` sees it.
pub fn strip(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
}

/// Asterisk's notion of a true configuration value.
pub fn is_true(s: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        separate_args(s, ',', true, 2)
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
        assert_eq!(separate_args(r"a\,b,c", ',', false, 2), [r"a\,b", "c"]);
        assert_eq!(split("a\\"), ["a"]);
    }

    #[test]
    fn other_delimiters() {
        assert_eq!(separate_args("NAME = v=1", '=', true, 2), ["NAME ", " v=1"]);
    }

    #[test]
    fn strip_and_truth() {
        assert_eq!(strip("\t a b \n"), "a b");
        assert!(is_true("Yes") && is_true("on") && is_true("1"));
        assert!(!is_true("no") && !is_true("") && !is_true("2"));
    }
}
