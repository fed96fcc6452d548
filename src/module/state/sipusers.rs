//! The built-in users provider: phones from `phoneprov_users.conf`, else `users.conf`.
//! It stays registered when neither file exists, so adding one and reloading works.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::ffi::config::{self, LoadError};
use crate::ffi::host::{config_file_exists, iface_ipv4};
use crate::ffi::log;
use crate::module::state::registry::{LoadUsers, Registry};
use phoneprov_core::config::profile::{Config, Settings};
use phoneprov_core::config::users::{self, UserReader};
use phoneprov_core::config::vars::{PackBuilder, Vars};
use phoneprov_core::host::Diag;
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::lock;

pub use phoneprov_core::config::users::PROVIDER_NAME;

const FILES: [&str; 2] = ["phoneprov_users.conf", "users.conf"];

/// A users file read: its name, the defaults it gives, its users.
type Read = (&'static str, Vars, Vec<Vars>);

/// The users of the first users file that exists (with its name), read in place (see
/// [`config::with_config`]); None when neither exists, Err(()) when one cannot be parsed or
/// is mapped to realtime and could not be loaded (the phones it had are then kept: a
/// database outage during a reload must not empty the phone list).
fn read_users(
    settings: &Settings,
    server: Option<&[u8]>,
    diags: &mut Vec<Diag>,
) -> Result<Option<Read>, LoadError> {
    for name in FILES {
        let read = config::with_config(name, |cfg| {
            let defaults = cfg.category("general", |g| users::defaults_from(settings, server, g));
            let mut packed = PackBuilder::default();
            let reader = UserReader::new(name, &defaults);
            cfg.each_category(|cat| {
                reader.pack(cat, &mut packed, diags);
            });
            (defaults, packed)
        });
        match read {
            Ok((defaults, packed)) => {
                let users = UserReader::new(name, &defaults).unpack(packed);
                return Ok(Some((name, defaults, users)));
            }
            Err(LoadError::Missing) => continue,
            Err(LoadError::Invalid) => {
                log::error!("{name} could not be parsed.");
                return Err(LoadError::Invalid);
            }
            Err(LoadError::Realtime) => {
                log::error!(
                    "{name} is mapped to realtime in extconfig.conf, and its engine could not \
                     load it (database unreachable?)."
                );
                return Err(LoadError::Realtime);
            }
        }
    }
    Ok(None)
}

/// The built-in provider's own state: the defaults (`[general]` included) the last load
/// gave its users, and the configuration it ran with: phones looked up in realtime get the
/// same.
#[derive(Default)]
pub struct Users {
    defaults: Mutex<Option<(Arc<Config>, Arc<Vars>)>>,
    /// The users file the last load read, for `phoneprov show status`.
    source: Mutex<Option<Source>>,
    /// Whether the last load failed because the users file is mapped to realtime and its
    /// database did not answer (the module then retries on its own: state::recovery).
    pub realtime_down: AtomicBool,
}

/// Which users file a load read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    pub read: &'static str,
    /// The other file exists too, and is not read.
    pub ignored: Option<&'static str>,
}

impl Users {
    /// How the registry calls this provider's `load_users`.
    pub fn loader(self: &Arc<Self>) -> LoadUsers {
        let users = self.clone();
        LoadUsers::Builtin(Arc::new(move |registry: &Registry| users.load(registry)))
    }

    /// The defaults the users file gave its users under `config`; when it was not read with
    /// `config` (no users file, a reload under way), the defaults `config` alone gives,
    /// kept until a load records its own.
    pub fn defaults_for(&self, config: &Arc<Config>) -> Arc<Vars> {
        let recorded = |slot: &Option<(Arc<Config>, Arc<Vars>)>| {
            slot.as_ref()
                .filter(|(c, _)| Arc::ptr_eq(c, config))
                .map(|(_, d)| d.clone())
        };
        if let Some(d) = recorded(&lock(&self.defaults)) {
            return d;
        }
        // Outside the lock: finding serveriface's address may log.
        let server = configured_server(&config.settings);
        let made = Arc::new(users::defaults_from(
            &config.settings,
            server.as_deref(),
            None,
        ));
        let mut slot = lock(&self.defaults);
        // A load may have recorded the file's meanwhile: it wins.
        recorded(&slot).unwrap_or_else(|| {
            *slot = Some((config.clone(), made.clone()));
            made
        })
    }

    /// The users file the last load read; None when neither exists.
    pub fn source(&self) -> Option<Source> {
        *lock(&self.source)
    }

    fn load(&self, registry: &Registry) -> i32 {
        let config = registry.config_for(PROVIDER_NAME);
        let server = configured_server(&config.settings);
        let mut diags = Vec::new();
        let found = read_users(&config.settings, server.as_deref(), &mut diags);
        log::diagnostics!(diags);
        self.realtime_down
            .store(matches!(found, Err(LoadError::Realtime)), Ordering::Release);
        let found = match found {
            Ok(Some((name, defaults, found))) => {
                *lock(&self.defaults) = Some((config.clone(), Arc::new(defaults)));
                let ignored = FILES
                    .into_iter()
                    .find(|&other| other != name && config_file_exists(other));
                if let Some(other) = ignored {
                    log::notice!(
                        "Phones are read from {name}; {other} exists too and is not read \
                         (remove {name} to serve the phones of {other})."
                    );
                }
                *lock(&self.source) = Some(Source {
                    read: name,
                    ignored,
                });
                found
            }
            Ok(None) => {
                log::notice!(
                    "Neither phoneprov_users.conf nor users.conf exists: no users from them."
                );
                *lock(&self.source) = None;
                return 0;
            }
            Err(_) => return -1,
        };
        registry.add_extensions(PROVIDER_NAME, found);
        0
    }
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
