//! Rotation without lockout (`auth_grace`): each phone's credentials are remembered as a
//! fingerprint in astdb (`phoneprov/credentials`, so a change made while Asterisk was stopped
//! is seen too); when a snapshot gives a phone other ones, its previous fingerprint goes to
//! `phoneprov/grace` and keeps opening that phone's files, no other's, until `auth_grace` has
//! passed or the phone fetched once with its new credentials. astdb, not memory, so a reload
//! or restart in between keeps it.
//!
//! Fingerprints are compared on the thread that retires the snapshot replaced (astdb is
//! written off the reload and request paths). One previous fingerprint per phone: the
//! newest, the one a phone that fetched since the change before holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::astdb;
use crate::ffi::log;
use phoneprov_core::access::grace::{Fingerprint, Previous};
use phoneprov_core::access::options::AuthScheme;
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::lock;

const CURRENT: &str = "phoneprov/credentials";
const PREVIOUS: &str = "phoneprov/grace";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The previous credentials of phones whose credentials changed, by MAC.
#[derive(Default)]
pub struct Grace {
    previous: Mutex<HashMap<Vec<u8>, Previous>>,
    /// Whether `previous` holds anything: requests look no further when it does not.
    any: AtomicBool,
    /// The registry version whose snapshot was compared last.
    noted: AtomicU64,
}

/// How a profile's phones are fingerprinted: by the realm, for as long, when it asks for
/// credentials at all.
struct Scope {
    realm: Vec<u8>,
    grace: u64,
}

impl Grace {
    /// The grace periods astdb holds that have not ended (load).
    pub fn load() -> Grace {
        let grace = Grace::default();
        let now = now();
        let mut previous = lock(&grace.previous);
        for (mac, value) in astdb::entries(PREVIOUS) {
            match Previous::decode(&value) {
                Some(p) if p.until > now => {
                    previous.insert(mac.into_bytes(), p);
                }
                _ => astdb::del(PREVIOUS, &mac),
            }
        }
        grace.any.store(!previous.is_empty(), Ordering::Release);
        drop(previous);
        grace
    }

    /// Compares the credentials of `new`'s phones with those they had (in `old`, else in
    /// astdb) and starts a grace period for each that changed.
    pub fn note(&self, old: Option<&Snapshot>, new: &Snapshot) {
        let config = &new.config;
        let scopes: HashMap<&[u8], Scope> = config
            .profiles
            .iter()
            .filter_map(|p| {
                let rules = p.access.resolve(&config.settings.access);
                (rules.auth != AuthScheme::None && rules.auth_grace > 0).then(|| {
                    let scope = Scope {
                        realm: rules.auth_realm,
                        grace: rules.auth_grace,
                    };
                    (&p.name[..], scope)
                })
            })
            .collect();
        if scopes.is_empty() {
            return;
        }
        let now = now();
        let mut started = 0;
        for phone in &new.phones {
            let Some(scope) = scopes.get(&phone.profile.name[..]) else {
                continue;
            };
            let Some(current) = fingerprint(phone, &scope.realm) else {
                continue;
            };
            let mac = phone.mac();
            let key = lossy(mac);
            let before = match old.and_then(|o| o.phone(mac)) {
                Some(was) => fingerprint(was, &scope.realm).or_else(|| stored(&key)),
                None => stored(&key),
            };
            match before {
                Some(before) if before.same_as(&current) => {}
                Some(before) => {
                    let previous = Previous {
                        until: now.saturating_add(scope.grace),
                        fingerprint: before,
                    };
                    astdb::put(PREVIOUS, &key, previous.encode().as_bytes());
                    astdb::put(CURRENT, &key, current.encode().as_bytes());
                    lock(&self.previous).insert(mac.to_vec(), previous);
                    self.any.store(true, Ordering::Release);
                    started += 1;
                }
                None => {
                    astdb::put(CURRENT, &key, current.encode().as_bytes());
                }
            }
        }
        if started > 0 {
            log::notice!(
                "phoneprov: the credentials of {started} phone(s) changed; their previous ones \
                 keep opening their own files until each has fetched with the new ones \
                 (auth_grace)"
            );
        }
    }

    /// The snapshot of registry version `version` was compared (or never will be).
    pub fn noted(&self, version: u64) {
        self.noted.fetch_max(version, Ordering::AcqRel);
    }

    pub fn noted_version(&self) -> u64 {
        self.noted.load(Ordering::Acquire)
    }

    /// Whether `mac`'s previous credentials, if still in grace, pass `opens`.
    pub fn opens(&self, mac: &[u8], opens: impl FnOnce(&Fingerprint) -> bool) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let previous = lock(&self.previous).get(mac).cloned();
        previous.is_some_and(|p| p.until > now() && opens(&p.fingerprint))
    }

    /// `mac` fetched with its current credentials: it holds them, its grace ends.
    pub fn ended(&self, mac: &[u8]) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let removed = {
            let mut previous = lock(&self.previous);
            let removed = previous.remove(mac).is_some();
            self.any.store(!previous.is_empty(), Ordering::Release);
            removed
        };
        if removed {
            astdb::del(PREVIOUS, &lossy(mac));
        }
    }

    /// The phones in grace and until when: for `phoneprov show status`.
    pub fn pending(&self) -> Vec<(Vec<u8>, u64)> {
        let now = now();
        let mut out: Vec<(Vec<u8>, u64)> = lock(&self.previous)
            .iter()
            .filter(|(_, p)| p.until > now)
            .map(|(mac, p)| (mac.clone(), p.until))
            .collect();
        out.sort();
        out
    }
}

/// A phone's credentials, when it has a secret.
fn fingerprint(phone: &Phone, realm: &[u8]) -> Option<Fingerprint> {
    let user = phone.http_user();
    match phone.digest() {
        Some(key) if *key.realm == *realm => {
            Some(Fingerprint::of_ha1(user, realm, key.ha1.clone()))
        }
        _ => phone
            .http_secret()
            .map(|secret| Fingerprint::new(user, realm, secret)),
    }
}

fn stored(mac: &str) -> Option<Fingerprint> {
    Fingerprint::decode(&astdb::get(CURRENT, mac)?)
}
