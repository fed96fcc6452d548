//! What a handler decides, as a value, and the one place it is sent: [`Reply::send`] writes
//! the answer, counts it, reports its security event and records its audit, with every fact
//! about the connection (TLS, addresses) read before the answer goes out. Asterisk may close
//! the stream with the answer (`Connection: close`), after which nothing can be asked of it.

use std::borrow::Cow;
use std::fs::File;
use std::sync::Arc;

use crate::ffi::http::Request;
use crate::ffi::security::{self, Endpoint, Event, Transport};
use crate::module::telemetry::audit::{Audit, Client};
use crate::module::telemetry::cluster::ClusterAudit;
use crate::module::telemetry::metrics::{self, Kind, Metrics};
use phoneprov_core::http::useragent::UserAgent;
use phoneprov_core::util::clean::Clean;

/// Bytes an answer carries: borrowed from the snapshot, shared with a cache entry, or made
/// for this answer.
pub enum Bytes<'a> {
    Borrowed(&'a [u8]),
    Shared(Arc<[u8]>),
    Owned(Vec<u8>),
}

impl Bytes<'_> {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Borrowed(b) => b,
            Bytes::Shared(b) => b,
            Bytes::Owned(b) => b,
        }
    }
}

impl<'a> From<&'a [u8]> for Bytes<'a> {
    fn from(b: &'a [u8]) -> Self {
        Bytes::Borrowed(b)
    }
}

impl From<Vec<u8>> for Bytes<'_> {
    fn from(b: Vec<u8>) -> Self {
        Bytes::Owned(b)
    }
}

pub enum Body<'a> {
    /// Asterisk's own HTML error page around this text (already safe to show).
    Page(Cow<'static, str>),
    /// A body from memory, left out for HEAD; with no header but `head`'s.
    Memory(Bytes<'a>),
    /// [`Body::Memory`] that may hold NUL bytes, which Asterisk's string path would cut.
    Binary(Bytes<'a>),
    /// Streamed from an open file.
    File(File),
    /// A 304: no body and no Content-Length.
    NotModified,
}

/// An answer: status, header lines (each ending in CRLF; two parts, so that a file's own
/// lines and a per-request line are sent without being joined first) and body.
pub struct Answer<'a> {
    pub status: u16,
    pub title: &'static str,
    pub head: [Bytes<'a>; 2],
    pub body: Body<'a>,
    /// Whether a cache may keep it (static files): Asterisk then leaves out its no-cache
    /// headers.
    pub cacheable: bool,
}

impl<'a> Answer<'a> {
    /// Asterisk's error page.
    pub fn page(status: u16, title: &'static str, text: impl Into<Cow<'static, str>>) -> Self {
        Answer {
            status,
            title,
            head: [Bytes::Borrowed(b""), Bytes::Borrowed(b"")],
            body: Body::Page(text.into()),
            cacheable: false,
        }
    }

    /// A body from memory with its header lines.
    pub fn body(
        status: u16,
        title: &'static str,
        head: impl Into<Bytes<'a>>,
        body: impl Into<Bytes<'a>>,
    ) -> Self {
        Answer {
            status,
            title,
            head: [head.into(), Bytes::Borrowed(b"")],
            body: Body::Memory(body.into()),
            cacheable: false,
        }
    }

    /// 503 with Retry-After: the database that would tell does not answer now (never
    /// cached, never a 404 the database did not say).
    pub fn unavailable() -> Self {
        const BODY: &str = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n\
                            <title>503 Service Unavailable</title>\n</head><body>\n\
                            <h1>Service Unavailable</h1>\n<p>The provisioning database does \
                            not answer; try again later.</p>\n<hr />\n</body></html>\n";
        Answer::body(
            503,
            "Service Unavailable",
            &b"Content-Type: text/html\r\nRetry-After: 1\r\n"[..],
            BODY.as_bytes(),
        )
    }

    /// The 404 of every name nothing here serves.
    pub fn not_found() -> Self {
        Answer::page(
            404,
            "Not Found",
            "The requested URL was not found on this server.",
        )
    }

    pub fn forbidden(text: &'static str) -> Self {
        Answer::page(403, "Forbidden", text)
    }

    /// Asterisk's 500 page, for a file that cannot be served.
    pub fn internal_error() -> Self {
        Answer::page(500, "Internal Error", "An internal error has occured.")
    }
}

/// A security event a reply reports: what, for which account, with what detail; both
/// escaped ([`Clean`]), whoever chose them.
pub struct Report {
    pub event: Event,
    pub account: Clean,
    pub detail: Clean,
}

/// What the audit records of a reply: the phone and the URI it asked for.
pub struct Audited<'a> {
    /// Borrowed from the snapshot, or a copy (a phone of the realtime database).
    pub mac: Cow<'a, [u8]>,
    pub uri: Cow<'a, [u8]>,
    /// For a PUT: the bytes stored (0 when refused).
    pub upload: Option<u64>,
    /// The phone as its User-Agent describes it.
    pub agent: Option<UserAgent>,
}

/// A handler's whole decision.
pub struct Reply<'a> {
    /// None: the handler already answered on the connection, or no answer must go out.
    pub answer: Option<Answer<'a>>,
    /// The kind of route that answered (None: no route was reached), for the metrics.
    pub kind: Option<Kind>,
    pub report: Option<Report>,
    /// Counted against the client's address for the rate limit on misses.
    pub miss: bool,
    /// The answer to a name nothing serves (no route, phone, upload or token): a client
    /// some access list refuses gets that list's 403 instead (see `serve::http`).
    pub unknown: bool,
    pub audit: Option<Audited<'a>>,
}

