//! Who may fetch: the access options of a profile, HTTP authentication (Basic, Digest,
//! nonces), the rate limit on misses and the rate of scan events.

pub mod auth;
pub mod options;
pub mod ratelimit;
pub mod scan;
