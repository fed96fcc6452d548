//! Logging through `ast_log`, always with "%s" as the format.
//!
//! The macros [`error!`], [`warning!`], [`notice!`] and [`log_at!`] take `format!` arguments
//! and name the file, line and function they are written in, as Asterisk's own `ast_log`
//! lines do; the message is only formatted when Asterisk would keep it (debug lines only at
//! `core set debug` 1 or more, for Asterisk or for this module).
//!
//! (The macros are re-exported under their short names.)

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

/// Whether a message at `level` would be logged: the macros check it before formatting.
pub fn enabled(level: Level) -> bool {
    // SAFETY: reads a global option; no arguments.
    level != Level::Debug || unsafe { sys::pp_debug_enabled() } != 0
}

/// Logs `message` as written at `file`:`line` in `function` (when `level` is enabled).
pub fn write(level: Level, file: &str, line: u32, function: &str, message: &str) {
    if !enabled(level) {
        return;
    }
    let message = one_line(message);
    let (file, function, text) = (
        cstring(file),
        cstring(function),
        cstring(message.as_bytes()),
    );
    // SAFETY: all pointers are valid NUL-terminated strings for the call; the glue passes
    // the message as a "%s" argument, never as a format.
    unsafe {
        sys::pp_log(
            level_code(level),
            file.as_ptr(),
            i32::try_from(line).unwrap_or(i32::MAX),
            function.as_ptr(),
            text.as_ptr(),
        )
    };
}

/// `message` with no line break: a second line would be read by log parsers (fail2ban) as
/// a line of its own, with a timestamp and origin of the writer's choosing. Request text is
/// escaped where it enters ([`phoneprov_core::util::clean::Clean`]); this only keeps a
/// message that forgot to from ever starting a line.
fn one_line(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.contains(['\n', '\r']) {
        return message.into();
    }
    message.replace('\n', "\\x0a").replace('\r', "\\x0d").into()
}

/// The function named by `std::any::type_name` of an item nested in it (what
/// [`function_name!`] passes), as a C programmer would write it: `load`, `Registry::rebuild`.
/// Closures count as the function they are written in.
pub fn short_function_name(path: &str) -> &str {
    let mut path = path.strip_suffix("::__pp_here").unwrap_or(path);
    while let Some(p) = path.strip_suffix("::{{closure}}") {
        path = p;
    }
    // Split at "::" outside angle brackets: `<impl Host for AstHost>::log` is one segment.
    let mut depth = 0i32;
    let mut cuts = Vec::new();
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') && i > 0 => cuts.push(i),
            _ => {}
        }
    }
    let Some(&last) = cuts.last() else {
        return path;
    };
    // A type's method keeps its type (upper camel case by Rust convention).
    if let Some(&before) = cuts.iter().rev().nth(1) {
        let owner = &path[before + 2..last];
        if owner.starts_with(|c: char| c.is_ascii_uppercase()) {
            return &path[before + 2..];
        }
    }
    &path[last + 2..]
}

/// The name of the function this is written in (see [`short_function_name`]).
macro_rules! pp_function_name {
    () => {{
        fn __pp_here() {}
        fn type_name_of<T>(_: T) -> &'static str {
            ::std::any::type_name::<T>()
        }
        $crate::ffi::log::short_function_name(type_name_of(__pp_here))
    }};
}
pub(crate) use pp_function_name as function_name;

/// `log_at!(level, format, args...)`: logs at a [`Level`] chosen at run time.
macro_rules! pp_log_at {
    ($level:expr, $($arg:tt)+) => {{
        let level = $level;
        if $crate::ffi::log::enabled(level) {
            $crate::ffi::log::write(
                level,
                file!(),
                line!(),
                $crate::ffi::log::function_name!(),
                &format!($($arg)+),
            );
        }
    }};
}
pub(crate) use pp_log_at as log_at;

/// `diagnostics!(diags)`: logs each of the core's configuration diagnostics at the line of
/// the core that found the problem, naming the function this is written in.
macro_rules! pp_diagnostics {
    ($diags:expr) => {
        for d in $diags {
            $crate::ffi::log::write(
                d.level,
                d.origin.file(),
                d.origin.line(),
                $crate::ffi::log::function_name!(),
                &d.message,
            );
        }
    };
}
pub(crate) use pp_diagnostics as diagnostics;

macro_rules! pp_error {
    ($($arg:tt)+) => {
        $crate::ffi::log::log_at!(::phoneprov_core::host::Level::Error, $($arg)+)
    };
}
pub(crate) use pp_error as error;

macro_rules! pp_warning {
    ($($arg:tt)+) => {
        $crate::ffi::log::log_at!(::phoneprov_core::host::Level::Warning, $($arg)+)
    };
}
pub(crate) use pp_warning as warning;

macro_rules! pp_notice {
    ($($arg:tt)+) => {
        $crate::ffi::log::log_at!(::phoneprov_core::host::Level::Notice, $($arg)+)
    };
}
pub(crate) use pp_notice as notice;

/// Logs `message` at `level`, naming the Rust source line that called it (through any
/// chain of `#[track_caller]` functions). No function name is known here: prefer the
/// macros, which name it.
#[track_caller]
pub fn log(level: Level, message: &str) {
    let at = Location::caller();
    write(level, at.file(), at.line(), "res_phoneprov", message);
}
