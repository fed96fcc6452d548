//! What operators use: the CLI commands, `show status`, `phoneprov resync`, and when each
//! profile's `auth_rollout` began.

pub mod cli;
pub mod resync;
pub mod rollout;
pub mod status;
