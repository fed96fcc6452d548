//! The registry of providers and the published snapshot, and the built-in users provider.

pub mod registry;
pub mod sipusers;
