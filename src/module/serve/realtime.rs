//! Dynamic lookup mode (`users_realtime`): a request no route in memory answers, whose URI
//! has the shape of a dynamic file with the MAC in it, is looked up in the realtime family by
//! `macaddress`; the phone found (its rows are its lines, read like users-file sections) is
//! built, kept in a bounded LRU cache for `realtime_cache_ttl` seconds, and served like a
//! phone in memory. MACs the database does not know are remembered as long, in a cache of
//! their own, so guessing costs the database one lookup per MAC and TTL.
//!
//! The realtime API answers "nothing" both for no rows and for a failed query; after an
//! empty answer a check of the database (see `config::realtime_probe`) tells the two apart.
//! Only a check that started after the query ended is trusted: one made a moment before
//! could have seen the database up just before it went down, and "no such phone" would then
//! be answered (and remembered) for a phone the database never got to say anything about. One
//! check runs at a time, shared by every request waiting for one. While the database does
//! not answer, cached phones are served even past their TTL, other phones get 503 (never
//! remembered), and at most one request per second tries the database again.
//!
//! Requests change the cache (as they add to the audit), never the snapshot; the cache's
//! lock is never held while calling into Asterisk (lookups and rendering happen outside it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::ffi::config;
use crate::ffi::host::AstHost;
use crate::ffi::log;
use crate::module::state::sipusers::Users;
use phoneprov_core::config::conf::ConfigFile;
use phoneprov_core::config::profile::Config;
use phoneprov_core::config::users;
use phoneprov_core::config::vars::Text;
use phoneprov_core::model::snapshot::{without_secret, Extension, Phone, Snapshot};
use phoneprov_core::realtime::lru::Lru;
use phoneprov_core::realtime::options::{
    rows_as_sections, spellings, FoundMac, Mac, MacPattern, RealtimeOptions,
};
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::{lock, wait};

/// The provider name realtime phones carry (messages, the audit).
pub const PROVIDER: &str = "realtime";
/// The column phones are looked up by: the users file's key.
const MAC_FIELD: &str = "macaddress";
/// While the database is down, how often a request may try it again (milliseconds); also
/// how long a probe's good answer is trusted.
const RETRY_MS: u64 = 1000;

/// A phone from the database, built.
pub struct RealtimePhone {
    pub phone: Arc<Phone>,
    /// The URI of each of its dynamic files: (uri, file index).
    uris: Vec<(Text, usize)>,
}

impl RealtimePhone {
    /// The URI of each of its dynamic files, with the file's index in its profile.
    pub fn uris(&self) -> impl Iterator<Item = (&[u8], usize)> {
        self.uris.iter().map(|(u, f)| (&u[..], *f))
    }

    /// The index of the dynamic file this phone serves at `uri`.
    pub fn file_at(&self, uri: &[u8]) -> Option<usize> {
        self.uris.iter().find(|(u, _)| **u == *uri).map(|(_, f)| *f)
    }
}

pub enum Lookup {
    /// Dynamic mode is off, the URI names no MAC, or the database has no such phone.
    NotFound,
    Found(Arc<RealtimePhone>),
    /// The database does not answer and the phone is not cached.
    Unavailable,
}

struct Cached {
    phone: Arc<RealtimePhone>,
    at: Instant,
}

struct Cache {
    /// The configuration the cached phones were built with: a reload starts afresh.
    config: Arc<Config>,
    /// The generation of the snapshot that made the cache: a request still holding an
    /// older snapshot (during a reload) must not throw a newer cache away.
    generation: u64,
    patterns: Vec<MacPattern>,
    phones: Lru<Mac, Cached>,
    unknown: Lru<Mac, Instant>,
}

impl Cache {
    fn new(snap: &Snapshot, size: usize) -> Cache {
        Cache {
            config: snap.config.clone(),
            generation: snap.generation,
            patterns: patterns(&snap.config),
            phones: Lru::new(size),
            unknown: Lru::new(size),
        }
    }
}

