//! Shared state: the registry of providers and their extensions (what the served state is
//! built from) and the published snapshot (what requests read).
//!
//! Requests never change anything: they take the current `Arc<Snapshot>`. A reload or a
//! provider registration builds a whole new snapshot aside and swaps it in, so requests in
//! flight finish on the old one. Extensions a provider adds during `load_users` go to a
//! staging area of the calling thread and reach the registry only when the load is done.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwapOption;

use crate::ffi::api::ExternalLoadUsers;
use crate::ffi::host::{fully_booted, AstHost};
use crate::ffi::log;
use phoneprov_core::model::{Extension, Snapshot};
use phoneprov_core::profile::Config;
use phoneprov_core::vars::{self, Interner, Vars};

/// How a provider loads its users: ours is a Rust function, others are C callbacks.
#[derive(Clone, Copy)]
pub enum LoadUsers {
    Builtin(fn() -> i32),
    External(ExternalLoadUsers),
}

impl LoadUsers {
    fn call(&self) -> i32 {
        match self {
            LoadUsers::Builtin(f) => f(),
            LoadUsers::External(f) => f.call(),
        }
    }
}

struct Provider {
    name: Arc<str>,
    load: LoadUsers,
    extensions: Vec<Extension>,
}

struct Registry {
    config: Arc<Config>,
    /// Strings of extensions added outside a load; a reload starts a fresh one.
    interner: Interner,
    /// In registration order, which decides who keeps a MAC two providers claim.
    providers: Vec<Provider>,
}

