//! Serving one phone's dynamic file: SERVER from the connection, rendering, the answer,
//! and its audit record. Used for the phone's own URIs and for enrollment tokens.

use std::sync::Arc;
use std::time::Instant;

use crate::ffi::host::http_prefix;
use crate::ffi::http::Request;
use crate::ffi::log;
use crate::module::render::funcs::call_into;
use crate::module::render::substitute::{render_dynamic, Serving};
use crate::module::telemetry::{audit, metrics};
use phoneprov_core::config::profile::FileEntry;
use phoneprov_core::config::vars;
use phoneprov_core::model::server::{server_address, uri_host};
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::render::template::Template;

/// Asterisk's 500 page, for a file that cannot be served (static or dynamic).
pub fn internal_error(req: &Request) {
    req.error(500, "Internal Error", "An internal error has occured.");
}

/// `scheme://host[/prefix]/phoneprov/` as this client reached the server: the Host header
/// it sent (else the local address), and https on a TLS connection.
fn base_url(req: &Request) -> String {
    let scheme = if req.is_tls() { "https" } else { "http" };
    let host = req
        .header("Host")
        .filter(|h| !h.is_empty() && !h.iter().any(|b| b"/ \"<>".contains(b)))
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .or_else(|| req.local_ip().map(|ip| uri_host(&server_address(ip))))
        .unwrap_or_default();
    format!("{scheme}://{host}{}/phoneprov/", http_prefix())
}

/// Answers `req` with `phone`'s `file` (its URI: `uri`) rendered from `snap`.
pub fn serve(req: &Request, snap: &Arc<Snapshot>, phone: &Phone, file: &FileEntry, uri: &[u8]) {
    serve_phone(req, snap, phone, None, file, uri);
}

/// [`serve`] for a phone that is not in `snap` (looked up in realtime).
pub fn serve_alone(
    req: &Request,
    snap: &Arc<Snapshot>,
    phone: &Arc<Phone>,
    file: &FileEntry,
    uri: &[u8],
) {
    serve_phone(req, snap, phone, Some(phone.clone()), file, uri);
}

fn serve_phone(
    req: &Request,
    snap: &Arc<Snapshot>,
    phone: &Phone,
    alone: Option<Arc<Phone>>,
    file: &FileEntry,
    uri: &[u8],
) {
    let connection = if phone.vars().contains(vars::SERVER) {
        None
    } else {
        let found = req.local_ip().map(server_address);
        if found.is_none() {
            log::warning!("Could not get server IP, breakage likely.");
        }
        found
    };
    let agent = req.agent();
    let serving = |template: &Template| {
        // Made only for a template that may read it.
        let base = template
            .may_read(vars::BASE_URL.as_bytes())
            .then(|| base_url(req));
        Serving::new(snap.clone(), phone, connection, base)
            .with_agent(agent.clone())
            .with_alone(alone)
    };
    let started = Instant::now();
    let rendered = render_dynamic(phone, file, serving, call_into);
    metrics::rendered(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
    let status = match rendered {
        Ok(body) => {
            let headers = [b"Content-type: ", &file.mime_type[..], b"\r\n"].concat();
            req.send(200, "OK", &headers, &body, false);
            200
        }
        Err(failure) => {
            log::warning!("{failure}");
            internal_error(req);
            500
        }
    };
    audit::record(req, phone.mac(), uri, status, agent.as_ref());
}
