//! Rendering templates for a request: plain templates in Rust (exactly as Asterisk would),
//! the rest through Asterisk's substitution. The phone being served also gets SERVER (from
//! the connection) and SERVER_HOST where its variables lack them.
//!
//! Rendering calls the module's dialplan functions, and those render templates: to keep
//! files free of import cycles, the functions are handed in as a [`Call`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::sync::Arc;

use crate::ffi::host::{self, data_file};
use crate::ffi::vars::global;
use crate::module::render::templates::Templates;
use phoneprov_core::config::profile::FileEntry;
use phoneprov_core::config::vars::{self, Vars};
use phoneprov_core::http::useragent::UserAgent;
use phoneprov_core::model::server::push_uri_host;
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::render::linphone::{self, IniError};
use phoneprov_core::render::template::Template;
use phoneprov_core::util::bytes::utf8_or_latin1;

/// Runs one of the module's functions by name, appending its result; false for a name
/// that is not one of them.
pub type Call<'a> = &'a dyn Fn(&str, &[u8], &mut Vec<u8>) -> bool;

/// Told of each global variable a rendering fell back to, with the value it had.
pub type SeenGlobal<'a> = dyn FnMut(&[u8], Option<&[u8]>) + 'a;

/// What a request adds to the variables of the phone it serves, and the snapshot the
/// whole response is rendered from (PP_EACH_* included).
pub struct Serving {
    pub snap: Arc<Snapshot>,
    /// The served phone's variables (a clone shares them): its MAC tells it apart.
    phone: Vars,
    /// SERVER from the connection, when the phone's variables have none.
    pub server: Option<Vec<u8>>,
    /// PP_BASE_URL: where this server's /phoneprov/ is, as the client reached it.
    pub base_url: Option<Vec<u8>>,
    /// PP_UA_*: the phone as its User-Agent describes it (HTTP requests only).
    pub agent: Option<UserAgent>,
    /// The phone served, when it is not in `snap` (looked up in realtime): for
    /// PP_EACH_EXTENSION.
    pub alone: Option<Arc<Phone>>,
}

impl Serving {
    /// The additions for `phone` of `snap`, whose SERVER (if it has none) is `connection`.
    pub fn new(
        snap: Arc<Snapshot>,
        phone: &Phone,
        connection: Option<String>,
        base_url: Option<String>,
    ) -> Serving {
        let vars = phone.vars();
        let server = match vars.find(vars::SERVER) {
            Some(_) => None,
            None => connection.map(String::into_bytes),
        };
        Serving {
            snap,
            phone: vars.clone(),
            server,
            base_url: base_url.map(String::into_bytes),
            agent: None,
            alone: None,
        }
    }

    fn serves(&self, phone: &Phone) -> bool {
        self.phone.find(vars::MAC) == Some(phone.mac())
    }

    /// For an HTTP request: its User-Agent's reading (None: not recognised, the PP_UA_*
    /// variables are then empty).
    pub fn with_agent(mut self, agent: Option<UserAgent>) -> Serving {
        self.agent = Some(agent.unwrap_or_default());
        self
    }

