//! Who may fetch: the access options of a profile, HTTP authentication (Basic, Digest,
//! nonces, the grace of previous credentials), the rate limit on misses, the rate of scan
//! events, and the address families an access list covers.

pub mod auth;
pub mod families;
pub mod grace;
pub mod options;
pub mod ratelimit;
pub mod scan;
