//! Answers `/phoneprov/...` requests from the current snapshot.

use std::time::{Duration, Instant};

use crate::ffi::host::{data_file, http_requests_in_flight};
use crate::ffi::http::{Method, Request};
use crate::ffi::log;
use crate::module::serve::access::Admission;
use crate::module::serve::realtime::{self, Lookup};
use crate::module::serve::{access, backlog, dynamic, statics, tokens, uploads};
use crate::module::state::registry as state;
use crate::module::telemetry::metrics::{self, Kind};
use std::sync::Arc;

use phoneprov_core::http::uri::{self, UriError};
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::util::bytes::lossy;

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
            log::warning!("failpoint: the HTTP handler returns without answering");
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
    not_found_answer(req, uri);
}

/// The 404 of every name nothing here serves, whether or not it belongs to a phone.
fn not_found_answer(req: &Request, uri: &[u8]) {
    let text = if echo_safe(uri) {
        lossy(uri)
    } else {
        "The requested URL was not found on this server.".into()
    };
    req.error(404, "Not Found", &text);
}

pub fn handle(req: &Request) {
    metrics::offer();
    let route = route_and_answer(req);
    if req.answered() {
        metrics::count(metrics::kind(req.status(), route), req.status());
    }
}

/// Answers `req`; the kind of route that answered, if one did.
fn route_and_answer(req: &Request) -> Option<Kind> {
    #[cfg(feature = "failpoints")]
    if failpoint(req) {
        return None;
    }
    if req.method == Method::Other {
        req.error(
            501,
            "Not Implemented",
            "Attempt to use unimplemented / unsupported method",
        );
        return None;
    }
    let uri = match uri::decode(req.raw_uri) {
        Ok(uri) => uri,
        Err(UriError::Nul) => {
            req.error(400, "Bad Request", "The URL holds a NUL byte.");
            return None;
        }
    };
    if access::refused_early(req) {
        return None;
    }
    if req.method == Method::Put {
        return uploads::put(req, &uri);
    }
    if let Some(token) = uri.strip_prefix(b"enroll/") {
        tokens::serve(req, token);
        return Some(Kind::Dynamic);
    }
    let Some(snap) = state::current() else {
        not_found(req, &uri);
        return None;
    };
    backlog::ensure(req, snap.config.settings.http_backlog);
    // Routes first: an upload never stands in for a file served here.
    let Some(res) = snap.resolve(&uri) else {
        let target = snap
            .has_uploads()
            .then(|| snap.upload_target(&uri))
            .flatten();
        if let Some(target) = target {
            return upload_name(req, &snap, target.phone, &uri);
        }
        return realtime_answer(req, &snap, &uri);
    };
    if access::refused(req, &snap, &res) {
        return None;
    }
    let Some(phone) = res.phone else {
        let path = data_file(&res.file.template);
        if let Err(e) = statics::serve(req, &path, &res.file.mime_type) {
            log::warning!("Could not open static file {}: {e}", path.display());
            dynamic::internal_error(req);
        }
        return Some(Kind::Static);
    };
    dynamic::serve(req, &snap, phone, res.file, &uri);
    Some(Kind::Dynamic)
}

/// A GET or HEAD of a name `phone` may upload: its access rules, then the stored file or
/// the 404 of any unknown name, a miss unless the phone itself asked (a Polycom fetches its
/// overrides at every boot, also before it uploaded any). Otherwise such names would tell
/// known MACs from unknown ones, unchecked and as often as anyone likes.
fn upload_name(req: &Request, snap: &Snapshot, phone: &Phone, uri: &[u8]) -> Option<Kind> {
    let admission = access::admit_phone(req, snap, phone);
    if admission == Admission::Refused {
        return None;
    }
    if uploads::serve_stored(req, phone, uri) {
        return Some(Kind::Dynamic);
    }
    if admission != Admission::Authenticated {
        access::miss(req);
    }
    not_found_answer(req, uri);
    None
}

/// A URI no route in memory answers: a phone of the realtime database, in dynamic mode.
fn realtime_answer(req: &Request, snap: &Arc<Snapshot>, uri: &[u8]) -> Option<Kind> {
    let phone = match realtime::lookup(snap, uri) {
        Lookup::Found(phone) => phone,
        Lookup::NotFound => {
            not_found(req, uri);
            return None;
        }
        Lookup::Unavailable => {
            let body = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n\
                        <title>503 Service Unavailable</title>\n</head><body>\n\
                        <h1>Service Unavailable</h1>\n<p>The provisioning database does not \
                        answer; try again later.</p>\n<hr />\n</body></html>\n";
            req.send(
                503,
                "Service Unavailable",
                b"Content-Type: text/html\r\nRetry-After: 1\r\n",
                body.as_bytes(),
                false,
            );
            return None;
        }
    };
    // The URI had the shape of one of the phone's files; it must be exactly one of them.
    let Some(file) = phone.file_at(uri) else {
        not_found(req, uri);
        return None;
    };
    if access::refused_phone(req, snap, &phone.phone) {
        return None;
    }
    let entry = &phone.phone.profile.dynamic_files[file];
    dynamic::serve_alone(req, snap, &phone.phone, entry, uri);
    Some(Kind::Dynamic)
}
