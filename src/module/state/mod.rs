//! The registry of providers and the published snapshot, the built-in users provider,
//! the grace of phones' previous credentials, and the retries of a realtime configuration
//! whose database did not answer.

pub mod grace;
pub mod recovery;
pub mod registry;
pub mod sipusers;
