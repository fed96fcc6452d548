//! Answers `/phoneprov/...` requests from the current snapshot.

use std::cell::RefCell;
use std::fs::{self, File};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::ffi::host::{phoneprov_dir, render};
use crate::ffi::http::{Method, Request};
use crate::ffi::log;
use crate::module::state;
use phoneprov_core::model::Phone;
use phoneprov_core::server::server_address;
use phoneprov_core::vars::{self, Vars};

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The phone being served on this thread and the SERVER it is told, when SERVER comes
    /// from the connection: dialplan functions rendering that phone's lines add it too.
    static SERVING: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

struct InFlight;

impl InFlight {
    fn enter() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Waits (up to 10 s) until no request is running our code, so the module can go away.
pub fn wait_idle() {
    let deadline = Instant::now() + Duration::from_secs(10);
    while IN_FLIGHT.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Renders `template` with a phone's variables, adding SERVER when it is the phone being
/// served and its SERVER comes from the connection.
pub fn render_for(template: &str, phone: &Phone, vars: &Vars) -> String {
    let server = SERVING.with(|s| {
        s.borrow()
            .as_ref()
            .filter(|(mac, _)| *mac == phone.mac && !vars.contains(vars::SERVER))
            .map(|(_, server)| server.clone())
    });
    match server {
        Some(server) => render(template, vars, &[(vars::SERVER, &server)]),
        None => render(template, vars, &[]),
    }
}

/// Characters a 404 page may repeat from the request without any escaping.
fn echo_safe(uri: &str) -> bool {
    uri.len() <= 200
        && uri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/~+:@=,".contains(&b))
}

fn not_found(req: &Request) {
    let text = if echo_safe(req.uri) {
        req.uri
    } else {
        "The requested URL was not found on this server."
    };
    req.error(404, "Not Found", text);
}

fn internal_error(req: &Request) {
    req.error(500, "Internal Error", "An internal error has occured.");
}

pub fn handle(req: &Request) {
    let _in_flight = InFlight::enter();
    if req.method == Method::Other {
        req.error(
            501,
            "Not Implemented",
            "Attempt to use unimplemented / unsupported method",
        );
        return;
    }
    let Some(snap) = state::current() else {
        return not_found(req);
    };
    let Some(res) = snap.resolve(req.uri) else {
        return not_found(req);
    };
    let path = phoneprov_dir().join(&res.file.template);
    let headers = format!("Content-type: {}\r\n", res.file.mime_type);
    let Some(phone) = res.phone else {
        match File::open(&path) {
            Ok(f) => req.send_file(200, "OK", &headers, &f, false),
            Err(e) => {
                log::warning(&format!(
                    "Could not open static file {}: {e}",
                    path.display()
                ));
                internal_error(req);
            }
        }
        return;
    };
    let template = match fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(e) => {
            log::warning(&format!("Could not load file: {} ({e})", path.display()));
            return internal_error(req);
        }
    };
    let server = (!phone.vars().contains(vars::SERVER))
        .then(|| req.local_ip().map(server_address))
        .flatten();
    if server.is_none() && !phone.vars().contains(vars::SERVER) {
        log::warning("Could not get server IP, breakage likely.");
    }
    let previous = SERVING.with(|s| {
        s.borrow_mut()
            .replace((phone.mac.clone(), server.unwrap_or_default()))
    });
    let body = render_for(&template, phone, phone.vars());
    SERVING.with(|s| *s.borrow_mut() = previous);
    req.send(200, "OK", &headers, &body, false);
}
