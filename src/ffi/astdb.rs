//! Asterisk's database (astdb): values that survive a module reload and an Asterisk
//! restart. Also SHA-1 (Asterisk's), to store hashes of secrets rather than the secrets.

use std::ffi::{c_char, CStr};

use super::{cstring, sys};

/// Stores `value` under `family`/`key`; false when Asterisk could not.
pub fn put(family: &str, key: &str, value: &[u8]) -> bool {
    let (f, k, v) = (cstring(family), cstring(key), cstring(value));
    // SAFETY: valid C strings for the call; astdb copies them.
    unsafe { sys::ast_db_put(f.as_ptr(), k.as_ptr(), v.as_ptr()) == 0 }
}

/// The value under `family`/`key` (at most 1023 bytes).
pub fn get(family: &str, key: &str) -> Option<Vec<u8>> {
    let (f, k) = (cstring(family), cstring(key));
    let mut buf = [0 as c_char; 1024];
    // SAFETY: valid C strings; buf is writable for its length and astdb NUL-terminates.
    let res = unsafe { sys::ast_db_get(f.as_ptr(), k.as_ptr(), buf.as_mut_ptr(), 1024) };
    // SAFETY: on success buf holds a NUL-terminated string.
    (res == 0).then(|| unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes().to_vec())
}

pub fn del(family: &str, key: &str) {
    let (f, k) = (cstring(family), cstring(key));
    // SAFETY: valid C strings for the call.
    unsafe { sys::ast_db_del(f.as_ptr(), k.as_ptr()) };
}

/// Every key of `family` (the last part of its path) with its value.
pub fn entries(family: &str) -> Vec<(String, Vec<u8>)> {
    let f = cstring(family);
    // SAFETY: a valid C string; a NULL keytree means the whole family.
    let tree = unsafe { sys::ast_db_gettree(f.as_ptr(), std::ptr::null()) };
    let mut out = Vec::new();
    let mut e = tree;
    while !e.is_null() {
        // SAFETY: e is an entry of the list ast_db_gettree returned, freed only below.
        let entry = unsafe { &*e };
        // SAFETY: key and data are NUL-terminated strings of the entry.
        let key = unsafe { CStr::from_ptr(entry.key) }.to_string_lossy();
        // SAFETY: as above; data is the entry's flexible array, NUL-terminated.
        let data = unsafe { CStr::from_ptr(entry.data.as_ptr()) }
            .to_bytes()
            .to_vec();
        let last = key.rsplit('/').next().unwrap_or_default().to_owned();
        out.push((last, data));
        e = entry.next;
    }
    if !tree.is_null() {
        // SAFETY: frees the list once, after its last use.
        unsafe { sys::ast_db_freetree(tree) };
    }
    out
}

/// SHA-1 of `input`, 40 lower-case hex digits.
pub fn sha1_hex(input: &[u8]) -> String {
    let i = cstring(input);
    let mut out = [0 as c_char; 41];
    // SAFETY: i is a valid C string; out has room for 40 hex digits and the NUL.
    unsafe { sys::ast_sha1_hash(out.as_mut_ptr(), i.as_ptr()) };
    // SAFETY: ast_sha1_hash NUL-terminates out.
    unsafe { CStr::from_ptr(out.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}
