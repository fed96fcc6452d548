//! Who may fetch a profile's files: the access options of `phoneprov.conf` (access lists,
//! HTTP authentication, TLS, rate limits), as written in `[general]` and in each profile.
//! Every option is off unless set, so a configuration without them serves as the C module does.

use std::net::IpAddr;

use crate::access::grace::parse_duration;
use crate::host::Diag;
use crate::util::args::is_true;

/// One access-list line, in the order written (Asterisk's ACL semantics: the last matching
/// rule of a list decides; every named ACL must also allow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AclRule {
    Permit(Vec<u8>),
    Deny(Vec<u8>),
    /// A named ACL of `acl.conf`.
    Named(Vec<u8>),
}

impl AclRule {
    /// The sense word Asterisk's `ast_append_acl` takes, and the rule's value.
    pub fn parts(&self) -> (&'static str, &[u8]) {
        match self {
            AclRule::Permit(v) => ("permit", v),
            AclRule::Deny(v) => ("deny", v),
            AclRule::Named(v) => ("acl", v),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    None,
    Digest,
    Basic,
}

/// The access options one section sets; None (or no rules) where it sets nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessOptions {
    pub acl: Vec<AclRule>,
    pub auth: Option<AuthScheme>,
    pub auth_static: Option<bool>,
    pub auth_realm: Option<Vec<u8>>,
    pub auth_nonce_ttl: Option<u64>,
    pub auth_basic_plain: Option<bool>,
    pub auth_rollout: Option<bool>,
    pub auth_grace: Option<u64>,
    pub require_tls: Option<bool>,
    pub ua_mac_check: Option<bool>,
}

/// What applies to one profile: its own options, else those of `[general]`, else the
/// defaults. A profile with any access-list line of its own uses only its own list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub acl: Vec<AclRule>,
    pub auth: AuthScheme,
    pub auth_static: bool,
    pub auth_realm: Vec<u8>,
    pub auth_nonce_ttl: u64,
    pub auth_basic_plain: bool,
    pub auth_rollout: bool,
    /// Seconds a phone's previous credentials keep opening its files after they changed
    /// (or until it fetched with the new ones); 0: not at all.
    pub auth_grace: u64,
    pub require_tls: bool,
    /// 403 for a dynamic file when the User-Agent names another phone's MAC.
    pub ua_mac_check: bool,
}

/// Rate limits against guessing (`[general]` only): per client address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// 0: no limit (no `miss_*` option is set, or `miss_limit = 0`).
    pub miss_limit: u32,
    limit_set: bool,
    pub miss_window: u64,
    pub miss_ban: u64,
    /// IPv6 clients are counted by this prefix of their address: one host of a /64 owns
    /// all of it, and would otherwise have 2^64 fresh addresses to guess from.
    pub miss_prefix6: u8,
    /// Networks (or named ACLs of acl.conf, whose permitted addresses) never banned, as
    /// fail2ban's `ignoreip`: an office's NAT, whose one misbehaving host would otherwise
    /// lock out every phone behind it.
    pub miss_ignore: Vec<Ignore>,
}

/// One entry of `miss_ignore`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignore {
    /// An address and the length of its prefix.
    Net(IpAddr, u8),
    /// A named ACL of acl.conf: the addresses it permits are not banned.
    Acl(Vec<u8>),
}

impl Ignore {
    /// Whether `addr` is in this network (never, for a named ACL: Asterisk decides those).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let Ignore::Net(net, len) = self else {
            return false;
        };
        match (net, unmap(addr)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// `10.0.0.0/8`, `2001:db8::/32`, an address alone, or else the name of an ACL.
    fn parse(word: &[u8]) -> Option<Ignore> {
        let text = std::str::from_utf8(word).ok()?;
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        match addr.parse::<IpAddr>() {
            Ok(ip) => {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let len = match len {
                    None => max,
                    Some(l) => l.parse::<u8>().ok().filter(|&l| l <= max)?,
                };
                Some(Ignore::Net(unmap(ip), len))
            }
            Err(_) if len.is_none() && !text.contains(':') => Some(Ignore::Acl(word.to_vec())),
            Err(_) => None,
        }
    }
}

/// An IPv4 address written in IPv6 (`::ffff:a.b.c.d`, as a dual-stack listener sees IPv4
/// clients) as the IPv4 address it is.
pub fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            miss_limit: 0,
            limit_set: false,
            miss_window: 60,
            miss_ban: 300,
            miss_prefix6: DEFAULT_PREFIX6,
            miss_ignore: Vec::new(),
        }
    }
}

pub const DEFAULT_REALM: &[u8] = b"phoneprov";
pub const DEFAULT_NONCE_TTL: u64 = 300;
pub const DEFAULT_AUTH_GRACE: u64 = 7 * 86_400;
pub const DEFAULT_MISS_LIMIT: u32 = 20;
pub const DEFAULT_PREFIX6: u8 = 64;

