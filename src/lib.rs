//! res_phoneprov in Rust: Asterisk's phone provisioning module, loaded by a real Asterisk.
//!
//! `ffi` holds every `unsafe` line (bindings, RAII wrappers, entry points); `module` is the
//! safe wiring; the provisioning logic lives in the `phoneprov-core` crate.

mod ffi;
mod module;
