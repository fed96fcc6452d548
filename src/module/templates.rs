//! Template files, read once and kept parsed while their size, modification time and inode
//! stay the same: an edited or replaced template is read again on its next request.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use phoneprov_core::template::Template;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ino: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ino: meta.ino(),
        }
    }
}

/// Distinct template files are few (the configuration names them); past this many the cache
/// starts over rather than grow.
const MAX_ENTRIES: usize = 1024;

type Cache = HashMap<PathBuf, (Stamp, Arc<Template>)>;

static CACHE: RwLock<Option<Cache>> = RwLock::new(None);

/// The parsed template at `path`, from the cache when the file has not changed.
pub fn load(path: &Path) -> io::Result<Arc<Template>> {
    let stamp = Stamp::of(&fs::metadata(path)?);
    let hit = CACHE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|c| c.get(path))
        .filter(|(s, _)| *s == stamp)
        .map(|(_, t)| t.clone());
    if let Some(t) = hit {
        return Ok(t);
    }
    let bytes = fs::read(path)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let template = Arc::new(Template::parse(&text));
    let mut cache = CACHE.write().unwrap_or_else(PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= MAX_ENTRIES {
        cache.clear();
    }
    cache.insert(path.to_owned(), (stamp, template.clone()));
    Ok(template)
}

/// Forgets every template (on unload).
pub fn clear() {
    *CACHE.write().unwrap_or_else(PoisonError::into_inner) = None;
}
