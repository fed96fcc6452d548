//! Which address families an access list speaks of, and which Asterisk's HTTP server
//! listens on: Asterisk's ACL rules skip addresses of another family and admit by default,
//! so a list of IPv4 rules only admits every IPv6 client of a server bound to `[::]`.

use std::net::IpAddr;

use crate::access::options::AclRule;

/// Whether `rules` name IPv4 networks only: no rule for IPv6 (a value holding `:`) and no
/// named ACL (acl.conf, whose rules are not known here).
pub fn ipv4_only(rules: &[AclRule]) -> bool {
    !rules.is_empty()
        && rules.iter().all(|r| match r {
            AclRule::Permit(v) | AclRule::Deny(v) => !v.contains(&b':'),
            AclRule::Named(_) => false,
        })
}

/// Whether an http.conf `bindaddr` or `tlsbindaddr` (an address, perhaps with `:port`,
/// IPv6 perhaps in brackets) is an IPv6 address.
pub fn listens_on_ipv6(bindaddr: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bindaddr) else {
        return false;
    };
    let text = text.trim();
    if text.starts_with('[') {
        return true;
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return ip.is_ipv6();
    }
    // `a.b.c.d:port`; anything else with a colon is IPv6.
    match text.rsplit_once(':') {
        Some((host, _)) => host.parse::<std::net::Ipv4Addr>().is_err(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(&str, &str)]) -> Vec<AclRule> {
        list.iter()
            .map(|(k, v)| match *k {
                "permit" => AclRule::Permit(v.as_bytes().to_vec()),
                "deny" => AclRule::Deny(v.as_bytes().to_vec()),
                _ => AclRule::Named(v.as_bytes().to_vec()),
            })
            .collect()
    }

    #[test]
    fn lists_of_ipv4_rules_only() {
        assert!(ipv4_only(&rules(&[
            ("deny", "0.0.0.0/0"),
            ("permit", "10.0.0.0/8")
        ])));
        assert!(!ipv4_only(&rules(&[
            ("deny", "0.0.0.0/0"),
            ("deny", "::/0")
        ])));
        assert!(!ipv4_only(&rules(&[
            ("permit", "10.0.0.0/8"),
            ("acl", "office")
        ])));
        assert!(!ipv4_only(&[]));
    }

    #[test]
    fn ipv6_bind_addresses() {
        for a in ["::", "[::]", "[::]:8089", "2001:db8::1", " :: "] {
            assert!(listens_on_ipv6(a.as_bytes()), "{a}");
        }
        for a in ["0.0.0.0", "127.0.0.1:8089", "", "localhost"] {
            assert!(!listens_on_ipv6(a.as_bytes()), "{a}");
        }
    }
}
