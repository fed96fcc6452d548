//! The module: load, unload and reload, wired to the HTTP server, the CLI and the dialplan.
//! Safe Rust only: raw pointers stay in `ffi` and `exports`.

#![forbid(unsafe_code)]

pub mod ops;
pub mod render;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod tftp;

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::ffi::config::{self, LoadError};
use crate::ffi::host::{
    data_file, http_requests_in_flight, register_all, running_asterisk, unregister_all,
};
use crate::ffi::http::{release_stand_ins, Request};
use crate::ffi::log;
use ops::status::Status;
use phoneprov_core::config::profile::Config;
use phoneprov_core::util::compat;
use phoneprov_core::util::lock::{read, try_read, write};
use render::funcs::{Directories, Functions};
use render::templates::Templates;
use render::watch::Watch;
use serve::access::Access;
use serve::answer::Sink;
use serve::backlog::Backlog;
use serve::realtime::Lookups;
use serve::statics::Statics;
use serve::tokens::Claims;
use serve::uploads::Uploads;
use state::recovery::Recovery;
use state::registry::Registry;
use state::sipusers::{Users, PROVIDER_NAME};
use telemetry::audit::Audit;
use telemetry::cluster::ClusterAudit;
use telemetry::metrics::Metrics;
use tftp::Tftp;

/// Everything the module holds while it is loaded: made at load, dropped at unload once the
/// last request has left. Each part is owned here and lent to the code that uses it; the
/// tables requests write (nonces, misses, caches, the audit) are bounded, each behind one
/// lock of its own.
pub struct Module {
    pub registry: Registry,
    pub users: Arc<Users>,
    pub watch: Arc<Watch>,
    pub templates: Templates,
    pub directories: Directories,
    pub statics: Statics,
    pub access: Access,
    pub realtime: Lookups,
    pub tokens: Claims,
    pub backlog: Backlog,
    pub uploads: Uploads,
    pub audit: Audit,
    pub cluster: ClusterAudit,
    pub metrics: Metrics,
    pub status: Status,
    pub recovery: Recovery,
    pub tftp: Tftp,
}

impl Module {
    fn new(config: Arc<Config>) -> Module {
        let registry = Registry::new(config.clone());
        let access = Access::new(registry.grace.clone());
        access.configure(&config);
        let cluster = ClusterAudit::default();
        cluster.configure(&config);
        let watch = Arc::new(Watch::default());
        Module {
            registry,
            users: Arc::default(),
            templates: Templates::new(watch.clone()),
            statics: Statics::new(watch.clone()),
            watch,
            directories: Directories::default(),
            access,
            realtime: Lookups::default(),
            tokens: Claims::default(),
            backlog: Backlog::new(),
            uploads: Uploads::default(),
            audit: Audit::default(),
            cluster,
            metrics: Metrics::default(),
            status: Status::default(),
            recovery: Recovery::default(),
            tftp: Tftp::default(),
        }
    }

    /// The dialplan functions, with what they read.
    pub fn functions(&self) -> Functions<'_> {
        Functions {
            registry: &self.registry,
            templates: &self.templates,
            directories: &self.directories,
        }
    }

    /// Whether the last read of phoneprov.conf or the users file failed for want of their
    /// realtime database.
    fn realtime_down(&self) -> bool {
        self.recovery.config_down.load(Ordering::Acquire)
            || self.users.realtime_down.load(Ordering::Acquire)
    }

    /// Retries on its own while [`Module::realtime_down`] (see state::recovery).
    fn recover_if_down(&self) {
        if self.realtime_down() {
            self.recovery.arm(recover);
        }
    }

    /// Where answers are counted and audited.
    pub fn sink(&self) -> Sink<'_> {
        Sink {
            metrics: &self.metrics,
            audit: &self.audit,
            cluster: &self.cluster,
        }
    }
}

