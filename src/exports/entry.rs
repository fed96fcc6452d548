//! The `extern "C"` functions the glue calls. Each converts raw arguments to owned or
//! borrowed safe types and runs the module's code, inside the guard [`entry!`] puts it in.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use crate::ffi::guard::{guard, install_panic_hook, remove_panic_hook};
use crate::ffi::host::{Action, Command, Function, PrometheusEvent};
use crate::ffi::http::Request;
use crate::ffi::manager::Session;
use crate::ffi::{asterisk_strdup, cstring, owned_bytes, owned_words, sys, thread};
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

entry! {
    fn pp_rs_load() -> c_int;
    fallback = LOAD_DECLINE;
    {
        install_panic_hook();
        load_result(module::load())
    }
}

entry! {
    /// 0 when unloaded; -1 keeps the module loaded (Asterisk then reports the unload failed).
    fn pp_rs_unload() -> c_int;
    fallback = -1;
    {
        if !module::unload() {
            return -1;
        }
        remove_panic_hook();
        0
    }
}

entry! {
    fn pp_rs_reload() -> c_int;
    fallback = LOAD_DECLINE;
    {
        load_result(module::reload())
    }
}

entry! {
    /// Returns 1 when the request was answered, 0 when the glue must answer it (500): after a
    /// panic, or on a path that sent nothing.
    unsafe fn pp_rs_http(
        ser: *mut sys::ast_tcptls_session_instance,
        uri: *const c_char,
        method: c_int,
        headers: *mut sys::ast_variable,
    ) -> c_int;
    safety = "Called by the glue's HTTP callback with the live session, URI (or NULL) and \
              headers of a request.";
    fallback = 0;
    // SAFETY: Asterisk passes the URI (not decoded), alive for the whole callback.
    let raw_uri = unsafe { uri.as_ref().map(|u| CStr::from_ptr(u).to_bytes()) };
    // SAFETY: Asterisk hands the live session and headers of this request, valid until the
    // callback returns.
    let req = raw_uri.map(|raw_uri| unsafe { Request::new(ser, raw_uri, method, headers) });
    {
        let Some(req) = req else {
            return 0;
        };
        // A panic of the handler stops here, so that whether an answer went out is still
        // known: answering twice would corrupt the connection.
        guard("HTTP request", (), || module::http(&req));
        c_int::from(req.answered())
    }
}

entry! {
    /// Runs a CLI command on the words after the command's own.
    unsafe fn pp_rs_cli(command: c_int, fd: c_int, argc: c_int, argv: *const *const c_char);
    safety = "Called by the glue's CLI handler with `argc` C strings in `argv`, alive for the \
              call.";
    fallback = ();
    // SAFETY: per the contract.
    let args = unsafe { owned_words(argc, argv) };
    {
        if let (Some(command), Some(m)) = (Command::from_id(command), module::instance()) {
            module::ops::cli::run(&m, command, fd, &args);
        }
    }
}

entry! {
    /// The `state`-th completion of `word`, the word at `pos` after the command's own: a
    /// copy in Asterisk's heap, which frees completions with `ast_free`; NULL for none.
    unsafe fn pp_rs_cli_complete(
        command: c_int,
        _line: *const c_char,
        word: *const c_char,
        pos: c_int,
        state: c_int,
    ) -> *mut c_char;
    safety = "Called by the glue's CLI completion with the word being completed, a C string \
              alive for the call (or NULL).";
    fallback = std::ptr::null_mut();
    // SAFETY: per the contract.
    let word = unsafe { owned_bytes(word) };
    {
        let (Some(command), Some(m)) = (Command::from_id(command), module::instance()) else {
            return std::ptr::null_mut();
        };
        match module::ops::cli::complete(&m, command, &word, pos, state) {
            Some(s) => asterisk_strdup(&s),
            None => std::ptr::null_mut(),
        }
    }
}

entry! {
    /// Runs a dialplan function for Asterisk: its result, to free with
    /// [`pp_rs_free_string`]; NULL after a panic.
    unsafe fn pp_rs_function(function: c_int, data: *const c_char) -> *mut c_char;
    safety = "Called by the glue's function callbacks with the function's argument, a C \
              string alive for the call (or NULL).";
    fallback = std::ptr::null_mut();
    // SAFETY: per the contract.
    let data = unsafe { owned_bytes(data) };
    {
        let mut out = Vec::new();
        if let (Some(function), Some(m)) = (Function::from_id(function), module::instance()) {
            m.functions().call(function, &data, &mut out);
        }
        cstring(out).into_raw()
    }
}

entry! {
    /// Frees a string this library handed the glue.
    unsafe fn pp_rs_free_string(s: *mut c_char);
    safety = "`s` must come from [`pp_rs_function`] or [`pp_rs_metrics`], and be freed once.";
    fallback = ();
    // SAFETY: per the contract, s is NULL or was made by CString::into_raw, and is taken
    // back once.
    let owned = (!s.is_null()).then(|| unsafe { CString::from_raw(s) });
    {
        drop(owned);
    }
}

entry! {
    /// Answers a manager action of the glue's table; 0 once answered, -1 when no answer
    /// could be sent (Asterisk then closes the manager session).
    unsafe fn pp_rs_manager(
        action: c_int,
        s: *mut sys::mansession,
        m: *const sys::message,
    ) -> c_int;
    safety = "Called by the glue's action callbacks with the session and message Asterisk \
              handed them.";
    fallback = -1;
    // SAFETY: per the contract, s and m are live until the callback returns.
    let session = unsafe { Session::new(s, m) };
    {
        // A panic while the answer is made stops here, so that the client still gets one.
        let answer = guard("manager action", None, || {
            let (action, loaded) = (Action::from_id(action)?, module::instance()?);
            Some(module::ops::ami::run(&loaded, action, &session))
        });
        match answer {
            Some(Ok(text)) => session.ack(&text),
            Some(Err(text)) => session.error(&text),
            None => session.error("Internal error"),
        }
        0
    }
}

entry! {
    /// res_prometheus's scrape (through the glue): the metrics text, freed by the glue with
    /// [`pp_rs_free_string`].
    fn pp_rs_metrics() -> *mut c_char;
    fallback = std::ptr::null_mut();
    {
        let text = module::instance().map(|m| module::ops::status::prometheus(&m));
        cstring(text.unwrap_or_default()).into_raw()
    }
}

entry! {
    /// Runs a task of the module on the thread the glue made for it (`ffi::thread::spawn`).
    unsafe fn pp_rs_run_task(task: *mut c_void);
    safety = "`task` must be the pointer `ffi::thread::spawn` handed the glue, passed here \
              once.";
    fallback = ();
    // SAFETY: per the contract.
    let task = unsafe { thread::take_task(task) };
    {
        task();
    }
}

entry! {
    /// Asterisk booted, or the loader loaded or unloaded res_prometheus (an
    /// `enum pp_prometheus_event`, from the glue's subscription to the manager topic).
    fn pp_rs_prometheus_changed(event: c_int);
    fallback = ();
    {
        if let (Some(m), Some(event)) = (module::instance(), PrometheusEvent::from_raw(event)) {
            m.metrics.prometheus_changed(event);
        }
    }
}
