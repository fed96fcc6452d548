//! The audit of dynamic fetches and uploads: per MAC, the last [`PER_PHONE`] of them (time,
//! client address, User-Agent and the model and firmware read from it, TLS or not,
//! status), at most [`TOTAL`] in all, kept in memory beside the snapshot (a reload keeps
//! them). Each fetch also raises the AMI event `PhoneprovFetch`, each upload
//! `PhoneprovUpload`, without the lock held.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::http::Request;
use crate::ffi::manager::{fetch_event, upload_event, Seen};
use phoneprov_core::recent::Recent;
use phoneprov_core::useragent::UserAgent;

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
    pub uri: Vec<u8>,
    pub client: String,
    pub user_agent: String,
    /// Vendor and model, and firmware, from the User-Agent (empty when not recognised).
    pub model: String,
    pub firmware: String,
    pub tls: bool,
    pub status: u16,
    /// For a PUT: the bytes stored (0 when refused).
    pub upload: Option<u64>,
}

/// Lower-case MAC to its last fetches.
type Audit = Recent<Arc<[u8]>, Fetch>;

static AUDIT: Mutex<Option<Audit>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Audit>> {
    AUDIT.lock().unwrap_or_else(PoisonError::into_inner)
}

fn cut(s: &[u8]) -> &[u8] {
    &s[..s.len().min(MAX_TEXT)]
}

/// Records one fetch of `uri`, a dynamic file of the phone `mac`, answered with `status`.
pub fn record(req: &Request, mac: &[u8], uri: &[u8], status: u16, agent: Option<&UserAgent>) {
    let fetch = made(req, uri, status, agent, None);
    fetch_event(
        &fetch.seen(mac),
        fetch.model.as_bytes(),
        fetch.firmware.as_bytes(),
    );
    keep(mac, fetch);
}

/// Records one PUT of `uri`, an upload name of the phone `mac`: `size` bytes stored, or
/// refused with `status`.
pub fn record_upload(req: &Request, mac: &[u8], uri: &[u8], status: u16, size: u64) {
    let agent = crate::module::dynamic::agent_of(req);
    let fetch = made(req, uri, status, agent.as_ref(), Some(size));
    upload_event(&fetch.seen(mac), size);
    keep(mac, fetch);
}

impl Fetch {
    /// What the AMI event of this record tells.
    fn seen<'a>(&'a self, mac: &'a [u8]) -> Seen<'a> {
        Seen {
            mac,
            uri: &self.uri,
            client: self.client.as_bytes(),
            user_agent: self.user_agent.as_bytes(),
            tls: self.tls,
            status: self.status,
        }
    }
}

/// "Vendor Model" as the User-Agent gave them.
fn model_of(agent: &UserAgent) -> String {
    let both = format!("{} {}", agent.vendor, agent.model);
    match both.trim() {
        t if t.len() == both.len() => both,
        t => t.to_owned(),
    }
}

fn made(
    req: &Request,
    uri: &[u8],
    status: u16,
    agent: Option<&UserAgent>,
    upload: Option<u64>,
) -> Fetch {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let user_agent = req.header("User-Agent").unwrap_or_default();
    Fetch {
        at,
        uri: cut(uri).to_vec(),
        client: req.client_address().unwrap_or_default(),
        user_agent: String::from_utf8_lossy(cut(user_agent)).into_owned(),
        model: agent.map(model_of).unwrap_or_default(),
        firmware: agent.map(|a| a.firmware.clone()).unwrap_or_default(),
        tls: req.is_tls(),
        status,
        upload,
    }
}

fn keep(mac: &[u8], fetch: Fetch) {
    let key = lower(mac);
    let evicted = lock()
        .get_or_insert_with(|| Recent::new(PER_PHONE, TOTAL))
        .add_with(&*key, |k: &[u8]| Arc::from(k), fetch);
    // Freed without the lock: every fetch adds one record, and pushes one out.
    drop(evicted);
}

/// The MAC as the audit keys it (no copy when it is lower-case already, as most are).
fn lower(mac: &[u8]) -> Cow<'_, [u8]> {
    match mac.iter().any(u8::is_ascii_uppercase) {
        true => Cow::Owned(mac.to_ascii_lowercase()),
        false => Cow::Borrowed(mac),
    }
}

/// The phone's last fetches, oldest first.
pub fn fetches(mac: &[u8]) -> Vec<Fetch> {
    lock()
        .as_ref()
        .map(|a| a.get(&*lower(mac)).cloned().collect())
        .unwrap_or_default()
}

/// The phone's last fetch.
pub fn last(mac: &[u8]) -> Option<Fetch> {
    lock().as_ref().and_then(|a| a.last(&*lower(mac)).cloned())
}

/// Forgets everything (on unload: the library's memory must not outlive it).
pub fn clear() {
    let old = lock().take();
    drop(old);
}
