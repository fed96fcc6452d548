//! The module: load, unload and reload, wired to the HTTP server, the CLI and the dialplan.

pub mod cli;
mod filecache;
pub mod funcs;
pub mod http;
mod render;
mod sipusers;
pub mod state;
mod statics;
mod templates;

use std::sync::Arc;

use crate::ffi::config::{self, LoadError};
use crate::ffi::host::{data_file, register_all, unregister_all};
use crate::ffi::log;
use phoneprov_core::profile::Config;

/// Reads and checks `phoneprov.conf`; Err says why it cannot be served.
fn read_config() -> Result<Arc<Config>, String> {
    let file = config::load("phoneprov.conf").map_err(|e| match e {
        LoadError::Missing => "Unable to load config phoneprov.conf".to_owned(),
        LoadError::Invalid => "phoneprov.conf could not be parsed".to_owned(),
    })?;
    let (config, mut diags) = Config::parse(&file);
    diags.extend(config.missing_files(|f| data_file(f).is_file()));
    for d in diags {
        log::log_at(
            d.level,
            d.origin.file(),
            d.origin.line(),
            log::function_name!(),
            &d.message,
        );
    }
    match config.fatal_problem() {
        Some(problem) => Err(problem),
        None => Ok(Arc::new(config)),
    }
}

pub fn load() -> bool {
    let config = read_config().unwrap_or_else(|why| {
        log::error(&format!(
            "{why}; serving no routes until a reload succeeds."
        ));
        Arc::new(Config::default())
    });
    state::start(config);
    if state::provider_register(
        sipusers::PROVIDER_NAME,
        state::LoadUsers::Builtin(sipusers::load_users),
    ) != 0
    {
        log::warning("Unable register users config provider.  Others may succeed.");
    }
    if !register_all() {
        unregister_all();
        state::stop();
        return false;
    }
    true
}

pub fn unload() {
    unregister_all();
    http::wait_idle();
    state::stop();
    templates::clear();
    statics::clear();
    funcs::clear();
}

pub fn reload() -> bool {
    match read_config() {
        Ok(config) => {
            state::reload(config);
            true
        }
        Err(why) => {
            log::error(&format!(
                "{why}; reload aborted, still serving the previous configuration."
            ));
            false
        }
    }
}
