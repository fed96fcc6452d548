//! The module's dialplan functions over the current snapshot: PP_EACH_USER,
//! PP_EACH_EXTENSION, PP_XML and PP_QRCODE. Asterisk calls them by number through the glue;
//! the Rust fast path calls them by name.
//!
//! A directory rendered with PP_EACH_USER depends only on the phones and the item template
//! (and on any global variable a missing name falls back to), so the rendered items of a
//! snapshot are kept and each request only leaves out the excluded phone.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::ffi::host::{self, data_file, AstHost, Function};
use crate::ffi::log;
use crate::ffi::vars::global;
use crate::module::render::substitute::{
    fail_response, is_rendering, is_serving, render_line, render_plain, serving_alone,
    serving_snapshot, Call,
};
use crate::module::render::templates::Templates;
use crate::module::state::registry::{in_build, Registry};
use phoneprov_core::config::vars;
use phoneprov_core::config::vars::Vars;
use phoneprov_core::http::uri::is_contained;
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::render::funcs::{self, EachUser};
use phoneprov_core::render::template::{self, Template};
use phoneprov_core::render::{qr, xml};
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::lock;

/// How deep PP_EACH_USER and PP_EACH_EXTENSION may nest: a template that includes itself
/// would otherwise recurse until the thread's stack overflows and Asterisk aborts.
const MAX_DEPTH: u32 = 8;

