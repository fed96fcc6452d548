//! Answers `/phoneprov/...` requests from the current snapshot.

use std::time::{Duration, Instant};

use crate::ffi::host::{data_file, http_prefix, http_requests_in_flight};
use crate::ffi::http::{Method, Request};
use crate::ffi::log;
use crate::module::funcs::call_into;
use crate::module::render::{render_dynamic, Serving};
use crate::module::{access, state, statics};
use phoneprov_core::bytes::lossy;
use phoneprov_core::server::{server_address, uri_host};
use phoneprov_core::uri::{self, UriError};
use phoneprov_core::vars;

/// Waits up to `limit` until no request is inside the glue's HTTP callback; false if some
/// still are (a slow client downloading a large static file, say).
pub fn wait_idle(limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while http_requests_in_flight() > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The last request decrements the counter a few instructions before it leaves the
    // callback; give it time to return before the library can be unmapped.
    std::thread::sleep(Duration::from_millis(20));
    true
}

/// Test builds only (`--features failpoints`): URIs that make the handler fail on purpose.
/// True when the request must get no answer from the handler.
#[cfg(feature = "failpoints")]
fn failpoint(req: &Request) -> bool {
    match req.raw_uri {
        b"failpoint/panic" => panic!("failpoint: panic in the HTTP handler"),
        b"failpoint/silent" => {
            log::warning("failpoint: the HTTP handler returns without answering");
            true
        }
        _ => false,
    }
}

/// Characters a 404 page may repeat from the request without any escaping.
fn echo_safe(uri: &[u8]) -> bool {
    uri.len() <= 200
        && uri
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/~+:@=,".contains(b))
}

fn not_found(req: &Request, uri: &[u8]) {
    access::miss(req);
    let text = if echo_safe(uri) {
        lossy(uri)
    } else {
        "The requested URL was not found on this server.".into()
    };
    req.error(404, "Not Found", &text);
}

fn internal_error(req: &Request) {
    req.error(500, "Internal Error", "An internal error has occured.");
}

/// `scheme://host[/prefix]/phoneprov/` as this client reached the server: the Host header
/// it sent (else the local address), and https on a TLS connection.
fn base_url(req: &Request) -> String {
    let scheme = if req.is_tls() { "https" } else { "http" };
    let host = req
        .header("Host")
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '"', '<', '>']))
        .or_else(|| req.local_ip().map(|ip| uri_host(&server_address(ip))))
        .unwrap_or_default();
    format!("{scheme}://{host}{}/phoneprov/", http_prefix())
}

pub fn handle(req: &Request) {
    #[cfg(feature = "failpoints")]
    if failpoint(req) {
        return;
    }
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
    if access::refused_early(req) {
        return;
    }
    let Some(snap) = state::current() else {
        return not_found(req, &uri);
    };
    let Some(res) = snap.resolve(&uri) else {
        return not_found(req, &uri);
    };
    if access::refused(req, &snap, &res) {
        return;
    }
    let Some(phone) = res.phone else {
        let path = data_file(&res.file.template);
        if let Err(e) = statics::serve(req, &path, &res.file.mime_type) {
            log::warning(&format!(
                "Could not open static file {}: {e}",
                path.display()
            ));
            internal_error(req);
        }
        return;
    };
    let connection = if phone.vars().contains(vars::SERVER) {
        None
    } else {
        let found = req.local_ip().map(server_address);
        if found.is_none() {
            log::warning("Could not get server IP, breakage likely.");
        }
        found
    };
    let serving = Serving::new(snap.clone(), phone, connection, Some(base_url(req)));
    let body = match render_dynamic(phone, res.file, serving, call_into) {
        Ok(body) => body,
        Err(failure) => {
            log::warning(&failure.to_string());
            return internal_error(req);
        }
    };
    let headers = [b"Content-type: ", &res.file.mime_type[..], b"\r\n"].concat();
    req.send(200, "OK", &headers, &body, false);
}
