//! Bodies made from files on disk: files kept in memory while unchanged (told by inotify),
//! templates kept parsed, substitution for a request, and the dialplan functions.

pub mod filecache;
pub mod funcs;
pub mod substitute;
pub mod templates;
pub mod watch;
