//! Built for the Asterisk it runs in: the module refuses to load, with an ERROR that names
//! both sets of build options and says what to do, in an Asterisk whose build options
//! differ from the headers it was built with; built with this Asterisk's headers, it loads
//! quietly and `phoneprov show status` names what it was built for.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::{project_dir, sandbox_root, Builder, Impl};

/// A build of the module against a copy of the sandbox's headers whose build options name
/// one more (the checksum left as it is: Asterisk's own loader would refuse a module whose
/// checksum differs before the module could say anything).
fn module_for_other_options() -> PathBuf {
    let include = project_dir().join("target/compat-include");
    let _ = fs::remove_dir_all(&include);
    fs::create_dir_all(&include).expect("include dir");
    let real = sandbox_root().join("usr/include");
    let copied = Command::new("cp")
        .arg("-rL")
        .arg(real.join("asterisk.h"))
        .arg(real.join("asterisk"))
        .arg(&include)
        .status()
        .expect("cp");
    assert!(copied.success());
    let buildopts = include.join("asterisk/buildopts.h");
    let text = fs::read_to_string(&buildopts).expect("buildopts.h");
    let changed: String = text
        .lines()
        .map(|l| match l.strip_prefix("#define AST_BUILDOPTS_ALL \"") {
            Some(rest) => format!("#define AST_BUILDOPTS_ALL \"NOT_THIS_ONE, {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(
        changed,
        text,
        "no AST_BUILDOPTS_ALL in {}",
        buildopts.display()
    );
    fs::write(&buildopts, changed).expect("write buildopts.h");

    let target = project_dir().join("target/compat");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(project_dir())
        .args(["build", "--release", "--target-dir"])
        .arg(&target)
        .env("ASTERISK_INCLUDE_DIR", &include)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("release/libres_phoneprov.so")
}

const PHONEPROV: &str = "[general]\ndefault_profile = p\n\n[p]\nstatic_file => s.txt\n";

#[test]
fn other_build_options_refuse_to_load_with_an_error_that_says_why() {
    let module = module_for_other_options();
    let ast = Builder::new(Impl::Rust)
        .our_module_file(&module)
        .conf("phoneprov.conf", PHONEPROV)
        .file("s.txt", "static")
        .start();
    assert!(
        ast.log_has("ERROR") && ast.log_has("was built for an Asterisk with the build options"),
        "{}",
        ast.log()
    );
    assert!(ast.log_has("\"NOT_THIS_ONE, "));
    assert!(ast.log_has("rebuild it with this Asterisk's headers"));
    assert_ne!(ast.get("/phoneprov/s.txt").status, 200);
    let show = ast.cli("module show like phoneprov");
    assert!(
        !show
            .lines()
            .any(|l| l.contains("Running") && !l.contains("Not Running")),
        "{show}"
    );
}

#[test]
fn built_for_this_asterisk_it_loads_quietly() {
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .file("s.txt", "static")
        .start();
    assert_eq!(ast.get("/phoneprov/s.txt").status, 200);
    assert!(!ast.log_has("was built for an Asterisk"));
    assert!(!ast.log_has("was built with the headers of Asterisk"));
    let status = ast.cli("phoneprov show status");
    let version = ast.cli("core show version");
    let built = status
        .lines()
        .find_map(|l| l.strip_prefix("Built:   for Asterisk "))
        .unwrap_or_else(|| panic!("{status}"));
    let (v, options) = built.split_once(" (").expect("version (options)");
    assert!(version.contains(v), "{v} in {version}");
    assert!(options.contains("OPTIONAL_API"), "{options}");
}
