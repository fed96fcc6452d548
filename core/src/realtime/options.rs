//! Dynamic lookup mode (`[general] users_realtime = FAMILY`): a request for a phone that is
//! not in memory names its MAC in the URI; the phone is looked up in that realtime family
//! and cached. This part is pure: the options, and reading a MAC out of a URI.
//!
//! A dynamic file's URI template can be matched only when it holds nothing but literal text
//! and the MAC as `${MAC}`, `${TOLOWER(${MAC})}` or `${TOUPPER(${MAC})}` (any number of
//! times); the MAC in a URI is 12 hexadecimal digits, or more (up to [`MAX_MAC_LEN`]) for
//! a softphone account, whose "MAC" is a long random key. Other templates
//! (`${USERNAME}.xml`) are served for phones in memory only.

use crate::config::conf::ConfigFile;
use crate::config::vars::Text;
use crate::host::Diag;
use crate::host::Level;
use crate::util::args::strip;

pub const DEFAULT_TTL: u64 = 60;
pub const DEFAULT_CACHE_SIZE: usize = 10_000;
/// Hexadecimal digits of a MAC as phones put it in a URI.
pub const MAC_LEN: usize = 12;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealtimeOptions {
    /// The extconfig family phones are looked up in (e.g. `phoneprov_users`).
    pub family: Vec<u8>,
    /// Seconds a phone found (or not found) is served from the cache.
    pub ttl: u64,
    /// Phones kept; as many unknown MACs are remembered besides.
    pub cache_size: usize,
}

/// The realtime options of `[general]` while it is being read.
#[derive(Default)]
pub struct RealtimeParse {
    family: Option<Vec<u8>>,
    ttl: Option<u64>,
    cache_size: Option<usize>,
}

/// An extconfig family name: printable ASCII without blanks, as Asterisk's own are.
fn family_ok(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= 80 && name.iter().all(|b| b.is_ascii_graphic())
}

impl RealtimeParse {
    /// Takes `key = value` if it is a realtime option (true).
    pub fn take(&mut self, where_: &str, key: &[u8], value: &[u8], diags: &mut Vec<Diag>) -> bool {
        let value = strip(value);
        let mut bad = |key: &[u8]| diags.push(Diag::ignored(where_, key, value, "valid"));
        let number = || std::str::from_utf8(value).ok()?.trim().parse::<u64>().ok();
        if key.eq_ignore_ascii_case(b"users_realtime") {
            match family_ok(value) {
                true => self.family = Some(value.to_vec()),
                false => bad(key),
            }
        } else if key.eq_ignore_ascii_case(b"realtime_cache_ttl") {
            match number() {
                Some(n) => self.ttl = Some(n),
                None => bad(key),
            }
        } else if key.eq_ignore_ascii_case(b"realtime_cache_size") {
            match number().and_then(|n| usize::try_from(n).ok()) {
                Some(n) => self.cache_size = Some(n),
                None => bad(key),
            }
        } else {
            return false;
        }
        true
    }

    pub fn finish(self, where_: &str, diags: &mut Vec<Diag>) -> Option<RealtimeOptions> {
        let Some(family) = self.family else {
            if self.ttl.is_some() || self.cache_size.is_some() {
                diags.push(Diag::new(
                    Level::Warning,
                    format!("{where_}: realtime_cache_* set without users_realtime - ignored"),
                ));
            }
            return None;
        };
        Some(RealtimeOptions {
            family,
            ttl: self.ttl.unwrap_or(DEFAULT_TTL),
            cache_size: self.cache_size.unwrap_or(DEFAULT_CACHE_SIZE),
        })
    }
}

/// The longest "MAC" read: a softphone account has none, and is given a long random key
/// instead (docs/phones.md: `openssl rand -hex 12`, 24 digits).
pub const MAX_MAC_LEN: usize = 64;

/// A MAC (12 hexadecimal digits) or a softphone account's key (more of them, up to
/// [`MAX_MAC_LEN`]), kept inline: a cache key costs no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac {
    len: u8,
    bytes: [u8; MAX_MAC_LEN],
}

