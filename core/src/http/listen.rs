//! Which listening socket a connection came in on, told from addresses alone: the module
//! looks for Asterisk's listening sockets once (at load and reload), and a request then
//! finds its own among them by its connection's local address.

use std::net::SocketAddr;

/// Whether a socket listening on `listening` accepts connections to the local address
/// `local`: the same port, and the same address or a wildcard one. An IPv6 wildcard
/// accepts IPv4 connections too (a dual-stack socket); an IPv4 one never takes IPv6.
pub fn accepts(listening: SocketAddr, local: SocketAddr) -> bool {
    if listening.port() != local.port() {
        return false;
    }
    match (listening, local) {
        (SocketAddr::V4(l), SocketAddr::V4(c)) => l.ip().is_unspecified() || l.ip() == c.ip(),
        (SocketAddr::V6(l), _) if l.ip().is_unspecified() => true,
        // The address only: a scope or flow label does not make another socket.
        (SocketAddr::V6(l), SocketAddr::V6(c)) => l.ip() == c.ip(),
        _ => false,
    }
}

/// The first of `listeners` that accepts connections to `local` (the lowest descriptor,
/// when they come in descriptor order, as a scan finds them).
pub fn find<T>(
    listeners: impl IntoIterator<Item = (SocketAddr, T)>,
    local: SocketAddr,
) -> Option<T> {
    listeners
        .into_iter()
        .find_map(|(addr, it)| accepts(addr, local).then_some(it))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn same_port_and_address_or_a_wildcard() {
        assert!(accepts(a("127.0.0.1:8088"), a("127.0.0.1:8088")));
        assert!(accepts(a("0.0.0.0:8088"), a("10.1.2.3:8088")));
        assert!(!accepts(a("127.0.0.1:8088"), a("10.1.2.3:8088")));
        assert!(!accepts(a("0.0.0.0:8088"), a("127.0.0.1:8089")));
        assert!(accepts(a("[::1]:8088"), a("[::1]:8088")));
        assert!(!accepts(a("[::1]:8088"), a("[::2]:8088")));
        assert!(!accepts(a("[::]:8088"), a("[::1]:8089")));
    }

    #[test]
    fn an_ipv6_wildcard_accepts_ipv4_and_not_the_reverse() {
        assert!(accepts(a("[::]:8088"), a("127.0.0.1:8088")));
        assert!(accepts(a("[::]:8088"), a("[::ffff:127.0.0.1]:8088")));
        assert!(accepts(a("[::]:8088"), a("[fe80::1%2]:8088")));
        assert!(!accepts(a("0.0.0.0:8088"), a("[::1]:8088")));
        assert!(!accepts(a("0.0.0.0:8088"), a("[::ffff:127.0.0.1]:8088")));
        // A specific IPv6 address takes only IPv6 connections to it.
        assert!(!accepts(a("[::ffff:127.0.0.1]:8088"), a("127.0.0.1:8088")));
    }

    #[test]
    fn the_scope_of_an_ipv6_address_is_not_compared() {
        assert!(accepts(a("[fe80::1%2]:8088"), a("[fe80::1%3]:8088")));
    }

    #[test]
    fn the_first_that_accepts_is_found() {
        let listeners = [
            (a("127.0.0.1:5038"), 3),
            (a("[::]:8088"), 7),
            (a("0.0.0.0:8088"), 9),
        ];
        assert_eq!(find(listeners, a("127.0.0.1:8088")), Some(7));
        assert_eq!(find(listeners, a("127.0.0.1:5038")), Some(3));
        assert_eq!(find(listeners, a("127.0.0.1:8089")), None);
        assert_eq!(
            find(Vec::<(SocketAddr, i32)>::new(), a("127.0.0.1:8088")),
            None
        );
    }
}