    /// For a phone that is not in the snapshot: PP_EACH_EXTENSION finds it here.
    pub fn with_alone(mut self, phone: Option<Arc<Phone>>) -> Serving {
        self.alone = phone;
        self
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
    /// Set by a dialplan function whose failure must fail the whole response.
    static FAILED: Cell<bool> = const { Cell::new(false) };
}

/// Makes the response being rendered on this thread fail (500) once rendering ends.
pub fn fail_response() {
    FAILED.with(|f| f.set(true));
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

/// The phone served on this thread when it is not in the snapshot.
pub fn serving_alone() -> Option<Arc<Phone>> {
    SERVING.with(|s| s.borrow().as_ref().and_then(|s| s.alone.clone()))
}

/// Whether `phone` is the one served on this thread.
pub fn is_serving(phone: &Phone) -> bool {
    SERVING.with(|s| s.borrow().as_ref().is_some_and(|s| s.serves(phone)))
}

/// Whether this thread is rendering one of our responses (an HTTP answer, or a CLI render
/// or check): the only place functions that read other phones' variables may run.
pub fn is_rendering() -> bool {
    SERVING.with(|s| s.borrow().is_some())
}

/// The snapshot of the response being rendered on this thread, if one is.
pub fn serving_snapshot() -> Option<Arc<Snapshot>> {
    SERVING.with(|s| s.borrow().as_ref().map(|s| s.snap.clone()))
}

/// The variables a request adds to a phone's own (SERVER, SERVER_HOST, PP_BASE_URL and the
/// PP_UA_* variables), used when the phone's list has none of that name.
const ADDITIONS: [&str; 7] = [
    vars::SERVER,
    vars::SERVER_HOST,
    vars::BASE_URL,
    vars::UA_VENDOR,
    vars::UA_MODEL,
    vars::UA_FIRMWARE,
    vars::UA_MAC,
];

/// Appends the request's addition `name` for `phone` to `out`; false when it has none (not
/// such a name, `phone` not the one served, or nothing known).
fn addition(phone: &Phone, name: &[u8], out: &mut Vec<u8>) -> bool {
    SERVING.with(|s| {
        let s = s.borrow();
        let Some(serving) = s.as_ref().filter(|s| s.serves(phone)) else {
            return false;
        };
        let is = |n: &str| name == n.as_bytes();
        let ua = serving.agent.as_ref();
        if is(vars::SERVER_HOST) {
            let server = phone.vars().find(vars::SERVER);
            return match server.or(serving.server.as_deref()) {
                Some(server) => {
                    push_uri_host(server, out);
                    true
                }
                None => false,
            };
        }
        let value: Option<&[u8]> = if is(vars::SERVER) {
            serving.server.as_deref()
        } else if is(vars::BASE_URL) {
            serving.base_url.as_deref()
        } else if is(vars::UA_VENDOR) {
            ua.map(|a| a.vendor.as_bytes())
        } else if is(vars::UA_MODEL) {
            ua.map(|a| a.model.as_bytes())
        } else if is(vars::UA_FIRMWARE) {
            ua.map(|a| a.firmware.as_bytes())
        } else if is(vars::UA_MAC) {
            ua.map(|a| a.mac.as_deref().unwrap_or_default().as_bytes())
        } else {
            None
        };
        value.map(|v| out.extend_from_slice(v)).is_some()
    })
}

/// The request's additions for this phone and variable list, as a list.
fn extras(phone: &Phone, vars: &Vars) -> Vec<(&'static str, Vec<u8>)> {
    ADDITIONS
        .into_iter()
        .filter(|name| !vars.contains(name))
        .filter_map(|name| {
            let mut value = Vec::new();
            addition(phone, name.as_bytes(), &mut value).then_some((name, value))
        })
        .collect()
}

/// Renders a plain template in Rust: `extra`, then `vars`, then the request's additions for
/// `served` (if given), then Asterisk's globals, where a name found nowhere is empty. Each
/// global consulted is reported to `seen`. None when the template is not plain or the
/// variables need Asterisk's own lookup.
pub fn render_plain(
    template: &Template,
    vars: &Vars,
    extra: &[(&str, Vec<u8>)],
    served: Option<&Phone>,
    call: Call,
    seen: &mut SeenGlobal,
) -> Option<Vec<u8>> {
    if !template.is_plain() || vars.has_inherited() {
        return None;
    }
    let mut out = Vec::with_capacity(template.text().len() + 64);
    let done = template.render_into(
        &mut out,
        &mut |name, out| {
            if let Some((_, v)) = extra.iter().find(|(k, _)| k.as_bytes() == name) {
                out.extend_from_slice(v);
            } else if let Some(v) = vars.find(name) {
                out.extend_from_slice(v);
            } else if !served.is_some_and(|p| addition(p, name, out)) {
                let g = global(name);
                seen(name, g.as_deref());
                out.extend_from_slice(g.as_deref().unwrap_or(b""));
            }
            true
        },
        &mut |name, arg, out| call(name, arg, out),
    );
    done.then_some(out)
}

/// Renders `template` with one of `phone`'s variable lists for the current request, with
/// `more` variables first.
pub fn render_line(
    template: &Template,
    phone: &Phone,
    vars: &Vars,
    more: Vec<(&'static str, Vec<u8>)>,
    call: Call,
) -> Vec<u8> {
    if let Some(out) = render_plain(template, vars, &more, Some(phone), call, &mut |_, _| {}) {
        return out;
    }
    let mut extra = more;
    extra.extend(extras(phone, vars));
    let extra: Vec<(&[u8], &[u8])> = extra
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_slice()))
        .collect();
    host::render(template.text(), vars, &extra)
}

/// Why a dynamic file could not be rendered.
pub enum Failure {
    Template(PathBuf, std::io::Error),
    Linphone(PathBuf, IniError),
    /// A dialplan function failed in a way the response cannot hide (recursion).
    Function,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Failure::Template(p, e) => write!(f, "Could not load file: {} ({e})", p.display()),
            Failure::Linphone(p, e) => write!(
                f,
                "{}, rendered, is not a valid linphonerc at line {}: {}",
                p.display(),
                e.line,
                e.message
            ),
            Failure::Function => write!(f, "a dialplan function of the template failed"),
        }
    }
}

/// Renders a phone's dynamic file for what `serving` makes of its template. A template
/// named `*.linphonerc` is written in linphonerc (INI) form and served as Linphone's
/// provisioning XML, which is UTF-8: bytes of the rendered file that are not UTF-8 are read
/// as ISO-8859-1.
pub fn render_dynamic(
    templates: &Templates,
    phone: &Phone,
    file: &FileEntry,
    serving: impl FnOnce(&Template) -> Serving,
    call: Call,
) -> Result<Vec<u8>, Failure> {
    let path = data_file(&file.template);
    let template = templates
        .load(&path)
        .map_err(|e| Failure::Template(path.clone(), e))?;
    let serving = serving(&template);
    let outer = FAILED.with(|f| f.replace(false));
    let body = self::serving(serving, || {
        render_line(&template, phone, phone.vars(), Vec::new(), call)
    });
    if FAILED.with(|f| f.replace(outer)) {
        return Err(Failure::Function);
    }
    if file.template.ends_with(b".linphonerc") {
        return linphone::to_xml(&utf8_or_latin1(&body))
            .map(String::into_bytes)
            .map_err(|e| Failure::Linphone(path, e));
    }
    Ok(body)
}
