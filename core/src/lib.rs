//! The provisioning model of res_phoneprov, free of Asterisk symbols so it can be tested
//! with plain `cargo test`. The module crate feeds it owned data and a [`host::Host`].
//!
//! Folders, from the bottom: `util` (byte text, hashing), `config` (phoneprov.conf and the
//! users file as parsed data), `model` (the snapshot and its route table, built from a
//! configuration), `render` (templates and the bodies made from them), `http` (request
//! details), `access` (access options, authentication, rate limits), `realtime` (dynamic
//! lookup options and its cache), `ops` (what the CLI and the audit show), `tftp` (the TFTP
//! protocol, without sockets).

pub mod access;
pub mod config;
pub mod host;
pub mod http;
pub mod model;
pub mod ops;
pub mod realtime;
pub mod render;
pub mod tftp;
pub mod util;
