//! Who may fetch: the access options of a profile, HTTP authentication (Basic, Digest,
//! nonces, the grace of previous credentials) and the rate limit on misses.

pub mod auth;
pub mod grace;
pub mod options;
pub mod ratelimit;
