//! What the core needs from Asterisk, as a trait: substitution (so every dialplan function
//! works in templates), time zone facts, and logging. The module implements it over the
//! FFI; unit tests implement it in plain Rust.

use crate::vars::Vars;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Notice,
    Warning,
    Error,
}

/// Daylight saving facts of a zone, for now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TzInfo {
    /// Offset from UTC in seconds.
    pub offset: i32,
    /// (month, day of month, hour) of the start and of the end, when the zone has DST.
    pub dst: Option<([i32; 3], [i32; 3])>,
}

pub trait Host {
    /// Asterisk's `${...}` substitution of `template` with `vars`, bytes in, bytes out.
    fn substitute(&self, template: &[u8], vars: &Vars) -> Vec<u8>;
    /// DST facts of `zone` (None: the system zone).
    fn tz(&self, zone: Option<&[u8]>) -> TzInfo;
    /// Declared `track_caller` so that calls through `&dyn Host` still tell the host the
    /// core's line that logged.
    #[track_caller]
    fn log(&self, level: Level, message: &str);
}