impl Mac {
    /// None unless `text` is 12 to [`MAX_MAC_LEN`] hexadecimal digits.
    pub fn new(text: &[u8]) -> Option<Mac> {
        if !(MAC_LEN..=MAX_MAC_LEN).contains(&text.len()) || !text.iter().all(u8::is_ascii_hexdigit)
        {
            return None;
        }
        let mut bytes = [0u8; MAX_MAC_LEN];
        bytes[..text.len()].copy_from_slice(text);
        Some(Mac {
            len: u8::try_from(text.len()).ok()?,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn to_lower(mut self) -> Mac {
        self.bytes.make_ascii_lowercase();
        self
    }
}

impl std::fmt::Debug for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A MAC read out of a URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoundMac {
    /// In lower case: what the cache is keyed by.
    pub key: Mac,
    /// As the URI (its first occurrence) spells it.
    pub written: Mac,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    AsStored,
    Lower,
    Upper,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Mac(Case),
}

/// A dynamic file's URI template, as far as a MAC can be read back out of a URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacPattern {
    pieces: Vec<Piece>,
}

const FORMS: [(&[u8], Case); 3] = [
    (b"${MAC}", Case::AsStored),
    (b"${TOLOWER(${MAC})}", Case::Lower),
    (b"${TOUPPER(${MAC})}", Case::Upper),
];

impl MacPattern {
    /// None when the template cannot be matched: no MAC, or another expression in it.
    pub fn compile(template: &[u8]) -> Option<MacPattern> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut rest = template;
        while let Some(&b) = rest.first() {
            if let Some((form, case)) = FORMS.iter().find(|(f, _)| rest.starts_with(f)) {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Mac(*case));
                rest = &rest[form.len()..];
                continue;
            }
            if b == b'$' && matches!(rest.get(1), Some(b'{') | Some(b'[')) {
                return None;
            }
            literal.push(b);
            rest = &rest[1..];
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        pieces
            .iter()
            .any(|p| matches!(p, Piece::Mac(_)))
            .then_some(MacPattern { pieces })
    }

    /// The MAC `uri` holds if it has this pattern's shape (every occurrence must name the
    /// same MAC, whatever the case).
    ///
    /// A MAC is the run of hexadecimal digits (of the case the template asks for) up to
    /// what follows it: 12 of them for a phone, more for a softphone account's key. When
    /// what follows could itself start with a hexadecimal digit (another MAC, or text such
    /// as `a.cfg`), the run cannot tell where it ends: exactly 12 are taken then.
    pub fn extract(&self, uri: &[u8]) -> Option<FoundMac> {
        let mut rest = uri;
        let mut found: Option<FoundMac> = None;
        for (i, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Literal(text) => rest = rest.strip_prefix(&text[..])?,
                Piece::Mac(case) => {
                    let digit_ok = |b: &u8| match case {
                        Case::AsStored => b.is_ascii_hexdigit(),
                        Case::Lower => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
                        Case::Upper => b.is_ascii_digit() || (b'A'..=b'F').contains(b),
                    };
                    let run = rest.iter().take_while(|b| digit_ok(b)).count();
                    let open_ended = match self.pieces.get(i + 1) {
                        None => true,
                        Some(Piece::Literal(next)) => {
                            !next.first().is_some_and(u8::is_ascii_hexdigit)
                        }
                        Some(Piece::Mac(_)) => false,
                    };
                    let len = if open_ended { run } else { run.min(MAC_LEN) };
                    let written = Mac::new(&rest[..len])?;
                    let key = written.to_lower();
                    match found {
                        Some(f) if f.key != key => return None,
                        Some(_) => {}
                        None => found = Some(FoundMac { key, written }),
                    }
                    rest = &rest[len..];
                }
            }
        }
        if rest.is_empty() {
            found
        } else {
            None
        }
    }
}

/// The spellings of a MAC to look up, in order: as the URI wrote it, then in lower and in
/// upper case (a database may store either; mixed case is not looked for).
pub fn spellings(as_written: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![as_written.to_vec()];
    for form in [
        as_written.to_ascii_lowercase(),
        as_written.to_ascii_uppercase(),
    ] {
        if !out.contains(&form) {
            out.push(form);
        }
    }
    out
}

