//! State shared by the nodes of a cluster through realtime families (`[general]`
//! `tokens_realtime` and `audit_realtime`): which families, and how often the last fetch
//! of a phone is written. Without them each node keeps that state for itself.

use crate::host::Diag;
use crate::util::args::strip;

/// Seconds between two writes of one phone's last fetch, when not configured.
pub const DEFAULT_AUDIT_INTERVAL: u64 = 60;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedOptions {
    /// The family enrollment tokens are kept in; None: Asterisk's astdb, per node.
    pub tokens: Option<String>,
    /// The family each phone's last fetch is written to; None: per node only.
    pub audit: Option<String>,
    /// At most one write per phone in this many seconds.
    pub audit_interval: u64,
}

impl Default for SharedOptions {
    fn default() -> Self {
        SharedOptions {
            tokens: None,
            audit: None,
            audit_interval: DEFAULT_AUDIT_INTERVAL,
        }
    }
}

/// An extconfig family name: printable ASCII without blanks, as Asterisk's own are.
fn family(value: &[u8]) -> Option<String> {
    (!value.is_empty() && value.len() <= 80 && value.iter().all(u8::is_ascii_graphic))
        .then(|| String::from_utf8_lossy(value).into_owned())
}

impl SharedOptions {
    /// Takes `key = value` if it is one of these options (true).
    pub fn take(&mut self, where_: &str, key: &[u8], value: &[u8], diags: &mut Vec<Diag>) -> bool {
        let value = strip(value);
        let taken = if key.eq_ignore_ascii_case(b"tokens_realtime") {
            family(value).map(|f| self.tokens = Some(f))
        } else if key.eq_ignore_ascii_case(b"audit_realtime") {
            family(value).map(|f| self.audit = Some(f))
        } else if key.eq_ignore_ascii_case(b"audit_realtime_interval") {
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|n| self.audit_interval = n)
        } else {
            return false;
        };
        if taken.is_none() {
            diags.push(Diag::ignored(where_, key, value, "valid"));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_interval() {
        let mut o = SharedOptions::default();
        let mut d = Vec::new();
        assert!(o.take("g", b"tokens_realtime", b" phoneprov_tokens ", &mut d));
        assert!(o.take("g", b"AUDIT_REALTIME", b"phoneprov_fetches", &mut d));
        assert!(o.take("g", b"audit_realtime_interval", b"5", &mut d));
        assert!(!o.take("g", b"serveraddr", b"x", &mut d));
        assert!(d.is_empty());
        assert_eq!(o.tokens.as_deref(), Some("phoneprov_tokens"));
        assert_eq!(o.audit.as_deref(), Some("phoneprov_fetches"));
        assert_eq!(o.audit_interval, 5);
        assert!(o.take("g", b"audit_realtime_interval", b"soon", &mut d));
        assert!(o.take("g", b"tokens_realtime", b"a b", &mut d));
        assert_eq!(d.len(), 2);
        assert_eq!(o.audit_interval, 5);
    }
}