/// The URI templates of `config` a MAC can be read back from.
fn patterns(config: &Config) -> Vec<MacPattern> {
    let mut patterns: Vec<MacPattern> = Vec::new();
    for file in config.profiles.iter().flat_map(|p| &p.dynamic_files) {
        if let Some(p) = MacPattern::compile(&file.uri) {
            if !patterns.contains(&p) {
                patterns.push(p);
            }
        }
    }
    patterns
}

/// Counters for `phoneprov show status`.
#[derive(Default)]
pub struct Counters {
    pub hits: AtomicU64,
    pub lookups: AtomicU64,
    pub unknown: AtomicU64,
    pub unavailable: AtomicU64,
    pub stale: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Checks of whether the database answers, by when each started.
#[derive(Default)]
struct Checks {
    running: Option<Instant>,
    last: Option<(Instant, bool)>,
}

/// Marks the running check as ended, even when it panics, so waiters are not left waiting.
struct Running<'a> {
    lookups: &'a Lookups,
    started: Instant,
    answer: Option<bool>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut checks = lock(&self.lookups.checks);
        checks.running = None;
        if let Some(ok) = self.answer {
            if !checks.last.is_some_and(|(at, _)| at >= self.started) {
                checks.last = Some((self.started, ok));
            }
        }
        drop(checks);
        self.lookups.checked.notify_all();
    }
}

/// Dynamic lookup mode's state for one load of the module.
pub struct Lookups {
    cache: Mutex<Option<Cache>>,
    down: AtomicBool,
    /// [`Lookups::millis`] of the last try while down.
    last_try: AtomicU64,
    /// Checks of the database: the one running, the last one's answer.
    checks: Mutex<Checks>,
    /// Told when a check ends.
    checked: Condvar,
    pub counters: Counters,
    epoch: Instant,
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups {
            cache: Mutex::new(None),
            down: AtomicBool::new(false),
            last_try: AtomicU64::new(0),
            checks: Mutex::new(Checks::default()),
            checked: Condvar::new(),
            counters: Counters::default(),
            epoch: Instant::now(),
        }
    }
}

/// What the cache knows of a MAC.
enum Known {
    Fresh(Arc<RealtimePhone>),
    Stale(Arc<RealtimePhone>),
    Unknown,
    Nothing,
}

fn known(cache: &mut Cache, opts: &RealtimeOptions, key: &Mac) -> Known {
    let ttl = Duration::from_secs(opts.ttl);
    if let Some(c) = cache.phones.get(key) {
        return match c.at.elapsed() < ttl {
            true => Known::Fresh(c.phone.clone()),
            false => Known::Stale(c.phone.clone()),
        };
    }
    match cache.unknown.get(key) {
        Some(at) if at.elapsed() < ttl => Known::Unknown,
        _ => Known::Nothing,
    }
}

/// The phone the rows describe, built as the users file's phones are.
fn build(users: &Users, config: &Arc<Config>, mut rows: ConfigFile) -> Option<RealtimePhone> {
    rows_as_sections(&mut rows);
    let defaults = users.defaults_for(config);
    let mut diags = Vec::new();
    let lines = users::load(&rows, &defaults, &mut diags);
    log::diagnostics!(diags);
    let provider: Arc<str> = Arc::from(PROVIDER);
    let extensions: Vec<Extension> = lines
        .into_iter()
        .map(|vars| Extension {
            provider: provider.clone(),
            vars,
        })
        .collect();
    let (phone, uris) = Snapshot::build_phone(config.clone(), &extensions, &AstHost)?;
    // Said at each lookup (once per cache lifetime of the phone), as a load says it of the
    // phones in memory: no lock is held here.
    for line in without_secret(config, std::iter::once(&phone)) {
        log::warning!("phoneprov: realtime: {line}");
    }
    Some(RealtimePhone {
        phone: Arc::new(phone),
        uris,
    })
}

