//! Shared state: the registry of providers and their extensions (what the served state is
//! built from) and the published snapshot (what requests read).
//!
//! Requests never change anything: they take the current `Arc<Snapshot>`. A change (a
//! reload, a provider registering, adding or deleting) updates the registry under its lock
//! and bumps its version; a snapshot is then built from inputs copied under the lock, with
//! no lock held (building runs dialplan functions through Asterisk, which may call back
//! into us from any thread), and published only if the registry has not changed meanwhile.
//!
//! Extensions a provider adds while its `load_users` runs go to that provider's staging
//! area and replace its set only when the load is complete. A provider that unregisters
//! keeps being served for [`DEPARTURE_GRACE`]: the pjsip provider's reload is an unregister
//! followed by a register, and its phones must not vanish in between.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::ffi::host::{fully_booted, release_free_memory, AstHost};
use crate::ffi::log;
use crate::ffi::provider::ExternalLoadUsers;
use crate::ffi::thread::{self, Thread};
use phoneprov_core::config::profile::Config;
use phoneprov_core::config::vars::{self, Interner, Vars};
use phoneprov_core::model::snapshot::{Extension, Snapshot};

/// How long the phones of a provider that unregistered are still served, waiting for it
/// to register again.
pub const DEPARTURE_GRACE: Duration = Duration::from_millis(500);

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
    extensions: Arc<Vec<Extension>>,
    /// Set when it unregistered: served until then, waiting for it to come back.
    departed: Option<Instant>,
}

impl Provider {
    /// Registered under `name` now (a departed provider is only still served).
    fn is_registered(&self, name: &str) -> bool {
        &*self.name == name && self.departed.is_none()
    }
}

/// A `load_users` in progress.
struct Staging {
    provider: Arc<str>,
    /// Tells this load from a later one of the same provider, which supersedes it.
    token: u64,
    config: Arc<Config>,
    extensions: Vec<Extension>,
    interner: Interner,
}

struct Registry {
    config: Arc<Config>,
    /// Strings of extensions added outside a load; a reload starts a fresh one.
    interner: Interner,
    /// In registration order, which decides who keeps a MAC two providers claim.
    providers: Vec<Provider>,
    loading: Vec<Staging>,
    /// Bumped by every change of what a snapshot is built from.
    version: u64,
}

/// Registry versions, increasing for the life of the process (across unload and load), so
/// a published version is never mistaken for a newer registry's.
fn next_version() -> u64 {
    static VERSIONS: AtomicU64 = AtomicU64::new(0);
    VERSIONS.fetch_add(1, Ordering::Relaxed) + 1
}

impl Registry {
    fn changed(&mut self) {
        self.version = next_version();
        DIRTY.store(true, Ordering::Release);
    }

    fn is_registered(&self, name: &str) -> bool {
        self.providers.iter().any(|p| p.is_registered(name))
    }

