//! Asterisk Manager Interface (AMI): the events this module raises, the actions it answers
//! and the actions it runs.

use std::borrow::Cow;
use std::ffi::{c_int, CStr};

use super::{cstring, owned_bytes, sys};

/// A manager action being run: its message's headers, and the session its answer goes to.
pub struct Session {
    s: *mut sys::mansession,
    m: *const sys::message,
}

impl Session {
    /// # Safety
    /// `s` and `m` must be the session and message Asterisk handed an action's callback,
    /// used only until the callback returns.
    pub unsafe fn new(s: *mut sys::mansession, m: *const sys::message) -> Session {
        Session { s, m }
    }

    /// A header's value; empty when the message has none.
    pub fn header(&self, name: &CStr) -> Vec<u8> {
        // SAFETY: m is the live message (see `new`); Asterisk only reads the name (its
        // parameter lacks a const) and returns a string of the message, or "".
        unsafe { owned_bytes(sys::astman_get_header(self.m, name.as_ptr().cast_mut())) }
    }

    /// Answers `Response: Success` with `text` as the message.
    pub fn ack(&self, text: &str) {
        let t = cstring(text);
        // SAFETY: s and m are live (see `new`); Asterisk prints the text with "%s" and does
        // not change it (its parameter lacks a const).
        unsafe { sys::astman_send_ack(self.s, self.m, t.as_ptr().cast_mut()) }
    }

    /// Answers `Response: Error` with `text` as the message.
    pub fn error(&self, text: &str) {
        let t = cstring(text);
        // SAFETY: as in `ack`.
        unsafe { sys::astman_send_error(self.s, self.m, t.as_ptr().cast_mut()) }
    }
}

/// A value for one `Key: value` line of an event: control characters (a decoded `%0d%0a`
/// in a URI, say) would end the line and forge other keys, so each becomes `?`. Copied only
/// when it holds one: events are raised on every fetch.
fn field(value: &[u8]) -> Cow<'_, [u8]> {
    let control = |b: &u8| *b < 0x20 || *b == 0x7f;
    if !value.iter().any(control) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .iter()
            .map(|b| if control(b) { b'?' } else { *b })
            .collect(),
    )
}

/// `value` for a "%.*s" argument (valid while `value` is).
fn bytes(value: &[u8]) -> sys::pp_bytes {
    sys::pp_bytes {
        data: value.as_ptr().cast(),
        // Longer values are cut, never read past.
        len: c_int::try_from(value.len()).unwrap_or(c_int::MAX),
    }
}

/// What a fetch or upload event tells of the request besides its outcome.
pub struct Seen<'a> {
    pub mac: &'a [u8],
    pub uri: &'a [u8],
    pub client: &'a [u8],
    pub user_agent: &'a [u8],
    pub tls: bool,
    pub status: u16,
}

impl Seen<'_> {
    /// MAC, URI, client and User-Agent, each as an event line may carry it.
    fn fields(&self) -> [Cow<'_, [u8]>; 4] {
        [self.mac, self.uri, self.client, self.user_agent].map(field)
    }
}

/// One dynamic file was fetched: the event `PhoneprovFetch`.
pub fn fetch_event(seen: &Seen, model: &[u8], firmware: &[u8]) {
    let [m, u, c, a] = seen.fields();
    let (mo, fw) = (field(model), field(firmware));
    // SAFETY: each pp_bytes points to bytes alive for the call, with their length; the glue
    // prints each with "%.*s".
    unsafe {
        sys::pp_event_fetch(
            bytes(&m),
            bytes(&u),
            bytes(&c),
            bytes(&a),
            bytes(&mo),
            bytes(&fw),
            i32::from(seen.tls),
            i32::from(seen.status),
        )
    }
}

/// A PUT of one of a phone's upload names was answered: the event `PhoneprovUpload` (class
/// `security`), with the size stored (0 when refused).
pub fn upload_event(seen: &Seen, size: u64) {
    let [m, u, c, a] = seen.fields();
    // SAFETY: as in fetch_event.
    unsafe {
        sys::pp_event_upload(
            bytes(&m),
            bytes(&u),
            bytes(&c),
            bytes(&a),
            i64::try_from(size).unwrap_or(i64::MAX),
            i32::from(seen.tls),
            i32::from(seen.status),
        )
    }
}

/// Runs a manager action inside Asterisk, as if a manager client had sent it, and returns
/// its answer (`Response: …` and the rest). `fields`: the action's keys and values; a value
/// with control characters is refused (it would forge other keys).
pub fn run_action(action: &str, fields: &[(&str, &[u8])]) -> Option<Vec<u8>> {
    let mut msg = format!("Action: {action}\r\n").into_bytes();
    for (key, value) in fields {
        if value.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return None;
        }
        msg.extend_from_slice(key.as_bytes());
        msg.extend_from_slice(b": ");
        msg.extend_from_slice(value);
        msg.extend_from_slice(b"\r\n");
    }
    let m = cstring(msg);
    // SAFETY: m is a valid C string for the call; the glue returns a new ast_str (or NULL),
    // which take_str frees.
    unsafe { super::vars::take_str(sys::pp_manager_action(m.as_ptr())) }
}
