//! Counters of what the module answers, for `phoneprov show status` and for Prometheus
//! (through res_prometheus, when it is loaded). Counting is a relaxed atomic add per
//! request: no lock on the request path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::offer::Offer;
use crate::ffi::host::PrometheusEvent;

use phoneprov_core::model::snapshot::{Snapshot, Target};
use phoneprov_core::tftp::packet::ErrorCode;
use phoneprov_core::util::bytes::lossy;

/// What a request was, as the metrics name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Static,
    Dynamic,
    NotFound,
    NotModified,
    Denied,
    Error,
    /// A PUT of an upload name that reached its phone (stored or refused).
    Upload,
}

const KINDS: [(Kind, &str); 7] = [
    (Kind::Static, "static"),
    (Kind::Dynamic, "dynamic"),
    (Kind::NotFound, "404"),
    (Kind::NotModified, "304"),
    (Kind::Denied, "denied"),
    (Kind::Error, "error"),
    (Kind::Upload, "upload"),
];

/// The statuses this module answers with; anything else is counted as `other`.
const STATUSES: [u16; 15] = [
    200, 201, 304, 400, 401, 403, 404, 410, 413, 429, 500, 501, 503, 507, 0,
];

/// How a TFTP request ended: its file delivered, a transfer the client did not finish, or
/// the error it was answered with.
const TFTP_OUTCOMES: [&str; 5] = ["sent", "incomplete", "not_found", "denied", "error"];

/// The module's counters, kept from load to unload (a reload keeps them).
pub struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; KINDS.len()],
    /// TFTP read requests by kind and outcome (see [`TFTP_OUTCOMES`]), and the bytes of
    /// files its transfers delivered.
    tftp: [[AtomicU64; TFTP_OUTCOMES.len()]; KINDS.len()],
    tftp_bytes: AtomicU64,
    render_nanos: AtomicU64,
    renders: AtomicU64,
    offer: Offer,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: [const { [const { AtomicU64::new(0) }; STATUSES.len()] }; KINDS.len()],
            tftp: [const { [const { AtomicU64::new(0) }; TFTP_OUTCOMES.len()] }; KINDS.len()],
            tftp_bytes: AtomicU64::new(0),
            render_nanos: AtomicU64::new(0),
            renders: AtomicU64::new(0),
            offer: Offer::default(),
        }
    }
}

/// The kind of an answered request: by its status where that says it all, else by the
/// route that served it (`route`: None when it reached none).
pub fn kind(status: u16, route: Option<Kind>) -> Kind {
    match status {
        304 => Kind::NotModified,
        404 => Kind::NotFound,
        401 | 403 | 429 => Kind::Denied,
        500..=599 => Kind::Error,
        _ => route.unwrap_or(Kind::Error),
    }
}

fn status_label(i: usize) -> String {
    match STATUSES[i] {
        0 => "other".to_owned(),
        s => s.to_string(),
    }
}

/// Phones per provider, in the order providers first appear.
fn phones_by_provider(snap: &Snapshot) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for p in &snap.phones {
        match out.iter_mut().find(|(name, _)| **name == *p.provider) {
            Some((_, n)) => *n += 1,
            None => out.push((p.provider.to_string(), 1)),
        }
    }
    out
}

pub fn static_routes(snap: &Snapshot) -> usize {
    snap.routes()
        .filter(|r| matches!(r.target, Target::Static { .. }))
        .count()
}

/// A label value as Prometheus' text format wants it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The reload figures [`Metrics::prometheus`] and `show status` share.
pub struct Reloads {
    pub count: u64,
    pub failed: u64,
    /// The last one's duration and its config API part, in seconds.
    pub last: Option<(f64, f64)>,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP asterisk_phoneprov_{name} {help}");
    let _ = writeln!(out, "# TYPE asterisk_phoneprov_{name} {kind}");
}

impl Metrics {
    /// Starts offering the metrics to res_prometheus (at load): see [`Offer`].
    pub fn start_offering(&self) {
        self.offer.start();
    }

    /// Stops offering them and takes them back from res_prometheus (at unload, before the
    /// module can be unmapped: no callback of ours stays behind in it).
    pub fn stop_offering(&self) {
        self.offer.stop();
    }

    /// What the glue's subscription reported about res_prometheus or the boot.
    pub fn prometheus_changed(&self, event: PrometheusEvent) {
        self.offer.event(event);
    }

    /// At reload: offered again if res_prometheus may have changed unseen.
    pub fn offer_again(&self) {
        self.offer.again();
    }

    pub fn count(&self, kind: Kind, status: u16) {
        let k = KINDS.iter().position(|(x, _)| *x == kind).unwrap_or(0);
        let s = STATUSES
            .iter()
            .position(|&x| x == status)
            .unwrap_or(STATUSES.len() - 1);
        self.requests[k][s].fetch_add(1, Ordering::Relaxed);
    }

    /// One dynamic file rendered in `nanos`.
    pub fn rendered(&self, nanos: u64) {
        self.render_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.renders.fetch_add(1, Ordering::Relaxed);
    }

    /// Every request counter that is not zero: (kind, status, count).
    fn requests(&self) -> Vec<(&'static str, String, u64)> {
        let mut out = Vec::new();
        for ((_, kind), counts) in KINDS.iter().zip(&self.requests) {
            for (s, count) in counts.iter().enumerate() {
                let n = count.load(Ordering::Relaxed);
                if n > 0 {
                    out.push((*kind, status_label(s), n));
                }
            }
        }
        out
    }

