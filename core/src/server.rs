//! The SERVER variable when `serveraddr` and `serveriface` are unset: the local address of
//! the connection the request came in on.

use std::net::IpAddr;

/// The address as a phone should be told it: dotted quad for IPv4, also when it arrived
/// through an IPv4-mapped IPv6 address on a dual-stack listener; bare RFC 5952 text
/// (no brackets) for IPv6.
pub fn server_address(local: IpAddr) -> String {
    match local {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => a.to_string(),
        },
    }
}

/// The server as it goes into a URI or a `host:port` pair: IPv6 literals in brackets
/// (`[2001:db8::1]`), anything else as is. Templates get it as `SERVER_HOST`.
pub fn uri_host(server: &str) -> String {
    if server.contains(':') && !server.starts_with('[') {
        format!("[{server}]")
    } else {
        server.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
