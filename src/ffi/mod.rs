//! The only place with `unsafe`: raw bindings, RAII wrappers over Asterisk objects, and the
//! `extern "C"` entry points. Everything above this module is safe Rust with owned types.

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    clippy::all
)]
mod sys {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub mod api;
pub mod config;
mod entry;
mod guard;
pub mod host;
pub mod http;
pub mod log;
pub mod vars;

use std::ffi::{c_char, CStr, CString};

/// A C string for Asterisk; interior NUL bytes (which C cannot carry) become spaces.
pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).expect("NULs were replaced")
}

/// Copies a C string that Asterisk handed us; NULL is empty.
///
/// The pointer must be NULL or point to a NUL-terminated string alive for the call.
pub(crate) fn owned(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the callers pass pointers Asterisk guarantees to be NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
