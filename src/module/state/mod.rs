//! The registry of providers and the published snapshot, the built-in users provider, and
//! the retries of a realtime configuration whose database did not answer.

pub mod recovery;
pub mod registry;
pub mod sipusers;
