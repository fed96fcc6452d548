//! The lower layer: raw bindings (`sys`) and safe wrappers over Asterisk's objects and
//! facilities (config, variable lists, HTTP requests, logging, host facts). It knows nothing
//! of the module's logic and never imports it. Constructors that take raw pointers are
//! `unsafe fn`, so only the `exports` layer (which receives the pointers) can make them.

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    clippy::all
)]
pub(crate) mod sys {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub mod acl;
pub mod astdb;
pub mod config;
pub mod guard;
pub mod host;
pub mod http;
pub mod log;
pub mod manager;
pub mod provider;
pub mod security;
pub mod thread;
pub mod vars;
pub mod watch;

use std::ffi::{c_char, CStr, CString};

/// A C string for Asterisk, bytes as they are; interior NUL bytes (which C cannot carry)
/// become spaces.
pub(crate) fn cstring(s: impl AsRef<[u8]>) -> CString {
    let s = s.as_ref();
    // Room for the terminator from the start: CString::new would otherwise grow the block.
    let mut bytes = Vec::with_capacity(s.len() + 1);
    bytes.extend(s.iter().map(|&b| if b == 0 { b' ' } else { b }));
    CString::new(bytes).expect("NULs were replaced")
}

/// [`cstring`] of `parts` one after the other, made in one allocation.
pub(crate) fn cstring_joined(parts: &[&[u8]]) -> CString {
    let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 1);
    for part in parts {
        bytes.extend(part.iter().map(|&b| if b == 0 { b' ' } else { b }));
    }
    CString::new(bytes).expect("NULs were replaced")
}

/// A copy of `s` in Asterisk's heap (for strings Asterisk frees with `ast_free`), NULL when
/// the allocation fails.
pub(crate) fn asterisk_strdup(s: &[u8]) -> *mut c_char {
    let c = cstring(s);
    // SAFETY: c is a valid C string for the call; ast_strdup copies it.
    unsafe { sys::pp_strdup(c.as_ptr()) }
}

/// Copies the bytes of a C string that Asterisk handed us; NULL is empty.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that stays alive and unchanged
/// during the call.
pub(crate) unsafe fn owned_bytes(p: *const c_char) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: per this function's contract, p is a live NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
}

/// [`owned_bytes`] as text, for names that are only ever shown (provider names, CLI
/// words): bytes that are not UTF-8 become U+FFFD.
///
/// # Safety
/// As for [`owned_bytes`].
pub(crate) unsafe fn owned(p: *const c_char) -> String {
    // SAFETY: the caller upholds owned_bytes' contract.
    String::from_utf8_lossy(&unsafe { owned_bytes(p) }).into_owned()
}
