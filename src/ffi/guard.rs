//! Panics never cross into Asterisk: every entry point runs inside [`guard`].

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};

use super::log;

fn describe(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Logs where a panic happened through `ast_log`. It replaces std's default hook, which
/// writes to Asterisk's stderr and, with `RUST_BACKTRACE` set in Asterisk's environment,
/// maps this library's file to symbolize the backtrace and keeps that mapping for good: the
/// file then stays mapped after unload.
fn log_panic(location: Option<&Location>, payload: &(dyn Any + Send)) {
    let at = location
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    log::error!("panic{at}: {}", describe(payload));
}

/// Installs [`log_panic`] as the panic hook (each Rust library in the process has its own
/// std, so this hook only sees this module's panics). Called on load.
pub fn install_panic_hook() {
    // The hook's argument type is not named: its name changed after this crate's MSRV.
    std::panic::set_hook(Box::new(|info| log_panic(info.location(), info.payload())));
}

/// Puts std's default hook back, freeing ours, once the module is unloaded.
pub fn remove_panic_hook() {
    drop(std::panic::take_hook());
}

/// Runs `f`; if it panics, logs the panic through `ast_log` and returns `fallback`.
pub fn guard<R>(entry: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    // What a closure here may leave behind when it panics is state behind a lock, used as
    // it is afterwards (see phoneprov_core::util::lock for why that is the policy), and
    // snapshots, which are never changed once published: unwind safety is asserted.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = describe(&*payload);
            log::error!("internal error in {entry}: {what}");
            fallback
        }
    }
}
