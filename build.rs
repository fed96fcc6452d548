//! Generates the Asterisk bindings (bindgen) and compiles the C glue (cc).
//!
//! Headers come from the folder holding `asterisk.h` and `asterisk/`: `ASTERISK_INCLUDE_DIR`,
//! else the project's sandbox (`.sandbox/include`, made by `scripts/sandbox.sh`), else
//! `/usr/include`. Only that folder is added to the include path: the sandbox's whole
//! `/usr/include` would mix its glibc headers into the host build.

use std::env;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

fn asterisk_include_dir(manifest: &Path) -> PathBuf {
    println!("cargo:rerun-if-env-changed=ASTERISK_INCLUDE_DIR");
    if let Some(dir) = env::var_os("ASTERISK_INCLUDE_DIR") {
        let dir = PathBuf::from(dir);
        if dir.join("asterisk.h").is_file() {
            return dir;
        }
        panic!(
            "ASTERISK_INCLUDE_DIR={} holds no asterisk.h: point it at the folder that holds \
             asterisk.h and asterisk/ (install asterisk-dev, or run `make sandbox`)",
            dir.display()
        );
    }
    let candidates = [
        manifest.join(".sandbox/include"),
        PathBuf::from("/usr/include"),
    ];
    for dir in &candidates {
        if dir.join("asterisk.h").is_file() {
            return dir.clone();
        }
    }
    panic!(
        "asterisk.h not found in .sandbox/include or /usr/include: run `make sandbox` (or install \
         asterisk-dev), or set ASTERISK_INCLUDE_DIR to the folder that holds asterisk.h"
    );
}

fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_below(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Eight hex digits naming this build, for `module show`: a hash of what makes the library
/// (its sources, the lock file, the enabled features, the profile and the compiler). The same
/// sources built the same way give the same id, so an administrator can tell which build
/// runs; any change gives another. Build time is left out on purpose: it would make every
/// rebuild look different, and cargo would not rerun this script for a source change anyway.
fn build_id(manifest: &Path) -> String {
    let mut inputs = Vec::new();
    for dir in ["src", "core/src", "csrc", "include"] {
        println!("cargo:rerun-if-changed={dir}");
        files_below(&manifest.join(dir), &mut inputs);
    }
    for file in ["Cargo.toml", "core/Cargo.toml", "Cargo.lock", "build.rs"] {
        println!("cargo:rerun-if-changed={file}");
        inputs.push(manifest.join(file));
    }
    inputs.sort();
    let mut h = DefaultHasher::new();
    for path in &inputs {
        path.strip_prefix(manifest).unwrap_or(path).hash(&mut h);
        fs::read(path).unwrap_or_default().hash(&mut h);
    }
    let mut features: Vec<String> = env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("CARGO_FEATURE_"))
        .collect();
    features.sort();
    features.hash(&mut h);
    for key in [
        "CARGO_PKG_VERSION",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "TARGET",
    ] {
        env::var(key).unwrap_or_default().hash(&mut h);
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Ok(out) = Command::new(rustc).arg("-V").output() {
        out.stdout.hash(&mut h);
    }
    format!("{:08x}", h.finish() as u32)
}

/// The version of the Asterisk whose headers are in `include`, from the dpkg database of
/// the root they belong to (asterisk-dev's version, epoch left out); `ASTERISK_VERSION`
/// names it for headers from elsewhere (a source tree). Empty when unknown.
fn headers_version(include: &Path) -> String {
    println!("cargo:rerun-if-env-changed=ASTERISK_VERSION");
    if let Ok(v) = env::var("ASTERISK_VERSION") {
        return v;
    }
    // .../ROOT/usr/include, or the sandbox's .sandbox/include beside .sandbox/root.
    let roots = [include.join("../.."), include.join("../root")];
    for root in roots {
        let status = root.join("var/lib/dpkg/status");
        let Ok(text) = fs::read_to_string(&status) else {
            continue;
        };
        println!("cargo:rerun-if-changed={}", status.display());
        for stanza in text.split("\n\n") {
            if !stanza.lines().any(|l| l == "Package: asterisk-dev") {
                continue;
            }
            if let Some(v) = stanza.lines().find_map(|l| l.strip_prefix("Version: ")) {
                return v.split_once(':').map_or(v, |(_, rest)| rest).to_owned();
            }
        }
    }
    String::new()
}

/// A string macro of the headers' buildopts.h: `AST_BUILDOPTS_ALL` (the build options the
/// module is compiled for), `AST_BUILDOPT_SUM` (their checksum, Debian's ABI name).
fn buildopts_macro(include: &Path, name: &str) -> String {
    let text = fs::read_to_string(include.join("asterisk/buildopts.h")).unwrap_or_default();
    let prefix = format!("#define {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .unwrap_or_default()
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets this"));
    let include = asterisk_include_dir(&manifest);
    let ours = manifest.join("include");

    println!(
        "cargo:rerun-if-changed={}",
        include.join("asterisk.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        include.join("asterisk/buildopts.h").display()
    );

    let id = build_id(&manifest);
    // What load compares with the running Asterisk (src/module/mod.rs).
    println!(
        "cargo:rustc-env=PP_HEADERS_VERSION={}",
        headers_version(&include)
    );
    println!(
        "cargo:rustc-env=PP_HEADERS_BUILD_OPTIONS={}",
        buildopts_macro(&include, "AST_BUILDOPTS_ALL")
    );
    println!(
        "cargo:rustc-env=PP_HEADERS_SUM={}",
        buildopts_macro(&include, "AST_BUILDOPT_SUM")
    );

    cc::Build::new()
        .file("csrc/pp_glue.c")
        .define("PP_BUILD_ID", format!("\"{id}\"").as_str())
        .include(&ours)
        .include(&include)
        .define("_GNU_SOURCE", None)
        .define("_REENTRANT", None)
        // For the "Since" of the functions' documentation.
        .define(
            "PP_VERSION",
            format!("\"{}\"", env!("CARGO_PKG_VERSION")).as_str(),
        )
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-fno-strict-aliasing")
        // Asterisk's own headers trip this one; the glue cannot change them.
        .flag_if_supported("-Wno-old-style-declaration")
        .compile("pp_glue");

    let bindings = bindgen::Builder::default()
        .header(ours.join("pp_wrapper.h").to_string_lossy())
        .clang_arg(format!("-I{}", ours.display()))
        .clang_arg(format!("-I{}", include.display()))
        .clang_arg("-D_GNU_SOURCE")
        .clang_arg("-D_REENTRANT")
        // Asterisk's headers use clang blocks for RAII_VAR when compiled by clang.
        .clang_arg("-fblocks")
        .allowlist_function("pp_.*")
        // Defined in Rust (src/exports/entry.rs); the glue only calls them.
        .blocklist_function("pp_rs_.*")
        .allowlist_function("ast_category_browse")
        .allowlist_function("ast_variable_browse")
        .allowlist_function("ast_config_destroy")
        .allowlist_function("ast_realtime_is_mapping_defined")
        .allowlist_function("ast_store_realtime_fields")
        .allowlist_function("ast_update2_realtime_fields")
        .allowlist_function("ast_load_realtime_multientry_fields")
        .allowlist_function("ast_destroy_realtime_fields")
        .allowlist_function("_ast_variable_new")
        .allowlist_function("ast_variables_destroy")
        .allowlist_function("ast_var_name")
        .allowlist_function("ast_var_value")
        .allowlist_function("ast_var_full_name")
        .allowlist_function("ast_db_put")
        .allowlist_function("ast_db_get")
        .allowlist_function("ast_db_del")
        .allowlist_function("ast_sha1_hash")
        .allowlist_function("ast_db_gettree")
        .allowlist_function("ast_db_freetree")
        .allowlist_type("ast_db_entry")
        .allowlist_function("ast_append_acl")
        .allowlist_function("ast_free_acl_list")
        .allowlist_function("ast_apply_acl_nolog")
        .allowlist_type("ast_sockaddr")
        .allowlist_function("ast_security_event_report")
        .allowlist_type("ast_security_event_.*")
        .allowlist_var("AST_SECURITY_EVENT_.*_VERSION")
        // Host facts: directories (the configuration's, to tell which users files exist),
        // the HTTP prefix, functions, time zones, interfaces.
        .allowlist_var("ast_config_AST_(CONFIG|DATA|SPOOL)_DIR")
        // The running Asterisk, compared at load with the headers the module was built with.
        .allowlist_function("ast_get_version")
        .allowlist_function("ast_get_build_opts_all")
        .allowlist_function("ast_http_prefix")
        .allowlist_function("ast_custom_function_find")
        .opaque_type("ast_custom_function")
        .allowlist_function("ast_get_dst_info")
        .allowlist_function("ast_localtime")
        .allowlist_function("socket")
        .allowlist_type("__socket_type")
        .allowlist_type("ifreq")
        .allowlist_var("SIOCGIFADDR|IFNAMSIZ")
        // Memory, variable lists, configuration files and threads.
        .allowlist_function("__ast_strdup")
        .allowlist_function("ast_var_list_create")
        .allowlist_function("ast_var_list_destroy")
        .allowlist_function("ast_config_load2")
        .allowlist_function("pthread_join")
        // The capture of answers (src/ffi/http/capture.rs): the session's stream is swapped for
        // a stand-in around ast_http_send.
        .allowlist_type("ast_tcptls_session_instance")
        .allowlist_function("ast_http_send")
        .allowlist_function("ast_http_error")
        .allowlist_function("ast_http_body_discard")
        .allowlist_function("ast_http_request_close_on_completion")
        .allowlist_function("ast_tcptls_close_session_file")
        .allowlist_function("ast_iostream_from_fd")
        .allowlist_function("ast_iostream_set_timeout_inactivity")
        .allowlist_function("ast_iostream_write")
        .allowlist_function("ast_iostream_close")
        // A file's bytes sent on the connection itself (src/ffi/http/stream.rs).
        .allowlist_function("ast_iostream_get_fd")
        .allowlist_function("ast_iostream_get_ssl")
        // System calls: pipes, files sent on connections, inotify, and the scan for
        // listening sockets.
        .allowlist_function("pipe2")
        .allowlist_function("read")
        .allowlist_function("sendfile")
        .allowlist_function("poll")
        .allowlist_type("pollfd")
        .allowlist_var("POLLOUT|POLLIN")
        .allowlist_var("O_CLOEXEC|O_NONBLOCK")
        .allowlist_function("inotify_init1")
        .allowlist_function("inotify_add_watch")
        .allowlist_type("inotify_event")
        .allowlist_var("IN_.*")
        .allowlist_function("statfs")
        .allowlist_function("ioctl")
        .allowlist_var("FIONREAD")
        .allowlist_function("getsockopt")
        .allowlist_function("getsockname")
        .allowlist_function("listen")
        .allowlist_function("getrlimit")
        .allowlist_type("sockaddr_in")
        .allowlist_type("sockaddr_in6")
        .allowlist_type("sockaddr_storage")
        .allowlist_type("tcp_info")
        .allowlist_var("SOL_SOCKET|SO_ACCEPTCONN|TCP_INFO|AF_INET|AF_INET6")
        // Constants glibc declares as members of anonymous enums.
        .allowlist_item("IN_NONBLOCK|IN_CLOEXEC|IPPROTO_TCP")
        // A transparent union (with _GNU_SOURCE) is passed as its first member: a pointer.
        .blocklist_type("__SOCKADDR_ARG")
        .raw_line("pub type __SOCKADDR_ARG = *mut sockaddr;")
        // Manager actions (src/ffi/manager.rs): their headers and answers.
        .allowlist_function("astman_get_header")
        .allowlist_function("astman_send_ack")
        .allowlist_function("astman_send_error")
        .opaque_type("mansession")
        .opaque_type("message")
        .allowlist_type("sockaddr")
        .allowlist_type("ast_variable")
        .allowlist_type("ast_http_method")
        .allowlist_type("ast_phoneprov_std_variables")
        .allowlist_type("ast_module_load_result")
        .allowlist_type("pp_.*")
        .allowlist_var("PP_.*")
        .opaque_type("ast_tcptls_session_args")
        .opaque_type("ast_config")
        .opaque_type("ast_acl_list")
        .opaque_type("varshead")
        .opaque_type("ast_var_t")
        .opaque_type("ast_str")
        .rustified_enum("ast_phoneprov_std_variables")
        .constified_enum_module("__rlimit_resource")
        .constified_enum_module("ast_http_method")
        .constified_enum_module("ast_module_load_result")
        .constified_enum_module("ast_acl_sense")
        .constified_enum_module("ast_security_event_type")
        .constified_enum_module("ast_transport")
        .constified_enum_module("__socket_type")
        .constified_enum_module("pp_.*")
        // Zeroed C structures (addresses, times, requests) to fill in from Rust.
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .expect("bindgen could not read the Asterisk headers (is libclang-dev installed?)");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings");
}