    /// Render time so far: (seconds, count).
    fn render_time(&self) -> (f64, u64) {
        (
            self.render_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            self.renders.load(Ordering::Relaxed),
        )
    }

    /// A TFTP request refused or failed with `code`, its kind as far as it got.
    pub fn count_tftp(&self, kind: Kind, code: ErrorCode) {
        let (kind, outcome) = match code {
            ErrorCode::FileNotFound => (Kind::NotFound, 2),
            ErrorCode::AccessViolation => (Kind::Denied, 3),
            _ => (kind, 4),
        };
        self.tftp_add(kind, outcome);
    }

    /// A TFTP transfer of a file of `kind` ended: the bytes the client acknowledged, None
    /// when it did not finish.
    pub fn tftp_sent(&self, kind: Kind, acked: Option<usize>) {
        self.tftp_add(kind, if acked.is_some() { 0 } else { 1 });
        if let Some(n) = acked {
            self.tftp_bytes
                .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    fn tftp_add(&self, kind: Kind, outcome: usize) {
        if let Some(k) = KINDS.iter().position(|(k, _)| *k == kind) {
            self.tftp[k][outcome].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The TFTP lines of the Prometheus text: requests by kind and outcome, and bytes.
    fn tftp_lines(&self, out: &mut String) {
        family(
            out,
            "tftp_requests_total",
            "counter",
            "TFTP read requests, by kind of route and outcome.",
        );
        for (k, (_, kind)) in KINDS.iter().enumerate() {
            for (o, outcome) in TFTP_OUTCOMES.iter().enumerate() {
                let n = self.tftp[k][o].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "asterisk_phoneprov_tftp_requests_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
                    );
                }
            }
        }
        family(
            out,
            "sent_bytes_total",
            "counter",
            "Bytes of files delivered, by transport (TFTP: acknowledged by the client).",
        );
        let _ = writeln!(
            out,
            "asterisk_phoneprov_sent_bytes_total{{transport=\"tftp\"}} {}",
            self.tftp_bytes.load(Ordering::Relaxed)
        );
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn prometheus(&self, snap: Option<&Snapshot>, reloads: &Reloads) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "requests_total",
            "counter",
            "Requests answered under /phoneprov/, by kind of route and status.",
        );
        for (kind, status, n) in self.requests() {
            let _ = writeln!(
                out,
                "asterisk_phoneprov_requests_total{{kind=\"{kind}\",status=\"{status}\"}} {n}"
            );
        }
        let (seconds, renders) = self.render_time();
        family(
            &mut out,
            "render_seconds",
            "summary",
            "Time spent rendering dynamic files.",
        );
        let _ = writeln!(out, "asterisk_phoneprov_render_seconds_sum {seconds:.6}");
        let _ = writeln!(out, "asterisk_phoneprov_render_seconds_count {renders}");
        family(&mut out, "reloads_total", "counter", "Module reloads.");
        let _ = writeln!(out, "asterisk_phoneprov_reloads_total {}", reloads.count);
        family(
            &mut out,
            "reload_failures_total",
            "counter",
            "Reloads refused (the previous configuration kept serving).",
        );
        let _ = writeln!(
            out,
            "asterisk_phoneprov_reload_failures_total {}",
            reloads.failed
        );
        if let Some((total, api)) = reloads.last {
            family(
                &mut out,
                "reload_last_seconds",
                "gauge",
                "Duration of the last reload, and the part spent in Asterisk's config API.",
            );
            let _ = writeln!(
                out,
                "asterisk_phoneprov_reload_last_seconds{{part=\"total\"}} {total:.6}"
            );
            let _ = writeln!(
                out,
                "asterisk_phoneprov_reload_last_seconds{{part=\"config_api\"}} {api:.6}"
            );
        }
        self.tftp_lines(&mut out);
        if let Some(snap) = snap {
            family(&mut out, "phones", "gauge", "Phones served, by provider.");
            for (provider, n) in phones_by_provider(snap) {
                let _ = writeln!(
                    out,
                    "asterisk_phoneprov_phones{{provider=\"{}\"}} {n}",
                    label(&provider)
                );
            }
            let statics = static_routes(snap);
            family(&mut out, "routes", "gauge", "Routes served, by kind.");
            let _ = writeln!(
                out,
                "asterisk_phoneprov_routes{{kind=\"static\"}} {statics}"
            );
            let _ = writeln!(
                out,
                "asterisk_phoneprov_routes{{kind=\"dynamic\"}} {}",
                snap.routes().len() - statics
            );
        }
        out
    }

    /// The request and render lines of `phoneprov show status`.
    pub fn status_lines(&self, snap: &Snapshot) -> String {
        let mut out = String::new();
        let providers: Vec<String> = phones_by_provider(snap)
            .iter()
            .map(|(p, n)| format!("{} {n}", lossy(p.as_bytes())))
            .collect();
        if !providers.is_empty() {
            let _ = writeln!(out, "Phones by provider: {}", providers.join(", "));
        }
        let requests = self.requests();
        if requests.is_empty() {
            out.push_str("Requests: none yet\n");
        } else {
            out.push_str("Requests:\n");
            for (kind, status, n) in requests {
                let _ = writeln!(out, "  {kind:<8} {status:<6} {n}");
            }
        }
        let (seconds, renders) = self.render_time();
        if renders > 0 {
            let _ = writeln!(
                out,
                "Rendering: {renders} dynamic files, {:.3} ms each on average",
                seconds * 1000.0 / renders as f64
            );
        }
        out
    }
}
