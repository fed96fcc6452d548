//! What operators are shown: the CLI's text, the audit's bounded record of recent fetches,
//! and the masking that keeps secrets out of both.

pub mod cli;
pub mod mask;
pub mod recent;
