//! The `extern "C"` functions the glue calls. Each converts raw arguments to owned or
//! borrowed safe types and runs the module's code inside [`guard`].

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use crate::ffi::guard::{guard, install_panic_hook, remove_panic_hook};
use crate::ffi::http::Request;
use crate::ffi::{asterisk_strdup, cstring, owned_bytes, sys, thread};
use crate::module;

const LOAD_SUCCESS: c_int = sys::ast_module_load_result::AST_MODULE_LOAD_SUCCESS as c_int;
const LOAD_DECLINE: c_int = sys::ast_module_load_result::AST_MODULE_LOAD_DECLINE as c_int;

fn load_result(ok: bool) -> c_int {
    if ok {
        LOAD_SUCCESS
    } else {
        LOAD_DECLINE
    }
}

#[no_mangle]
pub extern "C" fn pp_rs_load() -> c_int {
    install_panic_hook();
    guard("load", LOAD_DECLINE, || load_result(module::load()))
}

/// 0 when unloaded; -1 keeps the module loaded (Asterisk then reports the unload failed).
#[no_mangle]
pub extern "C" fn pp_rs_unload() -> c_int {
    let unloaded = guard("unload", false, module::unload);
    if !unloaded {
        return -1;
    }
    remove_panic_hook();
    0
}

#[no_mangle]
pub extern "C" fn pp_rs_reload() -> c_int {
    guard("reload", LOAD_DECLINE, || load_result(module::reload()))
}

/// Returns 1 when the request was answered, 0 when the glue must answer it (500): after a
/// panic, or on a path that sent nothing.
///
/// # Safety
/// Called by the glue's HTTP callback with the live session, URI and headers of a request.
#[no_mangle]
pub unsafe extern "C" fn pp_rs_http(
    ser: *mut sys::ast_tcptls_session_instance,
    uri: *const c_char,
    method: c_int,
    headers: *mut sys::ast_variable,
) -> c_int {
    if uri.is_null() {
        return 0;
    }
    // SAFETY: Asterisk passes the URI (not decoded), alive for the whole callback.
    let raw_uri = unsafe { CStr::from_ptr(uri) }.to_bytes();
    // Made outside the guard (neither can panic) so that whether an answer went out is
    // still known after a panic: answering twice would corrupt the connection.
    // SAFETY: Asterisk hands the live session and headers of this request, valid until the
    // callback returns.
    let req = unsafe { Request::new(ser, raw_uri, method, headers) };
    guard("HTTP request", (), || module::http(&req));
    c_int::from(req.answered())
}

/// # Safety
/// Called by the glue's CLI handler with Asterisk's argument vector.
#[no_mangle]
pub unsafe extern "C" fn pp_rs_cli(
    command: c_int,
    fd: c_int,
    argc: c_int,
    argv: *const *const c_char,
) {
    guard("CLI", (), || {
        let args: Vec<Vec<u8>> = (0..usize::try_from(argc).unwrap_or(0))
            // SAFETY: argv holds argc valid C strings for the call.
            .map(|i| unsafe { owned_bytes(*argv.add(i)) })
            .collect();
        if let Some(m) = module::instance() {
            module::ops::cli::run(&m, command, fd, &args);
        }
    })
}

/// # Safety
/// Called by the glue's CLI completion with the word being completed, a C string alive
/// for the call (or NULL).
#[no_mangle]
pub unsafe extern "C" fn pp_rs_cli_complete(
    command: c_int,
    _line: *const c_char,
    word: *const c_char,
    pos: c_int,
    state: c_int,
) -> *mut c_char {
    guard("CLI completion", std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        let word = unsafe { owned_bytes(word) };
        let Some(m) = module::instance() else {
            return std::ptr::null_mut();
        };
        match module::ops::cli::complete(&m, command, &word, pos, state) {
            // Asterisk frees completions with ast_free: a copy in its heap.
            Some(s) => asterisk_strdup(&s),
            None => std::ptr::null_mut(),
        }
    })
}

