//! Asterisk's config API (`ast_config_load2`, browsing), read into owned data.

use std::cell::Cell;
use std::ffi::c_char;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::thread::{self, Thread};
use super::{cstring, sys};
use phoneprov_core::config::conf::{Category, CategoryRef, ConfigFile};
use phoneprov_core::util::lock::lock;

#[derive(Debug, PartialEq, Eq)]
pub enum LoadError {
    Missing,
    Invalid,
    /// extconfig.conf maps the file to a realtime engine (static realtime), and the load
    /// failed: the database is unreachable, or the engine's module is not loaded. Not a
    /// missing file: the caller keeps what it had rather than read an absence.
    Realtime,
}

/// A loaded configuration, destroyed on drop.
pub(super) struct AstConfig(pub(super) *mut sys::ast_config);

impl Drop for AstConfig {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful load and is destroyed exactly once.
        unsafe { sys::ast_config_destroy(self.0) }
    }
}

// SAFETY: an AstConfig is the only handle to its configuration: memory that
// ast_config_destroy frees, tied to no thread (nothing thread-local, no lock held). Moved
// to another thread, it is used there alone.
unsafe impl Send for AstConfig {}

/// The thread destroying a configuration already read, if one was started.
static DESTROYING: Mutex<Option<Thread>> = Mutex::new(None);

/// A configuration done with, whose destroy counts with the config API's time wherever it
/// happens.
struct Retired(Option<AstConfig>);

impl Drop for Retired {
    fn drop(&mut self) {
        let destroying = Instant::now();
        drop(self.0.take());
        count(destroying.elapsed());
    }
}

/// Destroys `cfg` on a thread of its own: the caller goes on with what it read meanwhile
/// (100,000 users: ~30 ms of frees). One such thread at a time; [`settle`] waits for it.
/// If no thread can be made, `cfg` is destroyed right here.
fn destroy_behind(cfg: AstConfig) {
    let retired = Retired(Some(cfg));
    let mut slot = lock(&DESTROYING);
    if let Some(previous) = slot.take() {
        previous.join();
    }
    *slot = thread::spawn(move || drop(retired));
}

/// Waits until configurations handed to [`destroy_behind`] are destroyed: before a
/// reload's figures are read, and before the module can be unloaded (the thread runs this
/// library's code).
pub fn settle() {
    let running = lock(&DESTROYING).take();
    if let Some(running) = running {
        running.join();
    }
}

/// Nanoseconds spent in Asterisk's config API since the module was loaded: its parse, the
/// walk over categories and variables, the destroy; for [`load`] the copies of what they
/// hold too.
static LOAD_NANOS: AtomicU64 = AtomicU64::new(0);

pub fn load_nanos() -> u64 {
    LOAD_NANOS.load(Ordering::Relaxed)
}

/// Loads `filename` and hands `f` a view of it, walked in place (nothing is copied that
/// `f` does not keep); the configuration is destroyed when `f` returns. For files of many
/// sections (the users file): a copy of 100,000 sections costs more than reading them, and
/// the memory it frees ends up scattered between what is kept.
pub fn with_config<R>(filename: &str, f: impl FnOnce(&Loaded<'_>) -> R) -> Result<R, LoadError> {
    let started = Instant::now();
    let cfg = open(filename);
    let api = started.elapsed();
    let cfg = match cfg {
        Ok(cfg) => cfg,
        Err(e) => {
            count(api);
            return Err(e);
        }
    };
    let loaded = Loaded {
        cfg: &cfg,
        walking: Cell::new(Duration::ZERO),
        _config: std::marker::PhantomData,
    };
    let result = f(&loaded);
    count(api + loaded.walking.get());
    destroy_behind(cfg);
    Ok(result)
}

fn count(spent: Duration) {
    let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
    LOAD_NANOS.fetch_add(nanos, Ordering::Relaxed);
}

/// A loaded configuration being read by [`with_config`]'s callback.
pub struct Loaded<'c> {
    cfg: &'c AstConfig,
    /// Time spent browsing the configuration, callbacks left out: Asterisk's walk.
    walking: Cell<Duration>,
    _config: std::marker::PhantomData<&'c ()>,
}