impl Lookups {
    /// Milliseconds since this load's start: instants that fit in an atomic.
    fn now_millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The MAC `uri` names and what the cache knows of it; None when no pattern matches.
    fn consult(
        &self,
        snap: &Snapshot,
        opts: &RealtimeOptions,
        uri: &[u8],
    ) -> Option<(FoundMac, Known)> {
        let mut guard = lock(&self.cache);
        let cache = match &mut *guard {
            Some(c) if Arc::ptr_eq(&c.config, &snap.config) => c,
            Some(c) if c.generation > snap.generation => {
                // An older snapshot than the cache's, during a reload: no cache for it.
                drop(guard);
                let mac = patterns(&snap.config).iter().find_map(|p| p.extract(uri))?;
                return Some((mac, Known::Nothing));
            }
            slot => slot.insert(Cache::new(snap, opts.cache_size)),
        };
        let mac = cache.patterns.iter().find_map(|p| p.extract(uri))?;
        let known = known(cache, opts, &mac.key);
        Some((mac, known))
    }

    /// What the cache knows of `key` (a MAC in lower case).
    fn consult_key(&self, snap: &Snapshot, opts: &RealtimeOptions, key: &Mac) -> Known {
        let mut guard = lock(&self.cache);
        match &mut *guard {
            Some(c) if Arc::ptr_eq(&c.config, &snap.config) => known(c, opts, key),
            Some(c) if c.generation > snap.generation => Known::Nothing,
            slot => known(slot.insert(Cache::new(snap, opts.cache_size)), opts, key),
        }
    }

    fn remember(&self, config: &Arc<Config>, key: Mac, found: Option<&Arc<RealtimePhone>>) {
        let mut guard = lock(&self.cache);
        // A reload meanwhile made what was built here stale: keep nothing.
        let Some(cache) = guard.as_mut().filter(|c| Arc::ptr_eq(&c.config, config)) else {
            return;
        };
        let now = Instant::now();
        match found {
            Some(phone) => {
                cache.unknown.remove(&key);
                cache.phones.insert(
                    key,
                    Cached {
                        phone: phone.clone(),
                        at: now,
                    },
                );
            }
            None => {
                cache.phones.remove(&key);
                cache.unknown.insert(key, now);
            }
        }
    }

    /// The phone of a URI no route in memory answers, in dynamic mode.
    pub fn lookup(&self, users: &Users, snap: &Snapshot, uri: &[u8]) -> Lookup {
        let Some(opts) = &snap.config.settings.realtime else {
            return Lookup::NotFound;
        };
        let Some((mac, known)) = self.consult(snap, opts, uri) else {
            return Lookup::NotFound;
        };
        self.resolve(users, snap, opts, &mac, known)
    }

    /// The database phone with this MAC (12 hexadecimal digits, or a softphone account's
    /// longer key, in any case), in dynamic mode: for the operator's commands and enrollment
    /// tokens, which name a phone by MAC rather than by one of its URIs. Cached as a
    /// request's lookup is.
    pub fn by_mac(&self, users: &Users, snap: &Snapshot, mac: &[u8]) -> Lookup {
        let Some(opts) = &snap.config.settings.realtime else {
            return Lookup::NotFound;
        };
        let Some(written) = Mac::new(mac) else {
            return Lookup::NotFound;
        };
        let key = written.to_lower();
        let known = self.consult_key(snap, opts, &key);
        self.resolve(users, snap, opts, &FoundMac { key, written }, known)
    }

