//! Panics never cross into Asterisk: every entry point runs inside [`guard`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::log;

/// Runs `f`; if it panics, logs the panic through `ast_log` and returns `fallback`.
pub fn guard<R>(entry: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    // Shared state is only ever replaced whole, so a panic cannot leave it half-written:
    // asserting unwind safety is sound for every closure passed here.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            log::error!("internal error in {entry}: {what}");
            fallback
        }
    }
}
