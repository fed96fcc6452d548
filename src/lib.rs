//! res_phoneprov in Rust: Asterisk's phone provisioning module, loaded by a real Asterisk.
//!
//! Three layers, each importing only those below it:
//! - `ffi`: raw bindings and safe wrappers over Asterisk (no knowledge of the module);
//! - `module`: the module's logic in safe Rust (`unsafe` is forbidden there), over the
//!   provisioning model of the `phoneprov-core` crate;
//! - `exports`: every `extern "C"` function Asterisk or another module calls, each turning
//!   raw arguments into owned values and running the module's code inside a panic guard.

// Inside an `unsafe fn`, each unsafe operation still needs its own block and `// SAFETY:`
// line: the function's contract says what callers promise, not why each use holds.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod exports;
mod ffi;
mod module;
