//! HTTP authentication for provisioning files: the `Authorization` header parser, Digest
//! (RFC 7616, MD5 and SHA-256, `qop=auth`) and Basic, nonces that carry their issue time
//! under a keyed tag (HMAC-SHA-256: checked without a table, and not to be guessed), and a
//! bounded table of the nonce counts authenticated users have used, which refuses a count
//! seen before.
//!
//! MD5 and SHA-256 come from RustCrypto's `md-5` and `sha2`, HMAC from its `hmac`: small,
//! widely used, audited crates, rather than hand-written hashes.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::Sha256;

use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lower-case hex of the hash of `parts` joined by `:`.
    pub fn hex(self, parts: &[&[u8]]) -> String {
        let mut out = [0u8; 64];
        let n = self.hex_into(parts, &mut out);
        String::from_utf8_lossy(&out[..n]).into_owned()
    }

    /// [`Algorithm::hex`] into `out`, without allocating (the Digest check runs per request);
    /// the number of hex digits written.
    fn hex_into(self, parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
        fn run<D: sha2::Digest>(parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
            let mut h = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    h.update(b":");
                }
                h.update(p);
            }
            let digest = h.finalize();
            for (i, b) in digest.iter().enumerate() {
                out[2 * i] = HEX_DIGITS[usize::from(b >> 4)];
                out[2 * i + 1] = HEX_DIGITS[usize::from(b & 15)];
            }
            digest.len() * 2
        }
        match self {
            Algorithm::Md5 => run::<Md5>(parts, out),
            Algorithm::Sha256 => run::<Sha256>(parts, out),
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The bytes of lower-case or upper-case hex digits; None if `text` is anything else.
pub fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    fn digit(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        s.push(char::from(HEX_DIGITS[usize::from(b & 15)]));
    }
    s
}

/// A Digest `Authorization` header's parameters, borrowed from the header (copied only where
/// a quoted value holds an escape): the check runs on every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestResponse<'a> {
    pub username: Cow<'a, [u8]>,
    pub realm: Cow<'a, [u8]>,
    pub nonce: Cow<'a, [u8]>,
    pub uri: Cow<'a, [u8]>,
    pub response: Cow<'a, [u8]>,
    /// None when the client named an algorithm we do not offer.
    pub algorithm: Option<Algorithm>,
    pub cnonce: Cow<'a, [u8]>,
    /// The nonce count as sent (eight hex digits), and its value.
    pub nc_raw: Cow<'a, [u8]>,
    pub nc: u32,
    pub qop: Cow<'a, [u8]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    Basic {
        username: Vec<u8>,
        password: Vec<u8>,
    },
    Digest(DigestResponse<'a>),
}

impl Credentials<'_> {
    pub fn username(&self) -> &[u8] {
        match self {
            Credentials::Basic { username, .. } => username,
            Credentials::Digest(d) => &d.username,
        }
    }
}

/// RFC 9110 token characters, a bit per byte value.
const TCHAR: [u64; 4] = {
    let mut t = [0u64; 4];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^'..=b'`' | b'|' | b'~')
        {
            t[b / 64] |= 1 << (b % 64);
        }
        b += 1;
    }
    t
};

#[inline(always)]
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b >> 6)] >> (b & 63) & 1 == 1
}

/// The first `"` or `\` of `s`, eight bytes at a time: quoted values (the nonce, the
/// response) are most of a header that comes with every authenticated request.
fn quote_or_escape(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    // The lowest byte of `w` equal to `b` has its high bit set (bytes above it may too).
    let equal = |w: u64, b: u8| {
        let x = w ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    let mut words = s.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let m = equal(w, b'"') | equal(w, b'\\');
        if m != 0 {
            return Some(i * 8 + (m.trailing_zeros() / 8) as usize);
        }
    }
    let rest = words.remainder();
    let at = s.len() - rest.len();
    rest.iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|p| at + p)
}

