//! What a read request asks for beyond RFC 1350, and what the server grants: blksize (RFC
//! 2348), tsize and timeout (RFC 2349), windowsize (RFC 7440). Options the server does not
//! know are left out of its OACK (RFC 2347); a value it cannot use either (the client then
//! gets the default), except a block size above the largest, which is lowered.

use std::time::Duration;

pub const DEFAULT_BLKSIZE: usize = 512;
const MIN_BLKSIZE: usize = 8;
/// RFC 2348's largest: what fits a UDP datagram with IPv4 and UDP headers.
pub const MAX_BLKSIZE: usize = 65_464;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// What a transfer runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    pub blksize: usize,
    pub windowsize: u16,
    pub timeout: Duration,
    /// The OACK's options, in the request's order; empty: no OACK, data at once.
    pub acknowledged: Vec<(&'static str, String)>,
}

fn number(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// Grants what `options` ask for a file of `size` bytes (as sent: after netascii).
pub fn negotiate(options: &[(String, Vec<u8>)], size: usize) -> Granted {
    let mut g = Granted {
        blksize: DEFAULT_BLKSIZE,
        windowsize: 1,
        timeout: DEFAULT_TIMEOUT,
        acknowledged: Vec::new(),
    };
    for (key, value) in options {
        let n = number(value);
        match key.as_str() {
            "blksize" => {
                if let Some(n) = n.filter(|&n| n >= MIN_BLKSIZE as u64) {
                    let n = usize::try_from(n).unwrap_or(MAX_BLKSIZE).min(MAX_BLKSIZE);
                    g.blksize = n;
                    g.acknowledged.push(("blksize", n.to_string()));
                }
            }
            // A reader sends 0 and is told the size.
            "tsize" if n.is_some() => g.acknowledged.push(("tsize", size.to_string())),
            "timeout" => {
                if let Some(n) = n.filter(|n| (1..=255).contains(n)) {
                    g.timeout = Duration::from_secs(n);
                    g.acknowledged.push(("timeout", n.to_string()));
                }
            }
            "windowsize" => {
                if let Some(n) = n.and_then(|n| u16::try_from(n).ok()).filter(|&n| n >= 1) {
                    g.windowsize = n;
                    g.acknowledged.push(("windowsize", n.to_string()));
                }
            }
            _ => {}
        }
    }
    g
}

/// The name a request asks for, as a path under `/phoneprov/`: leading `/` left out; None
/// for a name that could leave the module's files or carry anything but printable text
/// (control bytes, `..` segments, backslashes, over 255 bytes).
pub fn route_name(name: &[u8]) -> Option<&[u8]> {
    let start = name.iter().position(|&b| b != b'/')?;
    let name = &name[start..];
    let ok = name.len() <= 255
        && name
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
        && !name.split(|&b| b == b'/').any(|seg| seg == b"..");
    ok.then_some(name)
}

/// netascii (RFC 764's NVT ASCII as RFC 1350 takes it): LF becomes CR LF, a bare CR becomes
/// CR NUL.
pub fn to_netascii(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn what_is_granted() {
        let g = negotiate(
            &opts(&[
                ("blksize", "1428"),
                ("tsize", "0"),
                ("timeout", "3"),
                ("windowsize", "16"),
                ("multicast", ""),
            ]),
            4242,
        );
        assert_eq!(g.blksize, 1428);
        assert_eq!(g.windowsize, 16);
        assert_eq!(g.timeout, Duration::from_secs(3));
        assert_eq!(
            g.acknowledged,
            vec![
                ("blksize", "1428".to_owned()),
                ("tsize", "4242".to_owned()),
                ("timeout", "3".to_owned()),
                ("windowsize", "16".to_owned())
            ]
        );
    }

    #[test]
    fn values_out_of_range() {
        let g = negotiate(
            &opts(&[("blksize", "100000"), ("timeout", "0"), ("windowsize", "0")]),
            1,
        );
        assert_eq!(g.blksize, MAX_BLKSIZE, "lowered to the largest");
        assert_eq!(g.timeout, DEFAULT_TIMEOUT);
        assert_eq!(g.windowsize, 1);
        assert_eq!(g.acknowledged, vec![("blksize", "65464".to_owned())]);
        let none = negotiate(&opts(&[("blksize", "7"), ("timeout", "256")]), 1);
        assert!(none.acknowledged.is_empty());
        assert_eq!(none.blksize, DEFAULT_BLKSIZE);
    }

    #[test]
    fn names() {
        assert_eq!(route_name(b"/fw.bin"), Some(&b"fw.bin"[..]));
        assert_eq!(route_name(b"//snom/A.xml"), Some(&b"snom/A.xml"[..]));
        assert_eq!(route_name(b"a..b.cfg"), Some(&b"a..b.cfg"[..]));
        for bad in [
            &b""[..],
            b"/",
            b"../etc/passwd",
            b"a/../../x",
            b"a\\b",
            b"a\x01b",
            b"a\x7f",
            b"\xc3\xa9",
        ] {
            assert_eq!(route_name(bad), None, "{bad:?}");
        }
        assert!(route_name(&[b'a'; 256]).is_none());
        assert!(route_name(&[b'a'; 255]).is_some());
    }

    #[test]
    fn netascii() {
        assert_eq!(to_netascii(b"a\nb\rc\r\n"), b"a\r\nb\r\0c\r\0\r\n");
    }
}
