//! PP_EACH_USER and PP_EACH_EXTENSION over the current snapshot.
//!
//! A directory rendered with PP_EACH_USER depends only on the phones and the item template
//! (and on any global variable a missing name falls back to), so the rendered items of a
//! snapshot are kept and each request only leaves out the excluded phone.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ffi::host::{self, data_file, AstHost};
use crate::ffi::vars::global;
use crate::module::render::{is_serving, render_line, render_plain};
use crate::module::{state, templates};
use phoneprov_core::funcs::{self, EachUser};
use phoneprov_core::model::Snapshot;
use phoneprov_core::template::Template;
use phoneprov_core::uri::is_contained;
use phoneprov_core::vars;

const EACH_USER: i32 = 0;
const EACH_EXTENSION: i32 = 1;

fn read_template(name: &str) -> Result<Arc<Template>, String> {
    if !is_contained(name) {
        return Err(format!(
            "PP_EACH_EXTENSION: '{name}' is not below AST_DATA_DIR/phoneprov"
        ));
    }
    let path = data_file(name);
    templates::load(&path).map_err(|e| format!("Could not load file: {} ({e})", path.display()))
}

/// Every phone's item of one PP_EACH_USER template, for one snapshot.
struct Items {
    generation: u64,
    template: String,
    /// Global variables the items fell back to, with the values they had.
    globals: Vec<(String, Option<String>)>,
    body: String,
    spans: Vec<Range<usize>>,
    /// Lower-case MAC to the indexes of its phones' spans.
    by_mac: HashMap<String, Vec<usize>>,
}

impl Items {
    fn build(snap: &Snapshot, call: &EachUser) -> Items {
        let mut globals: Vec<(String, Option<String>)> = Vec::new();
        let mut body = String::new();
        let mut spans = Vec::with_capacity(snap.phones.len());
        let mut by_mac: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, phone) in snap.phones.iter().enumerate() {
            let start = body.len();
            let mut seen = |name: &str, value: Option<&str>| {
                if !globals.iter().any(|(n, _)| n == name) {
                    globals.push((name.to_owned(), value.map(str::to_owned)));
                }
            };
            match render_plain(&call.template, phone.vars(), &[], &mut seen) {
                Some(item) => body.push_str(&item),
                None => body.push_str(&host::render(call.template.text(), phone.vars(), &[])),
            }
            spans.push(start..body.len());
            by_mac
                .entry(phone.mac.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        Items {
            generation: snap.generation,
            template: call.template.text().to_owned(),
            globals,
            body,
            spans,
            by_mac,
        }
    }

    fn still_valid(&self, snap: &Snapshot, call: &EachUser) -> bool {
        self.generation == snap.generation
            && self.template == call.template.text()
            && self.globals.iter().all(|(n, v)| global(n) == *v)
    }

    fn without(&self, exclude: &str) -> String {
        let skip = match self.by_mac.get(&exclude.to_ascii_lowercase()) {
            Some(skip) if !exclude.is_empty() => skip,
            _ => return self.body.clone(),
        };
        let mut out = String::with_capacity(self.body.len());
        let mut from = 0;
        for &i in skip {
            out.push_str(&self.body[from..self.spans[i].start]);
            from = self.spans[i].end;
        }
        out.push_str(&self.body[from..]);
        out
    }
}

/// A few templates' items; directories use one or two.
static ITEMS: Mutex<Vec<Arc<Items>>> = Mutex::new(Vec::new());
const MAX_ITEMS: usize = 8;

fn each_user(snap: &Snapshot, data: &str) -> String {
    let call = EachUser::parse(data);
    // Items that depend on the request (the served phone's SERVER) or on functions are
    // rendered every time.
    let uses_request = call
        .template
        .names()
        .any(|n| n == vars::SERVER || n == vars::SERVER_HOST)
        && snap
            .phones
            .iter()
            .any(|p| is_serving(p) && !call.excludes(&p.mac));
    if !call.template.is_plain() || uses_request {
        return funcs::each_user(snap, data, &render_line);
    }
    let cached = {
        let items = ITEMS.lock().unwrap_or_else(PoisonError::into_inner);
        items.iter().find(|i| i.still_valid(snap, &call)).cloned()
    };
    let items = cached.unwrap_or_else(|| {
        let built = Arc::new(Items::build(snap, &call));
        let mut items = ITEMS.lock().unwrap_or_else(PoisonError::into_inner);
        items.retain(|i| i.generation == snap.generation && i.template != built.template);
        if items.len() >= MAX_ITEMS {
            items.remove(0);
        }
        items.push(built.clone());
        built
    });
    items.without(&call.exclude)
}

pub fn call(function: i32, data: &str) -> String {
    let Some(snap) = state::current() else {
        return String::new();
    };
    match function {
        EACH_USER => each_user(&snap, data),
        EACH_EXTENSION => {
            funcs::each_extension(&snap, data, &AstHost, &read_template, &render_line)
        }
        _ => String::new(),
    }
}

/// Forgets the rendered items (on unload).
pub fn clear() {
    ITEMS.lock().unwrap_or_else(PoisonError::into_inner).clear();
}
