//! The audit of dynamic fetches and uploads: per MAC, the last [`PER_PHONE`] of them (time,
//! client address, User-Agent and the model and firmware read from it, TLS or not,
//! status), at most [`TOTAL`] in all, kept in memory beside the snapshot (a reload keeps
//! them). Each fetch also raises the AMI event `PhoneprovFetch`, each upload
//! `PhoneprovUpload`, without the lock held.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::http::Request;
use crate::ffi::manager::{fetch_event, upload_event, Seen};
use phoneprov_core::http::useragent::UserAgent;
use phoneprov_core::ops::recent::Recent;
use phoneprov_core::util::clean::Clean;
use phoneprov_core::util::lock::lock;

/// Fetches kept per phone.
pub const PER_PHONE: usize = 10;
/// Fetches kept in all (the oldest go first): bounded memory whatever the number of phones.
pub const TOTAL: usize = 20_000;
/// Longest User-Agent and URI kept, in bytes.
const MAX_TEXT: usize = 200;

#[derive(Clone)]
pub struct Fetch {
    /// Seconds since the epoch.
    pub at: i64,
    /// The URI, the client's address, the User-Agent, vendor and model, and firmware (the
    /// last two from the User-Agent, empty when not recognised), one after the other: one
    /// allocation per record, not five (every dynamic file served makes a record).
    text: Box<[u8]>,
    /// Where each of `text`'s parts ends.
    ends: [u16; 5],
    pub tls: bool,
    pub status: u16,
    /// For a PUT: the bytes stored (0 when refused).
    pub upload: Option<u64>,
}

impl Fetch {
    fn part(&self, i: usize) -> &[u8] {
        let start = match i {
            0 => 0,
            _ => usize::from(self.ends[i - 1]),
        };
        &self.text[start..usize::from(self.ends[i])]
    }

    /// Parts 1 to 4 are made of text (see [`made`]).
    fn text_part(&self, i: usize) -> &str {
        std::str::from_utf8(self.part(i)).unwrap_or_default()
    }

    pub fn uri(&self) -> &[u8] {
        self.part(0)
    }

    pub fn client(&self) -> &str {
        self.text_part(1)
    }

    pub fn user_agent(&self) -> &str {
        self.text_part(2)
    }

    /// "Vendor Model" as the User-Agent gave them.
    pub fn model(&self) -> &str {
        self.text_part(3)
    }

    pub fn firmware(&self) -> &str {
        self.text_part(4)
    }

    /// What the AMI event of this record tells.
    fn seen<'a>(&'a self, mac: &'a [u8]) -> Seen<'a> {
        Seen {
            mac,
            uri: self.uri(),
            client: self.part(1),
            user_agent: self.part(2),
            tls: self.tls,
            status: self.status,
        }
    }
}

/// Lower-case MAC to its last fetches.
pub struct Audit(Mutex<Recent<Arc<[u8]>, Fetch>>);

impl Default for Audit {
    fn default() -> Self {
        Audit(Mutex::new(Recent::new(PER_PHONE, TOTAL)))
    }
}

fn cut(s: &[u8]) -> &[u8] {
    &s[..s.len().min(MAX_TEXT)]
}

/// [`cut`] for text, at a character's start.
fn cut_text(s: &str) -> &str {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What the audit keeps of the connection and the request's own headers, read before the
/// answer is sent: Asterisk may close the stream with the answer (`Connection: close`).
pub struct Client {
    pub address: String,
    /// Escaped as it enters: the audit shows it in CLI output and AMI events.
    pub user_agent: Clean,
    pub tls: bool,
}

impl Client {
    pub fn of(req: &Request) -> Client {
        Client {
            address: req.client_address().unwrap_or_default(),
            user_agent: req.header_text("User-Agent").unwrap_or_default(),
            tls: req.is_tls(),
        }
    }
}

impl Audit {
    /// Records one fetch of `uri`, a dynamic file of the phone `mac`, answered with
    /// `status`; `also` sees the record before it is kept (the cluster's audit).
    pub fn record(
        &self,
        client: &Client,
        mac: &[u8],
        uri: &[u8],
        status: u16,
        agent: Option<&UserAgent>,
        also: impl FnOnce(&Fetch),
    ) {
        let fetch = made(client, uri, status, agent, None);
        fetch_event(
            &fetch.seen(mac),
            fetch.model().as_bytes(),
            fetch.firmware().as_bytes(),
        );
        also(&fetch);
        self.keep(mac, fetch);
    }

    /// Records one PUT of `uri`, an upload name of the phone `mac`: `size` bytes stored, or
    /// refused with `status`.
    pub fn record_upload(
        &self,
        client: &Client,
        mac: &[u8],
        uri: &[u8],
        status: u16,
        size: u64,
        agent: Option<&UserAgent>,
    ) {
        let fetch = made(client, uri, status, agent, Some(size));
        upload_event(&fetch.seen(mac), size);
        self.keep(mac, fetch);
    }

    fn keep(&self, mac: &[u8], fetch: Fetch) {
        let key = lower(mac);
        let evicted = lock(&self.0).add_with(&*key, |k: &[u8]| Arc::from(k), fetch);
        // Freed without the lock: every fetch adds one record, and pushes one out.
        drop(evicted);
    }

    /// The phone's last fetches, oldest first.
    pub fn fetches(&self, mac: &[u8]) -> Vec<Fetch> {
        lock(&self.0).get(&*lower(mac)).cloned().collect()
    }

    /// The phone's last fetch.
    pub fn last(&self, mac: &[u8]) -> Option<Fetch> {
        lock(&self.0).last(&*lower(mac)).cloned()
    }
}

fn made(
    client: &Client,
    uri: &[u8],
    status: u16,
    agent: Option<&UserAgent>,
    upload: Option<u64>,
) -> Fetch {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let user_agent = cut_text(client.user_agent.as_str());
    // The URI as the CLI and AMI events show it: escaped, like everything a client chose.
    let uri = Clean::new(cut(uri));
    let (vendor, model, firmware) = match agent {
        Some(a) => (a.vendor, cut_text(&a.model), cut_text(&a.firmware)),
        None => ("", "", ""),
    };
    // "Vendor Model", unless one of them is missing.
    let space: &str = match vendor.is_empty() || model.is_empty() {
        true => "",
        false => " ",
    };
    let parts: [&[u8]; 7] = [
        uri.as_bytes(),
        client.address.as_bytes(),
        user_agent.as_bytes(),
        vendor.as_bytes(),
        space.as_bytes(),
        model.as_bytes(),
        firmware.as_bytes(),
    ];
    let mut text = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    let mut ends = [0u16; 5];
    for (i, part) in parts.iter().enumerate() {
        text.extend_from_slice(part);
        // Parts 3 to 5 are one (vendor and model). Every part is bounded (the URI and the
        // User-Agent by MAX_TEXT, the model and firmware likewise, an address): the total
        // fits.
        let end = u16::try_from(text.len()).unwrap_or(u16::MAX);
        match i {
            0..=2 => ends[i] = end,
            3 | 4 => {}
            _ => ends[i - 2] = end,
        }
    }
    Fetch {
        at,
        text: text.into_boxed_slice(),
        ends,
        tls: client.tls,
        status,
        upload,
    }
}

/// The MAC as the audit keys it (no copy when it is lower-case already, as most are).
fn lower(mac: &[u8]) -> Cow<'_, [u8]> {
    match mac.iter().any(u8::is_ascii_uppercase) {
        true => Cow::Owned(mac.to_ascii_lowercase()),
        false => Cow::Borrowed(mac),
    }
}
