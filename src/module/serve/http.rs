//! Answers `/phoneprov/...` requests from the current snapshot: each path decides a
//! [`Reply`], and [`handle`] sends it (see `answer`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ffi::host::{data_file, http_requests_in_flight};
use crate::ffi::http::{Method, Request};
use crate::ffi::log;
use crate::ffi::security::Event;
use crate::module::serve::access::{Admission, Gate};
use crate::module::serve::answer::{Answer, Reply};
use crate::module::serve::dynamic::{self, Who};
use crate::module::serve::realtime::Lookup;
use crate::module::serve::{tokens, uploads};
use crate::module::telemetry::metrics::Kind;
use crate::module::Module;

use phoneprov_core::access::scan::is_phone_shaped;
use phoneprov_core::http::uri::{self, UriError};
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::clean::Clean;

/// How long the last request to leave the handler is given to return from it after the
/// count of requests inside fell to zero: it decrements the count a few instructions before
/// its last one.
const LAST_STEPS: Duration = Duration::from_millis(20);

/// Waits up to `limit` until no request is inside the glue's HTTP callback; false if some
/// still are (a slow client downloading a large static file, say).
pub fn wait_idle(limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        while http_requests_in_flight() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(LAST_STEPS);
        // A request may have come in during the sleep (unlinking the URI does not wait for
        // one that Asterisk had already dispatched): look again.
        if http_requests_in_flight() == 0 {
            return true;
        }
    }
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

/// The 404 of every name nothing here serves, whether or not it belongs to a phone.
fn not_found(uri: &[u8]) -> Answer<'static> {
    if echo_safe(uri) {
        Answer::page(404, "Not Found", lossy(uri).into_owned())
    } else {
        Answer::not_found()
    }
}

/// A miss: the 404, counted against the client. A name shaped like a phone's file that no
/// phone has is part of a scan for MACs: it raises `InvalidAccountID` (the name as the
/// account), at most once per address per `SCAN_INTERVAL`, for fail2ban.
fn miss(m: &Module, req: &Request, uri: &[u8]) -> Reply<'static> {
    let reply = Reply::from(not_found(uri)).miss().unknown();
    if is_phone_shaped(uri) && m.access.scan_reported(req) {
        let why = &b"no phone has this name"[..];
        return reply.report(Event::InvalAcctId, Clean::new(uri), Clean::new(why));
    }
    reply
}

pub fn handle(m: &Module, req: &Request) {
    let uri = uri::decode(req.raw_uri);
    let snap;
    let reply = match &uri {
        Ok(uri) => {
            snap = m.registry.current();
            decide(m, req, uri, snap.as_ref())
        }
        Err(UriError::Nul) => Reply::from(Answer::page(
            400,
            "Bad Request",
            "The URL holds a NUL byte.",
        )),
    };
    reply.send(req, &m.sink(), |req| m.access.miss(req));
}

/// What `req` (its URI decoded: `uri`) is answered with, `snap` the snapshot served.
fn decide<'a>(
    m: &'a Module,
    req: &Request,
    uri: &'a [u8],
    snap: Option<&'a Arc<Snapshot>>,
) -> Reply<'a> {
    #[cfg(feature = "failpoints")]
    if failpoint(req) {
        return Reply::none();
    }
    if req.method == Method::Other {
        return Reply::from(Answer::page(
            501,
            "Not Implemented",
            "Attempt to use unimplemented / unsupported method",
        ));
    }
    if let Some(refused) = m.access.refused_early(req) {
        return refused;
    }
    // The access lists first, before anything that depends on the URI: a client every
    // profile refuses learns nothing of routes, phones, tokens or the database.
    let gate = m.access.gate(req);
    if gate == Gate::Denied {
        return m.access.gate_refusal(req, gate);
    }
    let reply = route(m, req, uri, snap);
    // A client some profile refuses gets that 403 for names nothing serves (or tokens
    // spent): the same answer as for a MAC of such a profile.
    if gate == Gate::Restricted && reply.unknown {
        let refused = m.access.gate_refusal(req, gate);
        return if reply.miss { refused.miss() } else { refused };
    }
    reply
}

