//! The provisioning model of res_phoneprov, free of Asterisk symbols so it can be tested
//! with plain `cargo test`. The module crate feeds it owned data and a [`host::Host`].

pub mod access;
pub mod args;
pub mod auth;
pub mod body;
pub mod bytes;
pub mod cli;
pub mod conf;
pub mod family;
pub mod funcs;
pub mod fxhash;
pub mod host;
pub mod httpdate;
pub mod linphone;
pub mod lru;
pub mod mask;
pub mod model;
pub mod profile;
pub mod qr;
pub mod ratelimit;
pub mod realtime;
pub mod recent;
pub mod routes;
pub mod server;
pub mod template;
pub mod uploads;
pub mod uri;
pub mod useragent;
pub mod users;
pub mod vars;
pub mod xml;
pub mod xmlcheck;
