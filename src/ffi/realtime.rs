//! Rows of realtime families written and read by the module's shared state (enrollment
//! tokens, the last fetch per phone), through the realtime API's `_fields` calls: they take
//! their fields as an `ast_variable` list rather than varargs, so bindgen reaches them.
//! A field name may carry an operator after a space (`"expires >"`), as the realtime
//! drivers read it; values are bytes, a NUL in them becomes a space.

use std::ptr;

use super::config::AstConfig;
use super::{cstring, sys};
use phoneprov_core::config::conf::ConfigFile;

/// An `ast_variable` list made here, destroyed on drop.
struct Fields(*mut sys::ast_variable);

impl Fields {
    /// The list of `pairs`, in order; None when Asterisk could not allocate it.
    fn new(pairs: &[(&str, &[u8])]) -> Option<Fields> {
        let mut list = Fields(ptr::null_mut());
        let mut tail: *mut sys::ast_variable = ptr::null_mut();
        for (name, value) in pairs {
            let (name, value) = (cstring(name), cstring(value));
            // SAFETY: valid C strings for the call; Asterisk copies them into the new
            // variable, which it allocates (NULL on failure).
            let var = unsafe {
                sys::_ast_variable_new(
                    name.as_ptr(),
                    value.as_ptr(),
                    c"".as_ptr(),
                    c"realtime.rs".as_ptr(),
                    c"Fields::new".as_ptr(),
                    0,
                )
            };
            if var.is_null() {
                return None;
            }
            if tail.is_null() {
                list.0 = var;
            } else {
                // SAFETY: tail is the last variable of this list, made above and owned by it.
                unsafe { (*tail).next = var };
            }
            tail = var;
        }
        Some(list)
    }
}

impl Drop for Fields {
    fn drop(&mut self) {
        // SAFETY: a list made by Fields::new, destroyed once; NULL is accepted.
        unsafe { sys::ast_variables_destroy(self.0) }
    }
}

/// Inserts one row; false when the driver refused it (no such family, the database does
/// not answer, a duplicate key).
pub fn store(family: &str, fields: &[(&str, &[u8])]) -> bool {
    let Some(fields) = Fields::new(fields) else {
        return false;
    };
    let family = cstring(family);
    // SAFETY: a valid C string and a valid list for the duration of the call.
    unsafe { sys::ast_store_realtime_fields(family.as_ptr(), fields.0) > 0 }
}

/// `UPDATE family SET update WHERE lookup`: how many rows changed, None when it failed.
/// One statement in the database, so a condition in `lookup` (such as `used = 0`) holds
/// for exactly one of several nodes updating the same row at once.
pub fn update_where(
    family: &str,
    lookup: &[(&str, &[u8])],
    update: &[(&str, &[u8])],
) -> Option<u32> {
    let lookup = Fields::new(lookup)?;
    let update = Fields::new(update)?;
    let family = cstring(family);
    // SAFETY: a valid C string and two valid lists for the duration of the call.
    let n = unsafe { sys::ast_update2_realtime_fields(family.as_ptr(), lookup.0, update.0) };
    u32::try_from(n).ok()
}

/// The rows matching every one of `lookup`, one category each; None when there are none
/// or the query failed (the realtime API does not tell which).
pub fn rows(family: &str, lookup: &[(&str, &[u8])]) -> Option<ConfigFile> {
    let lookup = Fields::new(lookup)?;
    let family = cstring(family);
    // SAFETY: a valid C string and a valid list for the duration of the call; the result
    // is a config Asterisk allocated, owned by the AstConfig that destroys it.
    let raw = unsafe { sys::ast_load_realtime_multientry_fields(family.as_ptr(), lookup.0) };
    if raw.is_null() {
        return None;
    }
    Some(AstConfig(raw).to_owned("realtime"))
}

/// Deletes the rows whose `keyfield` is `key`; how many, None when it failed.
pub fn destroy(family: &str, keyfield: &str, key: &[u8]) -> Option<u32> {
    let (family, keyfield, key) = (cstring(family), cstring(keyfield), cstring(key));
    // SAFETY: valid C strings for the duration of the call; no further fields (NULL).
    let n = unsafe {
        sys::ast_destroy_realtime_fields(
            family.as_ptr(),
            keyfield.as_ptr(),
            key.as_ptr(),
            ptr::null(),
        )
    };
    u32::try_from(n).ok()
}