/// # Safety
/// Called by the glue's function callbacks with the function's argument, a C string alive
/// for the call (or NULL).
#[no_mangle]
pub unsafe extern "C" fn pp_rs_function(function: c_int, data: *const c_char) -> *mut c_char {
    guard("dialplan function", std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        let data = unsafe { owned_bytes(data) };
        let out = module::instance().map(|m| m.functions().call(function, &data));
        cstring(out.unwrap_or_default()).into_raw()
    })
}

/// # Safety
/// `s` must come from [`pp_rs_function`], [`pp_rs_token`], [`pp_rs_resync`] or
/// [`pp_rs_metrics`], and be freed once.
#[no_mangle]
pub unsafe extern "C" fn pp_rs_free_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: s was made by CString::into_raw (pp_rs_function, pp_rs_token,
        // pp_rs_resync, pp_rs_metrics).
        drop(unsafe { CString::from_raw(s) });
    }
}

/// # Safety
/// Called by the glue's AMI action PhoneprovResync with its MAC, Profile and All headers (C
/// strings alive for the call, or NULL) and a writable `ok`.
#[no_mangle]
pub unsafe extern "C" fn pp_rs_resync(
    mac: *const c_char,
    profile: *const c_char,
    all: *const c_char,
    ok: *mut c_int,
) -> *mut c_char {
    guard("AMI PhoneprovResync", std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        let (mac, profile, all) =
            unsafe { (owned_bytes(mac), owned_bytes(profile), owned_bytes(all)) };
        use module::ops::resync::{resync, Selection};
        let selection = match (&mac[..], &profile[..], all.eq_ignore_ascii_case(b"yes")) {
            (m, b"", false) if !m.is_empty() => Some(Selection::Mac(m)),
            (b"", p, false) if !p.is_empty() => Some(Selection::Profile(p)),
            (b"", b"", true) => Some(Selection::All),
            _ => None,
        };
        let Some(m) = module::instance() else {
            return std::ptr::null_mut();
        };
        let (text, success) = match selection.map(|s| resync(&m.registry, s)) {
            // An AMI message is one line.
            Some(Ok(report)) => (report.lines().collect::<Vec<_>>().join("; "), 1),
            Some(Err(why)) => (why, 0),
            None => ("Give one of MAC, Profile or All: yes".to_owned(), 0),
        };
        if !ok.is_null() {
            // SAFETY: ok is writable per this function's contract.
            unsafe { *ok = success };
        }
        cstring(text).into_raw()
    })
}

/// res_prometheus's scrape (through the glue): the metrics text, freed by the glue with
/// [`pp_rs_free_string`].
#[no_mangle]
pub extern "C" fn pp_rs_metrics() -> *mut c_char {
    guard("metrics", std::ptr::null_mut(), || {
        let text = module::instance().map(|m| module::ops::status::prometheus(&m));
        cstring(text.unwrap_or_default()).into_raw()
    })
}

/// # Safety
/// Called by the glue's AMI action with the action's MAC and TTL headers (C strings alive
/// for the call, or NULL) and a writable `ok`.
#[no_mangle]
pub unsafe extern "C" fn pp_rs_token(
    mac: *const c_char,
    ttl: *const c_char,
    ok: *mut c_int,
) -> *mut c_char {
    guard("AMI PhoneprovToken", std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        let (mac, ttl) = unsafe { (owned_bytes(mac), owned_bytes(ttl)) };
        let Some(m) = module::instance() else {
            return std::ptr::null_mut();
        };
        let (text, success) = match module::serve::tokens::create(&m.registry, &mac, Some(&ttl)) {
            Ok(path) => (path, 1),
            Err(why) => (why, 0),
        };
        if !ok.is_null() {
            // SAFETY: ok is writable per this function's contract.
            unsafe { *ok = success };
        }
        cstring(text).into_raw()
    })
}

/// Runs a task of the module on the thread the glue made for it (`ffi::thread::spawn`).
///
/// # Safety
/// `task` must be the pointer `ffi::thread::spawn` handed the glue, passed here once.
#[no_mangle]
pub unsafe extern "C" fn pp_rs_run_task(task: *mut c_void) {
    // SAFETY: per this function's contract.
    guard("thread task", (), || unsafe { thread::run_task(task) })
}