    fn provider(&mut self, name: &str) -> Option<&mut Provider> {
        self.providers.iter_mut().find(|p| p.is_registered(name))
    }
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
/// A plain std lock, not a crate with per-thread state (arc-swap keeps a debt list per
/// thread): a thread-local destructor registered from this library by a thread that outlives
/// the module (Asterisk's main thread loads it) keeps glibc from unmapping the library on
/// unload, and the next load would run the old image. For the same reason this module has
/// no thread-locals.
static SNAPSHOT: RwLock<Option<Arc<Snapshot>>> = RwLock::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The registry version the published snapshot was built from.
static PUBLISHED_VERSION: AtomicU64 = AtomicU64::new(0);
static LOAD_TOKEN: AtomicU64 = AtomicU64::new(0);
/// Set when the registry changed since the snapshot being served was built.
static DIRTY: AtomicBool = AtomicBool::new(false);
/// One builder at a time; others leave the work to it (see [`rebuild`]).
static BUILDING: AtomicBool = AtomicBool::new(false);
/// Milliseconds since [`epoch`] at which a departed provider's phones expire; 0: none.
static DEPARTURE_DUE: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds from the module's first use of its clock to `at`: instants that fit in an
/// atomic.
pub fn millis(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_millis()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves `snap`; the snapshot it replaces, for [`retire`] once no lock is held: freeing
/// 100,000 phones takes long enough to stall readers.
#[must_use]
fn publish(mut snap: Snapshot) -> Option<Arc<Snapshot>> {
    snap.generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    SNAPSHOT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .replace(Arc::new(snap))
}

/// The thread freeing the previous snapshot, if one was started.
static RETIRING: Mutex<Option<Thread>> = Mutex::new(None);

/// Lets go of the snapshot just replaced on a thread of its own, then gives the memory
/// freed back to the system (see [`release_free_memory`]): freeing 100,000 phones takes
/// time that the reload (or the request that happened to build) would otherwise wait for.
/// One such thread at a time; [`stop`] waits for it, so none outlives the module.
fn retire(old: Option<Arc<Snapshot>>) {
    let Some(old) = old else {
        return;
    };
    let mut slot = lock(&RETIRING);
    if let Some(previous) = slot.take() {
        previous.join();
    }
    // If no thread can be made, the closure (and `old` with it) is dropped right here.
    *slot = thread::spawn(move || {
        drop(old);
        release_free_memory();
    });
}

/// Waits for the thread freeing a snapshot, if one runs.
fn join_retiring() {
    let running = lock(&RETIRING).take();
    if let Some(running) = running {
        running.join();
    }
}

/// Drops the providers whose grace period is over; true if any was.
fn expire_departed(reg: &mut Registry, now: Instant) -> bool {
    let before = reg.providers.len();
    let loading = &reg.loading;
    // One that registered again is loading its new set: its old one stays until that is done.
    reg.providers.retain(|p| {
        !p.departed.is_some_and(|at| now >= at + DEPARTURE_GRACE)
            || loading.iter().any(|s| s.provider == p.name)
    });
    let next = reg
        .providers
        .iter()
        .filter_map(|p| p.departed)
        .min()
        .map_or(0, |at| millis(at + DEPARTURE_GRACE).max(1));
    DEPARTURE_DUE.store(next, Ordering::Release);
    reg.providers.len() != before
}

/// Marks the registry changed and builds (see [`build_pending`]).
fn rebuild() {
    DIRTY.store(true, Ordering::Release);
    build_pending();
}

/// Clears the builder's marks even when a build panics, so later changes still build.
struct Builder;

impl Builder {
    fn claim() -> Option<Builder> {
        BUILDING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Builder)
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        IN_BUILD.with(|b| b.set(false));
        BUILDING.store(false, Ordering::Release);
    }
}

/// While the registry has changes no snapshot shows, builds one from the registry as it is
/// and publishes it, unless the registry changed during the build (then it builds again).
/// Only one thread builds at a time: one that finds a build running leaves it the work.
fn build_pending() {
    while DIRTY.load(Ordering::Acquire) {
        let Some(_builder) = Builder::claim() else {
            return;
        };
        while DIRTY.swap(false, Ordering::AcqRel) {
            let inputs = {
                let mut reg = lock(&REGISTRY);
                match reg.as_mut() {
                    None => None,
                    Some(reg) => {
                        expire_departed(reg, Instant::now());
                        // Phones' URIs and setvars run dialplan functions, and while
                        // Asterisk boots the modules that register them may not be loaded
                        // yet: until it has booted only static files are served (the first
                        // read after boot builds the rest; see `current`).
                        let booted = fully_booted();
                        let exts: Vec<Arc<Vec<Extension>>> = match booted {
                            true => reg.providers.iter().map(|p| p.extensions.clone()).collect(),
                            false => Vec::new(),
                        };
                        Some((reg.config.clone(), exts, reg.version, booted))
                    }
                }
            };
            let Some((config, exts, version, booted)) = inputs else {
                break;
            };
            IN_BUILD.with(|b| b.set(true));
            let snap = Snapshot::build(config, exts.iter().flat_map(|e| e.iter()), &AstHost);
            IN_BUILD.with(|b| b.set(false));
            let reg = lock(&REGISTRY);
            if reg.as_ref().is_some_and(|r| r.version == version) {
                let old = publish(snap);
                PUBLISHED_VERSION.store(version, Ordering::Release);
                PUBLISHED_BOOTED.store(booted, Ordering::Release);
                drop(reg);
                retire(old);
            } else {
                DIRTY.store(true, Ordering::Release);
            }
        }
        // Loop again for a change that came after the last check and found us building.
    }
}

/// Waits (boundedly) until `done`, building in this thread whenever no other thread does.
fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        build_pending();
        if done() || lock(&REGISTRY).is_none() || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// [`rebuild`], then waits until a snapshot at least as new as the registry is served: a
/// change is served when its call returns, also when another thread was building.
fn rebuild_and_wait() {
    let Some(wanted) = lock(&REGISTRY).as_ref().map(|r| r.version) else {
        return;
    };
    rebuild();
    wait_for(|| PUBLISHED_VERSION.load(Ordering::Acquire) >= wanted);
}

/// The snapshot published last, as it is (no build started or waited for): for figures.
pub fn published() -> Option<Arc<Snapshot>> {
    SNAPSHOT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The state requests are served from; None while the module is not loaded.
pub fn current() -> Option<Arc<Snapshot>> {
    let due = DEPARTURE_DUE.load(Ordering::Acquire);
    if due != 0 && millis(Instant::now()) >= due {
        DIRTY.store(true, Ordering::Release);
    }
    if !PUBLISHED_BOOTED.load(Ordering::Acquire) && fully_booted() {
        // What is served has no phones yet (built while Asterisk booted): wait for the
        // build that adds them, unless this thread is that build (a dialplan function).
        DIRTY.store(true, Ordering::Release);
        if !IN_BUILD.with(Cell::get) {
            wait_for(|| PUBLISHED_BOOTED.load(Ordering::Acquire));
        }
    } else {
        build_pending();
    }
    SNAPSHOT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Whether the snapshot served was built with every module of Asterisk loaded. Modules that
/// load after us (func_strings for TOLOWER, say) are missing while Asterisk boots, so phones
/// are built only once it has booted.
static PUBLISHED_BOOTED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while this thread builds a snapshot (a `Cell` of `bool`: no destructor that
    /// would keep the library mapped after unload).
    static IN_BUILD: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is building a snapshot (phones' URIs and setvars are rendered then).
pub fn in_build() -> bool {
    IN_BUILD.with(Cell::get)
}

/// The configuration a provider loads its users for: during a reload, the one being
/// loaded.
pub fn config_for(provider: &str) -> Option<Arc<Config>> {
    let reg = lock(&REGISTRY);
    let reg = reg.as_ref()?;
    let staged = reg.loading.iter().rev().find(|s| &*s.provider == provider);
    Some(staged.map_or_else(|| reg.config.clone(), |s| s.config.clone()))
}

/// Starts serving `config` with no providers yet.
pub fn start(config: Arc<Config>) {
    *lock(&REGISTRY) = Some(Registry {
        config,
        interner: Interner::default(),
        providers: Vec::new(),
        loading: Vec::new(),
        version: next_version(),
    });
    rebuild_and_wait();
}

/// Forgets everything; requests still running keep their snapshot until they finish.
pub fn stop() {
    let registry = lock(&REGISTRY).take();
    let snapshot = SNAPSHOT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    PUBLISHED_BOOTED.store(false, Ordering::Release);
    drop((registry, snapshot));
    // Its code is this library's: it must be done before the library can be unmapped.
    join_retiring();
    DEPARTURE_DUE.store(0, Ordering::Release);
}

/// Runs a provider's `load_users`, collecting what it adds; None when it reports failure
/// or a later load of the same provider superseded this one.
fn run_provider(name: &Arc<str>, load: LoadUsers, config: Arc<Config>) -> Option<Vec<Extension>> {
    let token = LOAD_TOKEN.fetch_add(1, Ordering::Relaxed);
    {
        let mut reg = lock(&REGISTRY);
        let reg = reg.as_mut()?;
        reg.loading.retain(|s| s.provider != *name);
        reg.loading.push(Staging {
            provider: name.clone(),
            token,
            config,
            extensions: Vec::new(),
            interner: Interner::default(),
        });
    }
    let res = load.call();
    let mut reg = lock(&REGISTRY);
    let reg = reg.as_mut()?;
    let at = reg.loading.iter().position(|s| s.token == token)?;
    let mut extensions = reg.loading.remove(at).extensions;
    extensions.shrink_to_fit();
    (res == 0).then_some(extensions)
}

pub fn provider_register(name: &str, load: LoadUsers) -> i32 {
    if name.is_empty() {
        log::error!("Provider name can't be empty.");
        return -1;
    }
    // Messages are logged once the lock is released: ast_log is a call into Asterisk.
    let config = {
        let mut reg = lock(&REGISTRY);
        match reg.as_mut() {
            None => Err(None),
            Some(reg) if reg.is_registered(name) => Err(Some(())),
            Some(reg) => Ok(reg.config.clone()),
        }
    };
    let config = match config {
        Ok(config) => config,
        Err(None) => {
            log::warning!("Provider '{name}' cannot be registered: res_phoneprov not loaded.");
            return -1;
        }
        Err(Some(())) => {
            log::error!("There is already a provider registered named '{name}'.");
            return -1;
        }
    };
    let name: Arc<str> = name.into();
    // A provider that unregistered and comes back (its reload) keeps serving its previous
    // phones until this load completes.
    let extensions = match run_provider(&name, load, config) {
        Some(extensions) => extensions,
        // Ours stays registered, without phones, when it cannot read them at load (a users
        // file that does not parse, its database unreachable): only registered providers
        // are reloaded, and the next reload must be able to read them.
        None if matches!(load, LoadUsers::Builtin(_)) => {
            log::error!(
                "Unable to load provider '{name}' users; it has none until a reload reads them."
            );
            Vec::new()
        }
        None => {
            log::error!("Unable to load provider '{name}' users. Register aborted.");
            return -1;
        }
    };
    {
        let mut reg = lock(&REGISTRY);
        let Some(reg) = reg.as_mut() else { return -1 };
        let extensions = Arc::new(extensions);
        match reg.providers.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                p.load = load;
                p.extensions = extensions;
                p.departed = None;
            }
            None => reg.providers.push(Provider {
                name,
                load,
                extensions,
                departed: None,
            }),
        }
        reg.changed();
    }
    rebuild_and_wait();
    0
}

pub fn provider_unregister(name: &str) {
    let mut reg = lock(&REGISTRY);
    let Some(reg) = reg.as_mut() else { return };
    let now = Instant::now();
    if let Some(p) = reg.provider(name) {
        p.departed = Some(now);
        // Its phones are served for the grace period; the first read after it rebuilds.
        expire_departed(reg, now);
        reg.loading.retain(|s| &*s.provider != name);
    }
}

pub fn add_extension(provider: &str, vars: Vars) -> i32 {
    add_extensions(provider, vec![vars])
}

/// [`add_extension`] for many extensions of a provider, the registry locked once (a users
/// file of 100,000 phones). Those without USERNAME or MAC are refused; -1 when any was,
/// or when the provider is not registered.
pub fn add_extensions(provider: &str, mut list: Vec<Vars>) -> i32 {
    if provider.is_empty() {
        log::error!("Provider name can't be empty.");
        return -1;
    }
    let before = list.len();
    let (mut no_name, mut no_mac) = (0, 0);
    list.retain(
        |vars| match (vars.contains(vars::USERNAME), vars.contains(vars::MAC)) {
            (false, _) => {
                no_name += 1;
                false
            }
            (true, false) => {
                no_mac += 1;
                false
            }
            (true, true) => true,
        },
    );
    // Logged before the lock is taken: ast_log is a call into Asterisk.
    for _ in 0..no_name {
        log::error!("Extension name can't be empty.");
    }
    for _ in 0..no_mac {
        log::error!("MAC Address can't be empty.");
    }
    let refused = if list.len() < before { -1 } else { 0 };
    let mut guard = lock(&REGISTRY);
    let Some(reg) = guard.as_mut() else {
        return -1;
    };
    if let Some(st) = reg
        .loading
        .iter_mut()
        .rev()
        .find(|s| &*s.provider == provider)
    {
        append_frozen(&mut st.extensions, &st.provider, &mut st.interner, list);
        return refused;
    }
    let Registry {
        interner,
        providers,
        ..
    } = &mut *reg;
    let Some(p) = providers.iter_mut().find(|p| p.is_registered(provider)) else {
        drop(guard);
        log::error!("Provider '{provider}' wasn't found in the registry.");
        return -1;
    };
    append_frozen(Arc::make_mut(&mut p.extensions), &p.name, interner, list);
    reg.changed();
    refused
}

/// `list`, frozen with `interner`'s names, appended to `to` as extensions of `provider`.
fn append_frozen(
    to: &mut Vec<Extension>,
    provider: &Arc<str>,
    interner: &mut Interner,
    list: Vec<Vars>,
) {
    to.extend(list.into_iter().map(|mut vars| {
        vars.freeze(interner);
        let provider = provider.clone();
        Extension { provider, vars }
    }));
}

/// Removes extensions of a provider from what is served; not while the provider loads.
/// Its load's result replaces its whole set anyway (so nothing served is half-emptied), and
/// res_pjsip_phoneprov_provider deletes the MAC of every `phoneprov` object it destroys:
/// with sorcery realtime its objects live only during its `load_users`, so applying those
/// deletions to what it is loading would remove every phone it has just added. (With
/// pjsip.conf the objects it destroys in a load are the previous ones, before it adds any.)
fn change_extensions(provider: &str, keep: impl Fn(&Extension) -> bool) {
    let mut reg = lock(&REGISTRY);
    let Some(reg) = reg.as_mut() else { return };
    if reg.loading.iter().any(|s| &*s.provider == provider) {
        return;
    }
    if let Some(p) = reg.provider(provider) {
        Arc::make_mut(&mut p.extensions).retain(keep);
        reg.changed();
    }
}

pub fn delete_extension(provider: &str, mac: &[u8]) {
    change_extensions(provider, |e| {
        !e.vars
            .find(vars::MAC)
            .is_some_and(|m| m.eq_ignore_ascii_case(mac))
    });
}

pub fn delete_extensions(provider: &str) {
    change_extensions(provider, |_| false);
}

/// Re-reads every provider's users for `config`, then swaps the result in. A provider
/// whose load fails keeps the extensions it had.
pub fn reload(config: Arc<Config>) {
    let providers: Vec<(Arc<str>, LoadUsers)> = match lock(&REGISTRY).as_ref() {
        Some(r) => r
            .providers
            .iter()
            .filter(|p| p.departed.is_none())
            .map(|p| (p.name.clone(), p.load))
            .collect(),
        None => return,
    };
    let loaded: Vec<(Arc<str>, Option<Vec<Extension>>)> = providers
        .into_iter()
        .map(|(name, load)| {
            let exts = run_provider(&name, load, config.clone());
            if exts.is_none() {
                log::error!("Unable to load provider '{name}' users; keeping the ones it had.");
            }
            (name, exts)
        })
        .collect();
    {
        let mut reg = lock(&REGISTRY);
        let Some(reg) = reg.as_mut() else { return };
        reg.config = config;
        for (name, exts) in loaded {
            if let (Some(p), Some(exts)) = (reg.provider(&name), exts) {
                p.extensions = Arc::new(exts);
            }
        }
        reg.changed();
    }
    rebuild_and_wait();
}
