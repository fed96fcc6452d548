//! The registry of providers and the published snapshot, the built-in users provider, and
//! the grace of phones' previous credentials.

pub mod grace;
pub mod registry;
pub mod sipusers;
