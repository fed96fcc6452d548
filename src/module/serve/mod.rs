//! The request pipeline: one `/phoneprov/` request from the HTTP handler through access
//! rules, route lookup (in memory, then the realtime database) to the answer it decides (a
//! static file, a rendered dynamic file, an upload, an enrollment token), sent, counted and
//! audited in one place (`answer`).

pub mod access;
pub mod answer;
pub mod backlog;
pub mod dynamic;
pub mod http;
pub mod realtime;
pub mod statics;
pub mod tokens;
pub mod uploads;
