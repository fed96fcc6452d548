//! What operators use: the CLI commands, `show status` and `phoneprov resync`.

pub mod cli;
pub mod resync;
pub mod status;
