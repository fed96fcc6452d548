//! A provider module's `load_users` callback, as the registry keeps it.

use std::ffi::c_int;

/// A C provider's `load_users`, callable from safe code once wrapped.
#[derive(Clone, Copy)]
pub struct ExternalLoadUsers(unsafe extern "C" fn() -> c_int);

impl ExternalLoadUsers {
    /// # Safety
    /// `f` must stay callable while this value is used: the provider module stays loaded
    /// while it is registered (it requires res_phoneprov and unregisters before it unloads),
    /// and the registry calls only registered providers.
    pub unsafe fn new(f: unsafe extern "C" fn() -> c_int) -> Self {
        ExternalLoadUsers(f)
    }

    pub fn call(&self) -> i32 {
        // SAFETY: see `new`: the provider that registered the function is still loaded.
        unsafe { (self.0)() }
    }
}
