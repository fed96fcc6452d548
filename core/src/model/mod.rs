//! The served state: the snapshot (phones and routes built whole from a configuration and
//! the providers' extensions), its route table, the SERVER address rule, and the check of a
//! snapshot against the files each phone family asks for.

pub mod check;
pub mod routes;
pub mod server;
pub mod snapshot;
