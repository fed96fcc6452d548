//! Answers `/phoneprov/...` requests from the current snapshot.

use std::cell::RefCell;
use std::fs::{self, File};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::ffi::host::{data_file, render};
use crate::ffi::http::{Method, Request};
use crate::ffi::log;
use crate::module::state;
use phoneprov_core::model::Phone;
use phoneprov_core::server::{server_address, uri_host};
use phoneprov_core::uri::{self, UriError};
use phoneprov_core::vars::{self, Vars};

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// What a request adds to the variables of the phone it serves.
struct Serving {
    mac: String,
    /// SERVER from the connection, when the phone's variables have none.
    server: Option<String>,
    /// SERVER_HOST, when the phone's variables have none.
    server_host: Option<String>,
}

thread_local! {
    /// The phone being served on this thread: dialplan functions rendering that phone's
    /// lines (PP_EACH_EXTENSION) add the same variables as the page itself.
    static SERVING: RefCell<Option<Serving>> = const { RefCell::new(None) };
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

/// Renders `template` with one of a phone's variable lists, adding SERVER and SERVER_HOST
/// where the request provides them and the list does not.
pub fn render_for(template: &str, phone: &Phone, vars: &Vars) -> String {
    SERVING.with(|s| {
        let s = s.borrow();
        let Some(serving) = s.as_ref().filter(|s| s.mac == phone.mac) else {
            return render(template, vars, &[]);
        };
        let mut extra = Vec::with_capacity(2);
        if let Some(server) = serving
            .server
            .as_deref()
            .filter(|_| !vars.contains(vars::SERVER))
        {
            extra.push((vars::SERVER, server));
        }
        if let Some(host) = serving.server_host.as_deref() {
            if !vars.contains(vars::SERVER_HOST) {
                extra.push((vars::SERVER_HOST, host));
            }
        }
        render(template, vars, &extra)
    })
}

/// Characters a 404 page may repeat from the request without any escaping.
fn echo_safe(uri: &str) -> bool {
    uri.len() <= 200
        && uri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/~+:@=,".contains(&b))
}

fn not_found(req: &Request, uri: &str) {
    let text = if echo_safe(uri) {
        uri
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
    let uri = match uri::decode(req.raw_uri) {
        Ok(uri) => uri,
        Err(UriError::Nul) => {
            return req.error(400, "Bad Request", "The URL holds a NUL byte.");
        }
    };
    let Some(snap) = state::current() else {
        return not_found(req, &uri);
    };
    let Some(res) = snap.resolve(&uri) else {
        return not_found(req, &uri);
    };
    let path = data_file(&res.file.template);
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
    let vars = phone.vars();
    let server = match vars.find(vars::SERVER) {
        Some(_) => None,
        None => {
            let found = req.local_ip().map(server_address);
            if found.is_none() {
                log::warning("Could not get server IP, breakage likely.");
            }
            found
        }
    };
    let server_host = vars.find(vars::SERVER).or(server.as_deref()).map(uri_host);
    let serving = Serving {
        mac: phone.mac.clone(),
        server,
        server_host,
    };
    let previous = SERVING.with(|s| s.borrow_mut().replace(serving));
    let body = render_for(&template, phone, vars);
    SERVING.with(|s| *s.borrow_mut() = previous);
    req.send(200, "OK", &headers, &body, false);
}
