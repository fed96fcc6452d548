//! The Asterisk side of the core's [`Host`] trait, and small host facts (data directory,
//! interface addresses, CLI output).

use std::ffi::{c_int, OsStr, OsString};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::vars::{substitute, VarList};
use super::{cstring, log, owned, owned_bytes, sys};
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
        let zone = zone.as_ref().map_or(std::ptr::null(), |z| z.as_ptr());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
            sys::time_t::try_from(d.as_secs()).unwrap_or(sys::time_t::MAX)
        });
        let (mut dst, mut start, mut end, mut offset) = (0, 0, 0, 0);
        // SAFETY: zone is NULL (the system's zone) or a C string alive for the call; the
        // others point to locals.
        unsafe { sys::ast_get_dst_info(&now, &mut dst, &mut start, &mut end, &mut offset, zone) };
        // Month (from 1), day and hour of a moment in that zone.
        let local = |at: sys::time_t| {
            let when = sys::timeval {
                tv_sec: at,
                tv_usec: 0,
            };
            let mut tm = sys::ast_tm::default();
            // SAFETY: when and tm are locals; zone as above.
            unsafe { sys::ast_localtime(&when, &mut tm, zone) };
            [tm.tm_mon + 1, tm.tm_mday, tm.tm_hour]
        };
        TzInfo {
            offset,
            dst: (dst != 0).then(|| (local(start), local(end))),
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
        let data = unsafe { owned_bytes(sys::ast_config_AST_DATA_DIR) };
        PathBuf::from(OsStr::from_bytes(&data)).join("phoneprov")
    })
}

/// The running Asterisk's version and build options (`AST_BUILDOPTS_ALL`).
pub fn running_asterisk() -> (String, String) {
    // SAFETY: both return static strings of Asterisk's, never NULL, never changed.
    unsafe {
        (
            owned(sys::ast_get_version()),
            owned(sys::ast_get_build_opts_all()),
        )
    }
}

/// Whether the configuration directory (`AST_CONFIG_DIR`) holds a file named `name`.
pub fn config_file_exists(name: &str) -> bool {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        // SAFETY: Asterisk's global configuration directory, a C string set before modules
        // load and never changed; read, not written.
        let etc = unsafe { owned_bytes(sys::ast_config_AST_CONFIG_DIR) };
        PathBuf::from(OsStr::from_bytes(&etc))
    });
    dir.join(name).is_file()
}

/// `AST_SPOOL_DIR/phoneprov/uploads`, where files phones upload are kept.
pub fn uploads_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // SAFETY: Asterisk's global spool directory, a C string set before modules load and
        // never changed.
        let spool = unsafe { owned_bytes(sys::ast_config_AST_SPOOL_DIR) };
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
    // SAFETY: buf is writable for its length; Asterisk writes a NUL-terminated string.
    unsafe { sys::ast_http_prefix(buf.as_mut_ptr().cast(), buf.len() as i32) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    f(&String::from_utf8_lossy(&buf[..end]))
}

/// Whether a dialplan function of that name is registered.
pub fn function_exists(name: &str) -> bool {
    let n = cstring(name);
    // SAFETY: n is a valid C string for the call; the function found is not used.
    unsafe { !sys::ast_custom_function_find(n.as_ptr()).is_null() }
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
    let mut req = sys::ifreq::default();
    let mut name = [0; sys::IFNAMSIZ as usize];
    // Cut to fit with its NUL, as the C module's ast_copy_string does.
    for (to, &from) in name.iter_mut().zip(iface).take(sys::IFNAMSIZ as usize - 1) {
        *to = from as std::ffi::c_char;
    }
    req.ifr_ifrn.ifrn_name = name;
    // SAFETY: plain system calls; the descriptor is owned (closed) from here on.
    let sock = unsafe {
        let fd = sys::socket(
            sys::AF_INET as c_int,
            sys::__socket_type::SOCK_DGRAM as c_int,
            0,
        );
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd))?
    };
    // SAFETY: req is the struct ifreq SIOCGIFADDR reads the name from and writes into.
    if unsafe { sys::ioctl(sock.as_raw_fd(), sys::SIOCGIFADDR as _, &mut req) } < 0 {
        return None;
    }
    // SAFETY: SIOCGIFADDR succeeded, so the address member holds an AF_INET address:
    // the port's 2 bytes, then the address's 4.
    let data = unsafe { req.ifr_ifru.ifru_addr }.sa_data;
    Some(Ipv4Addr::new(
        data[2] as u8,
        data[3] as u8,
        data[4] as u8,
        data[5] as u8,
    ))
}

/// Writes text to a CLI session, bytes as they are.
pub fn cli_print(fd: i32, text: &[u8]) {
    let t = cstring(text);
    // SAFETY: t is a valid C string; the glue prints it with "%s".
    unsafe { sys::pp_cli_print(fd, t.as_ptr()) }
}