thread_local! {
    /// How many PP_EACH_* calls are running on this thread, one inside another.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Counts one nesting level for as long as it lives.
struct Nested;

impl Nested {
    fn enter(name: &str) -> Option<Nested> {
        let depth = DEPTH.with(|d| d.get());
        if depth >= MAX_DEPTH {
            log::error!(
                "{name}: nested more than {MAX_DEPTH} levels deep (a template that includes \
                 itself?); the response fails"
            );
            fail_response();
            return None;
        }
        DEPTH.with(|d| d.set(depth + 1));
        Some(Nested)
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

fn read_template(templates: &Templates, name: &[u8]) -> Result<Arc<Template>, String> {
    if !is_contained(name) {
        return Err(format!(
            "PP_EACH_EXTENSION: '{}' is not below AST_DATA_DIR/phoneprov",
            lossy(name)
        ));
    }
    let path = data_file(name);
    templates
        .load(&path)
        .map_err(|e| format!("Could not load file: {} ({e})", path.display()))
}

/// Every phone's item of one PP_EACH_USER template, for one snapshot.
struct Items {
    generation: u64,
    template: Vec<u8>,
    /// Global variables the items fell back to, with the values they had.
    globals: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    body: Vec<u8>,
    spans: Vec<Range<usize>>,
    /// Lower-case MAC to the indexes of its phones' spans.
    by_mac: HashMap<Vec<u8>, Vec<usize>>,
}

impl Items {
    fn build(snap: &Snapshot, call: &EachUser, funcs: Call) -> Items {
        let mut globals: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut body = Vec::new();
        let mut spans = Vec::with_capacity(snap.phones.len());
        let mut by_mac: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, phone) in snap.phones.iter().enumerate() {
            let start = body.len();
            let mut seen = |name: &[u8], value: Option<&[u8]>| {
                if !globals.iter().any(|(n, _)| n == name) {
                    globals.push((name.to_vec(), value.map(<[u8]>::to_vec)));
                }
            };
            let index = (i + 1).to_string().into_bytes();
            let extra = [(vars::PHONE_INDEX, index.clone())];
            match render_plain(&call.template, phone.vars(), &extra, None, funcs, &mut seen) {
                Some(item) => body.extend_from_slice(&item),
                None => body.extend_from_slice(&host::render(
                    call.template.text(),
                    phone.vars(),
                    &[(vars::PHONE_INDEX.as_bytes(), &index)],
                )),
            }
            spans.push(start..body.len());
            by_mac
                .entry(phone.mac().to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        Items {
            generation: snap.generation,
            template: call.template.text().to_vec(),
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

    /// Appends every item but those of the excluded MAC.
    fn write_without(&self, out: &mut Vec<u8>, exclude: &[u8]) {
        let skip = match self.by_mac.get(&exclude.to_ascii_lowercase()) {
            Some(skip) if !exclude.is_empty() => skip.as_slice(),
            _ => &[],
        };
        // Room for the template text around the items too: growing a buffer this size
        // later would copy it whole.
        out.reserve(self.body.len() + 4096);
        let mut from = 0;
        for &i in skip {
            out.extend_from_slice(&self.body[from..self.spans[i].start]);
            from = self.spans[i].end;
        }
        out.extend_from_slice(&self.body[from..]);
    }
}

/// A few templates' items; directories use one or two.
const MAX_ITEMS: usize = 8;

/// What the functions keep between calls: the rendered items of PP_EACH_USER.
#[derive(Default)]
pub struct Directories {
    items: Mutex<Vec<Arc<Items>>>,
}

/// The functions with what they read: the registry (the snapshot, outside a response), the
/// template files (PP_EACH_EXTENSION) and the items kept.
#[derive(Clone, Copy)]
pub struct Functions<'m> {
    pub registry: &'m Registry,
    pub templates: &'m Templates,
    pub directories: &'m Directories,
}

impl Functions<'_> {
    fn each_user(&self, snap: &Snapshot, data: &[u8], out: &mut Vec<u8>) {
        let call = EachUser::parse(data);
        let me = |name: &str, data: &[u8], out: &mut Vec<u8>| self.call_into(name, data, out);
        // Items that depend on the request (the served phone's SERVER) or on functions
        // Asterisk must run are rendered every time.
        let uses_request = call.template.names().any(|n| {
            [vars::SERVER, vars::SERVER_HOST, vars::BASE_URL]
                .iter()
                .chain(&vars::UA_VARIABLES)
                .any(|v| v.as_bytes() == n)
        }) && snap
            .phones
            .iter()
            .any(|p| is_serving(p) && !call.excludes(p.mac()));
        if !call.template.is_plain() || uses_request {
            let render = |t: &Template, i: usize, p: &Phone| {
                let index = vec![(vars::PHONE_INDEX, (i + 1).to_string().into_bytes())];
                render_line(t, p, p.vars(), index, &me)
            };
            out.extend_from_slice(&funcs::each_user(snap, data, &render));
            return;
        }
        let kept = &self.directories.items;
        let cached = lock(kept)
            .iter()
            .find(|i| i.still_valid(snap, &call))
            .cloned();
        let items = cached.unwrap_or_else(|| {
            let built = Arc::new(Items::build(snap, &call, &me));
            let mut items = lock(kept);
            items.retain(|i| i.generation == snap.generation && i.template != built.template);
            if items.len() >= MAX_ITEMS {
                items.remove(0);
            }
            items.push(built.clone());
            built
        });
        items.write_without(out, &call.exclude);
    }
}

/// PP_EACH_USER and PP_EACH_EXTENSION read every phone's variables, secrets included: they
/// run only while this module renders a response or builds a snapshot on this thread,
/// never for AMI's Getvar, ARI or the dialplan, which evaluate any function by name.
fn refuse(name: &str) {
    log::error!(
        "{name}: refused outside res_phoneprov's own rendering (AMI, ARI, dialplan or CLI \
         evaluation): it reads every phone's variables, secrets included"
    );
}

/// Whether two names are the same, at compile time.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// The template parser's fast path runs the functions the glue registers, by the same names.
const _: () = {
    let (ours, parsed) = (Function::ALL, template::FUNCTIONS);
    assert!(ours.len() == parsed.len());
    let mut i = 0;
    while i < ours.len() {
        assert!(
            same(ours[i].name(), parsed[i]),
            "template::FUNCTIONS differs from the glue's"
        );
        i += 1;
    }
};

impl Functions<'_> {
    /// Runs one of the module's functions by name, appending its result; false for a name
    /// that is not one of them.
    pub fn call_into(&self, name: &str, data: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(&function) = Function::ALL.iter().find(|f| f.name() == name) else {
            return false;
        };
        self.call(function, data, out);
        true
    }

    /// Runs `function` on `data`, appending its result.
    pub fn call(&self, function: Function, data: &[u8], out: &mut Vec<u8>) {
        let name = function.name();
        match function {
            Function::Xml => xml::escape_into(out, data),
            Function::Qrcode => match qr::svg(data) {
                Ok(svg) => out.extend_from_slice(svg.as_bytes()),
                Err(e) => log::warning!("PP_QRCODE: {e}"),
            },
            Function::EachUser | Function::EachExtension => {
                if !is_rendering() && !in_build() {
                    refuse(name);
                    return;
                }
                // The snapshot the response started with, so that a reload in between cannot
                // mix two configurations in one file.
                let Some(snap) = serving_snapshot().or_else(|| self.registry.current()) else {
                    return;
                };
                let Some(_nested) = Nested::enter(name) else {
                    return;
                };
                if function == Function::EachUser {
                    self.each_user(&snap, data, out);
                } else {
                    let me = |name: &str, data: &[u8], out: &mut Vec<u8>| {
                        self.call_into(name, data, out)
                    };
                    let render =
                        |t: &Template, p: &Phone, v: &Vars| render_line(t, p, v, Vec::new(), &me);
                    let alone = serving_alone();
                    // The phone served first: a database phone may share its MAC with one in
                    // memory whose URI did not match.
                    let find = |mac: &[u8]| {
                        alone
                            .as_deref()
                            .filter(|p| p.mac() == mac)
                            .or_else(|| snap.phone(mac))
                    };
                    out.extend_from_slice(&funcs::each_extension(
                        &find,
                        data,
                        &AstHost,
                        &|name: &[u8]| read_template(self.templates, name),
                        &render,
                    ));
                }
            }
        }
    }
}