impl Loaded<'_> {
    /// Calls `f` with each category in file order, its variables in order.
    pub fn each_category(&self, mut f: impl FnMut(CategoryRef<'_>)) {
        self.walk(|cat| {
            f(cat);
            ControlFlow::<()>::Continue(())
        });
    }

    /// The first category named `name` (ignoring case), given to `f`; the walk stops there.
    pub fn category<R>(&self, name: &str, f: impl FnOnce(Option<CategoryRef<'_>>) -> R) -> R {
        let mut f = Some(f);
        let found = self.walk(|cat| match cat.is(name) {
            true => ControlFlow::Break(f.take().map(|f| f(Some(cat)))),
            false => ControlFlow::Continue(()),
        });
        match (found, f) {
            (Some(Some(r)), _) => r,
            (_, Some(f)) => f(None),
            (_, None) => unreachable!("f is called at most once"),
        }
    }

    /// Walks the categories until `f` breaks; what it broke with. The walk's own time (not
    /// `f`'s) is Asterisk's: `phoneprov show status` counts it with the config API. The
    /// categories are read a batch at a time, so that the clock is read twice per batch
    /// rather than twice per category (100,000 categories: 10 ms of clock reads).
    fn walk<B>(&self, mut f: impl FnMut(CategoryRef<'_>) -> ControlFlow<B>) -> Option<B> {
        const BATCH: usize = 256;
        let mut walking = Duration::ZERO;
        let mut names: Vec<&[u8]> = Vec::with_capacity(BATCH);
        let mut ends: Vec<usize> = Vec::with_capacity(BATCH);
        let mut vars: Vec<(&[u8], &[u8])> = Vec::new();
        let mut cat: *mut c_char = std::ptr::null_mut();
        let found = loop {
            let reading = Instant::now();
            names.clear();
            ends.clear();
            vars.clear();
            let mut last = false;
            while names.len() < BATCH {
                // SAFETY: the config is alive for 'c; cat is NULL or the previous category
                // name browsing returned.
                cat = unsafe { sys::ast_category_browse(self.cfg.0, cat) };
                if cat.is_null() {
                    last = true;
                    break;
                }
                // SAFETY: cat was just returned by browsing the live config; passing the
                // same pointer makes Asterisk browse this very category, even when names
                // repeat.
                let mut v = unsafe { sys::ast_variable_browse(self.cfg.0, cat) };
                while !v.is_null() {
                    // SAFETY: v points to a variable of the live config, which nothing
                    // changes while it is being read.
                    let var = unsafe { &*v };
                    // SAFETY: name and value are C strings owned by the live config; they
                    // are only borrowed while this walk runs.
                    let (name, value) =
                        unsafe { (borrowed_bytes(var.name), borrowed_bytes(var.value)) };
                    vars.push((name, value));
                    v = var.next;
                }
                // SAFETY: cat is the live config's category name, a C string.
                names.push(unsafe { borrowed_bytes(cat) });
                ends.push(vars.len());
            }
            walking += reading.elapsed();
            let mut start = 0;
            let flow = names.iter().zip(&ends).try_for_each(|(&name, &end)| {
                let cat = CategoryRef {
                    name,
                    vars: &vars[start..end],
                };
                start = end;
                f(cat)
            });
            match flow {
                ControlFlow::Break(b) => break Some(b),
                ControlFlow::Continue(()) if last => break None,
                ControlFlow::Continue(()) => {}
            }
        };
        self.walking.set(self.walking.get() + walking);
        found
    }
}

/// The bytes of a C string of a live configuration, borrowed.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string that outlives `'a` unchanged.
unsafe fn borrowed_bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        return &[];
    }
    // SAFETY: per this function's contract.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
}

/// Loads `filename` from Asterisk's configuration directory into owned data.
pub fn load(filename: &str) -> Result<ConfigFile, LoadError> {
    let started = Instant::now();
    let loaded = load_timed(filename);
    let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    LOAD_NANOS.fetch_add(spent, Ordering::Relaxed);
    loaded
}

/// Whether extconfig.conf's `[settings]` maps `name` (a configuration file, or a realtime
/// family) to a realtime engine.
pub fn is_realtime_mapped(name: &str) -> bool {
    let name = cstring(name);
    // SAFETY: name is a valid C string for the call; Asterisk only reads it.
    unsafe { sys::ast_realtime_is_mapping_defined(name.as_ptr()) != 0 }
}

fn open(filename: &str) -> Result<AstConfig, LoadError> {
    let name = cstring(filename);
    let flags = sys::ast_flags { flags: 0 };
    // SAFETY: name and the module's name are valid C strings for the call.
    let raw = unsafe { sys::ast_config_load2(name.as_ptr(), c"res_phoneprov".as_ptr(), flags) };
    // CONFIG_STATUS_FILEINVALID, a pointer cast bindgen cannot read: (void *)-2.
    if raw as usize == usize::MAX - 1 {
        Err(LoadError::Invalid)
    } else if !raw.is_null() {
        Ok(AstConfig(raw))
    } else if is_realtime_mapped(filename) {
        Err(LoadError::Realtime)
    } else {
        Err(LoadError::Missing)
    }
}

fn load_timed(filename: &str) -> Result<ConfigFile, LoadError> {
    Ok(open(filename)?.to_owned(filename))
}

impl AstConfig {
    /// Every category and variable, copied.
    pub(super) fn to_owned(&self, name: &str) -> ConfigFile {
        let mut file = ConfigFile {
            name: name.to_owned(),
            categories: Vec::new(),
        };
        let loaded = Loaded {
            cfg: self,
            walking: Cell::new(Duration::ZERO),
            _config: std::marker::PhantomData,
        };
        loaded.each_category(|cat| {
            file.categories.push(Category {
                name: cat.name.to_vec(),
                vars: cat
                    .vars
                    .iter()
                    .map(|(k, v)| (k.to_vec(), (*v).into()))
                    .collect(),
            })
        });
        file
    }
}

/// The rows of realtime `family` whose `field` is `value`, one category each; None when
/// there are none or the lookup failed (tell them apart with [`realtime_probe`]).
pub fn realtime_rows(family: &[u8], field: &str, value: &[u8]) -> Option<ConfigFile> {
    let (family, field, value) = (cstring(family), cstring(field), cstring(value));
    // SAFETY: three valid C strings for the duration of the call.
    let raw = unsafe { sys::pp_realtime_multi(family.as_ptr(), field.as_ptr(), value.as_ptr()) };
    if raw.is_null() {
        return None;
    }
    Some(AstConfig(raw).to_owned("realtime"))
}

/// Whether realtime `family` is mapped and its storage answers now.
pub fn realtime_probe(family: &[u8]) -> bool {
    let family = cstring(family);
    // SAFETY: a valid C string for the duration of the call.
    unsafe { sys::pp_realtime_probe(family.as_ptr()) == 0 }
}
