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

/// A C string for Asterisk, bytes as they are; interior NUL bytes (which C cannot carry)
/// become spaces.
pub(crate) fn cstring(s: impl AsRef<[u8]>) -> CString {
    let bytes: Vec<u8> = s
        .as_ref()
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    CString::new(bytes).expect("NULs were replaced")
}

/// Copies the bytes of a C string that Asterisk handed us; NULL is empty.
///
/// The pointer must be NULL or point to a NUL-terminated string alive for the call.
pub(crate) fn owned_bytes(p: *const c_char) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: the callers pass pointers Asterisk guarantees to be NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
}

/// [`owned_bytes`] as text, for names that are only ever shown (provider names, CLI
/// words): bytes that are not UTF-8 become U+FFFD.
pub(crate) fn owned(p: *const c_char) -> String {
    String::from_utf8_lossy(&owned_bytes(p)).into_owned()
}
