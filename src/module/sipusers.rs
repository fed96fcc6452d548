//! The built-in users provider: phones from `phoneprov_users.conf`, else `users.conf`.
//! It stays registered when neither file exists, so adding one and reloading works.

use crate::ffi::config::{self, LoadError};
use crate::ffi::host::iface_ipv4;
use crate::ffi::log;
use crate::module::state;
use phoneprov_core::bytes::lossy;
use phoneprov_core::conf::ConfigFile;
use phoneprov_core::profile::Settings;
use phoneprov_core::users;

pub use phoneprov_core::users::PROVIDER_NAME;

const FILES: [&str; 2] = ["phoneprov_users.conf", "users.conf"];

/// The first users file that exists; Err(()) when one exists but cannot be parsed.
fn users_file() -> Result<Option<ConfigFile>, ()> {
    for name in FILES {
        match config::load(name) {
            Ok(file) => return Ok(Some(file)),
            Err(LoadError::Missing) => continue,
            Err(LoadError::Invalid) => {
                log::error!("{name} could not be parsed.");
                return Err(());
            }
        }
    }
    Ok(None)
}

/// The address `serveraddr` or `serveriface` gives; None leaves SERVER to each request.
pub fn configured_server(settings: &Settings) -> Option<Vec<u8>> {
    settings.serveraddr.clone().or_else(|| {
        settings.serveriface.as_deref().map(|iface| {
            let address = iface_ipv4(iface).map(|a| a.to_string());
            address.map(String::into_bytes).unwrap_or_else(|| {
                log::warning!("Unable to get IP of {}", lossy(iface));
                b"0.0.0.0".to_vec()
            })
        })
    })
}

pub fn load_users() -> i32 {
    let Some(config) = state::config_for(PROVIDER_NAME) else {
        return -1;
    };
    let file = match users_file() {
        Ok(Some(f)) => f,
        Ok(None) => {
            log::notice!("Neither phoneprov_users.conf nor users.conf exists: no users from them.");
            return 0;
        }
        Err(()) => return -1,
    };
    let settings = &config.settings;
    let defaults = users::defaults(settings, configured_server(settings).as_deref(), &file);
    let mut diags = Vec::new();
    let found = users::load(&file, &defaults, &mut diags);
    log::diagnostics!(diags);
    for vars in found {
        state::add_extension(PROVIDER_NAME, vars);
    }
    0
}
