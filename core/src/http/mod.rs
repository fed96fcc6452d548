//! What a request carries: URIs and file paths, dates and entity tags, the User-Agent,
//! uploaded bodies and the names uploads may take; and what answering needs: the head of
//! an answer framed for its body, a file's bytes sent after it, the listening socket a
//! connection came in on.

pub mod advertised;
pub mod body;
pub mod head;
pub mod httpdate;
pub mod listen;
pub mod streamed;
pub mod uploads;
pub mod uri;
pub mod useragent;
