//! The C API of `asterisk/phoneprov.h`, exported for other modules
//! (res_pjsip_phoneprov_provider): same names, signatures and semantics as the C module.
//! Each function copies its arguments into owned values and calls the module's registry.

use std::ffi::{c_char, c_int};

use crate::ffi::guard::guard;
use crate::ffi::provider::ExternalLoadUsers;
use crate::ffi::{log, owned, owned_bytes, sys, vars};
use crate::module::state::registry::LoadUsers;
use crate::module::{self, Module};
use phoneprov_core::config::vars::STD_VARIABLES;

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

/// `f` with the loaded module; `unloaded` when there is none.
fn with_module<R>(unloaded: R, f: impl FnOnce(&Module) -> R) -> R {
    module::instance().map_or(unloaded, |m| f(&m))
}

/// # Safety
/// `provider_name` must be NULL or a C string alive during the call; `load_users`, when
/// given, must stay callable while the provider is registered (it unregisters before its
/// module unloads).
#[no_mangle]
pub unsafe extern "C" fn ast_phoneprov_provider_register(
    provider_name: *mut c_char,
    load_users: Option<unsafe extern "C" fn() -> c_int>,
) -> c_int {
    guard("ast_phoneprov_provider_register", -1, || {
        // SAFETY: per this function's contract.
        let name = unsafe { owned(provider_name) };
        match load_users {
            Some(f) => {
                // SAFETY: per this function's contract, f stays callable while registered.
                let load = unsafe { ExternalLoadUsers::new(f) };
                match module::instance() {
                    Some(m) => m
                        .registry
                        .provider_register(&name, LoadUsers::External(load)),
                    None => {
                        log::warning!(
                            "Provider '{name}' cannot be registered: res_phoneprov not loaded."
                        );
                        -1
                    }
                }
            }
            None => {
                log::error!("Provider '{name}' has no load_users callback.");
                -1
            }
        }
    })
}

/// # Safety
/// `provider_name` must be NULL or a C string alive during the call.
#[no_mangle]
pub unsafe extern "C" fn ast_phoneprov_provider_unregister(provider_name: *mut c_char) {
    guard("ast_phoneprov_provider_unregister", (), || {
        // SAFETY: per this function's contract.
        let name = unsafe { owned(provider_name) };
        with_module((), |m| m.registry.provider_unregister(&name))
    })
}

/// # Safety
/// `provider_name` must be NULL or a C string alive during the call; `vars` must be NULL
/// or a variable list the caller keeps unchanged during the call.
#[no_mangle]
pub unsafe extern "C" fn ast_phoneprov_add_extension(
    provider_name: *mut c_char,
    vars: *mut sys::varshead,
) -> c_int {
    guard("ast_phoneprov_add_extension", -1, || {
        // SAFETY: per this function's contract.
        let name = unsafe { owned(provider_name) };
        if vars.is_null() {
            log::error!("Variable list can't be empty.");
            return -1;
        }
        // SAFETY: per this function's contract, vars is a live list nobody changes now.
        let vars = unsafe { vars::read(vars) };
        with_module(-1, |m| m.registry.add_extension(&name, vars))
    })
}

/// # Safety
/// Both arguments must be NULL or C strings alive during the call.
#[no_mangle]
pub unsafe extern "C" fn ast_phoneprov_delete_extension(
    provider_name: *mut c_char,
    macaddress: *mut c_char,
) {
    guard("ast_phoneprov_delete_extension", (), || {
        // SAFETY: per this function's contract.
        let (name, mac) = unsafe { (owned(provider_name), owned_bytes(macaddress)) };
        with_module((), |m| m.registry.delete_extension(&name, &mac))
    })
}

/// # Safety
/// `provider_name` must be NULL or a C string alive during the call.
#[no_mangle]
pub unsafe extern "C" fn ast_phoneprov_delete_extensions(provider_name: *mut c_char) {
    guard("ast_phoneprov_delete_extensions", (), || {
        // SAFETY: per this function's contract.
        let name = unsafe { owned(provider_name) };
        with_module((), |m| m.registry.delete_extensions(&name))
    })
}