/// Hands each `name=value` pair of an auth-param list to `each` (its name as sent, its
/// value unquoted, copied only when a quoted value holds an escape); None when the list is
/// malformed or `each` says None.
fn params<'a>(
    mut s: &'a [u8],
    mut each: impl FnMut(&'a [u8], Cow<'a, [u8]>) -> Option<()>,
) -> Option<()> {
    let mut count = 0;
    loop {
        s = s.trim_ascii_start();
        while let [b',', rest @ ..] = s {
            s = rest.trim_ascii_start();
        }
        if s.is_empty() {
            return Some(());
        }
        let n = s.iter().position(|&b| !is_tchar(b)).unwrap_or(s.len());
        if n == 0 {
            return None;
        }
        let name = &s[..n];
        s = s[n..].trim_ascii_start();
        s = s.strip_prefix(b"=")?.trim_ascii_start();
        let value = if let [b'"', rest @ ..] = s {
            let end = quote_or_escape(rest)?;
            if rest[end] == b'"' {
                s = &rest[end + 1..];
                Cow::Borrowed(&rest[..end])
            } else {
                let mut v = rest[..end].to_vec();
                let mut i = end;
                loop {
                    match *rest.get(i)? {
                        b'"' => break,
                        b'\\' => {
                            v.push(*rest.get(i + 1)?);
                            i += 2;
                        }
                        b => {
                            v.push(b);
                            i += 1;
                        }
                    }
                }
                s = &rest[i + 1..];
                Cow::Owned(v)
            }
        } else {
            let n = s.iter().position(|&b| !is_tchar(b)).unwrap_or(s.len());
            let v = Cow::Borrowed(&s[..n]);
            s = &s[n..];
            v
        };
        count += 1;
        if count > 32 {
            return None;
        }
        each(name, value)?;
        s = s.trim_ascii_start();
        match s {
            [] => return Some(()),
            [b',', rest @ ..] => s = rest,
            _ => return None,
        }
    }
}

/// `data` in base64 (RFC 4648, padded): what a client sends for Basic credentials. The
/// module only decodes; tests and the fuzz target build headers with this.
pub fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s = s.trim_ascii();
    let s = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Parses an `Authorization` header value; None when it is neither a well-formed Basic nor
/// a well-formed Digest answer.
pub fn parse_authorization(header: &[u8]) -> Option<Credentials<'_>> {
    let header = header.trim_ascii();
    let n = header
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(header.len());
    let (scheme, rest) = header.split_at(n);
    if scheme.eq_ignore_ascii_case(b"Basic") {
        let decoded = base64_decode(rest)?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        return Some(Credentials::Basic {
            username: decoded[..colon].to_vec(),
            password: decoded[colon + 1..].to_vec(),
        });
    }
    if !scheme.eq_ignore_ascii_case(b"Digest") {
        return None;
    }
    let mut d = DigestResponse {
        algorithm: Some(Algorithm::Md5),
        ..DigestResponse::default()
    };
    params(rest, |name, value| {
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        let field = if is(b"username") {
            &mut d.username
        } else if is(b"realm") {
            &mut d.realm
        } else if is(b"nonce") {
            &mut d.nonce
        } else if is(b"uri") {
            &mut d.uri
        } else if is(b"response") {
            &mut d.response
        } else if is(b"cnonce") {
            &mut d.cnonce
        } else if is(b"qop") {
            &mut d.qop
        } else if is(b"nc") {
            let text = std::str::from_utf8(&value).ok()?;
            d.nc = u32::from_str_radix(text, 16).ok()?;
            &mut d.nc_raw
        } else if is(b"algorithm") {
            d.algorithm = if value.eq_ignore_ascii_case(b"MD5") {
                Some(Algorithm::Md5)
            } else if value.eq_ignore_ascii_case(b"SHA-256") {
                Some(Algorithm::Sha256)
            } else {
                None
            };
            return Some(());
        } else if is(b"username*") || is(b"userhash") {
            // `username*` and hashed user names are not offered.
            return None;
        } else {
            return Some(());
        };
        *field = value;
        Some(())
    })?;
    if d.username.is_empty() || d.nonce.is_empty() || d.response.is_empty() {
        return None;
    }
    Some(Credentials::Digest(d))
}

