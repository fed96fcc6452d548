//! The `phoneprov` CLI commands.

use crate::ffi::host::cli_print;
use crate::module::state;
use phoneprov_core::cli;

const SHOW_ROUTES: i32 = 0;

pub fn run(command: i32, fd: i32, _args: &[String]) {
    let Some(snap) = state::current() else { return };
    if command == SHOW_ROUTES {
        cli_print(fd, &cli::show_routes(&snap));
    }
}

/// Tab completion: the words that may follow (none yet for `show routes`).
pub fn complete(_command: i32, _line: &str, _word: &str, _pos: i32, _state: i32) -> Option<String> {
    None
}
