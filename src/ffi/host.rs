//! The Asterisk side of the core's [`Host`] trait, and small host facts (data directory,
//! interface addresses, CLI output).

use std::ffi::{OsStr, OsString};
use std::net::Ipv4Addr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::OnceLock;

use super::vars::{substitute, VarList};
use super::{cstring, log, owned_bytes, sys};
use phoneprov_core::config::vars::Vars;
use phoneprov_core::host::{Host, Level, TzInfo};

/// Asterisk as the core's host.
pub struct AstHost;

impl Host for AstHost {
    fn substitute(&self, template: &[u8], vars: &Vars) -> Vec<u8> {
        render(template, vars, &[])
    }

    fn tz(&self, zone: Option<&[u8]>) -> TzInfo {
        let zone = zone.map(cstring);
        let mut out = [0i32; 8];
        // SAFETY: zone is NULL or a valid C string; out has the 8 ints the glue writes.
        unsafe {
            sys::pp_tz_info(
                zone.as_ref().map_or(std::ptr::null(), |z| z.as_ptr()),
                out.as_mut_ptr(),
            )
        };
        TzInfo {
            offset: out[0],
            dst: (out[1] != 0).then(|| ([out[2], out[3], out[4]], [out[5], out[6], out[7]])),
        }
    }

    #[track_caller]
    fn log(&self, level: Level, message: &str) {
        log::log(level, message)
    }
}

/// Renders `template` with `extra` variables (which win) and then `vars`.
pub fn render(template: &[u8], vars: &Vars, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
    match VarList::new(vars, extra) {
        Some(list) => substitute(&list, template),
        None => Vec::new(),
    }
}

/// `AST_DATA_DIR/phoneprov`, read once: Asterisk fixes it at start-up.
pub fn phoneprov_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // SAFETY: Asterisk's global data directory, a C string set before modules load and
        // never changed.
        let data = unsafe { owned_bytes(sys::pp_data_dir()) };
        PathBuf::from(OsStr::from_bytes(&data)).join("phoneprov")
    })
}

/// `AST_SPOOL_DIR/phoneprov/uploads`, where files phones upload are kept.
pub fn uploads_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // SAFETY: Asterisk's global spool directory, a C string set before modules load and
        // never changed.
        let spool = unsafe { owned_bytes(sys::pp_spool_dir()) };
        PathBuf::from(OsStr::from_bytes(&spool)).join("phoneprov/uploads")
    })
}

/// The HTTP server's URI prefix (http.conf `prefix`), "" or "/name".
pub fn http_prefix() -> String {
    with_http_prefix(str::to_owned)
}

/// [`http_prefix`] lent to `f`, copied only if it is not UTF-8: every Digest request
/// compares its `uri` with it.
pub fn with_http_prefix<R>(f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; the glue writes a NUL-terminated string.
    unsafe { sys::pp_http_prefix(buf.as_mut_ptr().cast(), buf.len() as i32) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    f(&String::from_utf8_lossy(&buf[..end]))
}

/// Whether a dialplan function of that name is registered.
pub fn function_exists(name: &str) -> bool {
    let n = cstring(name);
    // SAFETY: n is a valid C string for the call.
    unsafe { sys::pp_function_exists(n.as_ptr()) != 0 }
}

/// Gives the C library's free memory back to the system. glibc returns on its own only
/// what is free at the top of a heap: after a reload, the configuration Asterisk parsed and
/// the state replaced, freed, mostly stay in the process (about 200 bytes per phone of
/// 100,000). A no-op where the C library is not glibc.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointer and may be called from any thread.
        unsafe { malloc_trim(0) };
    }
}

/// Whether Asterisk has loaded every module (so every dialplan function exists).
pub fn fully_booted() -> bool {
    // SAFETY: reads a global option flag; no arguments.
    unsafe { sys::pp_fully_booted() != 0 }
}

/// A configured file name as a path below `AST_DATA_DIR/phoneprov/` (a leading `/` does not
/// make it absolute: the C module appends names to that directory too).
/// Made by hand rather than by `Path::join` (which cost ~0.6 us per dynamic fetch): the
/// name, its leading slashes dropped, is relative, so joining is appending after a `/`.
pub fn data_file(name: &[u8]) -> PathBuf {
    let start = name.iter().position(|&b| b != b'/').unwrap_or(name.len());
    let dir = phoneprov_dir().as_os_str().as_bytes();
    let mut path = Vec::with_capacity(dir.len() + 1 + name.len() - start);
    path.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(&name[start..]);
    PathBuf::from(OsString::from_vec(path))
}

/// The IPv4 address of a network interface.
pub fn iface_ipv4(iface: &[u8]) -> Option<Ipv4Addr> {
    let name = cstring(iface);
    let mut out = [0u8; 4];
    // SAFETY: name is a valid C string and out has the 4 bytes the glue writes.
    let res = unsafe { sys::pp_iface_ipv4(name.as_ptr(), out.as_mut_ptr()) };
    (res == 0).then(|| Ipv4Addr::from(out))
}

/// Writes text to a CLI session, bytes as they are.
pub fn cli_print(fd: i32, text: &[u8]) {
    let t = cstring(text);
    // SAFETY: t is a valid C string; the glue prints it with "%s".
    unsafe { sys::pp_cli_print(fd, t.as_ptr()) }
}

/// Links the HTTP handler and registers the CLI commands and dialplan functions.
pub fn register_all() -> bool {
    // SAFETY: registers the glue's static structures; no arguments.
    let res = unsafe {
        sys::pp_http_link()
            | sys::pp_cli_register()
            | sys::pp_functions_register()
            | sys::pp_manager_register()
    };
    // Optional: without res_prometheus there is nothing to register with.
    prometheus_register();
    res == 0
}

/// Offers the metrics to res_prometheus, if it is loaded and they are not offered yet;
/// whether they are.
pub fn prometheus_register() -> bool {
    // SAFETY: registers the glue's static callback structure; no arguments.
    unsafe { sys::pp_prometheus_register() == 0 }
}

/// How many requests are inside the glue's HTTP callback (counted in C, from its first
/// statement to its last, so that unload knows when none runs our code any more).
pub fn http_requests_in_flight() -> i32 {
    // SAFETY: reads an atomic counter of the glue; no arguments.
    unsafe { sys::pp_http_in_flight() }
}

/// Undoes [`register_all`]; safe to call for what was never registered.
pub fn unregister_all() {
    // SAFETY: unregisters the glue's static structures; no arguments.
    unsafe {
        sys::pp_http_unlink();
        sys::pp_cli_unregister();
        sys::pp_functions_unregister();
        sys::pp_manager_unregister();
        sys::pp_prometheus_unregister();
    }
}
