//! The module: load, unload and reload, wired to the HTTP server, the CLI and the dialplan.
//! Safe Rust only: raw pointers stay in `ffi` and `exports`.

#![forbid(unsafe_code)]

pub mod ops;
pub mod render;
pub mod serve;
pub mod state;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use crate::ffi::config::{self, LoadError};
use crate::ffi::host::{data_file, http_requests_in_flight, register_all, unregister_all};
use crate::ffi::log;
use ops::status;
use phoneprov_core::config::profile::Config;
use render::{funcs, templates, watch};
use serve::{access, backlog, http, realtime, statics, tokens};
use state::registry;
use state::sipusers;
use telemetry::{audit, metrics};

/// Reads and checks `phoneprov.conf`; Err says why it cannot be served.
fn read_config() -> Result<Arc<Config>, String> {
    let file = config::load("phoneprov.conf").map_err(|e| match e {
        LoadError::Missing => "Unable to load config phoneprov.conf".to_owned(),
        LoadError::Invalid => "phoneprov.conf could not be parsed".to_owned(),
        LoadError::Realtime => "phoneprov.conf is mapped to realtime in extconfig.conf, and \
                                its engine could not load it (database unreachable?)"
            .to_owned(),
    })?;
    let (config, mut diags) = Config::parse(&file);
    diags.extend(config.missing_files_summary(|f| data_file(f).is_file()));
    log::diagnostics!(diags);
    match config.fatal_problem() {
        Some(problem) => Err(problem),
        None => Ok(Arc::new(config)),
    }
}

pub fn load() -> bool {
    let config = read_config().unwrap_or_else(|why| {
        log::error!("{why}; serving no routes until a reload succeeds.");
        Arc::new(Config::default())
    });
    access::configure(&config);
    // Before the HTTP handler is registered: its first request looks the sockets up.
    backlog::start();
    registry::start(config);
    if registry::provider_register(
        sipusers::PROVIDER_NAME,
        registry::LoadUsers::Builtin(sipusers::load_users),
    ) != 0
    {
        log::warning!("Unable register users config provider.  Others may succeed.");
    }
    if !register_all() {
        unregister_all();
        registry::stop();
        config::settle();
        backlog::clear();
        return false;
    }
    true
}

/// How long unload waits for requests inside the HTTP handler before it refuses.
const UNLOAD_WAIT: Duration = Duration::from_secs(5);

/// False when requests are still being answered: everything is registered again and the
/// module stays loaded (Asterisk reports the unload failed), rather than be unmapped under
/// a running request.
pub fn unload() -> bool {
    unregister_all();
    if !http::wait_idle(UNLOAD_WAIT) {
        let relinked = register_all();
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
    registry::stop();
    config::settle();
    realtime::flush();
    sipusers::clear();
    access::clear();
    templates::clear();
    statics::clear();
    watch::clear();
    backlog::clear();
    crate::ffi::http::release_stand_ins();
    funcs::clear();
    audit::clear();
    tokens::clear();
    true
}

pub fn reload() -> bool {
    // res_prometheus may have been loaded since.
    metrics::offer_now();
    status::reload(|| match read_config() {
        Ok(config) => {
            access::configure(&config);
            registry::reload(config);
            // Phones are looked up again with the new profiles.
            realtime::flush();
            watch::forget();
            backlog::forget();
            true
        }
        Err(why) => {
            log::error!("{why}; reload aborted, still serving the previous configuration.");
            false
        }
    })
}
