//! Template files, kept parsed while they do not change.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::module::render::filecache::{FileCache, Found};
use phoneprov_core::render::template::Template;

static TEMPLATES: FileCache<Template> = FileCache::new();

/// The parsed template at `path`.
pub fn load(path: &Path) -> io::Result<Arc<Template>> {
    match TEMPLATES.get(path, |_| true, |bytes, _| Template::parse(bytes))? {
        Found::Kept(_, template) => Ok(template),
        Found::NotKept(_) => unreachable!("every template is kept"),
    }
}

pub fn clear() {
    TEMPLATES.clear();
}
