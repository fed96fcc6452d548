//! Files kept in memory while their size, modification time and inode stay the same: an
//! edited or replaced file is read again on its next request.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use phoneprov_core::fxhash::FxHashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ino: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ino: meta.ino(),
        }
    }
}

/// Distinct files are few (the configuration names them); past this many a cache starts
/// over rather than grow.
const MAX_ENTRIES: usize = 1024;

/// Fx, not SipHash: looked up on every request, keyed by paths of the configuration.
type Map<T> = FxHashMap<PathBuf, (Stamp, Arc<T>)>;

pub struct FileCache<T> {
    map: RwLock<Option<Map<T>>>,
}

impl<T> FileCache<T> {
    pub const fn new() -> Self {
        FileCache {
            map: RwLock::new(None),
        }
    }

    /// The file at `path` (whose metadata is `meta`) as `build` made it from its bytes,
    /// from the cache when the file has not changed.
    pub fn get(
        &self,
        path: &Path,
        meta: &Metadata,
        build: impl FnOnce(Vec<u8>) -> T,
    ) -> io::Result<Arc<T>> {
        let stamp = Stamp::of(meta);
        let hit = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|m| m.get(path))
            .filter(|(s, _)| *s == stamp)
            .map(|(_, v)| v.clone());
        if let Some(v) = hit {
            return Ok(v);
        }
        let value = Arc::new(build(fs::read(path)?));
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let map = map.get_or_insert_with(FxHashMap::default);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(path.to_owned(), (stamp, value.clone()));
        Ok(value)
    }

    pub fn clear(&self) {
        *self.map.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
