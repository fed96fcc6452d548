//! Template files, kept parsed while they do not change.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::module::render::filecache::{FileCache, Found};
use crate::module::render::watch::Watch;
use phoneprov_core::render::template::Template;

pub struct Templates(FileCache<Template>);

impl Templates {
    pub fn new(watch: Arc<Watch>) -> Templates {
        Templates(FileCache::new(watch))
    }

    /// The parsed template at `path`.
    pub fn load(&self, path: &Path) -> io::Result<Arc<Template>> {
        match self
            .0
            .get(path, |_| true, |bytes, _| Template::parse(bytes))?
        {
            Found::Kept(_, template) => Ok(template),
            Found::NotKept(_) => unreachable!("every template is kept"),
        }
    }
}
