//! Template files, kept parsed while they do not change.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::filecache::{text, FileCache};
use phoneprov_core::template::Template;

static TEMPLATES: FileCache<Template> = FileCache::new();

/// The parsed template at `path`.
pub fn load(path: &Path) -> io::Result<Arc<Template>> {
    let meta = fs::metadata(path)?;
    TEMPLATES.get(path, &meta, |bytes| Template::parse(&text(bytes)))
}

pub fn clear() {
    TEMPLATES.clear();
}