fn number(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?.trim();
    s.parse().ok()
}

/// A realm goes into a quoted header parameter: printable ASCII without `"` or `\`.
fn realm_ok(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl AccessOptions {
    /// Takes `key = value` if it is an access option (true), with a diagnostic for a value
    /// it cannot use.
    pub fn take(&mut self, where_: &str, key: &[u8], value: &[u8], diags: &mut Vec<Diag>) -> bool {
        let key = key.to_ascii_lowercase();
        let mut bad = || diags.push(Diag::ignored(where_, &key, value, "valid"));
        let trimmed = value.trim_ascii();
        match &key[..] {
            b"permit" => self.acl.push(AclRule::Permit(trimmed.to_vec())),
            b"deny" => self.acl.push(AclRule::Deny(trimmed.to_vec())),
            b"acl" => self.acl.push(AclRule::Named(trimmed.to_vec())),
            b"auth" => match &trimmed.to_ascii_lowercase()[..] {
                b"none" => self.auth = Some(AuthScheme::None),
                b"digest" => self.auth = Some(AuthScheme::Digest),
                b"basic" => self.auth = Some(AuthScheme::Basic),
                _ => bad(),
            },
            b"auth_static" => self.auth_static = Some(is_true(trimmed)),
            b"auth_basic_plain" => self.auth_basic_plain = Some(is_true(trimmed)),
            b"auth_rollout" => self.auth_rollout = Some(is_true(trimmed)),
            b"require_tls" => self.require_tls = Some(is_true(trimmed)),
            b"ua_mac_check" => self.ua_mac_check = Some(is_true(trimmed)),
            b"auth_realm" if realm_ok(trimmed) => self.auth_realm = Some(trimmed.to_vec()),
            b"auth_nonce_ttl" => match number(trimmed) {
                Some(n) if n > 0 => self.auth_nonce_ttl = Some(n),
                _ => bad(),
            },
            b"auth_grace" => match parse_duration(trimmed) {
                Some(n) => self.auth_grace = Some(n),
                None => bad(),
            },
            b"auth_realm" => bad(),
            _ => return false,
        }
        true
    }

    /// These options over `general`'s.
    pub fn resolve(&self, general: &AccessOptions) -> Access {
        let acl = if self.acl.is_empty() {
            general.acl.clone()
        } else {
            self.acl.clone()
        };
        Access {
            acl,
            auth: self.auth.or(general.auth).unwrap_or(AuthScheme::None),
            auth_static: self.auth_static.or(general.auth_static).unwrap_or(false),
            auth_realm: self
                .auth_realm
                .clone()
                .or_else(|| general.auth_realm.clone())
                .unwrap_or_else(|| DEFAULT_REALM.to_vec()),
            auth_nonce_ttl: self
                .auth_nonce_ttl
                .or(general.auth_nonce_ttl)
                .unwrap_or(DEFAULT_NONCE_TTL),
            auth_basic_plain: self
                .auth_basic_plain
                .or(general.auth_basic_plain)
                .unwrap_or(false),
            auth_rollout: self.auth_rollout.or(general.auth_rollout).unwrap_or(false),
            auth_grace: self
                .auth_grace
                .or(general.auth_grace)
                .unwrap_or(DEFAULT_AUTH_GRACE),
            require_tls: self.require_tls.or(general.require_tls).unwrap_or(false),
            ua_mac_check: self.ua_mac_check.or(general.ua_mac_check).unwrap_or(false),
        }
    }
}

impl Limits {
    /// Takes a `[general]` rate-limit option (true when `key` is one).
    pub fn take(&mut self, key: &[u8], value: &[u8], diags: &mut Vec<Diag>) -> bool {
        let key = key.to_ascii_lowercase();
        let n = number(value.trim_ascii());
        let slot = match &key[..] {
            b"miss_limit" => {
                match n.and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => {
                        self.miss_limit = n;
                        self.limit_set = true;
                    }
                    None => bad_limit(&key, value, diags),
                }
                return true;
            }
            b"miss_prefix6" => {
                match n
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|n| (1..=128).contains(n))
                {
                    Some(n) => self.miss_prefix6 = n,
                    None => bad_limit(&key, value, diags),
                }
                return true;
            }
            b"miss_ignore" => {
                for word in value.split(|&b| b == b',' || b == b' ' || b == b'\t') {
                    if word.is_empty() {
                        continue;
                    }
                    match Ignore::parse(word) {
                        Some(entry) => self.miss_ignore.push(entry),
                        None => bad_limit(&key, word, diags),
                    }
                }
                return true;
            }
            b"miss_window" => &mut self.miss_window,
            b"miss_ban" => &mut self.miss_ban,
            _ => return false,
        };
        match n {
            Some(n) if n > 0 => *slot = n,
            _ => bad_limit(&key, value, diags),
        }
        true
    }

    /// Whether setting `key` alone turns the limit on: the options that say how to count
    /// (`miss_prefix6`, `miss_ignore`) do not.
    pub fn switches_on(key: &[u8]) -> bool {
        let key = key.to_ascii_lowercase();
        matches!(&key[..], b"miss_limit" | b"miss_window" | b"miss_ban")
    }

    /// Whether any limit applies. `miss_window` or `miss_ban` alone switch the limit on
    /// with the default count.
    pub fn finish(mut self, any_set: bool) -> Self {
        if any_set && !self.limit_set {
            self.miss_limit = DEFAULT_MISS_LIMIT;
        }
        self
    }
}

