//! The last fetch of each phone shared by the nodes of a cluster (`[general] audit_realtime
//! = FAMILY`): one row per MAC in a realtime family (cluster.sql), so `phoneprov show
//! phone(s)` on any node shows the last fetch whichever node served it.
//!
//! Never on the request path: a request only puts its fetch in a bounded table (the latest
//! per phone, under one short lock) and wakes a writer thread of the module's own. The
//! writer writes each phone at most once per `audit_realtime_interval` seconds (its latest
//! fetch then: the table keeps the newest until the phone is due), outside any lock. A
//! database that does not answer costs one failed write: what is due in the next
//! [`BACKOFF`] is dropped and counted (`asterisk_phoneprov_audit_writes_dropped_total`),
//! not retried, so a dead database neither slows requests nor holds the realtime driver's
//! one connection (which dynamic lookups share) in connection attempts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::audit::Fetch;
use crate::ffi::host::node_name;
use crate::ffi::log;
use crate::ffi::realtime;
use crate::ffi::thread::{self, Thread};
use phoneprov_core::config::conf::Category;
use phoneprov_core::config::profile::Config;
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::lock;

/// Phones waiting to be written, at most; a fetch of another phone beyond is dropped.
const PENDING_MAX: usize = 20_000;
/// How long writes are dropped after one failed.
const BACKOFF: Duration = Duration::from_secs(5);
/// Up to this many phones, `show phones` asks for each one's row; beyond, for all rows.
const ONE_BY_ONE: usize = 200;
/// How often the writer looks again while phones wait for their interval to pass.
const TICK: Duration = Duration::from_millis(100);

/// One phone's last fetch as the family holds it.
#[derive(Clone, Debug)]
pub struct Row {
    /// Seconds since the epoch.
    pub at: i64,
    pub node: String,
    pub address: String,
    pub user_agent: String,
    pub model: String,
    pub firmware: String,
    pub uri: Vec<u8>,
    pub status: u16,
}

impl Row {
    fn of(fetch: &Fetch, node: &str) -> Row {
        Row {
            at: fetch.at,
            node: node.to_owned(),
            address: fetch.client().to_owned(),
            user_agent: fetch.user_agent().to_owned(),
            model: fetch.model().to_owned(),
            firmware: fetch.firmware().to_owned(),
            uri: fetch.uri().to_vec(),
            status: fetch.status,
        }
    }

    fn parse(cat: &Category) -> Option<(Vec<u8>, Row)> {
        let text = |k: &str| lossy(cat.get(k).unwrap_or_default()).into_owned();
        let row = Row {
            at: cat.get_int("at")?,
            node: text("node"),
            address: text("address"),
            user_agent: text("user_agent"),
            model: text("model"),
            firmware: text("firmware"),
            uri: cat.get("uri").unwrap_or_default().to_vec(),
            status: u16::try_from(cat.get_int("status")?).ok()?,
        };
        Some((cat.get("mac")?.to_ascii_lowercase(), row))
    }
}

/// Where and how often, from the configuration in force (swapped whole at reload).
struct Target {
    family: String,
    interval: Duration,
    node: String,
}

#[derive(Default)]
struct State {
    target: Option<Arc<Target>>,
    /// The latest fetch of each phone not written yet.
    pending: HashMap<Box<[u8]>, Row>,
    /// When each phone was last written (entries older than the interval are let go).
    written: HashMap<Box<[u8]>, Instant>,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Whether a family is configured: read without the lock on every fetch.
    enabled: AtomicBool,
    writes: AtomicU64,
    dropped: AtomicU64,
}

/// The writer and its table, from load to unload.
#[derive(Default)]
pub struct ClusterAudit {
    shared: Arc<Shared>,
    thread: Mutex<Option<Thread>>,
    started: AtomicBool,
}

/// The family's database did not answer.
pub struct Down;

