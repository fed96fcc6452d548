//! The configuration as parsed data: Asterisk's config files as owned categories,
//! `phoneprov.conf` (settings and profiles), the users file, a line's variables, and the
//! catalogue of phone families a profile may name, and the TFTP options.

pub mod conf;
pub mod family;
pub mod profile;
pub mod tftp;
pub mod users;
pub mod vars;
