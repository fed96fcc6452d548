//! What the core needs from Asterisk, as a trait: substitution (so every dialplan function
//! works in templates), time zone facts, and logging. The module implements it over the
//! FFI; unit tests implement it in plain Rust.

use std::panic::Location;

use crate::config::vars::Vars;
use crate::util::bytes::lossy;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Notice,
    Warning,
    Error,
}

/// A message about the configuration, with the line of code that found the problem (the
/// host logs it as the call site, as Asterisk's own messages name theirs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub level: Level,
    pub message: String,
    pub origin: &'static Location<'static>,
}

impl Diag {
    #[track_caller]
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Diag {
            level,
            message: message.into(),
            origin: Location::caller(),
        }
    }

    /// The ERROR of a configuration value that cannot be used: "WHERE: KEY = 'VALUE' is not
    /// WHAT - ignored" (the call site is its origin).
    #[track_caller]
    pub fn ignored(where_: &str, key: &[u8], value: &[u8], what: &str) -> Self {
        Diag::new(
            Level::Error,
            format!(
                "{where_}: {} = '{}' is not {what} - ignored",
                lossy(key),
                lossy(value)
            ),
        )
    }
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

/// A host for the core's own unit tests: `${NAME}` substitution from the list only, one
/// zone with DST, and logs kept for assertions.
#[cfg(test)]
pub mod fake {
    use std::cell::RefCell;

    use super::{Host, Level, TzInfo};
    use crate::config::vars::Vars;

    /// Plain `${NAME}` substitution, enough to test the model.
    #[derive(Default)]
    pub struct FakeHost {
        pub logs: RefCell<Vec<(Level, String)>>,
    }

    impl Host for FakeHost {
        fn substitute(&self, template: &[u8], vars: &Vars) -> Vec<u8> {
            let mut out = Vec::new();
            let mut rest = template;
            while let Some(start) = crate::util::bytes::find(rest, b"${") {
                out.extend_from_slice(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.iter().position(|&b| b == b'}').expect("closed");
                out.extend_from_slice(vars.find(&after[..end]).unwrap_or(b""));
                rest = &after[end + 1..];
            }
            out.extend_from_slice(rest);
            out
        }
        fn tz(&self, zone: Option<&[u8]>) -> TzInfo {
            match zone {
                Some(b"Europe/Paris") => TzInfo {
                    offset: 3600,
                    dst: Some(([3, 29, 2], [10, 25, 3])),
                },
                _ => TzInfo::default(),
            }
        }
        fn log(&self, level: Level, message: &str) {
            self.logs.borrow_mut().push((level, message.to_owned()));
        }
    }
}
