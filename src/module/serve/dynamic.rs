//! Serving one phone's dynamic file: SERVER from the connection, rendering, the answer,
//! and its audit record. Used for the phone's own URIs and for enrollment tokens.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use crate::ffi::host::http_prefix;
use crate::ffi::http::Request;
use crate::ffi::log;
use crate::module::render::substitute::{render_dynamic, Serving};
use crate::module::serve::answer::{Answer, Bytes, Reply};
use crate::module::telemetry::metrics::Kind;
use crate::module::Module;
use phoneprov_core::config::profile::FileEntry;
use phoneprov_core::config::vars;
use phoneprov_core::model::server::{server_address, uri_host};
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::render::template::Template;

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

/// The phone a dynamic file is rendered for.
pub enum Who<'a> {
    /// A phone of the snapshot served.
    Listed(&'a Phone),
    /// A phone that is not in it (looked up in realtime).
    Alone(Arc<Phone>),
}

impl Who<'_> {
    pub fn phone(&self) -> &Phone {
        match self {
            Who::Listed(p) => p,
            Who::Alone(p) => p,
        }
    }
}

/// `who`'s `file` (its URI: `uri`) rendered from `snap`.
pub fn serve<'a>(
    m: &Module,
    req: &Request,
    snap: &Arc<Snapshot>,
    who: Who<'a>,
    file: &FileEntry,
    uri: impl Into<Cow<'a, [u8]>>,
) -> Reply<'a> {
    let phone = who.phone();
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
    let alone = match &who {
        Who::Alone(p) => Some(p.clone()),
        Who::Listed(_) => None,
    };
    let serving = |template: &Template| {
        // Made only for a template that may read it.
        let base = template
            .may_read(vars::BASE_URL.as_bytes())
            .then(|| base_url(req));
        Serving::new(snap.clone(), phone, connection, base)
            .with_agent(agent.clone())
            .with_alone(alone)
    };
    let functions = m.functions();
    let call = |name: &str, data: &[u8], out: &mut Vec<u8>| functions.call_into(name, data, out);
    let started = Instant::now();
    let rendered = render_dynamic(&m.templates, phone, file, serving, &call);
    m.metrics
        .rendered(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
    let answer = match rendered {
        Ok(body) => Answer::body(200, "OK", Bytes::Shared(file.content_type.clone()), body),
        Err(failure) => {
            log::warning!("{failure}");
            Answer::internal_error()
        }
    };
    let mac = match who {
        Who::Listed(p) => Cow::Borrowed(p.mac()),
        Who::Alone(p) => Cow::Owned(p.mac().to_vec()),
    };
    Reply::from(answer)
        .kind(Kind::Dynamic)
        .audit(mac, uri, agent)
}
