//! Whether a file kept in memory may have changed since it was last checked, told without
//! a stat per request: its directory is watched (inotify), and a change anywhere in a
//! watched directory makes every kept file be checked again once. A write queues its event
//! before the writing call returns, so a request that follows an edit always sees it: as
//! with the C module, which reads its files on every request.
//!
//! Files whose path holds a symbolic link, or that sit on a filesystem other machines may
//! change (NFS), are not watched: they are checked on every use, as before. A directory
//! above the watched ones replaced while Asterisk runs is not seen until a reload.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::ffi::watch::{self, Events};

/// The inotify instance and the directories it watches.
struct Watcher {
    fd: Arc<OwnedFd>,
    dirs: Vec<PathBuf>,
}

static WATCHER: Mutex<Option<Watcher>> = Mutex::new(None);
/// The instance for requests, which share it without taking [`WATCHER`]'s lock. A request
/// holds it (the read guard, or a clone) while it uses the descriptor: once [`clear`] lets
/// go of it, the descriptor is closed only after the last of them, so its number can never
/// be reused by another file while a request reads it as inotify's.
static FD: RwLock<Option<Arc<OwnedFd>>> = RwLock::new(None);
/// Bumped after each read of events: a file checked at one count is unchanged while the
/// count is the same and no event waits.
static CHANGES: AtomicU64 = AtomicU64::new(0);
/// Threads reading events: one that has taken an event off the queue but not yet bumped
/// [`CHANGES`] must not let others trust what they hold.
static READING: AtomicUsize = AtomicUsize::new(0);

fn lock() -> MutexGuard<'static, Option<Watcher>> {
    WATCHER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Watches the directory of `path` (once per directory); the count to record with what
/// is read from `path` next, for [`unchanged`]. None when `path` cannot be watched: then
/// it must be checked on every use.
pub fn watch(path: &Path) -> Option<u64> {
    let dir = path.parent()?;
    let mut guard = lock();
    if guard.is_none() {
        let fd = Arc::new(watch::open()?);
        *FD.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&fd));
        *guard = Some(Watcher {
            fd,
            dirs: Vec::new(),
        });
    }
    let w = guard.as_mut()?;
    // A link could point to a file elsewhere, or be changed, without an event in the
    // watched directory: a directory is watched only when no link leads to it, and a file
    // only when it is no link itself. (A watched directory replaced by a link reports its
    // own removal, and is then looked at again.)
    if w.dirs.iter().any(|d| d == dir) {
        if fs::symlink_metadata(path).ok()?.file_type().is_symlink() {
            return None;
        }
    } else {
        if path.canonicalize().ok()? != path || !watch::watch_dir(w.fd.as_fd(), dir) {
            return None;
        }
        w.dirs.push(dir.to_owned());
    }
    drop(guard);
    // Read after the watch is in place: a change from now on shows.
    Some(CHANGES.load(SeqCst))
}

/// Whether nothing in the watched directories changed since `count` (from [`watch`]).
pub fn unchanged(count: u64) -> bool {
    if READING.load(SeqCst) > 0 {
        return false;
    }
    // Asked under the read guard alone; a clone only to read events, which takes
    // WATCHER's lock, never under this one.
    let pending = {
        let fd = FD.read().unwrap_or_else(PoisonError::into_inner);
        let Some(fd) = fd.as_ref() else {
            return false;
        };
        watch::pending(fd.as_fd()).then(|| Arc::clone(fd))
    };
    if let Some(fd) = pending {
        read_events(&fd);
        return false;
    }
    READING.load(SeqCst) == 0 && CHANGES.load(SeqCst) == count
}

/// Takes the queued events off, bumping [`CHANGES`] after each read.
fn read_events(fd: &OwnedFd) {
    READING.fetch_add(1, SeqCst);
    loop {
        let events = watch::read(fd.as_fd());
        if events != Events::None {
            CHANGES.fetch_add(1, SeqCst);
        }
        match events {
            Events::Some => continue,
            // Its directory may be back under the same name: watched again on next use.
            Events::WatchesLost => {
                if let Some(w) = lock().as_mut() {
                    w.dirs.clear();
                }
            }
            Events::None | Events::Error => break,
        }
    }
    READING.fetch_sub(1, SeqCst);
}

/// Makes every kept file be looked at again, and its directory watched anew (a reload:
/// the administrator's way to say files changed where no watch could see it, a directory
/// above the watched ones replaced, say). The instance stays open: requests may be using it.
pub fn forget() {
    if let Some(w) = lock().as_mut() {
        w.dirs.clear();
    }
    CHANGES.fetch_add(1, SeqCst);
}

/// Stops watching (on unload, once no request runs).
pub fn clear() {
    let fd = FD.write().unwrap_or_else(PoisonError::into_inner).take();
    let old = lock().take();
    drop((fd, old));
}
