//! What operators use: the CLI commands, the manager actions, `show status` and
//! `phoneprov resync`.

pub mod ami;
pub mod cli;
pub mod resync;
pub mod status;
