//! The manager actions PhoneprovToken and PhoneprovResync.

use crate::ffi::host::Action;
use crate::ffi::manager::Session;
use crate::module::ops::resync::{resync, Selection};
use crate::module::serve::tokens;
use crate::module::Module;

/// Runs `action` on the headers of `session`: the message of a `Success` answer, or of an
/// `Error`.
pub fn run(m: &Module, action: Action, session: &Session) -> Result<String, String> {
    match action {
        // The URL's path is the ack's Message.
        Action::Token => tokens::create(m, &session.header(c"MAC"), Some(&session.header(c"TTL"))),
        Action::Resync => {
            let (mac, profile) = (session.header(c"MAC"), session.header(c"Profile"));
            let all = session.header(c"All").eq_ignore_ascii_case(b"yes");
            let selection = match (&mac[..], &profile[..], all) {
                (m, b"", false) if !m.is_empty() => Selection::Mac(m),
                (b"", p, false) if !p.is_empty() => Selection::Profile(p),
                (b"", b"", true) => Selection::All,
                _ => return Err("Give one of MAC, Profile or All: yes".to_owned()),
            };
            let report = resync(m, selection);
            report.map(|r| one_line(&r)).map_err(|r| one_line(&r))
        }
    }
}

/// An AMI message is one line: a report's lines joined.
fn one_line(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("; ")
}
