//! When each profile's `auth_rollout` began, kept in astdb (family `phoneprov/rollout`) so
//! that it survives reloads and restarts: `phoneprov show phones` lists the phones of a
//! profile in rollout that have not fetched since, the ones that may not hold their
//! provisioning credentials yet. Once none is left, the rollout can end.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::astdb;
use phoneprov_core::config::profile::Config;
use phoneprov_core::util::bytes::lossy;

const FAMILY: &str = "phoneprov/rollout";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Records the start of each profile's rollout that has none yet, and forgets those of
/// profiles no longer in rollout (load and reload).
pub fn note(config: &Config) {
    let in_rollout: Vec<String> = config
        .profiles
        .iter()
        .filter(|p| p.access.resolve(&config.settings.access).auth_rollout)
        .map(|p| lossy(&p.name).into_owned())
        .collect();
    for (name, _) in astdb::entries(FAMILY) {
        if !in_rollout.contains(&name) {
            astdb::del(FAMILY, &name);
        }
    }
    for name in &in_rollout {
        if since(name.as_bytes()).is_none() {
            astdb::put(FAMILY, name, now().to_string().as_bytes());
        }
    }
}

/// When the rollout of `profile` began (seconds since the epoch), if it is in one.
pub fn since(profile: &[u8]) -> Option<i64> {
    let value = astdb::get(FAMILY, &lossy(profile))?;
    std::str::from_utf8(&value).ok()?.parse().ok()
}
