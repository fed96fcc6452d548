//! Answers `/phoneprov/...` requests from the current snapshot.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::ffi::host::data_file;
use crate::ffi::http::{Method, Request};
use crate::ffi::log;
use crate::module::render::{self, render_line, Serving};
use crate::module::{state, statics, templates};
use phoneprov_core::server::{server_address, uri_host};
use phoneprov_core::uri::{self, UriError};
use phoneprov_core::vars;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

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
        if let Err(e) = statics::serve(req, &path, &res.file.mime_type) {
            log::warning(&format!(
                "Could not open static file {}: {e}",
                path.display()
            ));
            internal_error(req);
        }
        return;
    };
    let template = match templates::load(&path) {
        Ok(t) => t,
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
    let body = render::serving(serving, || render_line(&template, phone, vars));
    req.send(200, "OK", &headers, &body, false);
}
