//! The C API of `asterisk/phoneprov.h`, exported for other modules
//! (res_pjsip_phoneprov_provider): same names, signatures and semantics as the C module.
//! Each function copies its arguments into owned values and calls the module's registry.

use std::ffi::{c_char, c_int, CStr};

use crate::ffi::provider::ExternalLoadUsers;
use crate::ffi::{log, owned, owned_bytes, sys, vars};
use crate::module::state::registry::LoadUsers;
use crate::module::{self, Module};
use phoneprov_core::config::vars::STD_VARIABLES;

/// The names of the standard variables, one static C string each, by their number in
/// `enum ast_phoneprov_std_variables`.
static STD_NAMES: [&CStr; STD_VARIABLES.len()] = [
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

// As many names as phoneprov.h numbers, each the core's name of the same number.
const _: () = {
    use sys::ast_phoneprov_std_variables::AST_PHONEPROV_STD_VAR_LIST_LENGTH as LENGTH;
    assert!(STD_NAMES.len() == LENGTH as usize);
    let mut i = 0;
    while i < STD_NAMES.len() {
        let (c, core) = (STD_NAMES[i].to_bytes(), STD_VARIABLES[i].as_bytes());
        assert!(
            c.len() == core.len(),
            "STD_NAMES differs from STD_VARIABLES"
        );
        let mut j = 0;
        while j < c.len() {
            assert!(c[j] == core[j], "STD_NAMES differs from STD_VARIABLES");
            j += 1;
        }
        i += 1;
    }
};

entry! {
    fn ast_phoneprov_std_variable_lookup(var: c_int) -> *const c_char;
    fallback = std::ptr::null();
    {
        usize::try_from(var)
            .ok()
            .and_then(|i| STD_NAMES.get(i))
            .map_or(std::ptr::null(), |s| s.as_ptr())
    }
}

/// `f` with the loaded module; `unloaded` when there is none.
fn with_module<R>(unloaded: R, f: impl FnOnce(&Module) -> R) -> R {
    module::instance().map_or(unloaded, |m| f(&m))
}

entry! {
    unsafe fn ast_phoneprov_provider_register(
        provider_name: *mut c_char,
        load_users: Option<unsafe extern "C" fn() -> c_int>,
    ) -> c_int;
    safety = "`provider_name` must be NULL or a C string alive during the call; `load_users`, \
              when given, must stay callable while the provider is registered (it unregisters \
              before its module unloads).";
    fallback = -1;
    // SAFETY: per the contract.
    let name = unsafe { owned(provider_name) };
    // SAFETY: per the contract, the function stays callable while registered.
    let load = load_users.map(|f| unsafe { ExternalLoadUsers::new(f) });
    {
        let Some(load) = load else {
            log::error!("Provider '{name}' has no load_users callback.");
            return -1;
        };
        match module::instance() {
            Some(m) => m
                .registry
                .provider_register(&name, LoadUsers::External(load)),
            None => {
                log::warning!("Provider '{name}' cannot be registered: res_phoneprov not loaded.");
                -1
            }
        }
    }
}

entry! {
    unsafe fn ast_phoneprov_provider_unregister(provider_name: *mut c_char);
    safety = "`provider_name` must be NULL or a C string alive during the call.";
    fallback = ();
    // SAFETY: per the contract.
    let name = unsafe { owned(provider_name) };
    {
        with_module((), |m| m.registry.provider_unregister(&name))
    }
}

entry! {
    unsafe fn ast_phoneprov_add_extension(
        provider_name: *mut c_char,
        vars: *mut sys::varshead,
    ) -> c_int;
    safety = "`provider_name` must be NULL or a C string alive during the call; `vars` must be \
              NULL or a variable list the caller keeps unchanged during the call.";
    fallback = -1;
    // SAFETY: per the contract.
    let name = unsafe { owned(provider_name) };
    // SAFETY: per the contract, vars is NULL or a live list nobody changes now.
    let vars = (!vars.is_null()).then(|| unsafe { vars::read(vars) });
    {
        let Some(vars) = vars else {
            log::error!("Variable list can't be empty.");
            return -1;
        };
        with_module(-1, |m| m.registry.add_extension(&name, vars))
    }
}

entry! {
    unsafe fn ast_phoneprov_delete_extension(provider_name: *mut c_char, macaddress: *mut c_char);
    safety = "Both arguments must be NULL or C strings alive during the call.";
    fallback = ();
    // SAFETY: per the contract.
    let (name, mac) = unsafe { (owned(provider_name), owned_bytes(macaddress)) };
    {
        with_module((), |m| m.registry.delete_extension(&name, &mac))
    }
}

entry! {
    unsafe fn ast_phoneprov_delete_extensions(provider_name: *mut c_char);
    safety = "`provider_name` must be NULL or a C string alive during the call.";
    fallback = ();
    // SAFETY: per the contract.
    let name = unsafe { owned(provider_name) };
    {
        with_module((), |m| m.registry.delete_extensions(&name))
    }
}