/// Equality in time independent of where the inputs differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A user's HA1 (RFC 7616 section 3.4.2: the hash of `user:realm:secret`) for both
/// algorithms offered, raw: what a Digest check needs of the secret, computed once per
/// phone when the snapshot is built rather than once per request.
/// Compared only in tests: a check compares what it makes of it in constant time.
#[derive(Clone)]
#[cfg_attr(test, derive(PartialEq, Eq))]
pub struct Ha1 {
    md5: [u8; 16],
    sha256: [u8; 32],
}

impl std::fmt::Debug for Ha1 {
    // Derived from the secret: not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ha1(..)")
    }
}

impl Ha1 {
    pub fn new(user: &[u8], realm: &[u8], secret: &[u8]) -> Ha1 {
        fn hash<D: sha2::Digest>(parts: [&[u8]; 3]) -> sha2::digest::Output<D> {
            let mut h = D::new();
            h.update(parts[0]);
            h.update(b":");
            h.update(parts[1]);
            h.update(b":");
            h.update(parts[2]);
            h.finalize()
        }
        let parts = [user, realm, secret];
        Ha1 {
            md5: hash::<Md5>(parts).into(),
            sha256: hash::<Sha256>(parts).into(),
        }
    }

    /// Both hashes in hex (MD5's, then SHA-256's): how it is kept in astdb.
    pub fn to_hex(&self) -> String {
        hex(&[&self.md5[..], &self.sha256[..]].concat())
    }

    /// What [`Ha1::to_hex`] wrote; None for anything else.
    pub fn from_hex(text: &[u8]) -> Option<Ha1> {
        let bytes = unhex(text)?;
        let (md5, sha256) = (bytes.get(..16)?, bytes.get(16..)?);
        Some(Ha1 {
            md5: md5.try_into().ok()?,
            sha256: sha256.try_into().ok()?,
        })
    }

    /// Whether both are of the same user, realm and secret (in constant time).
    pub fn same_as(&self, other: &Ha1) -> bool {
        same(&self.sha256, &other.sha256) && same(&self.md5, &other.md5)
    }

    /// In lower-case hex into `out`, as the response hash takes it; the number of digits.
    fn hex_into(&self, alg: Algorithm, out: &mut [u8; 64]) -> usize {
        let raw: &[u8] = match alg {
            Algorithm::Md5 => &self.md5,
            Algorithm::Sha256 => &self.sha256,
        };
        for (i, b) in raw.iter().enumerate() {
            out[2 * i] = HEX_DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = HEX_DIGITS[usize::from(b & 15)];
        }
        raw.len() * 2
    }
}

/// Whether a Digest answer proves knowledge of `password` for `method` (qop=auth only).
pub fn digest_matches(d: &DigestResponse<'_>, password: &[u8], method: &[u8]) -> bool {
    let Some(alg) = d.algorithm else {
        return false;
    };
    let mut ha1 = [0u8; 64];
    let n = alg.hex_into(&[&d.username, &d.realm, password], &mut ha1);
    response_matches(d, alg, &ha1[..n], method)
}

/// [`digest_matches`] with the user's HA1 computed beforehand: the caller vouches that it
/// was made of the answer's user name and realm.
pub fn digest_matches_ha1(d: &DigestResponse<'_>, ha1: &Ha1, method: &[u8]) -> bool {
    let Some(alg) = d.algorithm else {
        return false;
    };
    let mut hex = [0u8; 64];
    let n = ha1.hex_into(alg, &mut hex);
    response_matches(d, alg, &hex[..n], method)
}

/// Whether the answer's response is the one `ha1` (in hex) gives for `method`.
fn response_matches(d: &DigestResponse<'_>, alg: Algorithm, ha1: &[u8], method: &[u8]) -> bool {
    if *d.qop != *b"auth" || d.cnonce.is_empty() || d.nc_raw.is_empty() {
        return false;
    }
    let (mut ha2, mut expected) = ([0u8; 64], [0u8; 64]);
    let n = alg.hex_into(&[method, &d.uri], &mut ha2);
    alg.hex_into(
        &[ha1, &d.nonce, &d.nc_raw, &d.cnonce, &d.qop, &ha2[..n]],
        &mut expected,
    );
    // Clients may send the response in upper case; compared without copying it.
    d.response.len() == n
        && expected[..n]
            .iter()
            .zip(d.response.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y.to_ascii_lowercase()))
            == 0
}

