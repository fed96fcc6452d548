//! Template files, kept parsed while they do not change.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::filecache::FileCache;
use phoneprov_core::template::Template;

static TEMPLATES: FileCache<Template> = FileCache::new();

/// The parsed template at `path`.
pub fn load(path: &Path) -> io::Result<Arc<Template>> {
    let meta = fs::metadata(path)?;
    TEMPLATES.get(path, &meta, Template::parse)
}

pub fn clear() {
    TEMPLATES.clear();
}
