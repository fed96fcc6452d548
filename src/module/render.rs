//! Rendering templates for a request: plain templates in Rust (exactly as Asterisk would),
//! the rest through Asterisk's substitution. The phone being served also gets SERVER (from
//! the connection) and SERVER_HOST where its variables lack them.

use std::cell::RefCell;
use std::mem::ManuallyDrop;

use crate::ffi::host;
use crate::ffi::vars::global;
use crate::module::funcs;
use phoneprov_core::model::Phone;
use phoneprov_core::server::uri_host;
use phoneprov_core::template::{has_inherited, Template};
use phoneprov_core::vars::{self, Text, Vars};

/// What a request adds to the variables of the phone it serves.
pub struct Serving {
    pub mac: Text,
    /// SERVER from the connection, when the phone's variables have none.
    pub server: Option<String>,
    /// SERVER_HOST, when the phone's variables have none.
    pub server_host: Option<String>,
    /// PP_BASE_URL: where this server's /phoneprov/ is, as the client reached it.
    pub base_url: Option<String>,
}

impl Serving {
    /// The additions for `phone`, whose SERVER (if it has none) is `connection`.
    pub fn new(phone: &Phone, connection: Option<String>, base_url: Option<String>) -> Serving {
        let vars = phone.vars();
        let server = match vars.find(vars::SERVER) {
            Some(_) => None,
            None => connection,
        };
        let server_host = vars.find(vars::SERVER).or(server.as_deref()).map(uri_host);
        Serving {
            mac: phone.mac.clone(),
            server,
            server_host,
            base_url,
        }
    }
}

thread_local! {
    /// The phone being served on this thread, for dialplan functions that render its lines.
    /// `ManuallyDrop` because a thread-local that needs `Drop` registers a thread-exit
    /// destructor from this library, and glibc keeps a library with pending destructors mapped
    /// after unload (the next load would run the old image). [`serving`] always puts the
    /// previous value back, so a thread never ends holding a `Serving`.
    static SERVING: ManuallyDrop<RefCell<Option<Serving>>> =
        const { ManuallyDrop::new(RefCell::new(None)) };
}

/// Puts the previous phone back, also when rendering panics (the thread may serve more).
struct Restore(Option<Serving>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        SERVING.with(|s| *s.borrow_mut() = previous);
    }
}

/// Runs `f` with `serving` as this thread's phone being served.
pub fn serving<R>(serving: Serving, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(SERVING.with(|s| s.borrow_mut().replace(serving)));
    f()
}

/// Whether `phone` is the one served on this thread.
pub fn is_serving(phone: &Phone) -> bool {
    SERVING.with(|s| s.borrow().as_ref().is_some_and(|s| s.mac == phone.mac))
}

/// The request's additions for this phone and variable list.
fn extras(phone: &Phone, vars: &Vars) -> Vec<(&'static str, String)> {
    SERVING.with(|s| {
        let s = s.borrow();
        let Some(serving) = s.as_ref().filter(|s| s.mac == phone.mac) else {
            return Vec::new();
        };
        let mut extra = Vec::with_capacity(3);
        if let Some(server) = &serving.server {
            if !vars.contains(vars::SERVER) {
                extra.push((vars::SERVER, server.clone()));
            }
        }
        if let Some(host) = &serving.server_host {
            if !vars.contains(vars::SERVER_HOST) {
                extra.push((vars::SERVER_HOST, host.clone()));
            }
        }
        if let Some(url) = &serving.base_url {
            if !vars.contains(vars::BASE_URL) {
                extra.push((vars::BASE_URL, url.clone()));
            }
        }
        extra
    })
}

/// Renders a plain template in Rust: `extra`, then `vars`, then Asterisk's globals, where a
/// name found nowhere is empty. Each global consulted is reported to `seen`. None when the
/// template is not plain or the variables need Asterisk's own lookup.
pub fn render_plain(
    template: &Template,
    vars: &Vars,
    extra: &[(&str, String)],
    seen: &mut dyn FnMut(&str, Option<&str>),
) -> Option<String> {
    if !template.is_plain() || has_inherited(vars) {
        return None;
    }
    let mut out = String::with_capacity(template.text().len() + 64);
    let done = template.render_into(
        &mut out,
        &mut |name, out| {
            if let Some((_, v)) = extra.iter().find(|(k, _)| *k == name) {
                out.push_str(v);
            } else if let Some(v) = vars.find(name) {
                out.push_str(v);
            } else {
                let g = global(name);
                seen(name, g.as_deref());
                out.push_str(g.as_deref().unwrap_or(""));
            }
            true
        },
        &mut funcs::call_into,
    );
    done.then_some(out)
}

/// Renders `template` with one of `phone`'s variable lists for the current request.
pub fn render_line(template: &Template, phone: &Phone, vars: &Vars) -> String {
    render_line_with(template, phone, vars, Vec::new())
}

/// [`render_line`] with `more` variables first.
pub fn render_line_with(
    template: &Template,
    phone: &Phone,
    vars: &Vars,
    more: Vec<(&'static str, String)>,
) -> String {
    let mut extra = more;
    extra.extend(extras(phone, vars));
    if let Some(out) = render_plain(template, vars, &extra, &mut |_, _| {}) {
        return out;
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    host::render(template.text(), vars, &extra)
}
