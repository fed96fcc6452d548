//! Whether a file kept in memory may have changed since it was last checked, told without
//! a stat per request: its directory is watched (inotify), and a change anywhere in a
//! watched directory makes every kept file be checked again once. A write queues its event
//! before the writing call returns, so a request that follows an edit always sees it: as
//! with the C module, which reads its files on every request.
//!
//! Files whose path holds a symbolic link, or that sit on a filesystem other machines may
//! change (NFS), are not watched: they are checked on every use. A directory
//! above the watched ones replaced while Asterisk runs is not seen until a reload.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};

use crate::ffi::watch::{self, Events};
use phoneprov_core::util::lock::lock;

/// An inotify instance and the directories it watches. The descriptor is opened on first
/// use and closed only when this is dropped (unload, after the last request): a request
/// that holds the module holds the descriptor, so a number reused by another file can
/// never be read as inotify events.
#[derive(Default)]
pub struct Watch {
    fd: OnceLock<OwnedFd>,
    dirs: Mutex<Vec<PathBuf>>,
    /// Bumped after each read of events: a file checked at one count is unchanged while
    /// the count is the same and no event waits.
    changes: AtomicU64,
    /// Threads reading events: one that has taken an event off the queue but not yet
    /// bumped `changes` must not let others trust what they hold.
    reading: AtomicUsize,
}

impl Watch {
    /// Watches the directory of `path` (once per directory); the count to record with what
    /// is read from `path` next, for [`Watch::unchanged`]. None when `path` cannot be
    /// watched: then it must be checked on every use.
    pub fn watch(&self, path: &Path) -> Option<u64> {
        let dir = path.parent()?;
        let fd = match self.fd.get() {
            Some(fd) => fd,
            None => {
                // Two threads may both open one; the second is closed here unused.
                let _ = self.fd.set(watch::open()?);
                self.fd.get()?
            }
        };
        let mut dirs = lock(&self.dirs);
        // A link could point to a file elsewhere, or be changed, without an event in the
        // watched directory: a directory is watched only when no link leads to it, and a
        // file only when it is no link itself. (A watched directory replaced by a link
        // reports its own removal, and is then looked at again.)
        if dirs.iter().any(|d| d == dir) {
            if fs::symlink_metadata(path).ok()?.file_type().is_symlink() {
                return None;
            }
        } else {
            if path.canonicalize().ok()? != path || !watch::watch_dir(fd.as_fd(), dir) {
                return None;
            }
            dirs.push(dir.to_owned());
        }
        drop(dirs);
        // Read after the watch is in place: a change from now on shows.
        Some(self.changes.load(SeqCst))
    }

    /// Whether nothing in the watched directories changed since `count` (from
    /// [`Watch::watch`]).
    pub fn unchanged(&self, count: u64) -> bool {
        let Some(fd) = self.fd.get() else {
            return false;
        };
        if self.reading.load(SeqCst) > 0 {
            return false;
        }
        if watch::pending(fd.as_fd()) {
            self.read_events(fd);
            return false;
        }
        self.reading.load(SeqCst) == 0 && self.changes.load(SeqCst) == count
    }

    /// Takes the queued events off, bumping `changes` after each read.
    fn read_events(&self, fd: &OwnedFd) {
        self.reading.fetch_add(1, SeqCst);
        loop {
            let events = watch::read(fd.as_fd());
            if events != Events::None {
                self.changes.fetch_add(1, SeqCst);
            }
            match events {
                Events::Some => continue,
                // Its directory may be back under the same name: watched again on next use.
                Events::WatchesLost => lock(&self.dirs).clear(),
                Events::None | Events::Error => break,
            }
        }
        self.reading.fetch_sub(1, SeqCst);
    }

    /// Makes every kept file be looked at again, and its directory watched anew (a reload:
    /// the administrator's way to say files changed where no watch could see it, a
    /// directory above the watched ones replaced, say). The instance stays open: requests
    /// may be using it.
    pub fn forget(&self) {
        lock(&self.dirs).clear();
        self.changes.fetch_add(1, SeqCst);
    }
}
