//! Asterisk variable lists (`struct varshead`) built from and read into owned [`Vars`].

use std::ffi::CStr;

use super::{cstring, owned_bytes, sys};
use phoneprov_core::config::vars::Vars;

/// A `struct varshead` we own, destroyed on drop.
pub struct VarList(*mut sys::varshead);

impl VarList {
    /// A list holding `extra` first, then `vars` (the first of a name wins in Asterisk).
    pub fn new(vars: &Vars, extra: &[(&[u8], &[u8])]) -> Option<VarList> {
        // SAFETY: allocation only; NULL is handled below.
        let head = unsafe { sys::ast_var_list_create() };
        if head.is_null() {
            return None;
        }
        let list = VarList(head);
        for (k, v) in extra.iter().copied().chain(vars.iter()) {
            let (k, v) = (cstring(k), cstring(v));
            // SAFETY: head is live; Asterisk copies both strings.
            unsafe { sys::pp_vars_push(list.0, k.as_ptr(), v.as_ptr()) };
        }
        Some(list)
    }

    pub fn as_ptr(&self) -> *const sys::varshead {
        self.0
    }
}

impl Drop for VarList {
    fn drop(&mut self) {
        // SAFETY: we own the list and free it once.
        unsafe { sys::ast_var_list_destroy(self.0) }
    }
}

/// Copies a provider's list (names as given, with any inheritance prefix).
///
/// # Safety
/// `head` must be NULL or a live list that nobody changes during the call.
pub unsafe fn read(head: *const sys::varshead) -> Vars {
    let mut out = Vars::new();
    if head.is_null() {
        return out;
    }
    // SAFETY: head is a live list per this function's contract.
    let mut var = unsafe { sys::pp_vars_first(head) };
    while !var.is_null() {
        // SAFETY: var is an element of the live list; the strings live as long as it does.
        let (name, value) = unsafe { (sys::ast_var_full_name(var), sys::ast_var_value(var)) };
        // SAFETY: both are C strings of the live element.
        out.push(unsafe { owned_bytes(name) }, unsafe { owned_bytes(value) });
        // SAFETY: as above.
        var = unsafe { sys::pp_vars_next(var) };
    }
    out
}

/// Takes the bytes out of an ast_str the glue made for us, and frees it.
///
/// # Safety
/// `s` must be NULL or an ast_str the glue allocated for us, not used after this call.
pub(super) unsafe fn take_str(s: *mut sys::ast_str) -> Option<Vec<u8>> {
    if s.is_null() {
        return None;
    }
    // SAFETY: s is a live ast_str until freed below; its buffer is NUL-terminated (what
    // Asterisk's substitution writes is a C string, so it holds no NUL before the end).
    let text = unsafe { CStr::from_ptr(sys::pp_str_buffer(s)) }
        .to_bytes()
        .to_vec();
    // SAFETY: s was created for us by the glue and is freed once.
    unsafe { sys::pp_str_free(s) };
    Some(text)
}

/// The value of an Asterisk global variable, if one of that name exists.
pub fn global(name: &[u8]) -> Option<Vec<u8>> {
    let n = cstring(name);
    // SAFETY: n is a valid C string; the glue copies the value under Asterisk's lock into
    // a new ast_str, which take_str frees.
    unsafe { take_str(sys::pp_global_var(n.as_ptr())) }
}

/// Substitutes `template` with `list` through Asterisk (`${VAR}`, functions, expressions).
pub fn substitute(list: &VarList, template: &[u8]) -> Vec<u8> {
    let t = cstring(template);
    // SAFETY: list is live and only read; t is a valid C string; the result is a new
    // ast_str, which take_str frees.
    unsafe { take_str(sys::pp_substitute(list.as_ptr(), t.as_ptr())) }.unwrap_or_default()
}
