//! `phoneprov show status`: what is served, and what loads and reloads cost, split between
//! Asterisk's config API and the module's own work (an operator asking "why is a reload
//! slow" needs to know which of the two to look at).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ffi::config;
use crate::module::serve::realtime::Lookups;
use crate::module::state::sipusers::Source;
use crate::module::telemetry::metrics::{self, Reloads};
use crate::module::Module;
use phoneprov_core::http::httpdate;
use phoneprov_core::model::snapshot::Snapshot;
use phoneprov_core::realtime::options::RealtimeOptions;
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::lock;

struct Timing {
    at: Instant,
    total: Duration,
    config_api: Duration,
}

/// Reloads since load, and the last one's timing.
#[derive(Default)]
pub struct Status {
    last: Mutex<Option<Timing>>,
    reloads: AtomicU64,
    failed: AtomicU64,
}

impl Status {
    /// Runs a reload (`run`: true when it was applied) and records its timing.
    pub fn reload(&self, run: impl FnOnce() -> bool) -> bool {
        let api_before = config::load_nanos();
        let started = Instant::now();
        let ok = run();
        // The last configuration read may still be being destroyed: part of the reload.
        config::settle();
        let total = started.elapsed();
        let config_api = Duration::from_nanos(config::load_nanos().saturating_sub(api_before));
        self.reloads.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        *lock(&self.last) = Some(Timing {
            at: started,
            total,
            config_api: config_api.min(total),
        });
        ok
    }

    /// The reload figures, for the metrics.
    fn reloads(&self) -> Reloads {
        let last = lock(&self.last)
            .as_ref()
            .map(|t| (t.total.as_secs_f64(), t.config_api.as_secs_f64()));
        Reloads {
            count: self.reloads.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            last,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What res_prometheus serves at its `/metrics`.
pub fn prometheus(m: &Module) -> String {
    // The snapshot served, built first if Asterisk has booted since the last one was (the
    // phones are built only then): a scrape before any phone asked sees them all.
    let snap = m.registry.current();
    let mut out = m.metrics.prometheus(snap.as_deref(), &m.status.reloads());
    m.cluster.prometheus(&mut out);
    out
}

/// The phones whose previous credentials still open their files (auth_grace): the ones
/// that have not fetched since their credentials changed. Empty when there are none.
fn grace_line(m: &Module) -> String {
    const SHOWN: usize = 8;
    let pending = m.registry.grace.pending();
    if pending.is_empty() {
        return String::new();
    }
    let mut line = format!(
        "Grace:   {} phone(s) have not fetched since their credentials changed; their \
         previous ones open their files until:",
        pending.len()
    );
    for (mac, until) in pending.iter().take(SHOWN) {
        let _ = write!(
            line,
            " {} ({})",
            lossy(mac),
            httpdate::format(i64::try_from(*until).unwrap_or(i64::MAX))
        );
    }
    if pending.len() > SHOWN {
        let _ = write!(line, " and {} more", pending.len() - SHOWN);
    }
    line.push('\n');
    line
}

pub fn show(m: &Module, snap: &Snapshot) -> String {
    let statics = metrics::static_routes(snap);
    let mut out = String::new();
    let built = crate::module::BUILT_FOR;
    let _ = writeln!(
        out,
        "Built:   for Asterisk {} ({})",
        if built.version.is_empty() {
            "of unknown version"
        } else {
            built.version
        },
        built.build_options
    );
    let _ = writeln!(out, "Phones:  {}", snap.phones.len());
    let _ = match m.users.source() {
        Some(Source {
            read,
            ignored: Some(other),
        }) => writeln!(out, "Users:   {read} ({other} exists too and is not read)"),
        Some(Source {
            read,
            ignored: None,
        }) => writeln!(out, "Users:   {read}"),
        None => writeln!(
            out,
            "Users:   neither phoneprov_users.conf nor users.conf exists"
        ),
    };
    out.push_str(&grace_line(m));
    let _ = writeln!(
        out,
        "Routes:  {} ({statics} static, {} dynamic)",
        snap.routes().len(),
        snap.routes().len() - statics
    );
    let _ = writeln!(
        out,
        "Reloads: {} ({} failed)",
        m.status.reloads.load(Ordering::Relaxed),
        m.status.failed.load(Ordering::Relaxed)
    );
    out.push_str(&m.metrics.status_lines(snap));
    if let Some(rt) = &snap.config.settings.realtime {
        out.push_str(&realtime_lines(&m.realtime, rt));
    }
    if let Some(family) = &snap.config.settings.shared.audit {
        let (written, dropped) = m.cluster.counts();
        let _ = writeln!(
            out,
            "Audit:   last fetches to realtime family '{family}': {written} written, {dropped} dropped"
        );
    }
    match &*lock(&m.status.last) {
        None => out.push_str("Last reload: none since the module was loaded\n"),
        Some(t) => {
            let ours = t.total - t.config_api;
            let share = |d: Duration| 100.0 * d.as_secs_f64() / t.total.as_secs_f64().max(1e-9);
            let _ = writeln!(
                out,
                "Last reload: {:.0} s ago, {:.1} ms: Asterisk config API {:.1} ms ({:.0}%), \
                 res_phoneprov {:.1} ms ({:.0}%)",
                t.at.elapsed().as_secs_f64(),
                ms(t.total),
                ms(t.config_api),
                share(t.config_api),
                ms(ours),
                share(ours)
            );
        }
    }
    out
}

fn realtime_lines(lookups: &Lookups, rt: &RealtimeOptions) -> String {
    let (phones, unknown, capacity) = lookups.sizes();
    let counters = &lookups.counters;
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    format!(
        "Realtime: family '{}' ({}), TTL {} s, cached {phones} of {capacity} phones and \
         {unknown} unknown MACs\n\
         Realtime requests: {} from the cache, {} looked up, {} unknown, {} answered 503, \
         {} served stale while the database did not answer\n",
        lossy(&rt.family),
        if lookups.is_down() {
            "not answering"
        } else {
            "answering"
        },
        rt.ttl,
        n(&counters.hits),
        n(&counters.lookups),
        n(&counters.unknown),
        n(&counters.unavailable),
        n(&counters.stale),
    )
}