impl<'a> From<Answer<'a>> for Reply<'a> {
    fn from(answer: Answer<'a>) -> Self {
        Reply {
            answer: Some(answer),
            kind: None,
            report: None,
            miss: false,
            unknown: false,
            audit: None,
        }
    }
}

impl<'a> Reply<'a> {
    /// No answer from the handler (the glue then answers 500).
    pub fn none() -> Self {
        Reply {
            answer: None,
            kind: None,
            report: None,
            miss: false,
            unknown: false,
            audit: None,
        }
    }

    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Counted as a miss for the rate limit.
    pub fn miss(mut self) -> Self {
        self.miss = true;
        self
    }

    /// Answers a name nothing serves (see [`Reply::unknown`]).
    pub fn unknown(mut self) -> Self {
        self.unknown = true;
        self
    }

    pub fn report(mut self, event: Event, account: Clean, detail: Clean) -> Self {
        self.report = Some(Report::new(event, account, detail));
        self
    }

    /// Recorded in the audit as a fetch of `uri` by the phone `mac`.
    pub fn audit(
        mut self,
        mac: impl Into<Cow<'a, [u8]>>,
        uri: impl Into<Cow<'a, [u8]>>,
        agent: Option<UserAgent>,
    ) -> Self {
        self.audit = Some(Audited {
            mac: mac.into(),
            uri: uri.into(),
            upload: None,
            agent,
        });
        self
    }

    /// Recorded in the audit as an upload of `size` bytes (0: refused).
    pub fn audit_upload(
        mut self,
        mac: impl Into<Cow<'a, [u8]>>,
        uri: impl Into<Cow<'a, [u8]>>,
        size: u64,
        agent: Option<UserAgent>,
    ) -> Self {
        self.audit = Some(Audited {
            mac: mac.into(),
            uri: uri.into(),
            upload: Some(size),
            agent,
        });
        self
    }
}

/// What sending needs of the module: its counters and its audits (this node's, and the
/// cluster's when audit_realtime is set).
pub struct Sink<'m> {
    pub metrics: &'m Metrics,
    pub audit: &'m Audit,
    pub cluster: &'m ClusterAudit,
}

/// The connection's two ends, as security events name them.
pub fn endpoints(req: &Request) -> (Option<Endpoint>, Option<Endpoint>) {
    let remote = req.remote().map(|(ip, port)| Endpoint { ip, port });
    let local = req.local_ip().map(|ip| Endpoint {
        ip: ip.to_canonical(),
        port: req.local_port(),
    });
    (remote, local)
}

impl Report {
    pub fn new(event: Event, account: Clean, detail: Clean) -> Report {
        Report {
            event,
            account,
            detail,
        }
    }
}

/// Reports `event` for the connection of `req`.
pub fn report(req: &Request, report: &Report) {
    let (remote, local) = endpoints(req);
    let session = remote
        .map(|e| format!("{}:{}", e.ip, e.port))
        .unwrap_or_default();
    security::report(
        report.event,
        &report.account,
        &session,
        &report.detail,
        local,
        remote,
        if req.is_tls() {
            Transport::Tls
        } else {
            Transport::Tcp
        },
    );
}

impl Reply<'_> {
    /// Sends the answer, then counts it and records its audit; the security event and the
    /// miss are handled first, while the connection is surely open. `on_miss` counts a miss
    /// against the client (the access rules' rate limit).
    pub fn send(self, req: &Request, sink: &Sink, on_miss: impl FnOnce(&Request)) {
        if let Some(r) = &self.report {
            report(req, r);
        }
        if self.miss {
            on_miss(req);
        }
        // Read before the answer: Asterisk may close the stream with it.
        let audited = self.audit.map(|a| (Client::of(req), a));
        let status = match self.answer {
            Some(answer) => {
                let status = answer.status;
                write(req, answer);
                status
            }
            None if req.answered() => req.status(),
            None => return,
        };
        sink.metrics.count(metrics::kind(status, self.kind), status);
        if let Some((client, a)) = audited {
            let agent = a.agent.as_ref();
            match a.upload {
                None => sink
                    .audit
                    .record(&client, &a.mac, &a.uri, status, agent, |f| {
                        sink.cluster.offer(&a.mac, f)
                    }),
                Some(size) => sink
                    .audit
                    .record_upload(&client, &a.mac, &a.uri, status, size, agent),
            }
        }
    }
}

/// Hands `answer` to Asterisk.
fn write(req: &Request, answer: Answer) {
    let Answer {
        status,
        title,
        head,
        body,
        cacheable,
    } = answer;
    let head = [head[0].as_slice(), head[1].as_slice()];
    match body {
        Body::Page(text) => req.error(status, title, &text),
        Body::Memory(b) => req.send(status, title, &head, b.as_slice(), cacheable),
        Body::Binary(b) => req.send_binary(&head, b.as_slice()),
        Body::File(file) => req.send_file(status, title, &head, &file, cacheable),
        Body::NotModified => req.send(304, title, &head, b"", true),
    }
}
