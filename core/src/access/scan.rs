//! Scans for MACs: a stream of requests for names shaped like a phone's file (a MAC in
//! them) that match no phone. Each such 404 may raise an `InvalidAccountID` security event
//! so that fail2ban can ban the scanner, but at most one per client address per
//! [`SCAN_INTERVAL`] seconds: a scanner sends thousands a second, and security.log must not
//! grow with them.

use std::collections::HashMap;
use std::net::IpAddr;

/// Seconds between two scan events of one address. With the shipped jail (10 failures in
/// 600 s) a scanner that keeps going is banned after about 100 s; a phone not yet
/// configured, retrying its file once a minute, is not.
pub const SCAN_INTERVAL: u64 = 10;

/// Addresses remembered. Beyond it, events of new addresses are still reported, not
/// remembered: a scan from many addresses is not hidden, and memory stays bounded.
pub const SCAN_ADDRESSES: usize = 4_096;

/// Whether `name` (a URI below /phoneprov/) holds 12 hex digits in a row and no more, as a
/// phone's file names hold its MAC: `000411aabbcc.cfg`, `SEP0004F2AABBCC.cnf.xml`,
/// `cfg001565aabbcc.xml`.
pub fn is_phone_shaped(name: &[u8]) -> bool {
    name.split(|b| !b.is_ascii_hexdigit())
        .any(|run| run.len() == 12)
        || name
            .split(|b| !b.is_ascii_alphanumeric())
            .any(|word| word.len() > 12 && mac_suffix(word))
}

/// A word that ends in 12 hex digits after a prefix of letters (`SEP`, `cfg`, `spa`; the
/// last letters may be hex digits themselves).
fn mac_suffix(word: &[u8]) -> bool {
    let (prefix, mac) = word.split_at(word.len() - 12);
    mac.iter().all(u8::is_ascii_hexdigit) && prefix.iter().all(u8::is_ascii_alphabetic)
}

/// When each address last had a scan event (seconds), keyed with std's random hasher: the
/// keys are chosen by clients.
#[derive(Default)]
pub struct ScanReports {
    last: HashMap<IpAddr, u64>,
    /// When stale entries were last dropped: at most once a second, so a flood of new
    /// addresses into a full table costs one sweep a second, not one per request.
    swept: u64,
}

impl ScanReports {
    /// Whether a scan event may be reported for `ip` at `now` (seconds); if so it counts as
    /// reported.
    pub fn allow(&mut self, ip: IpAddr, now: u64) -> bool {
        if let Some(t) = self.last.get_mut(&ip) {
            if now < t.saturating_add(SCAN_INTERVAL) {
                return false;
            }
            *t = now;
            return true;
        }
        if self.last.len() >= SCAN_ADDRESSES && now != self.swept {
            self.swept = now;
            self.last
                .retain(|_, t| now < t.saturating_add(SCAN_INTERVAL));
        }
        if self.last.len() < SCAN_ADDRESSES {
            self.last.insert(ip, now);
        }
        true
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_holding_a_mac_are_phone_shaped() {
        for name in [
            "000411aabbcc.cfg",
            "001565AABBCC-phone.cfg",
            "SEP0004F2AABBCC.cnf.xml",
            "cfg001565aabbcc.xml",
            "spa001122334455.xml",
            "dir/001122334455.xml",
        ] {
            assert!(is_phone_shaped(name.as_bytes()), "{name}");
        }
        for name in [
            "y000000000044.cfg",
            "abc.cfg",
            "sip.cfg",
            "0011223344556.cfg",
            "00112233445.cfg",
            "firmware-1.2.3.rom",
        ] {
            let shaped = is_phone_shaped(name.as_bytes());
            // y000000000044: a Yealink model file, 12 hex digits after a letter that is
            // not hex: shaped (a scanner could ask for it); the others are not.
            assert_eq!(shaped, name.starts_with('y'), "{name}");
        }
    }

    #[test]
    fn one_event_per_address_per_interval() {
        let mut r = ScanReports::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(r.allow(a, 100));
        assert!(!r.allow(a, 100));
        assert!(!r.allow(a, 100 + SCAN_INTERVAL - 1));
        assert!(r.allow(b, 101));
        assert!(r.allow(a, 100 + SCAN_INTERVAL));
        assert!(!r.allow(a, 100 + SCAN_INTERVAL));
    }

    #[test]
    fn the_table_stays_bounded_and_new_addresses_still_report() {
        let mut r = ScanReports::default();
        for i in 0..(SCAN_ADDRESSES as u32 + 100) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(r.allow(ip, 5));
        }
        assert_eq!(r.len(), SCAN_ADDRESSES);
        // Stale entries make room once the interval has passed.
        let late = IpAddr::from(std::net::Ipv4Addr::new(192, 0, 2, 9));
        assert!(r.allow(late, 5 + SCAN_INTERVAL));
        assert_eq!(r.len(), 1);
    }
}