/// The secret that tags nonces (random per module load), kept as HMAC's state once keyed:
/// every Digest request checks its nonce's tag, and cloning the keyed state saves the two
/// hash blocks of the key on each.
#[derive(Clone)]
pub struct NonceKey(Hmac<Sha256>);

impl NonceKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        NonceKey(<Hmac<Sha256> as Mac>::new_from_slice(&bytes).expect("HMAC takes any key length"))
    }

    fn tag(&self, issued: u64, serial: u64) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(&issued.to_be_bytes());
        mac.update(&serial.to_be_bytes());
        let mut hex_tag = [0u8; 32];
        for (i, b) in mac.finalize().into_bytes()[..16].iter().enumerate() {
            hex_tag[2 * i] = HEX_DIGITS[usize::from(b >> 4)];
            hex_tag[2 * i + 1] = HEX_DIGITS[usize::from(b & 15)];
        }
        hex_tag
    }

    /// A nonce: issue time and serial in hex, then their tag (64 hex digits in all).
    pub fn nonce(&self, issued: u64, serial: u64) -> String {
        let tag = self.tag(issued, serial);
        format!(
            "{issued:016x}{serial:016x}{}",
            String::from_utf8_lossy(&tag)
        )
    }

    /// Whether `nonce` was made with this key, and whether it is older than `ttl` seconds.
    /// Checked by its tag alone, with no table: what a client sends never takes room, so a
    /// flood of challenges cannot push out the nonces phones are using.
    pub fn check(&self, nonce: &[u8], now: u64, ttl: u64) -> NonceCheck {
        let Some((at, serial, tag)) = parse_nonce(nonce) else {
            return NonceCheck::Foreign;
        };
        if !same(&self.tag(at, serial), tag) {
            return NonceCheck::Foreign;
        }
        if now.saturating_sub(at) > ttl || at > now.saturating_add(5) {
            NonceCheck::Expired
        } else {
            NonceCheck::Valid { serial }
        }
    }
}

/// A nonce's issue time and serial (see [`NonceKey::nonce`]), and its tag.
fn parse_nonce(nonce: &[u8]) -> Option<(u64, u64, &[u8])> {
    if nonce.len() != 64 {
        return None;
    }
    let field = |r: std::ops::Range<usize>| {
        u64::from_str_radix(std::str::from_utf8(&nonce[r]).ok()?, 16).ok()
    };
    Some((field(0..16)?, field(16..32)?, &nonce[32..]))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    Valid {
        serial: u64,
    },
    /// Ours, but too old: the client is told `stale=true`.
    Expired,
    /// Not made with this key (forged, or from before a restart).
    Foreign,
}