/// A Rust enum over one of the C enums of `include/pp_table.h`, which bindgen hands over.
/// The build fails when the two disagree: each variant's value is the C constant it names
/// (a name C does not have does not compile, two variants with one value neither), the
/// variants are as many as the C list's entries, and the n-th variant has the value n, so
/// that none is missing or out of order.
macro_rules! table_ids {
    (
        $(#[$meta:meta])*
        $name:ident = $c_enum:ident ($count:ident) {
            $($(#[$vmeta:meta])* $variant:ident = $id:ident,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant = sys::$c_enum::$id as isize,)+
        }

        impl $name {
            /// Every variant, in the order of the C list.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name of the C constant: for a dialplan function, its name in the
            /// dialplan.
            // Generated for each table; Rust names only the dialplan functions.
            #[allow(dead_code)]
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($id),)+
                }
            }

            /// The variant of an id the glue passed.
            pub fn from_id(id: c_int) -> Option<$name> {
                usize::try_from(id).ok().and_then(|i| Self::ALL.get(i)).copied()
            }
        }

        const _: () = {
            let all = $name::ALL;
            assert!(
                all.len() == sys::$c_enum::$count as usize,
                concat!("include/pp_table.h and ", stringify!($name), " count different ids")
            );
            let mut i = 0;
            while i < all.len() {
                assert!(
                    all[i] as usize == i,
                    concat!(stringify!($name), " lists its variants out of the C order")
                );
                i += 1;
            }
        };
    };
}

table_ids! {
    /// The CLI commands the glue registers.
    Command = pp_cli_command (PP_CLI_COUNT) {
        ShowRoutes = PP_CLI_SHOW_ROUTES,
        ShowPhone = PP_CLI_SHOW_PHONE,
        Render = PP_CLI_RENDER,
        Check = PP_CLI_CHECK,
        ShowPhones = PP_CLI_SHOW_PHONES,
        Token = PP_CLI_TOKEN,
        ShowTokens = PP_CLI_SHOW_TOKENS,
        ShowStatus = PP_CLI_SHOW_STATUS,
        Resync = PP_CLI_RESYNC,
    }
}

table_ids! {
    /// The dialplan functions the glue registers: a function's name is its C constant's.
    Function = pp_function (PP_FUNCTION_COUNT) {
        EachUser = PP_EACH_USER,
        EachExtension = PP_EACH_EXTENSION,
        Xml = PP_XML,
        Qrcode = PP_QRCODE,
    }
}

table_ids! {
    /// The manager actions the glue registers.
    Action = pp_manager_action (PP_MANAGER_ACTION_COUNT) {
        /// PhoneprovToken.
        Token = PP_AMI_TOKEN,
        /// PhoneprovResync.
        Resync = PP_AMI_RESYNC,
    }
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
    res == 0
}

/// Registers the metrics callback with res_prometheus; whether it took it. Twice would
/// list every series twice: the caller keeps track.
pub fn prometheus_register() -> bool {
    // SAFETY: registers the glue's static callback structure; no arguments.
    unsafe { sys::pp_prometheus_register() == 0 }
}

/// Removes the metrics callback from res_prometheus, if it is there.
pub fn prometheus_unregister() {
    // SAFETY: unregisters the glue's static callback structure; no arguments.
    unsafe { sys::pp_prometheus_unregister() }
}

/// Follows the loader's Load and Unload of res_prometheus (calls back
/// `pp_rs_prometheus_changed`); false when the subscription could not be made.
pub fn module_events_subscribe() -> bool {
    // SAFETY: subscribes the glue's static callback; no arguments.
    unsafe { sys::pp_module_events_subscribe() == 0 }
}

/// Ends [`module_events_subscribe`]'s subscription, once no callback of it runs.
pub fn module_events_unsubscribe() {
    // SAFETY: unsubscribes and joins the glue's subscription, if any; no arguments.
    unsafe { sys::pp_module_events_unsubscribe() }
}

/// The name of this node in a cluster: asterisk.conf's `systemname`, else the host name.
pub fn node_name() -> String {
    // SAFETY: returns a static C string of Asterisk's (or the glue's empty literal).
    let system = unsafe { std::ffi::CStr::from_ptr(sys::pp_system_name()) };
    let system = system.to_string_lossy();
    if !system.is_empty() {
        return system.into_owned();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// What the glue's subscription (see [`module_events_subscribe`]) tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrometheusEvent {
    /// res_prometheus was unloaded: the callbacks registered with it went with it.
    Unloaded,
    /// res_prometheus was loaded: its list of callbacks is new and empty.
    Loaded,
    /// Asterisk is fully booted: every module loaded at boot has run its load_module.
    Booted,
}

impl PrometheusEvent {
    /// The event the glue passes as an `enum pp_prometheus_event`; None for another value.
    pub fn from_raw(raw: c_int) -> Option<Self> {
        match u32::try_from(raw).ok()? {
            sys::pp_prometheus_event::PP_PROMETHEUS_UNLOADED => Some(Self::Unloaded),
            sys::pp_prometheus_event::PP_PROMETHEUS_LOADED => Some(Self::Loaded),
            sys::pp_prometheus_event::PP_PROMETHEUS_BOOTED => Some(Self::Booted),
            _ => None,
        }
    }
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