/// [`decide`] once the access lists let the client look: the route, an upload, a token,
/// a phone of the realtime database.
fn route<'a>(
    m: &'a Module,
    req: &Request,
    uri: &'a [u8],
    snap: Option<&'a Arc<Snapshot>>,
) -> Reply<'a> {
    if req.method == Method::Put {
        return uploads::put(m, req, uri, snap);
    }
    if let Some(token) = uri.strip_prefix(b"enroll/") {
        return tokens::serve(m, req, snap, token).kind(Kind::Dynamic);
    }
    let Some(snap) = snap else {
        return miss(m, req, uri);
    };
    m.backlog.ensure(req, snap.config.settings.http_backlog);
    // Routes first: an upload never stands in for a file served here.
    let Some(res) = snap.resolve(uri) else {
        let target = snap
            .has_uploads()
            .then(|| snap.upload_target(uri))
            .flatten();
        if let Some(target) = target {
            return upload_name(m, req, snap, target.phone, uri);
        }
        return realtime_answer(m, req, snap, uri);
    };
    if let Err(refused) = m.access.admit_route(req, snap, &res) {
        return *refused;
    }
    let Some(phone) = res.phone else {
        let path = data_file(&res.file.template);
        let answer = m.statics.serve(req, &path, res.file).unwrap_or_else(|e| {
            log::warning!("Could not open static file {}: {e}", path.display());
            Answer::internal_error()
        });
        return Reply::from(answer).kind(Kind::Static);
    };
    dynamic::serve(m, req, snap, Who::Listed(phone), res.file, uri)
}

/// A GET or HEAD of a name `phone` may upload: its access rules, then the stored file or
/// the 404 of any unknown name, a miss unless the phone itself asked (a Polycom fetches its
/// overrides at every boot, also before it uploaded any). Otherwise such names would tell
/// known MACs from unknown ones, unchecked and as often as anyone likes.
fn upload_name<'a>(
    m: &Module,
    req: &Request,
    snap: &Snapshot,
    phone: &Phone,
    uri: &'a [u8],
) -> Reply<'a> {
    let admission = match m.access.admit_phone(req, snap, phone) {
        Ok(admission) => admission,
        Err(refused) => return *refused,
    };
    if let Some(stored) = uploads::serve_stored(req, phone, uri) {
        return stored;
    }
    let reply = Reply::from(not_found(uri));
    match admission {
        Admission::Authenticated => reply,
        Admission::Open => reply.miss(),
    }
}

/// A URI no route in memory answers: a phone of the realtime database, in dynamic mode.
fn realtime_answer<'a>(
    m: &'a Module,
    req: &Request,
    snap: &'a Arc<Snapshot>,
    uri: &'a [u8],
) -> Reply<'a> {
    let phone = match m.realtime.lookup(&m.users, snap, uri) {
        Lookup::Found(phone) => phone,
        // Or one of a database phone's upload names.
        Lookup::NotFound => {
            return match uploads::database_phone(m, snap, uri) {
                Some(Ok(found)) => upload_name(m, req, snap, &found.phone, uri),
                Some(Err(uploads::Unavailable)) => Reply::from(Answer::unavailable()),
                None => miss(m, req, uri),
            }
        }
        Lookup::Unavailable => return Reply::from(Answer::unavailable()),
    };
    // The URI had the shape of one of the phone's files; it must be exactly one of them.
    let Some(file) = phone.file_at(uri) else {
        return miss(m, req, uri);
    };
    if let Err(refused) = m.access.admit_phone(req, snap, &phone.phone) {
        return *refused;
    }
    let entry = &phone.phone.profile.dynamic_files[file];
    dynamic::serve(m, req, snap, Who::Alone(phone.phone.clone()), entry, uri)
}