struct Staging {
    config: Arc<Config>,
    extensions: Vec<Extension>,
    interner: Interner,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
static SNAPSHOT: ArcSwapOption<Snapshot> = ArcSwapOption::const_empty();
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Set when a provider changed its extensions outside a load; the next reader rebuilds.
static DIRTY: AtomicBool = AtomicBool::new(false);
/// False until the state was built with every module of Asterisk loaded. Modules that load
/// after us (func_strings for TOLOWER, say) are missing while Asterisk boots, so URIs and
/// setvars rendered then are rendered again once it has booted.
static BUILT_AFTER_BOOT: AtomicBool = AtomicBool::new(false);
/// Reloads and registrations run one at a time.
static RELOADING: Mutex<()> = Mutex::new(());

thread_local! {
    static STAGING: RefCell<Option<Staging>> = const { RefCell::new(None) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn build(reg: &Registry) -> Snapshot {
    Snapshot::build(
        reg.config.clone(),
        reg.providers.iter().flat_map(|p| p.extensions.iter()),
        &AstHost,
    )
}

fn publish(mut snap: Snapshot) {
    snap.generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    SNAPSHOT.store(Some(Arc::new(snap)));
}

fn rebuild(reg: &Registry) {
    DIRTY.store(false, Ordering::Release);
    publish(build(reg));
}

/// The state requests are served from; None while the module is not loaded.
pub fn current() -> Option<Arc<Snapshot>> {
    if !BUILT_AFTER_BOOT.load(Ordering::Acquire) && fully_booted() {
        BUILT_AFTER_BOOT.store(true, Ordering::Release);
        DIRTY.store(true, Ordering::Release);
    }
    if DIRTY.load(Ordering::Acquire) {
        // A reader that finds the registry busy (or is itself inside a build) serves the
        // previous snapshot rather than wait.
        if let Ok(reg) = REGISTRY.try_lock() {
            if let Some(reg) = reg.as_ref().filter(|_| DIRTY.load(Ordering::Acquire)) {
                rebuild(reg);
            }
        }
    }
    SNAPSHOT.load_full()
}

/// The configuration in effect for this thread: during a reload, the one being loaded.
pub fn config() -> Option<Arc<Config>> {
    let staged = STAGING.with(|s| s.borrow().as_ref().map(|st| st.config.clone()));
    staged.or_else(|| lock(&REGISTRY).as_ref().map(|r| r.config.clone()))
}

/// Starts serving `config` with no providers yet.
pub fn start(config: Arc<Config>) {
    let reg = Registry {
        config,
        interner: Interner::default(),
        providers: Vec::new(),
    };
    let mut guard = lock(&REGISTRY);
    BUILT_AFTER_BOOT.store(fully_booted(), Ordering::Release);
    rebuild(&reg);
    *guard = Some(reg);
}

/// Forgets everything; requests still running keep their snapshot until they finish.
pub fn stop() {
    *lock(&REGISTRY) = None;
    SNAPSHOT.store(None);
}

/// Runs a provider's `load_users`, collecting what it adds; None when it reports failure.
fn run_provider(load: LoadUsers, config: Arc<Config>) -> Option<Vec<Extension>> {
    let previous = STAGING.with(|s| {
        s.borrow_mut().replace(Staging {
            config,
            extensions: Vec::new(),
            interner: Interner::default(),
        })
    });
    let res = load.call();
    let staged = STAGING.with(|s| std::mem::replace(&mut *s.borrow_mut(), previous));
    let mut extensions = staged.map(|s| s.extensions).unwrap_or_default();
    extensions.shrink_to_fit();
    (res == 0).then_some(extensions)
}

pub fn provider_register(name: &str, load: LoadUsers) -> i32 {
    if name.is_empty() {
        log::error("Provider name can't be empty.");
        return -1;
    }
    let _one_at_a_time = lock(&RELOADING);
    let config = {
        let mut reg = lock(&REGISTRY);
        let Some(reg) = reg.as_mut() else {
            log::warning(&format!(
                "Provider '{name}' cannot be registered: res_phoneprov not loaded."
            ));
            return -1;
        };
        if reg.providers.iter().any(|p| &*p.name == name) {
            log::error(&format!(
                "There is already a provider registered named '{name}'."
            ));
            return -1;
        }
        reg.providers.push(Provider {
            name: name.into(),
            load,
            extensions: Vec::new(),
        });
        reg.config.clone()
    };
    let loaded = run_provider(load, config);
    let mut reg = lock(&REGISTRY);
    let Some(reg) = reg.as_mut() else { return -1 };
    match loaded {
        Some(extensions) => {
            if let Some(p) = reg.providers.iter_mut().find(|p| &*p.name == name) {
                p.extensions = extensions;
            }
            rebuild(reg);
            0
        }
        None => {
            log::error(&format!(
                "Unable to load provider '{name}' users. Register aborted."
            ));
            reg.providers.retain(|p| &*p.name != name);
            -1
        }
    }
}

pub fn provider_unregister(name: &str) {
    let mut reg = lock(&REGISTRY);
    if let Some(reg) = reg.as_mut() {
        let before = reg.providers.len();
        reg.providers.retain(|p| &*p.name != name);
        if reg.providers.len() != before {
            rebuild(reg);
        }
    }
}

pub fn add_extension(provider: &str, vars: Vars) -> i32 {
    if provider.is_empty() {
        log::error("Provider name can't be empty.");
        return -1;
    }
    if !vars.contains(vars::USERNAME) {
        log::error("Extension name can't be empty.");
        return -1;
    }
    if !vars.contains(vars::MAC) {
        log::error("MAC Address can't be empty.");
        return -1;
    }
    let mut vars = vars;
    let staged = STAGING.with(|s| match s.borrow_mut().as_mut() {
        Some(st) => {
            vars.freeze(&mut st.interner);
            let provider = st.interner.intern(provider);
            st.extensions.push(Extension { provider, vars });
            None
        }
        None => Some(vars),
    });
    let Some(mut vars) = staged else { return 0 };
    let mut reg = lock(&REGISTRY);
    let found = reg.as_mut().and_then(|r| {
        let i = r.providers.iter().position(|p| &*p.name == provider)?;
        Some((r, i))
    });
    let Some((reg, i)) = found else {
        log::error(&format!(
            "Provider '{provider}' wasn't found in the registry."
        ));
        return -1;
    };
    vars.freeze(&mut reg.interner);
    let provider = reg.interner.intern(provider);
    reg.providers[i]
        .extensions
        .push(Extension { provider, vars });
    DIRTY.store(true, Ordering::Release);
    0
}

/// Removes extensions of a provider: from what it is loading right now when called from its
/// `load_users` (providers delete the extensions of objects they reload), else from the
/// registry.
fn change_extensions(provider: &str, keep: impl Fn(&Extension) -> bool) {
    let staged = STAGING.with(|s| match s.borrow_mut().as_mut() {
        Some(st) => {
            st.extensions
                .retain(|e| &*e.provider != provider || keep(e));
            true
        }
        None => false,
    });
    if staged {
        return;
    }
    let mut reg = lock(&REGISTRY);
    if let Some(p) = reg
        .as_mut()
        .and_then(|r| r.providers.iter_mut().find(|p| &*p.name == provider))
    {
        p.extensions.retain(keep);
        DIRTY.store(true, Ordering::Release);
    }
}

pub fn delete_extension(provider: &str, mac: &str) {
    change_extensions(provider, |e| {
        !e.vars
            .find(vars::MAC)
            .is_some_and(|m| m.eq_ignore_ascii_case(mac))
    });
}

pub fn delete_extensions(provider: &str) {
    change_extensions(provider, |_| false);
}

/// Re-reads the configuration and every provider's users, then swaps the result in.
/// On failure the state being served is kept.
pub fn reload(config: Arc<Config>) {
    let _one_at_a_time = lock(&RELOADING);
    let providers: Vec<(Arc<str>, LoadUsers)> = match lock(&REGISTRY).as_ref() {
        Some(r) => r
            .providers
            .iter()
            .map(|p| (p.name.clone(), p.load))
            .collect(),
        None => return,
    };
    let loaded: Vec<(Arc<str>, Option<Vec<Extension>>)> = providers
        .into_iter()
        .map(|(name, load)| {
            let exts = run_provider(load, config.clone());
            if exts.is_none() {
                log::error(&format!(
                    "Unable to load provider '{name}' users; keeping the ones it had."
                ));
            }
            (name, exts)
        })
        .collect();
    let mut reg = lock(&REGISTRY);
    let Some(reg) = reg.as_mut() else { return };
    reg.config = config;
    for (name, exts) in loaded {
        if let (Some(p), Some(exts)) = (reg.providers.iter_mut().find(|p| p.name == name), exts) {
            p.extensions = exts;
        }
    }
    rebuild(reg);
}
