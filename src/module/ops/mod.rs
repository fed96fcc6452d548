//! What operators use: the CLI commands, the manager actions, `show status`, `phoneprov
//! resync`, and when each profile's `auth_rollout` began.

pub mod ami;
pub mod cli;
pub mod resync;
pub mod rollout;
pub mod status;
