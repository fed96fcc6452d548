//! What a request carries: URIs and file paths, dates and entity tags, the User-Agent,
//! uploaded bodies and the names uploads may take.

pub mod body;
pub mod httpdate;
pub mod uploads;
pub mod uri;
pub mod useragent;
