//! Who may fetch: the access options of a profile, HTTP authentication (Basic, Digest,
//! nonces) and the rate limit on misses.

pub mod auth;
pub mod options;
pub mod ratelimit;
