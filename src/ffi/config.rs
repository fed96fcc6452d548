//! Asterisk's config API (`ast_config_load2`, browsing), read into owned data.

use std::ffi::c_char;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{cstring, owned_bytes, sys};
use phoneprov_core::conf::{Category, ConfigFile};

#[derive(Debug, PartialEq, Eq)]
pub enum LoadError {
    Missing,
    Invalid,
}

/// A loaded configuration, destroyed on drop.
struct AstConfig(*mut sys::ast_config);

impl Drop for AstConfig {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful load and is destroyed exactly once.
        unsafe { sys::ast_config_destroy(self.0) }
    }
}

/// Nanoseconds spent in [`load`] since the module was loaded: Asterisk's parse, the walk
/// over categories and variables, and the copies of what they hold.
static LOAD_NANOS: AtomicU64 = AtomicU64::new(0);

pub fn load_nanos() -> u64 {
    LOAD_NANOS.load(Ordering::Relaxed)
}

/// Loads `filename` from Asterisk's configuration directory into owned data.
pub fn load(filename: &str) -> Result<ConfigFile, LoadError> {
    let started = Instant::now();
    let loaded = load_timed(filename);
    let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    LOAD_NANOS.fetch_add(spent, Ordering::Relaxed);
    loaded
}

fn load_timed(filename: &str) -> Result<ConfigFile, LoadError> {
    let name = cstring(filename);
    let mut status = 0;
    // SAFETY: name is a valid C string and status a valid out-pointer for the call.
    let raw = unsafe { sys::pp_config_load(name.as_ptr(), &mut status) };
    match status {
        0 if !raw.is_null() => {}
        2 => return Err(LoadError::Invalid),
        _ => return Err(LoadError::Missing),
    }
    let cfg = AstConfig(raw);
    Ok(cfg.to_owned(filename))
}

impl AstConfig {
    /// Every category and variable, copied.
    fn to_owned(&self, name: &str) -> ConfigFile {
        let mut file = ConfigFile {
            name: name.to_owned(),
            categories: Vec::new(),
        };
        let mut cat: *mut c_char = std::ptr::null_mut();
        loop {
            // SAFETY: self is a live config; cat is NULL or the previous category name it
            // returned.
            cat = unsafe { sys::ast_category_browse(self.0, cat) };
            if cat.is_null() {
                break;
            }
            let mut vars = Vec::new();
            // SAFETY: cat was just returned by browsing self, which stays alive here; passing
            // the same pointer makes Asterisk browse this very category, even when names repeat.
            let mut v = unsafe { sys::ast_variable_browse(self.0, cat) };
            while !v.is_null() {
                // SAFETY: v points to a variable of the live config.
                let var = unsafe { &*v };
                // SAFETY: a variable's name and value are C strings owned by the live config.
                let (name, value) = unsafe { (owned_bytes(var.name), owned_bytes(var.value)) };
                vars.push((name, value.into()));
                v = var.next;
            }
            file.categories.push(Category {
                // SAFETY: cat is the live config's category name, a C string.
                name: unsafe { owned_bytes(cat) },
                vars,
            });
        }
        file
    }
}

/// The rows of realtime `family` whose `field` is `value`, one category each; None when
/// there are none or the lookup failed (tell them apart with [`realtime_probe`]).
pub fn realtime_rows(family: &[u8], field: &str, value: &[u8]) -> Option<ConfigFile> {
    let (family, field, value) = (cstring(family), cstring(field), cstring(value));
    // SAFETY: three valid C strings for the duration of the call.
    let raw = unsafe { sys::pp_realtime_multi(family.as_ptr(), field.as_ptr(), value.as_ptr()) };
    if raw.is_null() {
        return None;
    }
    Some(AstConfig(raw).to_owned("realtime"))
}

/// Whether realtime `family` is mapped and its storage answers now.
pub fn realtime_probe(family: &[u8]) -> bool {
    let family = cstring(family);
    // SAFETY: a valid C string for the duration of the call.
    unsafe { sys::pp_realtime_probe(family.as_ptr()) == 0 }
}