/// The loaded module. The one static the module's state needs: Asterisk's callbacks (HTTP,
/// CLI, dialplan functions, AMI, the provider API of other modules) carry no pointer of
/// ours, so they find the module here: an HTTP request holds it for reading while it is
/// answered (see [`http`]); other callbacks take a clone and use it without the lock.
/// Besides it, only call context is kept outside [`Module`]: thread-locals that tell a
/// callback on the same thread what it runs inside (a snapshot build, a response being
/// rendered, the nesting of PP_EACH_*), and in `ffi` the process's facts (directories), the
/// config API's own bookkeeping and the pool of pipes answers are framed through (emptied
/// at unload by `release_stand_ins`).
static MODULE: RwLock<Option<Arc<Module>>> = RwLock::new(None);

/// The loaded module, for a callback from Asterisk; None while it is not loaded, and while
/// it is being published or taken (never waits: a callback nested in an HTTP request, which
/// holds the lock for reading, would otherwise wait for an unload that waits for it).
pub fn instance() -> Option<Arc<Module>> {
    try_read(&MODULE).and_then(|m| m.clone())
}

/// Answers a request of the HTTP server. The lock is held for reading while the request
/// is answered rather than the module's `Arc` cloned: a clone and its drop are two more
/// atomic writes to one cache line every request of every connection shares. Unload takes
/// the module only once no request is inside the handler.
pub fn http(req: &Request) {
    let published = read(&MODULE);
    match published.as_deref() {
        Some(m) => serve::http::handle(m, req),
        // The URI is linked only while the module is published; should Asterisk still call
        // in after unload took it, the answer is Asterisk's own 404.
        None => req.error(404, "Not Found", "res_phoneprov is not loaded."),
    }
}

/// A reload by the recovery thread: true once everything was read.
fn recover() -> bool {
    reload() && instance().is_some_and(|m| !m.realtime_down())
}

/// Reads and checks `phoneprov.conf`; Err says why it cannot be served, and whether that
/// is its realtime database not answering.
fn read_config() -> Result<Arc<Config>, (String, bool)> {
    let file = config::load("phoneprov.conf").map_err(|e| match e {
        LoadError::Missing => ("Unable to load config phoneprov.conf".to_owned(), false),
        LoadError::Invalid => ("phoneprov.conf could not be parsed".to_owned(), false),
        LoadError::Realtime => (
            "phoneprov.conf is mapped to realtime in extconfig.conf, and its engine could not \
             load it (database unreachable?)"
                .to_owned(),
            true,
        ),
    })?;
    let (config, mut diags) = Config::parse(&file);
    diags.extend(config.missing_files_summary(|f| data_file(f).is_file()));
    log::diagnostics!(diags);
    match config.fatal_problem() {
        Some(problem) => Err((problem, false)),
        None => Ok(Arc::new(config)),
    }
}

/// The Asterisk the module was built against (build.rs reads it from the headers).
pub const BUILT_FOR: compat::Asterisk = compat::Asterisk {
    version: env!("PP_HEADERS_VERSION"),
    build_options: env!("PP_HEADERS_BUILD_OPTIONS"),
};

/// False, with an ERROR saying why and what to do, in an Asterisk the module was not built
/// for.
fn built_for_this_asterisk() -> bool {
    let (version, build_options) = running_asterisk();
    let running = compat::Asterisk {
        version: &version,
        build_options: &build_options,
    };
    match compat::check(BUILT_FOR, running) {
        Ok(None) => true,
        Ok(Some(warning)) => {
            log::warning!("{warning}");
            true
        }
        Err(why) => {
            log::error!("{why}");
            false
        }
    }
}