impl ClusterAudit {
    /// Takes `config`'s `audit_realtime` (at load and at each reload); starts the writer the
    /// first time one is set.
    pub fn configure(&self, config: &Config) {
        let opts = &config.settings.shared;
        let target = opts.audit.as_ref().map(|family| {
            Arc::new(Target {
                family: family.clone(),
                interval: Duration::from_secs(opts.audit_interval),
                // Asked of Asterisk before the lock is taken.
                node: node_name(),
            })
        });
        let on = target.is_some();
        {
            let mut st = lock(&self.shared.state);
            st.target = target;
            if !on {
                st.pending.clear();
            }
        }
        self.shared.enabled.store(on, Ordering::Release);
        // Spawned (a call into Asterisk) with no lock held; `started` makes it once.
        if on && !self.started.swap(true, Ordering::AcqRel) {
            let shared = self.shared.clone();
            let spawned = thread::spawn(move || write_loop(&shared));
            if spawned.is_none() {
                self.started.store(false, Ordering::Release);
                log::warning!("No thread to write the audit to its realtime family.");
            }
            *lock(&self.thread) = spawned;
        }
    }

    /// Puts `fetch` of the phone `mac` in the table (request path: one short lock).
    pub fn offer(&self, mac: &[u8], fetch: &Fetch) {
        if !self.shared.enabled.load(Ordering::Acquire) {
            return;
        }
        let mut st = lock(&self.shared.state);
        let Some(node) = st.target.as_ref().map(|t| t.node.clone()) else {
            return;
        };
        let key = mac.to_ascii_lowercase();
        if st.pending.len() >= PENDING_MAX && !st.pending.contains_key(&key[..]) {
            drop(st);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.pending
            .insert(key.into_boxed_slice(), Row::of(fetch, &node));
        drop(st);
        self.shared.wake.notify_one();
    }

    fn family(&self) -> Option<String> {
        lock(&self.shared.state)
            .target
            .as_ref()
            .map(|t| t.family.clone())
    }

    /// The cluster's last fetch of `mac`; None when no family is configured.
    pub fn last(&self, mac: &[u8]) -> Option<Result<Option<Row>, Down>> {
        let family = self.family()?;
        Some(
            match realtime::rows(&family, &[("mac", &mac.to_ascii_lowercase())]) {
                Some(rows) => Ok(rows.categories.iter().find_map(Row::parse).map(|(_, r)| r)),
                None if crate::ffi::config::realtime_probe(family.as_bytes()) => Ok(None),
                None => Err(Down),
            },
        )
    }

    /// The cluster's last fetch of each of `macs`, by lower-case MAC; None when no family
    /// is configured. A few phones are asked one by one; more, with one query of the
    /// whole family (which may also hold the database phones of dynamic lookup mode).
    pub fn of_phones<'m>(
        &self,
        macs: impl ExactSizeIterator<Item = &'m [u8]>,
    ) -> Option<Result<HashMap<Vec<u8>, Row>, Down>> {
        if macs.len() > ONE_BY_ONE {
            return self.all();
        }
        let mut found = HashMap::new();
        for mac in macs {
            match self.last(mac)? {
                Ok(Some(row)) => {
                    found.insert(mac.to_ascii_lowercase(), row);
                }
                Ok(None) => {}
                Err(Down) => return Some(Err(Down)),
            }
        }
        Some(Ok(found))
    }

    /// Every phone's last fetch in the cluster, by lower-case MAC; None when no family is
    /// configured.
    pub fn all(&self) -> Option<Result<HashMap<Vec<u8>, Row>, Down>> {
        let family = self.family()?;
        Some(match realtime::rows(&family, &[("mac LIKE", b"%")]) {
            Some(rows) => Ok(rows.categories.iter().filter_map(Row::parse).collect()),
            None if crate::ffi::config::realtime_probe(family.as_bytes()) => Ok(HashMap::new()),
            None => Err(Down),
        })
    }