/// The rows of a lookup as users-file sections: a row needs no `autoprov` column (being in
/// the table is enough; one that sets it to a false value is still skipped), and its
/// `section` column, if any, names it (drivers name a row after the value looked up).
pub fn rows_as_sections(rows: &mut ConfigFile) {
    for cat in &mut rows.categories {
        if let Some(section) = cat.get("section").filter(|s| !s.is_empty()) {
            cat.name = section.to_vec();
        }
        if cat.get("autoprov").is_none() {
            cat.vars
                .push((b"autoprov".to_vec(), Text::from(&b"yes"[..])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Option<Mac> {
        Mac::new(s.as_bytes())
    }

    fn key(p: &MacPattern, uri: &[u8]) -> Option<Mac> {
        p.extract(uri).map(|f| f.key)
    }

    #[test]
    fn a_softphone_accounts_longer_key_is_read_too() {
        let p = MacPattern::compile(b"linphone/${MAC}.xml").unwrap();
        let account = "9f86d081884c7d659a2feaa0";
        assert_eq!(
            key(&p, format!("linphone/{account}.xml").as_bytes()),
            mac(account)
        );
        let long = "a".repeat(MAX_MAC_LEN + 1);
        assert_eq!(key(&p, format!("linphone/{long}.xml").as_bytes()), None);
        // What follows starts with a hexadecimal digit: exactly 12.
        let p = MacPattern::compile(b"${MAC}a.cfg").unwrap();
        assert_eq!(key(&p, b"0004f2abcdefa.cfg"), mac("0004f2abcdef"));
        assert_eq!(key(&p, b"0004f2abcdef00a.cfg"), None);
        let p = MacPattern::compile(b"${MAC}${TOLOWER(${MAC})}").unwrap();
        assert_eq!(key(&p, b"0004F2ABCDEF0004f2abcdef"), mac("0004f2abcdef"));
    }

    #[test]
    fn forms_of_the_mac_are_matched() {
        let p = MacPattern::compile(b"${MAC}.cfg").unwrap();
        let found = p.extract(b"0004F2AbCdEf.cfg").unwrap();
        assert_eq!(Some(found.key), mac("0004f2abcdef"));
        assert_eq!(Some(found.written), mac("0004F2AbCdEf"));
        assert_eq!(key(&p, b"0004f2abcdef.cfgx"), None);
        assert_eq!(key(&p, b"0004f2abcde.cfg"), None);
        assert_eq!(key(&p, b"0004f2abcdeg.cfg"), None);

        let p = MacPattern::compile(b"yealink/${TOLOWER(${MAC})}.cfg").unwrap();
        assert_eq!(key(&p, b"yealink/0015651234ab.cfg"), mac("0015651234ab"));
        assert_eq!(key(&p, b"yealink/0015651234AB.cfg"), None);
        assert_eq!(key(&p, b"other/0015651234ab.cfg"), None);

        let p = MacPattern::compile(b"SEP${TOUPPER(${MAC})}.cnf.xml").unwrap();
        assert_eq!(key(&p, b"SEP0015651234AB.cnf.xml"), mac("0015651234ab"));
        assert_eq!(key(&p, b"SEP0015651234ab.cnf.xml"), None);
    }

    #[test]
    fn every_occurrence_names_the_same_mac() {
        let p = MacPattern::compile(b"${MAC}/${TOLOWER(${MAC})}-x").unwrap();
        assert_eq!(key(&p, b"AABBCCDDEEFF/aabbccddeeff-x"), mac("aabbccddeeff"));
        assert_eq!(key(&p, b"AABBCCDDEEFF/aabbccddee00-x"), None);
    }

    #[test]
    fn other_expressions_cannot_be_matched() {
        assert_eq!(MacPattern::compile(b"${USERNAME}.xml"), None);
        assert_eq!(MacPattern::compile(b"${MAC}-${USERNAME}.xml"), None);
        assert_eq!(MacPattern::compile(b"$[1+1]${MAC}"), None);
        assert_eq!(MacPattern::compile(b"static.cfg"), None);
        assert!(MacPattern::compile(b"cost$5-${MAC}").is_some());
    }

    #[test]
    fn spellings_to_look_up() {
        assert_eq!(
            spellings(b"aabbccddeeFF"),
            vec![
                b"aabbccddeeFF".to_vec(),
                b"aabbccddeeff".to_vec(),
                b"AABBCCDDEEFF".to_vec()
            ]
        );
        assert_eq!(spellings(b"001122334455"), vec![b"001122334455".to_vec()]);
    }

    #[test]
    fn rows_become_sections() {
        use crate::config::conf::Category;
        let mut rows = ConfigFile {
            name: "realtime".into(),
            categories: vec![
                Category::new("0004f2000001", &[("section", "6001"), ("profile", "p")]),
                Category::new("0004f2000001", &[("autoprov", "no")]),
            ],
        };
        rows_as_sections(&mut rows);
        assert_eq!(rows.categories[0].name, b"6001");
        assert_eq!(rows.categories[0].get("autoprov"), Some(&b"yes"[..]));
        assert_eq!(rows.categories[1].name, b"0004f2000001");
        assert_eq!(rows.categories[1].get("autoprov"), Some(&b"no"[..]));
    }

    #[test]
    fn options_are_read_with_defaults() {
        let mut diags = Vec::new();
        let mut p = RealtimeParse::default();
        assert!(p.take("g", b"users_realtime", b" phoneprov_users ", &mut diags));
        assert!(p.take("g", b"realtime_cache_ttl", b"5", &mut diags));
        assert!(!p.take("g", b"serveraddr", b"x", &mut diags));
        let o = p.finish("g", &mut diags).unwrap();
        assert_eq!(o.family, b"phoneprov_users");
        assert_eq!((o.ttl, o.cache_size), (5, DEFAULT_CACHE_SIZE));
        assert!(diags.is_empty());

        let mut p = RealtimeParse::default();
        assert!(p.take("g", b"realtime_cache_size", b"lots", &mut diags));
        assert!(p.take("g", b"users_realtime", b"two words", &mut diags));
        assert_eq!(diags.len(), 2);
        assert_eq!(p.finish("g", &mut diags), None);
    }
}
