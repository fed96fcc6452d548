//! Small helpers every other folder uses: configuration bytes as text, request text made safe
//! for logs and events (clean), Asterisk's argument conventions, a fast hasher for maps keyed
//! by configuration data, the records an inotify read returns, and the poisoning policy of
//! every lock.

pub mod args;
pub mod bytes;
pub mod clean;
pub mod compat;
pub mod fxhash;
pub mod inotify;
pub mod lock;
