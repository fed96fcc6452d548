//! The SERVER variable when `serveraddr` and `serveriface` are unset: the local address of
//! the connection the request came in on.

use std::net::{IpAddr, Ipv4Addr};

/// The address as a phone should be told it: dotted quad for IPv4, also when it arrived
/// through an IPv4-mapped IPv6 address on a dual-stack listener; bare RFC 5952 text
/// (no brackets) for IPv6.
pub fn server_address(local: IpAddr) -> String {
    match local {
        IpAddr::V4(a) => dotted(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => dotted(v4),
            None => a.to_string(),
        },
    }
}

/// `a.b.c.d`, as `Ipv4Addr`'s Display writes it, by hand: that goes through the
/// formatter's padding support and cost ~0.6 us a time (every dynamic fetch's audit
/// record prints the client's address).
pub fn dotted(ip: Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if octet >= 100 {
            s.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            s.push(char::from(b'0' + octet / 10 % 10));
        }
        s.push(char::from(b'0' + octet % 10));
    }
    s
}

/// The server as it goes into a URI or a `host:port` pair: IPv6 literals in brackets
/// (`[2001:db8::1]`), anything else as is. Templates get it as `SERVER_HOST`.
pub fn uri_host(server: &str) -> String {
    let mut out = Vec::with_capacity(server.len() + 2);
    push_uri_host(server.as_bytes(), &mut out);
    String::from_utf8(out).expect("brackets around UTF-8")
}

/// [`uri_host`] of any bytes, appended to `out`.
pub fn push_uri_host(server: &[u8], out: &mut Vec<u8>) {
    let bracket = server.contains(&b':') && !server.starts_with(b"[");
    if bracket {
        out.push(b'[');
    }
    out.extend_from_slice(server);
    if bracket {
        out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_is_what_display_writes() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "192.168.1.10",
            "1.20.255.0",
        ] {
            let ip: Ipv4Addr = ip.parse().unwrap();
            assert_eq!(dotted(ip), ip.to_string());
        }
        for n in (0..=u32::MAX).step_by(7_919_993) {
            assert_eq!(dotted(Ipv4Addr::from(n)), Ipv4Addr::from(n).to_string());
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(server_address("127.0.0.2".parse().unwrap()), "127.0.0.2");
        assert_eq!(
            server_address("::ffff:127.0.0.1".parse().unwrap()),
            "127.0.0.1"
        );
        assert_eq!(server_address("::1".parse().unwrap()), "::1");
        assert_eq!(
            server_address("2001:db8::1".parse().unwrap()),
            "2001:db8::1"
        );
    }

    #[test]
    fn hosts_for_uris() {
        assert_eq!(uri_host("2001:db8::1"), "[2001:db8::1]");
        assert_eq!(uri_host("[::1]"), "[::1]");
        assert_eq!(uri_host("pbx.example.com"), "pbx.example.com");
        // A name in ISO-8859-1 keeps its bytes.
        let mut out = Vec::new();
        push_uri_host(b"m\xfcnchen.example", &mut out);
        assert_eq!(out, b"m\xfcnchen.example");
    }
}
