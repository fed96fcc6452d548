//! Dynamic lookup mode: its options and the bounded cache of phones looked up in the
//! database; the options of the state nodes share through realtime families.

pub mod lru;
pub mod options;
pub mod shared;