    /// Rows written, and fetches dropped, since load.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.shared.writes.load(Ordering::Relaxed),
            self.shared.dropped.load(Ordering::Relaxed),
        )
    }

    /// The writer's counters, for res_prometheus.
    pub fn prometheus(&self, out: &mut String) {
        let counters = [
            (
                "audit_writes_total",
                "Last fetches written to the audit_realtime family.",
                &self.shared.writes,
            ),
            (
                "audit_writes_dropped_total",
                "Last fetches not written to the audit_realtime family (its database did not \
                 answer, or too many phones waited).",
                &self.shared.dropped,
            ),
        ];
        for (name, help, n) in counters {
            let _ = writeln!(out, "# HELP asterisk_phoneprov_{name} {help}");
            let _ = writeln!(out, "# TYPE asterisk_phoneprov_{name} counter");
            let _ = writeln!(
                out,
                "asterisk_phoneprov_{name} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }
}

impl Drop for ClusterAudit {
    /// The writer runs this library's code: ended before it can be unmapped.
    fn drop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.wake.notify_one();
        let running = lock(&self.thread).take();
        if let Some(running) = running {
            running.join();
        }
    }
}

/// What is due now: the phones not written within the interval, taken out of the table.
fn due(st: &mut State, interval: Duration, now: Instant) -> Vec<(Box<[u8]>, Row)> {
    st.written.retain(|_, t| now.duration_since(*t) < interval);
    let keys: Vec<Box<[u8]>> = st
        .pending
        .keys()
        .filter(|k| !st.written.contains_key(*k))
        .cloned()
        .collect();
    keys.into_iter()
        .filter_map(|k| {
            let row = st.pending.remove(&k)?;
            st.written.insert(k.clone(), now);
            Some((k, row))
        })
        .collect()
}

fn wait<'a>(
    shared: &Shared,
    st: MutexGuard<'a, State>,
    for_: Option<Duration>,
) -> MutexGuard<'a, State> {
    match for_ {
        None => shared
            .wake
            .wait(st)
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        Some(d) => {
            shared
                .wake
                .wait_timeout(st, d)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0
        }
    }
}

fn write_loop(shared: &Shared) {
    let mut down_until: Option<Instant> = None;
    loop {
        let (batch, target) = {
            let mut st = lock(&shared.state);
            loop {
                if st.stop {
                    return;
                }
                let Some(target) = st.target.clone() else {
                    st = wait(shared, st, None);
                    continue;
                };
                if st.pending.is_empty() {
                    st = wait(shared, st, None);
                    continue;
                }
                let batch = due(&mut st, target.interval, Instant::now());
                if batch.is_empty() {
                    st = wait(shared, st, Some(TICK));
                    continue;
                }
                break (batch, target);
            }
        };
        let mut rows = batch.into_iter();
        if down_until.is_some_and(|t| Instant::now() < t) {
            shared
                .dropped
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
            continue;
        }
        down_until = None;
        while let Some((mac, row)) = rows.next() {
            if write(&target.family, &mac, &row) {
                shared.writes.fetch_add(1, Ordering::Relaxed);
            } else {
                let lost = 1 + rows.len() as u64;
                shared.dropped.fetch_add(lost, Ordering::Relaxed);
                log::warning!(
                    "The realtime family '{}' (audit_realtime) did not take a phone's last \
                     fetch: dropping them for {} s.",
                    target.family,
                    BACKOFF.as_secs()
                );
                down_until = Some(Instant::now() + BACKOFF);
                break;
            }
        }
    }
}

/// Writes one phone's row: an update of its row, else a new row (another node may insert it
/// first: then the update again).
fn write(family: &str, mac: &[u8], row: &Row) -> bool {
    let (at, status) = (row.at.to_string(), row.status.to_string());
    let fields: [(&str, &[u8]); 8] = [
        ("at", at.as_bytes()),
        ("node", row.node.as_bytes()),
        ("address", row.address.as_bytes()),
        ("user_agent", row.user_agent.as_bytes()),
        ("model", row.model.as_bytes()),
        ("firmware", row.firmware.as_bytes()),
        ("uri", &row.uri),
        ("status", status.as_bytes()),
    ];
    let key: [(&str, &[u8]); 1] = [("mac", mac)];
    match realtime::update_where(family, &key, &fields) {
        Some(0) => {
            let mut all = key.to_vec();
            all.extend_from_slice(&fields);
            realtime::store(family, &all)
                || realtime::update_where(family, &key, &fields) == Some(1)
        }
        Some(_) => true,
        None => false,
    }
}
