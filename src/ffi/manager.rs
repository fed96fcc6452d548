//! Asterisk Manager Interface (AMI) events this module raises.

use super::{cstring, sys};

/// A value for one `Key: value` line of an event: control characters (a decoded `%0d%0a`
/// in a URI, say) would end the line and forge other keys, so each becomes `?`.
fn field(value: &[u8]) -> std::ffi::CString {
    let clean: Vec<u8> = value
        .iter()
        .map(|&b| if b < 0x20 || b == 0x7f { b'?' } else { b })
        .collect();
    cstring(clean)
}

/// One dynamic file was fetched: the event `PhoneprovFetch` (class `reporting`).
#[allow(clippy::too_many_arguments)]
pub fn fetch_event(
    mac: &[u8],
    uri: &[u8],
    client: &str,
    user_agent: &str,
    model: &str,
    firmware: &str,
    tls: bool,
    status: u16,
) {
    let (m, u, c, a) = (
        field(mac),
        field(uri),
        field(client.as_bytes()),
        field(user_agent.as_bytes()),
    );
    let (mo, fw) = (field(model.as_bytes()), field(firmware.as_bytes()));
    // SAFETY: all pointers are valid NUL-terminated strings for the call; the glue passes
    // each as a "%s" argument.
    unsafe {
        sys::pp_event_fetch(
            m.as_ptr(),
            u.as_ptr(),
            c.as_ptr(),
            a.as_ptr(),
            mo.as_ptr(),
            fw.as_ptr(),
            i32::from(tls),
            i32::from(status),
        )
    }
}

/// A PUT of one of a phone's upload names was answered: the event `PhoneprovUpload` (class
/// `security`), with the size stored (0 when refused).
pub fn upload_event(
    mac: &[u8],
    uri: &[u8],
    client: &str,
    user_agent: &str,
    size: u64,
    tls: bool,
    status: u16,
) {
    let (m, u, c, a) = (
        field(mac),
        field(uri),
        field(client.as_bytes()),
        field(user_agent.as_bytes()),
    );
    // SAFETY: all pointers are valid NUL-terminated strings for the call; the glue passes
    // each as a "%s" argument.
    unsafe {
        sys::pp_event_upload(
            m.as_ptr(),
            u.as_ptr(),
            c.as_ptr(),
            a.as_ptr(),
            i64::try_from(size).unwrap_or(i64::MAX),
            i32::from(tls),
            i32::from(status),
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
