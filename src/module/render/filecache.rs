//! Files kept in memory while their size, modification time and inode stay the same: an
//! edited or replaced file is read again on its next request. A file in a watched
//! directory (see [`Watch`]) is not even looked at again until something there changes.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::module::render::watch::Watch;
use phoneprov_core::util::fxhash::FxHashMap;
use phoneprov_core::util::lock::{read, write};

/// What tells one version of a file from another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ino: u64,
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ino: meta.ino(),
        }
    }
}

/// The count of [`Watch`] a kept file was last checked at.
const UNWATCHED: u64 = u64::MAX;

struct Entry<T> {
    stamp: Stamp,
    value: Arc<T>,
    /// [`UNWATCHED`]: checked on every use.
    checked: AtomicU64,
}

/// Distinct files are few (the configuration names them); past this many a cache starts
/// over rather than grow.
const MAX_ENTRIES: usize = 1024;

/// Fx, not SipHash: looked up on every request, keyed by paths of the configuration. Keyed
/// by the path's bytes: a `Path` hashes component by component. (Two spellings of one file
/// would be two entries, each checked on its own.)
type Map<T> = FxHashMap<Box<[u8]>, Entry<T>>;

fn key(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// A file as it is now: kept, or too large to keep (its metadata, for the caller to read
/// it itself).
pub enum Found<T> {
    Kept(Stamp, Arc<T>),
    NotKept(Metadata),
}

enum Check<T> {
    Unchanged(Stamp, Arc<T>),
    /// Kept, but in no watched directory: to be checked on every use.
    Unwatched,
    /// Not kept, or something may have changed since it was checked.
    Unknown,
}

pub struct FileCache<T> {
    map: RwLock<Map<T>>,
    watch: Arc<Watch>,
}

impl<T> FileCache<T> {
    pub fn new(watch: Arc<Watch>) -> Self {
        FileCache {
            map: RwLock::new(Map::default()),
            watch,
        }
    }

    /// The file at `path` as `build` made it from its bytes and stamp, from memory when the
    /// file has not changed; a file `keep` refuses (by its metadata) is not read.
    pub fn get(
        &self,
        path: &Path,
        keep: impl Fn(&Metadata) -> bool,
        build: impl FnOnce(Vec<u8>, &Stamp) -> T,
    ) -> io::Result<Found<T>> {
        let unwatched = match self.check(path) {
            Check::Unchanged(stamp, value) => return Ok(Found::Kept(stamp, value)),
            Check::Unwatched => true,
            Check::Unknown => false,
        };
        let mut meta = fs::metadata(path)?;
        // A file not kept is neither watched nor counted: large ones are asked for often.
        if !keep(&meta) {
            return Ok(Found::NotKept(meta));
        }
        let count = match unwatched {
            true => UNWATCHED,
            false => match self.watch.watch(path) {
                // Looked at again once watched: a change after this shows in the count.
                Some(count) => {
                    meta = fs::metadata(path)?;
                    count
                }
                None => UNWATCHED,
            },
        };
        let stamp = Stamp::of(&meta);
        if let Some(value) = self.confirm(path, stamp, count) {
            return Ok(Found::Kept(stamp, value));
        }
        let value = Arc::new(build(fs::read(path)?, &stamp));
        let mut map = write(&self.map);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        let entry = Entry {
            stamp,
            value: value.clone(),
            checked: AtomicU64::new(count),
        };
        map.insert(key(path).into(), entry);
        Ok(Found::Kept(stamp, value))
    }

    /// What is known of the kept copy of `path` without looking at the file.
    fn check(&self, path: &Path) -> Check<T> {
        let map = read(&self.map);
        let Some(e) = map.get(key(path)) else {
            return Check::Unknown;
        };
        match e.checked.load(Ordering::Relaxed) {
            UNWATCHED => Check::Unwatched,
            count if self.watch.unchanged(count) => Check::Unchanged(e.stamp, e.value.clone()),
            _ => Check::Unknown,
        }
    }

    /// The kept copy of `path` if it is of `stamp`, now known unchanged at `count`.
    fn confirm(&self, path: &Path, stamp: Stamp, count: u64) -> Option<Arc<T>> {
        let map = read(&self.map);
        let e = map.get(key(path)).filter(|e| e.stamp == stamp)?;
        e.checked.store(count, Ordering::Relaxed);
        Some(e.value.clone())
    }
}
