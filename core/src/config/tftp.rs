//! The TFTP options of `phoneprov.conf`: `[general] tftp`, `tftp_bindaddr`, `tftp_port`,
//! `tftp_max_transfers`, and each profile's `tftp = no|static|all`.

use std::net::IpAddr;

use crate::host::Diag;
use crate::util::args::is_true;

pub const DEFAULT_PORT: u16 = 69;
pub const DEFAULT_MAX_TRANSFERS: usize = 256;

/// `[general]`'s: None when `tftp` is off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TftpServer {
    /// None: all addresses.
    pub bindaddr: Option<IpAddr>,
    pub port: u16,
    pub max_transfers: usize,
}

/// What a profile serves over TFTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TftpMode {
    #[default]
    No,
    /// Its static files.
    Static,
    /// Its static files and its phones' own files.
    All,
}

/// The `[general]` options as read so far.
#[derive(Default)]
pub struct TftpParse {
    on: bool,
    bindaddr: Option<IpAddr>,
    port: Option<u16>,
    max_transfers: Option<usize>,
}

impl TftpParse {
    /// Takes `key = value` if it is a `[general]` TFTP option (true).
    pub fn take(&mut self, where_: &str, key: &[u8], value: &[u8], diags: &mut Vec<Diag>) -> bool {
        let key = key.to_ascii_lowercase();
        let text = std::str::from_utf8(value).unwrap_or("").trim();
        let mut bad = |what: &str| diags.push(Diag::ignored(where_, &key, value, what));
        match &key[..] {
            b"tftp" => self.on = is_true(value.trim_ascii()),
            b"tftp_bindaddr" => match text.trim_start_matches('[').trim_end_matches(']').parse() {
                Ok(ip) => self.bindaddr = Some(ip),
                Err(_) => bad("an IP address"),
            },
            b"tftp_port" => match text.parse::<u16>() {
                Ok(p) if p > 0 => self.port = Some(p),
                _ => bad("a port from 1 to 65535"),
            },
            b"tftp_max_transfers" => match text.parse::<usize>() {
                Ok(n) if (1..=4096).contains(&n) => self.max_transfers = Some(n),
                _ => bad("a number from 1 to 4096"),
            },
            _ => return false,
        }
        true
    }

    pub fn finish(self) -> Option<TftpServer> {
        self.on.then(|| TftpServer {
            bindaddr: self.bindaddr,
            port: self.port.unwrap_or(DEFAULT_PORT),
            max_transfers: self.max_transfers.unwrap_or(DEFAULT_MAX_TRANSFERS),
        })
    }
}

/// A profile's `tftp` value; None for anything else.
pub fn parse_mode(value: &[u8]) -> Option<TftpMode> {
    match &value.trim_ascii().to_ascii_lowercase()[..] {
        b"no" | b"off" | b"false" => Some(TftpMode::No),
        b"static" => Some(TftpMode::Static),
        b"all" => Some(TftpMode::All),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn general_options() {
        let mut diags = Vec::new();
        let mut p = TftpParse::default();
        assert!(p.take("g", b"tftp", b"yes", &mut diags));
        assert!(p.take("g", b"TFTP_PORT", b"6969", &mut diags));
        assert!(p.take("g", b"tftp_bindaddr", b"[::1]", &mut diags));
        assert!(!p.take("g", b"serveraddr", b"x", &mut diags));
        assert!(diags.is_empty());
        let s = p.finish().expect("on");
        assert_eq!(s.port, 6969);
        assert_eq!(s.bindaddr, Some("::1".parse().expect("ip")));
        assert_eq!(s.max_transfers, DEFAULT_MAX_TRANSFERS);

        let mut off = TftpParse::default();
        assert!(off.take("g", b"tftp_port", b"0", &mut diags));
        assert!(off.take("g", b"tftp_max_transfers", b"lots", &mut diags));
        assert_eq!(diags.len(), 2);
        assert!(off.finish().is_none(), "off unless tftp = yes");
    }

    #[test]
    fn profile_modes() {
        assert_eq!(parse_mode(b" Static "), Some(TftpMode::Static));
        assert_eq!(parse_mode(b"all"), Some(TftpMode::All));
        assert_eq!(parse_mode(b"no"), Some(TftpMode::No));
        assert_eq!(parse_mode(b"yes"), None);
    }
}
