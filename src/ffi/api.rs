//! The C API of `asterisk/phoneprov.h`, exported for other modules
//! (res_pjsip_phoneprov_provider): same names, signatures and semantics as the C module.

use std::ffi::{c_char, c_int};

use super::guard::guard;
use super::{owned, sys, vars};
use crate::module::state::{self, LoadUsers};
use phoneprov_core::vars::STD_VARIABLES;

/// A provider's `load_users` callback.
#[derive(Clone, Copy)]
pub struct ExternalLoadUsers(unsafe extern "C" fn() -> c_int);

impl ExternalLoadUsers {
    pub fn call(&self) -> i32 {
        // SAFETY: the provider registered this function and stays loaded while registered
        // (it requires res_phoneprov and unregisters before it unloads).
        unsafe { (self.0)() }
    }
}

/// The names of the standard variables, one static C string each.
static STD_NAMES: [&std::ffi::CStr; 23] = [
    c"MAC",
    c"PROFILE",
    c"USERNAME",
    c"DISPLAY_NAME",
    c"SECRET",
    c"LABEL",
    c"CALLERID",
    c"TIMEZONE",
    c"LINE",
    c"LINEKEYS",
    c"SERVER",
    c"SERVER_PORT",
    c"SERVER_IFACE",
    c"VOICEMAIL_EXTEN",
    c"EXTENSION_LENGTH",
    c"TZOFFSET",
    c"DST_ENABLE",
    c"DST_START_MONTH",
    c"DST_START_MDAY",
    c"DST_START_HOUR",
    c"DST_END_MONTH",
    c"DST_END_MDAY",
    c"DST_END_HOUR",
];

#[no_mangle]
pub extern "C" fn ast_phoneprov_std_variable_lookup(var: c_int) -> *const c_char {
    guard(
        "ast_phoneprov_std_variable_lookup",
        std::ptr::null(),
        || {
            debug_assert_eq!(STD_NAMES.len(), STD_VARIABLES.len());
            usize::try_from(var)
                .ok()
                .and_then(|i| STD_NAMES.get(i))
                .map_or(std::ptr::null(), |s| s.as_ptr())
        },
    )
}

#[no_mangle]
pub extern "C" fn ast_phoneprov_provider_register(
    provider_name: *mut c_char,
    load_users: Option<unsafe extern "C" fn() -> c_int>,
) -> c_int {
    guard("ast_phoneprov_provider_register", -1, || {
        let name = owned(provider_name);
        match load_users {
            Some(f) => state::provider_register(&name, LoadUsers::External(ExternalLoadUsers(f))),
            None => {
                super::log::error!("Provider '{name}' has no load_users callback.");
                -1
            }
        }
    })
}

#[no_mangle]
pub extern "C" fn ast_phoneprov_provider_unregister(provider_name: *mut c_char) {
    guard("ast_phoneprov_provider_unregister", (), || {
        state::provider_unregister(&owned(provider_name))
    })
}

/// # Safety
/// `vars` must be NULL or a variable list the caller keeps unchanged during the call.
#[no_mangle]
pub unsafe extern "C" fn ast_phoneprov_add_extension(
    provider_name: *mut c_char,
    vars: *mut sys::varshead,
) -> c_int {
    guard("ast_phoneprov_add_extension", -1, || {
        let name = owned(provider_name);
        if vars.is_null() {
            super::log::error!("Variable list can't be empty.");
            return -1;
        }
        state::add_extension(&name, vars::read(vars))
    })
}

#[no_mangle]
pub extern "C" fn ast_phoneprov_delete_extension(
    provider_name: *mut c_char,
    macaddress: *mut c_char,
) {
    guard("ast_phoneprov_delete_extension", (), || {
        state::delete_extension(&owned(provider_name), &owned(macaddress))
    })
}

#[no_mangle]
pub extern "C" fn ast_phoneprov_delete_extensions(provider_name: *mut c_char) {
    guard("ast_phoneprov_delete_extensions", (), || {
        state::delete_extensions(&owned(provider_name))
    })
}
