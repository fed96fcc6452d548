//! What a TFTP read request is answered with: the same routes as over HTTP (the name is the
//! path after `/phoneprov/`), under the same rules: the rate limit's bans, the access lists
//! (before the name is looked up), the profile's `tftp` setting; dynamic files rendered per
//! request with SERVER the local address the request reached. Misses count against the
//! client and raise the same security events; the audit and the metrics record each
//! transfer.

use std::fs::File;
use std::net::SocketAddr;
use std::time::Instant;

use super::listener::{Ask, Refusal};
use crate::ffi::host::data_file;
use crate::ffi::log;
use crate::ffi::security::Event;
use crate::module::render::substitute::{render_dynamic, Serving};
use crate::module::serve::access::AddressCheck;
use crate::module::telemetry::audit::Client;
use crate::module::telemetry::metrics::Kind;
use crate::module::Module;
use phoneprov_core::config::tftp::TftpMode;
use phoneprov_core::config::vars;
use phoneprov_core::model::server::{server_address, uri_host};
use phoneprov_core::tftp::options::{route_name, to_netascii};
use phoneprov_core::tftp::packet::{ErrorCode, Mode};
use phoneprov_core::tftp::transfer::Source;
use phoneprov_core::util::clean::Clean;

const NOT_FOUND: Refusal = (ErrorCode::FileNotFound, "File not found");
const DENIED: Refusal = (ErrorCode::AccessViolation, "Access denied");

/// What a transfer served: enough for its audit record and metrics once it ended.
pub struct Served {
    pub kind: Kind,
    /// The phone's MAC, for a phone's own file.
    pub mac: Option<Vec<u8>>,
    pub name: Vec<u8>,
}

/// The answer to `ask`: the body, and what it was.
pub fn answer(m: &Module, ask: &Ask<'_>) -> Result<(Source, Served), Refusal> {
    let ip = ask.peer.ip();
    let refuse = |refusal: Refusal, event: Option<(Event, &[u8])>, miss: bool| {
        if let Some((event, detail)) = event {
            m.access
                .report_address(event, b"", detail, ask.peer, ask.local);
        }
        if miss {
            m.access.miss_address(ip);
        }
        m.metrics.count_tftp(Kind::NotFound, refusal.0);
        Err(refusal)
    };
    if m.access.banned_address(ip) {
        return refuse(DENIED, None, false);
    }
    let Some(name) = route_name(ask.name) else {
        log::notice!(
            "phoneprov: TFTP request from {} for a name that could leave the module's files \
             refused: {}",
            ask.peer,
            Clean::new(ask.name)
        );
        return refuse(
            (ErrorCode::AccessViolation, "Illegal file name"),
            Some((Event::ReqNotAllowed, b"TFTP name outside /phoneprov/")),
            true,
        );
    };
    let Some(snap) = m.registry.current() else {
        return refuse(NOT_FOUND, None, true);
    };
    // The access lists before the name is looked at: a refused client learns nothing of
    // which names exist.
    if m.access.check_address(&snap, None, ip) == AddressCheck::Denied {
        return refuse(DENIED, Some((Event::FailedAcl, b"every profile")), false);
    }
    let Some(res) = snap.resolve(name) else {
        return refuse(NOT_FOUND, None, true);
    };
    let served_here = matches!(
        (res.profile.tftp, res.phone),
        (TftpMode::All, _) | (TftpMode::Static, None)
    );
    if !served_here {
        // Not served over TFTP, whatever HTTP does with it: not found, and no miss (a phone
        // of the profile trying TFTP first is not guessing).
        return refuse(NOT_FOUND, None, false);
    }
    if m.access.check_address(&snap, Some(&res.profile.name), ip) != AddressCheck::Allowed {
        return refuse(DENIED, Some((Event::FailedAcl, &res.profile.name)), false);
    }
    let source = match res.phone {
        None => {
            let path = data_file(&res.file.template);
            let source = match ask.mode {
                Mode::Octet => File::open(&path).and_then(|file| {
                    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
                    Ok(Source::File { file, len })
                }),
                Mode::Netascii => {
                    std::fs::read(&path).map(|b| Source::Memory(to_netascii(&b).into()))
                }
            };
            match source {
                Ok(s) => s,
                Err(e) => {
                    log::warning!("Could not open static file {}: {e}", path.display());
                    m.metrics.count_tftp(Kind::Static, ErrorCode::NotDefined);
                    return Err((ErrorCode::NotDefined, "Could not read the file"));
                }
            }
        }
        Some(phone) => {
            let local = ask.local;
            let connection = (!phone.vars().contains(vars::SERVER)).then(|| server_address(local));
            let serving = |_: &_| {
                Serving::new(
                    snap.clone(),
                    phone,
                    connection.clone(),
                    Some(format!("tftp://{}/", uri_host(&server_address(local)))),
                )
            };
            let functions = m.functions();
            let call =
                |name: &str, data: &[u8], out: &mut Vec<u8>| functions.call_into(name, data, out);
            let started = Instant::now();
            let rendered = render_dynamic(&m.templates, phone, res.file, serving, &call);
            m.metrics
                .rendered(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
            match rendered {
                Ok(body) if ask.mode == Mode::Netascii => Source::Memory(to_netascii(&body).into()),
                Ok(body) => Source::Memory(body.into()),
                Err(failure) => {
                    log::warning!("{failure}");
                    m.metrics.count_tftp(Kind::Dynamic, ErrorCode::NotDefined);
                    return Err((ErrorCode::NotDefined, "Could not render the file"));
                }
            }
        }
    };
    let served = Served {
        kind: if res.phone.is_some() {
            Kind::Dynamic
        } else {
            Kind::Static
        },
        mac: res.phone.map(|p| p.mac().to_vec()),
        name: name.to_vec(),
    };
    Ok((source, served))
}

/// A transfer ended: the bytes the client acknowledged, None when it did not finish.
pub fn finished(m: &Module, peer: SocketAddr, served: &Served, acked: Option<usize>) {
    m.metrics.tftp_sent(served.kind, acked);
    if let Some(mac) = &served.mac {
        let client = Client {
            // `peer` is canonical already (an IPv4 client as IPv4): see `Ask`.
            address: format!("tftp://{peer}"),
            user_agent: Clean::default(),
            tls: false,
        };
        let status = if acked.is_some() { 200 } else { 0 };
        m.audit
            .record(&client, mac, &served.name, status, None, |f| {
                m.cluster.offer(mac, f)
            });
    }
}
