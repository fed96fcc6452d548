//! Files phones send back with PUT (Polycom: `<MAC>-phone.cfg` overrides, `<MAC>-web.cfg`,
//! `<MAC>-app.log`...): the `uploads` patterns of a profile, the `upload_max` size limit,
//! which request names a pattern accepts, and the name a file is stored under.
//!
//! A pattern is rendered per phone like a dynamic URI; `*` in it stands for any run of
//! [name characters](is_name_byte). The literal text before the first `*` must hold the
//! phone's MAC: that prefix alone tells which phone a request name belongs to, and no
//! phone can write into another's directory. Files are stored as
//! `AST_SPOOL_DIR/phoneprov/uploads/<MAC>/<last component of the name>`, so whatever the
//! request says, nothing is written outside that directory. So that two names never share
//! one file, a pattern has no `*` before its last `/`, and of a phone's patterns in
//! different directories whose file names could be the same only the first is kept
//! ([`may_share_files`]).

use crate::util::args::separate_args;
use crate::util::bytes::strip;

/// `upload_max` when neither the profile nor `[general]` sets it.
pub const DEFAULT_MAX: u64 = 1024 * 1024;

/// Longest stored file name (a common file system limit).
pub const MAX_NAME: usize = 255;

/// Bytes a stored name (and what `*` matches) may hold: letters, digits, `.`, `_`, `-`.
/// No `/`, `\`, `%`, NUL, blanks or control characters: a name is one path component with
/// nothing for a shell, a log line or a URL to reinterpret.
pub fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Whether `name` may be a file (or MAC directory) name below the uploads directory: 1 to
/// [`MAX_NAME`] name bytes, not starting with `.` (so never `.` or `..`, and never the
/// hidden temporary files uploads are written to first).
pub fn is_safe_component(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name[0] != b'.'
        && name.iter().copied().all(is_name_byte)
}

/// The name a file uploaded as `name` is stored under: its last path component, if that is
/// [safe](is_safe_component).
pub fn stored_name(name: &[u8]) -> Option<&[u8]> {
    let last = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    is_safe_component(last).then_some(last)
}

/// The patterns of an `uploads = PATTERN[,PATTERN...]` line, trimmed, empty ones left out.
/// Commas inside `${...(...)}` do not split (Asterisk's argument rules).
pub fn parse_patterns(value: &[u8]) -> Vec<Vec<u8>> {
    separate_args(value, b',', false, usize::MAX)
        .iter()
        .map(|p| strip(p).to_vec())
        .filter(|p| !p.is_empty())
        .collect()
}

/// A size: bytes, or with a `K` or `M` suffix (binary: 1K = 1024). None when malformed or 0.
pub fn parse_size(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?.trim();
    let (digits, unit) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1024),
        b'm' | b'M' => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    let n: u64 = digits.trim_end().parse().ok()?;
    n.checked_mul(unit).filter(|&n| n > 0)
}

/// The literal text of a rendered pattern before its first `*`.
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern
        .iter()
        .position(|&b| b == b'*')
        .unwrap_or(pattern.len());
    &pattern[..end]
}

/// Whether `name` is what `pattern` describes: its literal bytes as written, each `*` any
/// run (possibly empty) of [name bytes](is_name_byte).
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative glob with one backtrack point: linear in practice, never exponential.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star.filter(|&(_, sn)| is_name_byte(name[sn])) {
            // The star takes one more byte, which must be a name byte.
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Why a pattern rendered for the phone `mac` cannot be used, if it cannot.
pub fn pattern_problem(pattern: &[u8], mac: &[u8]) -> Option<&'static str> {
    if !is_safe_component(mac) {
        return Some("the phone's MAC is no plain file name (letters, digits, '.', '_', '-')");
    }
    let prefix = literal_prefix(pattern);
    let holds_mac = !mac.is_empty()
        && prefix
            .windows(mac.len())
            .any(|w| w.eq_ignore_ascii_case(mac));
    if !holds_mac {
        return Some("the text before its first '*' must hold the phone's MAC");
    }
    let dir_ok = pattern
        .split(|&b| b == b'/')
        .all(|c| !c.is_empty() && c != b"." && c != b"..")
        && !pattern.iter().any(|&b| b == 0 || b == b'\\');
    if !dir_ok {
        return Some("it names a path with an empty, '.' or '..' component or a backslash");
    }
    if split_last(pattern).0.contains(&b'*') {
        return Some(
            "a '*' before its last '/' would store names of different directories in one file",
        );
    }
    // With every `*` standing for one name byte, the last component must be a safe name.
    let last = pattern.rsplit(|&b| b == b'/').next().unwrap_or(pattern);
    let sample: Vec<u8> = last
        .iter()
        .map(|&b| if b == b'*' { b'x' } else { b })
        .collect();
    if !is_safe_component(&sample) {
        return Some(
            "its file name must be letters, digits, '.', '_' and '-' (not starting with '.')",
        );
    }
    None
}

