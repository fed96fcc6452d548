//! Dynamic lookup mode: its options and the bounded cache of phones looked up in the
//! database.

pub mod lru;
pub mod options;
