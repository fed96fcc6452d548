//! Logging through `ast_log`, always with "%s" as the format.

use std::panic::Location;

use super::{cstring, sys};
use phoneprov_core::host::Level;

fn level_code(level: Level) -> i32 {
    use sys::pp_log_level::*;
    (match level {
        Level::Debug => PP_LOG_DEBUG,
        Level::Notice => PP_LOG_NOTICE,
        Level::Warning => PP_LOG_WARNING,
        Level::Error => PP_LOG_ERROR,
    }) as i32
}

/// Logs `message` at `level`, naming the Rust source line that logged it.
#[track_caller]
pub fn log(level: Level, message: &str) {
    if level == Level::Debug {
        // SAFETY: reads a global option; no arguments.
        if unsafe { sys::pp_debug_enabled() } == 0 {
            return;
        }
    }
    let at = Location::caller();
    let file = cstring(at.file());
    let text = cstring(message);
    let func = c"res_phoneprov";
    // SAFETY: all pointers are valid NUL-terminated strings for the call; the glue passes
    // the message as a "%s" argument, never as a format.
    unsafe {
        sys::pp_log(
            level_code(level),
            file.as_ptr(),
            at.line() as i32,
            func.as_ptr(),
            text.as_ptr(),
        )
    };
}

/// Logs `message` at `level` as coming from `origin` (a diagnostic made elsewhere).
pub fn log_at(level: Level, message: &str, origin: &Location<'_>) {
    if level == Level::Debug {
        // SAFETY: reads a global option; no arguments.
        if unsafe { sys::pp_debug_enabled() } == 0 {
            return;
        }
    }
    let file = cstring(origin.file());
    let text = cstring(message);
    let func = c"res_phoneprov";
    // SAFETY: all pointers are valid NUL-terminated strings for the call; the glue passes
    // the message as a "%s" argument, never as a format.
    unsafe {
        sys::pp_log(
            level_code(level),
            file.as_ptr(),
            origin.line() as i32,
            func.as_ptr(),
            text.as_ptr(),
        )
    };
}

#[track_caller]
pub fn error(message: &str) {
    log(Level::Error, message)
}

#[track_caller]
pub fn warning(message: &str) {
    log(Level::Warning, message)
}

#[track_caller]
pub fn notice(message: &str) {
    log(Level::Notice, message)
}