fn bad_limit(key: &[u8], value: &[u8], diags: &mut Vec<Diag>) {
    diags.push(Diag::ignored("[general]", key, value, "valid"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_taken_and_a_profile_wins() {
        let mut d = Vec::new();
        let mut g = AccessOptions::default();
        assert!(g.take("g", b"deny", b"0.0.0.0/0", &mut d));
        assert!(g.take("g", b"permit", b" 10.0.0.0/8 ", &mut d));
        assert!(g.take("g", b"auth", b"Digest", &mut d));
        assert!(g.take("g", b"auth_realm", b"pbx", &mut d));
        assert!(!g.take("g", b"static_file", b"x", &mut d));
        let mut p = AccessOptions::default();
        assert!(p.take("p", b"acl", b"office", &mut d));
        assert!(p.take("p", b"auth_nonce_ttl", b"5", &mut d));
        assert!(d.is_empty(), "{d:?}");
        let a = p.resolve(&g);
        assert_eq!(a.acl, vec![AclRule::Named(b"office".to_vec())]);
        assert_eq!(a.auth, AuthScheme::Digest);
        assert_eq!(a.auth_realm, b"pbx");
        assert_eq!(a.auth_nonce_ttl, 5);
        let inherited = AccessOptions::default().resolve(&g);
        assert_eq!(inherited.acl.len(), 2);
        assert_eq!(inherited.acl[1], AclRule::Permit(b"10.0.0.0/8".to_vec()));
        let none = AccessOptions::default().resolve(&AccessOptions::default());
        assert_eq!(none.auth, AuthScheme::None);
        assert_eq!(none.auth_realm, DEFAULT_REALM);
        assert!(none.acl.is_empty() && !none.require_tls);
    }

    #[test]
    fn bad_values_are_reported() {
        let mut d = Vec::new();
        let mut o = AccessOptions::default();
        assert!(o.take("p", b"auth", b"kerberos", &mut d));
        assert!(o.take("p", b"auth_realm", b"a\"b", &mut d));
        assert!(o.take("p", b"auth_nonce_ttl", b"0", &mut d));
        assert_eq!(d.len(), 3);
        assert_eq!(o, AccessOptions::default());
    }

    #[test]
    fn limits() {
        let mut d = Vec::new();
        let mut l = Limits::default();
        assert!(l.take(b"miss_window", b"2", &mut d));
        assert!(!l.take(b"other", b"2", &mut d));
        let l = l.finish(true);
        assert_eq!((l.miss_limit, l.miss_window, l.miss_ban), (20, 2, 300));
        assert_eq!(Limits::default().finish(false).miss_limit, 0);
        let mut l = Limits::default();
        assert!(l.take(b"miss_ban", b"x", &mut d));
        assert_eq!(d.len(), 1);
        assert_eq!(l.miss_prefix6, 64);
        assert!(l.take(b"miss_prefix6", b"48", &mut d));
        assert!(l.take(b"miss_prefix6", b"129", &mut d));
        assert_eq!((l.miss_prefix6, d.len()), (48, 2));
    }

    #[test]
    fn ignored_networks_and_acls() {
        let mut d = Vec::new();
        let mut l = Limits::default();
        assert!(l.take(
            b"miss_ignore",
            b"10.1.0.0/16, 2001:db8::/32 office 192.0.2.7",
            &mut d
        ));
        assert!(l.take(b"miss_ignore", b"10.0.0.0/33,1::2::3", &mut d));
        assert_eq!(d.len(), 2, "{d:?}");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let covered = |a: &str| l.miss_ignore.iter().any(|i| i.contains(ip(a)));
        assert!(covered("10.1.200.3"));
        assert!(
            covered("::ffff:10.1.0.1"),
            "an IPv4 client of a dual-stack listener"
        );
        assert!(!covered("10.2.0.1"));
        assert!(covered("2001:db8:ffff::1"));
        assert!(!covered("2001:db9::1"));
        assert!(covered("192.0.2.7") && !covered("192.0.2.8"));
        assert_eq!(l.miss_ignore[2], Ignore::Acl(b"office".to_vec()));
        assert!(Ignore::Net(ip("0.0.0.0"), 0).contains(ip("1.2.3.4")));
    }
}