/// A name's directory part (up to and with its last `/`, empty when none) and its last
/// component.
fn split_last(name: &[u8]) -> (&[u8], &[u8]) {
    match name.iter().rposition(|&b| b == b'/') {
        Some(i) => name.split_at(i + 1),
        None => (&[][..], name),
    }
}

/// Whether some name matches both `a` and `b` (patterns as [`matches`] reads them).
pub fn overlap(a: &[u8], b: &[u8]) -> bool {
    // reach[i * (m + 1) + j]: some text matches both a[..i] and b[..j].
    let (n, m) = (a.len(), b.len());
    let mut reach = vec![false; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    reach[0] = true;
    for i in 0..=n {
        for j in 0..=m {
            if !reach[at(i, j)] {
                continue;
            }
            let (x, y) = (a.get(i).copied(), b.get(j).copied());
            // A star may end here.
            if x == Some(b'*') {
                reach[at(i + 1, j)] = true;
            }
            if y == Some(b'*') {
                reach[at(i, j + 1)] = true;
            }
            match (x, y) {
                // One star takes the other pattern's literal byte and goes on.
                (Some(b'*'), Some(c)) if c != b'*' && is_name_byte(c) => reach[at(i, j + 1)] = true,
                (Some(c), Some(b'*')) if c != b'*' && is_name_byte(c) => reach[at(i + 1, j)] = true,
                (Some(c), Some(d)) if c == d && c != b'*' => reach[at(i + 1, j + 1)] = true,
                _ => {}
            }
        }
    }
    reach[at(n, m)]
}

/// Whether two usable patterns of one phone could have different names stored in one file
/// (only the last component of a name is kept): their directories differ and some file
/// name matches both last components.
pub fn may_share_files(a: &[u8], b: &[u8]) -> bool {
    let ((dir_a, last_a), (dir_b, last_b)) = (split_last(a), split_last(b));
    dir_a != dir_b && overlap(last_a, last_b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::bytes::lossy;

    #[test]
    fn globbing() {
        assert!(matches(b"0004f2-phone.cfg", b"0004f2-phone.cfg"));
        assert!(!matches(b"0004f2-phone.cfg", b"0004f2-phone.cfgx"));
        assert!(!matches(b"0004f2-phone.cfg", b"0004f2-phone.cf"));
        assert!(matches(b"0004f2-*.log", b"0004f2-app.log"));
        assert!(matches(b"0004f2-*.log", b"0004f2-.log"));
        assert!(matches(b"0004f2-*.log", b"0004f2-a.b.log"));
        assert!(!matches(b"0004f2-*.log", b"0004f2-app.txt"));
        assert!(matches(b"logs/0004f2-*.log", b"logs/0004f2-boot.log"));
        assert!(matches(b"m-*-*.log", b"m-a-b-c.log"));
        assert!(matches(b"m*", b"m"));
        // A star never crosses a directory or matches what is not a name byte.
        for bad in [
            &b"0004f2-a/b.log"[..],
            b"0004f2-../x.log",
            b"0004f2-a\\b.log",
            b"0004f2-a%2fb.log",
            b"0004f2-a\0.log",
            b"0004f2-a b.log",
            b"0004f2-\xc3\xa9.log",
        ] {
            assert!(!matches(b"0004f2-*.log", bad), "{:?}", bad);
        }
        // Backtracking stays linear on hostile input.
        let name = [b'a'; 4000];
        assert!(!matches(b"a*a*a*a*a*b", &name));
    }

    #[test]
    fn stored_names_are_one_safe_component() {
        assert_eq!(stored_name(b"m-phone.cfg"), Some(&b"m-phone.cfg"[..]));
        assert_eq!(stored_name(b"logs/m-app.log"), Some(&b"m-app.log"[..]));
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"x/..",
            b"logs/",
            b"a/..",
            b".upload-1",
            b"a\\..\\b",
            b"a b",
            b"a\0b",
            b"%2e%2e",
            b"caf\xc3\xa9",
        ] {
            assert_eq!(stored_name(bad), None, "{:?}", bad);
        }
        // Whatever the directories say, only the last component names the file.
        assert_eq!(stored_name(b"../../etc/x"), Some(&b"x"[..]));
        assert!(is_safe_component(&[b'a'; 255]));
        assert!(!is_safe_component(&[b'a'; 256]));
    }

    #[test]
    fn patterns_and_sizes() {
        assert_eq!(
            parse_patterns(b" ${MAC}-phone.cfg , ${MAC}-*.log,,${TOLOWER(${MAC},x)}-web.cfg "),
            [
                b"${MAC}-phone.cfg".to_vec(),
                b"${MAC}-*.log".to_vec(),
                b"${TOLOWER(${MAC},x)}-web.cfg".to_vec()
            ]
        );
        assert_eq!(parse_size(b"1048576"), Some(1 << 20));
        assert_eq!(parse_size(b" 64k "), Some(65536));
        assert_eq!(parse_size(b"2M"), Some(2 << 20));
        assert_eq!(parse_size(b"0"), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"1G"), None);
        assert_eq!(parse_size(b"99999999999999999999M"), None);
        assert_eq!(parse_size(b""), None);
    }

    #[test]
    fn pattern_problems() {
        let mac = b"0004f2000001";
        assert_eq!(pattern_problem(b"0004f2000001-phone.cfg", mac), None);
        assert_eq!(pattern_problem(b"logs/0004F2000001-*.log", mac), None);
        assert_eq!(pattern_problem(b"0004f2000001/*", mac), None);
        assert!(pattern_problem(b"*-0004f2000001.log", mac).is_some());
        assert!(pattern_problem(b"phone.cfg", mac).is_some());
        assert!(pattern_problem(b"0004f2000001-phone.cfg", b"").is_some());
        assert!(pattern_problem(b"00:04-phone.cfg", b"00:04").is_some());
        assert!(pattern_problem(b"../x-phone.cfg", b"..").is_some());
        assert!(pattern_problem(b"../0004f2000001-phone.cfg", mac).is_some());
        assert!(pattern_problem(b"0004f2000001//x.cfg", mac).is_some());
        assert!(pattern_problem(b"0004f2000001/", mac).is_some());
        assert!(pattern_problem(b"0004f2000001-a b.cfg", mac).is_some());
        assert!(pattern_problem(b"0004f2000001\\x.cfg", mac).is_some());
        assert!(pattern_problem(b"x/.0004f2000001", mac).is_some());
        // A star in a directory: m-a/x.log and m-b/x.log would both be stored as x.log.
        assert!(pattern_problem(b"0004f2000001-*/x.log", mac).is_some());
        assert!(pattern_problem(b"0004f2000001*/x/y.log", mac).is_some());
    }

    #[test]
    fn overlapping_patterns() {
        assert!(overlap(b"m-*.log", b"m-app.log"));
        assert!(overlap(b"m-*.log", b"m-*.log"));
        assert!(overlap(b"m-*.log", b"*-app.*"));
        assert!(overlap(b"*", b""));
        assert!(overlap(b"m*", b"*m"));
        assert!(overlap(b"a*b*c", b"*bc"));
        assert!(!overlap(b"m-*.log", b"m-phone.cfg"));
        assert!(!overlap(b"*x", b"*y"));
        assert!(!overlap(b"m-*.log", b"n-*.log"));
        assert!(!overlap(b"m-app.log", b"m-app.lo"));
        // A star takes only name bytes.
        assert!(!overlap(b"m*", b"m b"));
        assert!(!overlap(b"m-*", b"m-\xff"));
        // What overlap says agrees with matches on every name of a small alphabet.
        let pats: [&[u8]; 8] = [b"a*", b"*a", b"a*b", b"*", b"ab", b"a*a*", b"b*b", b"*ba*"];
        let mut names: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=4 {
            for k in 0..(1u32 << len) {
                names.push((0..len).map(|i| b"ab"[(k >> i) as usize & 1]).collect());
            }
        }
        for p in pats {
            for q in pats {
                let both = names.iter().any(|n| matches(p, n) && matches(q, n));
                assert_eq!(overlap(p, q), both, "{:?} {:?}", lossy(p), lossy(q));
            }
        }
    }

    #[test]
    fn patterns_sharing_files() {
        assert!(may_share_files(b"logs/m-*.log", b"m-*.log"));
        assert!(may_share_files(b"logs/m-*.log", b"m-app.log"));
        assert!(may_share_files(b"a/m-x.cfg", b"b/m-x.cfg"));
        // Same directory: the same name is the same file, as it should be.
        assert!(!may_share_files(b"logs/m-*.log", b"logs/m-app.log"));
        assert!(!may_share_files(b"m-*.log", b"m-*"));
        // No file name in common.
        assert!(!may_share_files(b"logs/m-*.log", b"m-phone.cfg"));
    }
}