    fn resolve(
        &self,
        users: &Users,
        snap: &Snapshot,
        opts: &RealtimeOptions,
        mac: &FoundMac,
        known: Known,
    ) -> Lookup {
        let stale = match known {
            Known::Fresh(phone) => {
                bump(&self.counters.hits);
                return Lookup::Found(phone);
            }
            Known::Unknown => {
                bump(&self.counters.unknown);
                return Lookup::NotFound;
            }
            Known::Stale(phone) => Some(phone),
            Known::Nothing => None,
        };
        match self.query(users, &snap.config, opts, mac) {
            Ok(found) => {
                let found = found.map(Arc::new);
                self.remember(&snap.config, mac.key, found.as_ref());
                match found {
                    Some(phone) => Lookup::Found(phone),
                    None => {
                        bump(&self.counters.unknown);
                        Lookup::NotFound
                    }
                }
            }
            Err(()) => match stale {
                Some(phone) => {
                    bump(&self.counters.stale);
                    Lookup::Found(phone)
                }
                None => {
                    bump(&self.counters.unavailable);
                    Lookup::Unavailable
                }
            },
        }
    }

    /// Looks the MAC up (as the URI spells it, then in lower and upper case); Err when the
    /// database does not answer.
    fn query(
        &self,
        users: &Users,
        config: &Arc<Config>,
        opts: &RealtimeOptions,
        mac: &FoundMac,
    ) -> Result<Option<RealtimePhone>, ()> {
        if self.down.load(Ordering::Acquire) {
            let last = self.last_try.load(Ordering::Relaxed);
            let now = self.now_millis();
            // One request per RETRY_MS tries again, with a check alone; the others answer
            // from what is known.
            if now.saturating_sub(last) < RETRY_MS
                || self
                    .last_try
                    .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                || !self.answering_since(&opts.family, Instant::now())
            {
                return Err(());
            }
        }
        bump(&self.counters.lookups);
        for spelling in spellings(mac.written.as_bytes()) {
            if let Some(rows) = config::realtime_rows(&opts.family, MAC_FIELD, &spelling) {
                self.up();
                return Ok(build(users, config, rows));
            }
        }
        // Nothing: no such phone only if the database answers now, after the query.
        if self.answering_since(&opts.family, Instant::now()) {
            Ok(None)
        } else {
            Err(())
        }
    }

    /// Whether the database answers, by a check that started at `after` or later: the one
    /// running if it did, else a new one once the running one is done.
    fn answering_since(&self, family: &[u8], after: Instant) -> bool {
        let mut checks = lock(&self.checks);
        loop {
            if let Some((at, ok)) = checks.last {
                if at >= after {
                    return ok;
                }
            }
            if checks.running.is_some() {
                checks = wait(&self.checked, checks);
                continue;
            }
            let started = Instant::now();
            checks.running = Some(started);
            drop(checks);
            let mut running = Running {
                lookups: self,
                started,
                answer: None,
            };
            // A call into Asterisk (and the database): no lock held.
            let ok = config::realtime_probe(family);
            running.answer = Some(ok);
            drop(running);
            if ok {
                self.up();
            } else {
                self.down(family);
            }
            return ok;
        }
    }

    fn up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            log::notice!("Realtime lookups of phones work again.");
        }
    }

    fn down(&self, family: &[u8]) {
        self.last_try.store(self.now_millis(), Ordering::Relaxed);
        if !self.down.swap(true, Ordering::AcqRel) {
            log::warning!(
                "Realtime family '{}' does not answer: phones not in the cache get 503 until it does.",
                lossy(family)
            );
        }
    }

    /// Forgets every cached phone and unknown MAC (`phoneprov realtime flush`, unload).
    pub fn flush(&self) -> usize {
        let mut guard = lock(&self.cache);
        let n = guard
            .as_ref()
            .map_or(0, |c| c.phones.len() + c.unknown.len());
        *guard = None;
        n
    }

    /// (phones cached, unknown MACs remembered, capacity of each), for status.
    pub fn sizes(&self) -> (usize, usize, usize) {
        lock(&self.cache).as_ref().map_or((0, 0, 0), |c| {
            (c.phones.len(), c.unknown.len(), c.phones.capacity())
        })
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}