pub fn load() -> bool {
    if !built_for_this_asterisk() {
        return false;
    }
    let mut config_down = false;
    let config = read_config().unwrap_or_else(|(why, realtime)| {
        log::error!("{why}; serving no routes until a reload succeeds.");
        config_down = realtime;
        Arc::new(Config::default())
    });
    ops::rollout::note(&config);
    let tftp = config.settings.tftp.clone();
    let module = Arc::new(Module::new(config));
    module
        .recovery
        .config_down
        .store(config_down, Ordering::Release);
    // Published before the providers load: another module's load_users calls back here.
    *write(&MODULE) = Some(module.clone());
    if module
        .registry
        .provider_register(PROVIDER_NAME, module.users.loader())
        != 0
    {
        log::warning!("Unable register users config provider.  Others may succeed.");
    }
    if !register_all() {
        drop(module);
        unregister_all();
        release(write(&MODULE).take());
        return false;
    }
    module.metrics.start_offering();
    module.recover_if_down();
    module.tftp.configure(tftp.as_ref());
    true
}

/// How long unload waits for requests inside the HTTP handler before it refuses.
const UNLOAD_WAIT: Duration = Duration::from_secs(5);

/// Drops the module once nobody else holds it: a CLI command or a provider's call that got
/// it just before its callback was unregistered finishes first. Its threads are joined and
/// its descriptors closed as it drops, before the library can be unmapped.
fn release(module: Option<Arc<Module>>) {
    let Some(mut module) = module else {
        return;
    };
    let deadline = Instant::now() + UNLOAD_WAIT;
    loop {
        match Arc::try_unwrap(module) {
            Ok(owned) => {
                drop(owned);
                break;
            }
            Err(shared) if Instant::now() < deadline => {
                module = shared;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(shared) => {
                log::warning!(
                    "res_phoneprov: a caller still holds the module after {} s; it is freed \
                     when that caller is done",
                    UNLOAD_WAIT.as_secs()
                );
                drop(shared);
                break;
            }
        }
    }
    config::settle();
    release_stand_ins();
}

/// False when requests are still being answered: everything is registered again and the
/// module stays loaded (Asterisk reports the unload failed), rather than be unmapped under
/// a running request.
pub fn unload() -> bool {
    let module = instance();
    if let Some(m) = &module {
        m.metrics.stop_offering();
        m.recovery.stop();
    }
    unregister_all();
    if !serve::http::wait_idle(UNLOAD_WAIT) {
        let relinked = register_all();
        if let Some(m) = &module {
            m.metrics.start_offering();
            m.recover_if_down();
        }
        log::warning!(
            "Unload refused: {} HTTP request(s) still being answered after {} s (a slow \
             client downloading a large file?). res_phoneprov stays loaded{}; unload again \
             once they are done.",
            http_requests_in_flight(),
            UNLOAD_WAIT.as_secs(),
            if relinked {
                " and serving"
            } else {
                ", but registering its HTTP handler, CLI commands or functions again failed"
            }
        );
        return false;
    }
    // TFTP's threads end here, while the module is still published (a transfer that ends
    // records its audit); none of them holds the module, so none waits on this.
    if let Some(m) = &module {
        m.tftp.stop();
    }
    drop(module);
    release(write(&MODULE).take());
    true
}

pub fn reload() -> bool {
    let Some(m) = instance() else {
        return false;
    };
    // res_prometheus may have changed in a way its watch could not see.
    m.metrics.offer_again();
    let ok = m.status.reload(|| match read_config() {
        Ok(config) => {
            m.recovery.config_down.store(false, Ordering::Release);
            ops::rollout::note(&config);
            m.access.configure(&config);
            m.cluster.configure(&config);
            m.tftp.configure(config.settings.tftp.as_ref());
            m.registry.reload(config);
            // Phones are looked up again with the new profiles.
            m.realtime.flush();
            m.watch.forget();
            m.backlog.forget();
            true
        }
        Err((why, realtime)) => {
            log::error!("{why}; reload aborted, still serving the previous configuration.");
            m.recovery.config_down.store(realtime, Ordering::Release);
            false
        }
    });
    m.recover_if_down();
    ok
}
