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
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::ffi::host::{fully_booted, release_free_memory, AstHost};
use crate::ffi::log;
use crate::ffi::provider::ExternalLoadUsers;
use crate::ffi::thread::{self, Thread};
use crate::module::state::grace::Grace;
use phoneprov_core::config::profile::Config;
use phoneprov_core::config::vars::{self, Interner, Vars};
use phoneprov_core::model::snapshot::{without_secret, Extension, Snapshot};
use phoneprov_core::util::lock::{lock, read, write};

/// How long the phones of a provider that unregistered are still served, waiting for it
/// to register again.
pub const DEPARTURE_GRACE: Duration = Duration::from_millis(500);

/// The built-in provider's `load_users`: it adds its phones to the registry it is given.
pub type BuiltinLoad = Arc<dyn Fn(&Registry) -> i32 + Send + Sync>;

/// How a provider loads its users: ours is a Rust closure, others are C callbacks.
#[derive(Clone)]
pub enum LoadUsers {
    Builtin(BuiltinLoad),
    External(ExternalLoadUsers),
}

impl LoadUsers {
    fn call(&self, registry: &Registry) -> i32 {
        match self {
            LoadUsers::Builtin(f) => f(registry),
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

/// What snapshots are built from.
struct Inputs {
    config: Arc<Config>,
    /// Strings of extensions added outside a load; a reload starts a fresh one.
    interner: Interner,
    /// In registration order, which decides who keeps a MAC two providers claim.
    providers: Vec<Provider>,
    loading: Vec<Staging>,
    /// Bumped by every change of what a snapshot is built from.
    version: u64,
}

impl Inputs {
    fn is_registered(&self, name: &str) -> bool {
        self.providers.iter().any(|p| p.is_registered(name))
    }

    fn provider(&mut self, name: &str) -> Option<&mut Provider> {
        self.providers.iter_mut().find(|p| p.is_registered(name))
    }
}

/// The registry and the snapshot served from it, for the life of one load of the module.
pub struct Registry {
    inputs: Mutex<Inputs>,
    /// A plain std lock, not a crate with per-thread state (arc-swap keeps a debt list per
    /// thread): a thread-local destructor registered from this library by a thread that
    /// outlives the module keeps glibc from unmapping the library on unload. None until the
    /// first build.
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    generation: AtomicU64,
    /// Bumped by every change of the inputs; [`Inputs::version`] is the latest.
    versions: AtomicU64,
    /// The inputs' version the published snapshot was built from.
    published_version: AtomicU64,
    load_token: AtomicU64,
    /// Set when the inputs changed since the snapshot being served was built.
    dirty: AtomicBool,
    /// One builder at a time; others leave the work to it (see [`Registry::build_pending`]).
    building: AtomicBool,
    /// Milliseconds since `epoch` at which a departed provider's phones expire; 0: none.
    departure_due: AtomicU64,
    /// Whether the snapshot served was built with every module of Asterisk loaded. Modules
    /// that load after us (func_strings for TOLOWER, say) are missing while Asterisk boots,
    /// so phones are built only once it has booted.
    published_booted: AtomicBool,
    /// The thread freeing the previous snapshot, if one was started.
    retiring: Mutex<Option<Thread>>,
    /// What the last build said about phones without a secret: a build says again only
    /// what is new (a provider's change rebuilds everything, and repeating the same
    /// WARNING at each would bury it).
    secretless: Mutex<Vec<String>>,
    epoch: Instant,
    /// Phones' previous credentials, compared at each publication.
    pub grace: Arc<Grace>,
}

thread_local! {
    /// Set while this thread builds a snapshot (a `Cell` of `bool`: no destructor that
    /// would keep the library mapped after unload). Per thread, not per registry: it tells
    /// a dialplan function called back from inside a build on this very thread.
    static IN_BUILD: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is building a snapshot (phones' URIs and setvars are rendered then).
pub fn in_build() -> bool {
    IN_BUILD.with(Cell::get)
}

/// Clears the builder's marks even when a build panics, so later changes still build.
struct Builder<'r>(&'r Registry);

impl<'r> Builder<'r> {
    fn claim(reg: &'r Registry) -> Option<Builder<'r>> {
        reg.building
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Builder(reg))
    }
}

impl Drop for Builder<'_> {
    fn drop(&mut self) {
        IN_BUILD.with(|b| b.set(false));
        self.0.building.store(false, Ordering::Release);
    }
}

impl Drop for Registry {
    /// Its code is this library's: the freeing thread must be done before the library can
    /// be unmapped.
    fn drop(&mut self) {
        self.join_retiring();
    }
}

impl Registry {
    /// Starts serving `config` with no providers yet.
    pub fn new(config: Arc<Config>) -> Registry {
        let reg = Registry {
            inputs: Mutex::new(Inputs {
                config,
                interner: Interner::default(),
                providers: Vec::new(),
                loading: Vec::new(),
                version: 1,
            }),
            snapshot: RwLock::new(None),
            generation: AtomicU64::new(0),
            versions: AtomicU64::new(1),
            published_version: AtomicU64::new(0),
            load_token: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            building: AtomicBool::new(false),
            departure_due: AtomicU64::new(0),
            published_booted: AtomicBool::new(false),
            retiring: Mutex::new(None),
            secretless: Mutex::new(Vec::new()),
            epoch: Instant::now(),
            grace: Arc::new(Grace::load()),
        };
        reg.rebuild_and_wait();
        reg
    }

    /// Milliseconds from this registry's start to `at`: instants that fit in an atomic.
    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn changed(&self, inputs: &mut Inputs) {
        inputs.version = self.versions.fetch_add(1, Ordering::Relaxed) + 1;
        self.dirty.store(true, Ordering::Release);
    }

    /// Serves `snap`; the snapshot it replaces, for [`Registry::retire`] once no lock is
    /// held: freeing 100,000 phones takes long enough to stall readers.
    #[must_use]
    fn publish(&self, mut snap: Snapshot) -> Option<Arc<Snapshot>> {
        snap.generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        write(&self.snapshot).replace(Arc::new(snap))
    }

    /// Lets go of the snapshot just replaced on a thread of its own, then gives the memory
    /// freed back to the system (see [`release_free_memory`]): freeing 100,000 phones takes
    /// time that the reload (or the request that happened to build) would otherwise wait
    /// for. The same thread compares the phones' credentials with those they had (see
    /// [`Grace::note`]: astdb is written there, not on the reload's path). One such thread
    /// at a time, so the comparisons follow the publications; dropping the registry waits.
    fn retire(&self, old: Option<Arc<Snapshot>>, new: Option<Arc<Snapshot>>, version: u64) {
        let mut slot = lock(&self.retiring);
        if let Some(previous) = slot.take() {
            previous.join();
        }
        let grace = self.grace.clone();
        // If no thread can be made, the closure (and `old` with it) is dropped right here.
        *slot = thread::spawn(move || {
            if let Some(new) = &new {
                grace.note(old.as_deref(), new);
            }
            grace.noted(version);
            drop(new);
            if old.is_some() {
                drop(old);
                release_free_memory();
            }
        });
        if slot.is_none() {
            // No thread, no comparison: nobody must wait for it.
            self.grace.noted(version);
        }
    }

    /// Logs the lines about phones without a secret that the previous build did not give.
    fn warn_secretless(&self, now: Vec<String>) {
        let new: Vec<String> = {
            let mut last = lock(&self.secretless);
            let new = now.iter().filter(|l| !last.contains(l)).cloned().collect();
            *last = now;
            new
        };
        // Logged with no lock held: logging calls into Asterisk.
        for line in new {
            log::warning!("phoneprov: {line}");
        }
    }

    /// Waits for the thread freeing a snapshot, if one runs.
    fn join_retiring(&self) {
        let running = lock(&self.retiring).take();
        if let Some(running) = running {
            running.join();
        }
    }

    /// Drops the providers whose grace period is over; true if any was.
    fn expire_departed(&self, inputs: &mut Inputs, now: Instant) -> bool {
        let before = inputs.providers.len();
        let loading = &inputs.loading;
        // One that registered again is loading its new set: its old one stays until that
        // is done.
        inputs.providers.retain(|p| {
            !p.departed.is_some_and(|at| now >= at + DEPARTURE_GRACE)
                || loading.iter().any(|s| s.provider == p.name)
        });
        let next = inputs
            .providers
            .iter()
            .filter_map(|p| p.departed)
            .min()
            .map_or(0, |at| self.millis(at + DEPARTURE_GRACE).max(1));
        self.departure_due.store(next, Ordering::Release);
        inputs.providers.len() != before
    }

    /// Marks the inputs changed and builds (see [`Registry::build_pending`]).
    fn rebuild(&self) {
        self.dirty.store(true, Ordering::Release);
        self.build_pending();
    }

    /// While the inputs have changes no snapshot shows, builds one from them as they are
    /// and publishes it, unless they changed during the build (then it builds again). Only
    /// one thread builds at a time: one that finds a build running leaves it the work.
    fn build_pending(&self) {
        while self.dirty.load(Ordering::Acquire) {
            let Some(_builder) = Builder::claim(self) else {
                return;
            };
            while self.dirty.swap(false, Ordering::AcqRel) {
                let (config, exts, version, booted) = {
                    let mut inputs = lock(&self.inputs);
                    self.expire_departed(&mut inputs, Instant::now());
                    // Phones' URIs and setvars run dialplan functions, and while Asterisk
                    // boots the modules that register them may not be loaded yet: until it
                    // has booted only static files are served (the first read after boot
                    // builds the rest; see `current`).
                    let booted = fully_booted();
                    let exts: Vec<Arc<Vec<Extension>>> = match booted {
                        true => inputs
                            .providers
                            .iter()
                            .map(|p| p.extensions.clone())
                            .collect(),
                        false => Vec::new(),
                    };
                    (inputs.config.clone(), exts, inputs.version, booted)
                };
                IN_BUILD.with(|b| b.set(true));
                let snap = Snapshot::build(config, exts.iter().flat_map(|e| e.iter()), &AstHost);
                IN_BUILD.with(|b| b.set(false));
                let secretless = without_secret(&snap.config, &snap.phones);
                let inputs = lock(&self.inputs);
                if inputs.version == version {
                    let old = self.publish(snap);
                    self.published_version.store(version, Ordering::Release);
                    self.published_booted.store(booted, Ordering::Release);
                    drop(inputs);
                    self.retire(old, read(&self.snapshot).clone(), version);
                    self.warn_secretless(secretless);
                } else {
                    self.dirty.store(true, Ordering::Release);
                }
            }
            // Loop again for a change that came after the last check and found us building.
        }
    }

    /// Waits (boundedly) until `done`, building in this thread whenever no other thread
    /// does.
    fn wait_for(&self, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.build_pending();
            if done() || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// [`Registry::rebuild`], then waits until a snapshot at least as new as the inputs is
    /// served: a change is served when its call returns, also when another thread was
    /// building.
    fn rebuild_and_wait(&self) {
        let wanted = lock(&self.inputs).version;
        self.rebuild();
        // Compared too: a phone that asks right after a reload changed its credentials
        // finds its previous ones in grace.
        self.wait_for(|| {
            self.published_version.load(Ordering::Acquire) >= wanted
                && self.grace.noted_version() >= wanted
        });
    }

    /// The state requests are served from; None only if no snapshot could be built.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        let due = self.departure_due.load(Ordering::Acquire);
        if due != 0 && self.millis(Instant::now()) >= due {
            self.dirty.store(true, Ordering::Release);
        }
        if !self.published_booted.load(Ordering::Acquire) && fully_booted() {
            // What is served has no phones yet (built while Asterisk booted): wait for the
            // build that adds them, unless this thread is that build (a dialplan function).
            self.dirty.store(true, Ordering::Release);
            if !in_build() {
                self.wait_for(|| self.published_booted.load(Ordering::Acquire));
            }
        } else {
            self.build_pending();
        }
        read(&self.snapshot).clone()
    }

    /// The configuration a provider loads its users for: during a reload, the one being
    /// loaded.
    pub fn config_for(&self, provider: &str) -> Arc<Config> {
        let inputs = lock(&self.inputs);
        let staged = inputs
            .loading
            .iter()
            .rev()
            .find(|s| &*s.provider == provider);
        staged.map_or_else(|| inputs.config.clone(), |s| s.config.clone())
    }

    /// Runs a provider's `load_users`, collecting what it adds; None when it reports
    /// failure or a later load of the same provider superseded this one.
    fn run_provider(
        &self,
        name: &Arc<str>,
        load: &LoadUsers,
        config: Arc<Config>,
    ) -> Option<Vec<Extension>> {
        let token = self.load_token.fetch_add(1, Ordering::Relaxed);
        {
            let mut inputs = lock(&self.inputs);
            inputs.loading.retain(|s| s.provider != *name);
            inputs.loading.push(Staging {
                provider: name.clone(),
                token,
                config,
                extensions: Vec::new(),
                interner: Interner::default(),
            });
        }
        let res = load.call(self);
        let mut inputs = lock(&self.inputs);
        let at = inputs.loading.iter().position(|s| s.token == token)?;
        let mut extensions = inputs.loading.remove(at).extensions;
        extensions.shrink_to_fit();
        (res == 0).then_some(extensions)
    }

    pub fn provider_register(&self, name: &str, load: LoadUsers) -> i32 {
        if name.is_empty() {
            log::error!("Provider name can't be empty.");
            return -1;
        }
        // Messages are logged once the lock is released: ast_log is a call into Asterisk.
        let config = {
            let inputs = lock(&self.inputs);
            (!inputs.is_registered(name)).then(|| inputs.config.clone())
        };
        let Some(config) = config else {
            log::error!("There is already a provider registered named '{name}'.");
            return -1;
        };
        let name: Arc<str> = name.into();
        // A provider that unregistered and comes back (its reload) keeps serving its
        // previous phones until this load completes.
        let extensions = match self.run_provider(&name, &load, config) {
            Some(extensions) => extensions,
            // Ours stays registered, without phones, when it cannot read them at load (a
            // users file that does not parse, its database unreachable): only registered
            // providers are reloaded, and the next reload must be able to read them.
            None if matches!(load, LoadUsers::Builtin(_)) => {
                log::error!(
                    "Unable to load provider '{name}' users; it has none until a reload \
                     reads them."
                );
                Vec::new()
            }
            None => {
                log::error!("Unable to load provider '{name}' users. Register aborted.");
                return -1;
            }
        };
        {
            let mut inputs = lock(&self.inputs);
            let extensions = Arc::new(extensions);
            match inputs.providers.iter_mut().find(|p| p.name == name) {
                Some(p) => {
                    p.load = load;
                    p.extensions = extensions;
                    p.departed = None;
                }
                None => inputs.providers.push(Provider {
                    name,
                    load,
                    extensions,
                    departed: None,
                }),
            }
            self.changed(&mut inputs);
        }
        self.rebuild_and_wait();
        0
    }

    pub fn provider_unregister(&self, name: &str) {
        let mut inputs = lock(&self.inputs);
        let now = Instant::now();
        if let Some(p) = inputs.provider(name) {
            p.departed = Some(now);
            // Its phones are served for the grace period; the first read after it rebuilds.
            self.expire_departed(&mut inputs, now);
            inputs.loading.retain(|s| &*s.provider != name);
        }
    }

    pub fn add_extension(&self, provider: &str, vars: Vars) -> i32 {
        self.add_extensions(provider, vec![vars])
    }

    /// [`Registry::add_extension`] for many extensions of a provider, the inputs locked
    /// once (a users file of 100,000 phones). Those without USERNAME or MAC are refused;
    /// -1 when any was, or when the provider is not registered.
    pub fn add_extensions(&self, provider: &str, mut list: Vec<Vars>) -> i32 {
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
        let mut guard = lock(&self.inputs);
        let inputs = &mut *guard;
        if let Some(st) = inputs
            .loading
            .iter_mut()
            .rev()
            .find(|s| &*s.provider == provider)
        {
            append_frozen(&mut st.extensions, &st.provider, &mut st.interner, list);
            return refused;
        }
        let Inputs {
            interner,
            providers,
            ..
        } = &mut *inputs;
        let Some(p) = providers.iter_mut().find(|p| p.is_registered(provider)) else {
            drop(guard);
            log::error!("Provider '{provider}' wasn't found in the registry.");
            return -1;
        };
        append_frozen(Arc::make_mut(&mut p.extensions), &p.name, interner, list);
        self.changed(inputs);
        refused
    }

    /// Removes extensions of a provider from what is served; not while the provider loads.
    /// Its load's result replaces its whole set anyway (so nothing served is half-emptied),
    /// and res_pjsip_phoneprov_provider deletes the MAC of every `phoneprov` object it
    /// destroys: with sorcery realtime its objects live only during its `load_users`, so
    /// applying those deletions to what it is loading would remove every phone it has just
    /// added. (With pjsip.conf the objects it destroys in a load are the previous ones,
    /// before it adds any.)
    fn change_extensions(&self, provider: &str, keep: impl Fn(&Extension) -> bool) {
        let mut guard = lock(&self.inputs);
        let inputs = &mut *guard;
        if inputs.loading.iter().any(|s| &*s.provider == provider) {
            return;
        }
        if let Some(p) = inputs.provider(provider) {
            Arc::make_mut(&mut p.extensions).retain(keep);
            self.changed(inputs);
        }
    }

    pub fn delete_extension(&self, provider: &str, mac: &[u8]) {
        self.change_extensions(provider, |e| {
            !e.vars
                .find(vars::MAC)
                .is_some_and(|m| m.eq_ignore_ascii_case(mac))
        });
    }

    pub fn delete_extensions(&self, provider: &str) {
        self.change_extensions(provider, |_| false);
    }

    /// Re-reads every provider's users for `config`, then swaps the result in. A provider
    /// whose load fails keeps the extensions it had.
    pub fn reload(&self, config: Arc<Config>) {
        let providers: Vec<(Arc<str>, LoadUsers)> = lock(&self.inputs)
            .providers
            .iter()
            .filter(|p| p.departed.is_none())
            .map(|p| (p.name.clone(), p.load.clone()))
            .collect();
        let loaded: Vec<(Arc<str>, Option<Vec<Extension>>)> = providers
            .into_iter()
            .map(|(name, load)| {
                let exts = self.run_provider(&name, &load, config.clone());
                if exts.is_none() {
                    log::error!("Unable to load provider '{name}' users; keeping the ones it had.");
                }
                (name, exts)
            })
            .collect();
        {
            let mut guard = lock(&self.inputs);
            let inputs = &mut *guard;
            inputs.config = config;
            for (name, exts) in loaded {
                if let (Some(p), Some(exts)) = (inputs.provider(&name), exts) {
                    p.extensions = Arc::new(exts);
                }
            }
            self.changed(inputs);
        }
        // A reload says again which phones have no secret, as the load did.
        lock(&self.secretless).clear();
        self.rebuild_and_wait();
    }
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