/// The highest nonce count used with each (nonce, user) that authenticated: only a
/// request with valid credentials writes here, so only phones' sessions take room. Per
/// user, not per nonce: another user who sees a phone's nonce cannot use up its counts.
///
/// Bounded: the entry used first is forgotten first, and every nonce at or below the
/// highest serial forgotten is answered as stale when it has no entry (its count might
/// have been forgotten), so no count is ever accepted twice. Keyed by a hasher seeded per
/// table (std's `RandomState`): user names come from requests.
pub struct NonceCounts {
    capacity: usize,
    entries: HashMap<(u64, Box<[u8]>), u32, RandomState>,
    order: VecDeque<(u64, Box<[u8]>)>,
    /// The highest serial whose count was forgotten (0: none).
    forgotten: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NcCheck {
    /// `first`: the first count accepted for this nonce and user (a new session).
    Accepted { first: bool },
    /// A count not above one already used with this nonce by this user.
    Replayed,
    /// A nonce whose counts may have been forgotten: answered as stale.
    Unknown,
}

impl NonceCounts {
    pub fn new(capacity: usize) -> Self {
        NonceCounts {
            capacity: capacity.max(1),
            entries: HashMap::default(),
            order: VecDeque::new(),
            forgotten: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Uses count `nc` of the nonce `serial` (valid, see [`NonceKey::check`]) for `user`,
    /// whose answer was right.
    pub fn use_count(&mut self, serial: u64, user: &[u8], nc: u32) -> NcCheck {
        let key = (serial, Box::<[u8]>::from(user));
        if let Some(last) = self.entries.get_mut(&key) {
            if nc <= *last {
                return NcCheck::Replayed;
            }
            *last = nc;
            return NcCheck::Accepted { first: false };
        }
        if serial <= self.forgotten {
            return NcCheck::Unknown;
        }
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
                self.forgotten = self.forgotten.max(old.0);
            }
        }
        if nc == 0 {
            return NcCheck::Replayed;
        }
        self.entries.insert(key.clone(), nc);
        self.order.push_back(key);
        NcCheck::Accepted { first: true }
    }
}

/// A `WWW-Authenticate` header line (CRLF-terminated) for one algorithm.
pub fn digest_challenge(realm: &[u8], nonce: &str, alg: Algorithm, stale: bool) -> Vec<u8> {
    let mut h = b"WWW-Authenticate: Digest realm=\"".to_vec();
    h.extend_from_slice(realm);
    h.extend_from_slice(
        format!(
            "\", qop=\"auth\", algorithm={}, nonce=\"{nonce}\"{}\r\n",
            alg.name(),
            if stale { ", stale=true" } else { "" }
        )
        .as_bytes(),
    );
    h
}

pub fn basic_challenge(realm: &[u8]) -> Vec<u8> {
    [
        &b"WWW-Authenticate: Basic realm=\""[..],
        realm,
        b"\", charset=\"UTF-8\"\r\n",
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 section 3.9.1's example answer (Mufasa / Circle of Life, MD5).
    fn mufasa() -> DigestResponse<'static> {
        DigestResponse {
            username: Cow::Borrowed(&b"Mufasa"[..]),
            realm: Cow::Borrowed(&b"http-auth@example.org"[..]),
            nonce: Cow::Borrowed(&b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"[..]),
            uri: Cow::Borrowed(&b"/dir/index.html"[..]),
            algorithm: Some(Algorithm::Md5),
            cnonce: Cow::Borrowed(&b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"[..]),
            nc_raw: Cow::Borrowed(&b"00000001"[..]),
            nc: 1,
            qop: Cow::Borrowed(&b"auth"[..]),
            response: Cow::Borrowed(&b"8ca523f5e9506fed4657c9700eebdbec"[..]),
        }
    }

    #[test]
    fn rfc7616_examples() {
        // RFC 7616 section 3.9.1: Mufasa / Circle of Life, MD5 and SHA-256.
        let mut d = mufasa();
        assert!(digest_matches(&d, b"Circle of Life", b"GET"));
        assert!(!digest_matches(&d, b"Circle of life", b"GET"));
        d.algorithm = Some(Algorithm::Sha256);
        d.response =
            Cow::Borrowed(b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        assert!(digest_matches(&d, b"Circle of Life", b"GET"));
        assert!(!digest_matches(&d, b"Circle of Life", b"HEAD"));
    }

    #[test]
    fn ha1_computed_beforehand_checks_as_the_secret_does() {
        // The same RFC 7616 examples, from an HA1 made once of user, realm and secret.
        let ha1 = Ha1::new(b"Mufasa", b"http-auth@example.org", b"Circle of Life");
        let mut d = mufasa();
        assert!(digest_matches_ha1(&d, &ha1, b"GET"));
        assert!(!digest_matches_ha1(&d, &ha1, b"HEAD"));
        // Upper-case hex from the client is accepted, as with the secret.
        d.response = Cow::Owned(d.response.to_ascii_uppercase());
        assert!(digest_matches_ha1(&d, &ha1, b"GET"));
        let wrong = Ha1::new(b"Mufasa", b"http-auth@example.org", b"Circle of life");
        assert!(!digest_matches_ha1(&d, &wrong, b"GET"));
        d.algorithm = Some(Algorithm::Sha256);
        d.response =
            Cow::Borrowed(b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        assert!(digest_matches_ha1(&d, &ha1, b"GET"));
        assert!(!digest_matches_ha1(&d, &wrong, b"GET"));
        // Its hex is the hash of user:realm:secret, for each algorithm.
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let mut out = [0u8; 64];
            let n = ha1.hex_into(alg, &mut out);
            let parts: [&[u8]; 3] = [b"Mufasa", b"http-auth@example.org", b"Circle of Life"];
            assert_eq!(&out[..n], alg.hex(&parts).as_bytes());
        }
        // An algorithm not offered, or a qop other than auth, never matches.
        d.algorithm = None;
        assert!(!digest_matches_ha1(&d, &ha1, b"GET"));
        d.algorithm = Some(Algorithm::Sha256);
        d.qop = Cow::Borrowed(&b"auth-int"[..]);
        assert!(!digest_matches_ha1(&d, &ha1, b"GET"));
        assert_eq!(format!("{ha1:?}"), "Ha1(..)");
    }

    #[test]
    fn parses_digest_and_basic() {
        let h = br#"Digest username="Mufasa", realm="r\"x", nonce="abc",
            uri="/dir/index.html", algorithm=SHA-256, nc=0000000a, cnonce="c", qop=auth,
            response="ff", opaque="o""#;
        let Some(Credentials::Digest(d)) = parse_authorization(h) else {
            panic!("not parsed");
        };
        assert_eq!(&*d.username, b"Mufasa");
        assert_eq!(&*d.realm, b"r\"x");
        assert!(
            matches!(d.username, Cow::Borrowed(_)),
            "copied without need"
        );
        assert_eq!(d.algorithm, Some(Algorithm::Sha256));
        assert_eq!((d.nc, &d.nc_raw[..]), (10, &b"0000000a"[..]));
        assert_eq!(&*d.qop, b"auth");
        assert_eq!(
            parse_authorization(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Some(Credentials::Basic {
                username: b"Aladdin".to_vec(),
                password: b"open sesame".to_vec()
            })
        );
        assert_eq!(parse_authorization(b"Basic !!"), None);
        assert_eq!(parse_authorization(b"Bearer x"), None);
        assert_eq!(parse_authorization(b"Digest username=\"a"), None);
        assert_eq!(parse_authorization(b"Digest username=a nonce=b"), None);
        assert_eq!(parse_authorization(b"Digest nonce=b, response=c"), None);
        let Some(Credentials::Digest(d)) =
            parse_authorization(b"Digest username=a,nonce=b,response=c,algorithm=SHA-512")
        else {
            panic!("not parsed");
        };
        assert_eq!(d.algorithm, None);
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let key = NonceKey::new([7; 32]);
        let n = key.nonce(1000, 42);
        assert_eq!(n.len(), 64);
        assert_eq!(
            key.check(n.as_bytes(), 1100, 300),
            NonceCheck::Valid { serial: 42 }
        );
        assert_eq!(key.check(n.as_bytes(), 1301, 300), NonceCheck::Expired);
        // Another key's nonce for the same serial and time differs in its tag.
        let other = NonceKey::new([8; 32]).nonce(1000, 42);
        assert_ne!(other, n);
        assert_eq!(key.check(other.as_bytes(), 1100, 300), NonceCheck::Foreign);
        let mut forged = n.clone().into_bytes();
        forged[40] = if forged[40] == b'0' { b'1' } else { b'0' };
        assert_eq!(key.check(&forged, 1100, 300), NonceCheck::Foreign);
        // The issue time and serial are under the tag: a nonce moved later is not ours.
        let moved = format!("{:016x}{}", 1200, &n[16..]);
        assert_eq!(key.check(moved.as_bytes(), 1250, 300), NonceCheck::Foreign);
        let renumbered = format!("{}{:016x}{}", &n[..16], 43, &n[32..]);
        assert_eq!(
            key.check(renumbered.as_bytes(), 1100, 300),
            NonceCheck::Foreign
        );
        assert_eq!(key.check(b"short", 1100, 300), NonceCheck::Foreign);
    }

    #[test]
    fn nonce_counts_per_user_used_once_and_bounded() {
        let mut t = NonceCounts::new(3);
        assert_eq!(t.use_count(1, b"a", 1), NcCheck::Accepted { first: true });
        assert_eq!(t.use_count(1, b"a", 1), NcCheck::Replayed);
        assert_eq!(t.use_count(1, b"a", 3), NcCheck::Accepted { first: false });
        assert_eq!(t.use_count(1, b"a", 2), NcCheck::Replayed);
        // Another user pushing the same nonce's count high leaves the first user's alone.
        assert_eq!(
            t.use_count(1, b"b", u32::MAX),
            NcCheck::Accepted { first: true }
        );
        assert_eq!(t.use_count(1, b"a", 4), NcCheck::Accepted { first: false });
        // Full: the entry used first is forgotten, and its nonce (and every one at or
        // below its serial without an entry) is stale from then on: never a replay.
        assert_eq!(t.use_count(5, b"a", 1), NcCheck::Accepted { first: true });
        assert_eq!(t.use_count(6, b"a", 1), NcCheck::Accepted { first: true });
        assert_eq!(t.len(), 3);
        assert_eq!(t.use_count(1, b"a", 1), NcCheck::Unknown);
        assert_eq!(t.use_count(1, b"c", 1), NcCheck::Unknown);
        assert_eq!(t.use_count(7, b"a", 1), NcCheck::Accepted { first: true });
        assert_eq!(t.len(), 3);
        assert_eq!(t.use_count(8, b"a", 0), NcCheck::Replayed);
    }

    #[test]
    fn challenges() {
        let h = digest_challenge(b"phoneprov", "n", Algorithm::Sha256, true);
        assert_eq!(
            h,
            b"WWW-Authenticate: Digest realm=\"phoneprov\", qop=\"auth\", algorithm=SHA-256, \
              nonce=\"n\", stale=true\r\n"
        );
        assert!(basic_challenge(b"r").ends_with(b"\r\n"));
    }

    #[test]
    fn token_characters_and_quote_search() {
        for b in 0..=255u8 {
            let token = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), token, "byte {b}");
        }
        // Every position, in the words and in the tail, with bytes that differ from the
        // needles by one bit (the word search must not take them for a match).
        for len in 0..40 {
            for at in 0..=len {
                for needle in [b'"', b'\\'] {
                    let mut s = vec![b'"' ^ 0x80; len];
                    s.iter_mut().skip(1).step_by(2).for_each(|b| *b = b'\\' ^ 1);
                    let want = (at < len).then(|| {
                        s[at] = needle;
                        at
                    });
                    if let Some(after) = s.get_mut(at + 1) {
                        *after = b'"';
                    }
                    assert_eq!(quote_or_escape(&s), want, "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn parameter_names_in_any_case() {
        let h = b"Digest USERNAME=\"u\", Realm=r, NONCE=n, Uri=\"/x\", RESPONSE=ab, CNonce=c, \
                  QOP=auth, NC=0000000F, Algorithm=sha-256, usernamex=y, opaque=o";
        let Some(Credentials::Digest(d)) = parse_authorization(h) else {
            panic!("not parsed");
        };
        let got = [
            &d.username,
            &d.realm,
            &d.nonce,
            &d.uri,
            &d.response,
            &d.cnonce,
            &d.qop,
        ];
        let got: Vec<&[u8]> = got.iter().map(|c| &***c).collect();
        assert_eq!(got, [&b"u"[..], b"r", b"n", b"/x", b"ab", b"c", b"auth"]);
        assert_eq!((d.nc, &*d.nc_raw), (15, &b"0000000F"[..]));
        assert_eq!(d.algorithm, Some(Algorithm::Sha256));
        assert_eq!(
            parse_authorization(b"Digest username=a, nonce=b, response=c, UserHash=true"),
            None
        );
        assert_eq!(
            parse_authorization(b"Digest username=a, nonce=b, response=c, nc=+"),
            None
        );
    }

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"a", b"ab", b"abc", b"user:p\xe9ss:w"] {
            assert_eq!(
                base64_decode(base64_encode(data).as_bytes()).as_deref(),
                Some(data)
            );
        }
        assert_eq!(
            base64_encode(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
