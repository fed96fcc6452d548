//! `make install` (scripts/install.sh) below a fake root with its own dpkg database: the
//! package's stock module is diverted, not overwritten, and the diversion can be undone.
//! Nothing outside a temporary directory is touched (dpkg and dpkg-divert run with --root).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const MODDIR: &str = "usr/lib/x86_64-linux-gnu/asterisk/modules";
/// A stand-in for our module: uninstall recognises ours by its description.
const OURS: &str = "HTTP Phone Provisioning (Rust, test)";

fn have_dpkg() -> bool {
    Command::new("dpkg-divert")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A root holding Asterisk's directories; with `dpkg`, a database in which the package
/// `asterisk` owns the stock module.
fn fake_root(name: &str, dpkg: bool) -> Root {
    let root = std::env::temp_dir().join(format!("pp-install-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    for d in [MODDIR, "etc/asterisk", "usr/share/asterisk"] {
        fs::create_dir_all(root.join(d)).expect("dir");
    }
    fs::write(root.join(MODDIR).join("res_phoneprov.so"), "stock").expect("stock module");
    if dpkg {
        let db = root.join("var/lib/dpkg");
        fs::create_dir_all(db.join("info")).expect("dpkg dir");
        fs::create_dir_all(db.join("updates")).expect("dpkg dir");
        fs::write(
            db.join("status"),
            "Package: asterisk\nStatus: install ok installed\nArchitecture: amd64\n\
             Version: 1:22.10.1\nMaintainer: nobody\nDescription: test\n\n",
        )
        .expect("status");
        let mut list = String::from("/.\n");
        let mut dir = String::new();
        for part in MODDIR.split('/') {
            dir = format!("{dir}/{part}");
            list += &format!("{dir}\n");
        }
        list += &format!("/{MODDIR}/res_phoneprov.so\n");
        fs::write(db.join("info/asterisk.list"), list).expect("list");
    }
    Root(root)
}

fn install(root: &Path) -> String {
    let module = root.join("built.so");
    fs::write(&module, OURS).expect("module");
    run(root, &[module.to_str().expect("a UTF-8 path")])
}

/// scripts/install.sh with `args`, below `root`; what it printed (it must succeed).
fn run(root: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_MANIFEST_DIR").to_owned() + "/scripts/install.sh")
        .args(args)
        .env("DESTDIR", root)
        .env_remove("ASTMODDIR")
        .env_remove("ASTDATADIR")
        .env_remove("ASTETCDIR")
        .output()
        .expect("run install.sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text
}

fn read(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join(MODDIR).join(name)).unwrap_or_default()
}

#[test]
fn stock_module_of_a_package_is_diverted_and_can_come_back() {
    if !have_dpkg() {
        eprintln!("no dpkg-divert on this system: nothing to test");
        return;
    }
    let root = fake_root("pkg", true);
    let r = &root.0;
    let out = install(r);
    assert!(out.contains("diverted"), "{out}");
    assert_eq!(read(r, "res_phoneprov.so"), OURS);
    assert_eq!(read(r, "res_phoneprov.so.stock"), "stock");
    let target = format!("/{MODDIR}/res_phoneprov.so");
    let root_arg = format!("--root={}", r.display());
    let truename = Command::new("dpkg-divert")
        .args([&root_arg, "--truename", &target])
        .output()
        .expect("dpkg-divert");
    assert_eq!(
        String::from_utf8_lossy(&truename.stdout).trim(),
        format!("{target}.stock")
    );
    assert!(r.join("etc/asterisk/phoneprov.conf").is_file());
    assert!(r.join("usr/share/asterisk/phoneprov").is_dir());

    // Installing again (a new build) keeps the one diversion and replaces our file.
    let out = install(r);
    assert!(out.contains("already diverted"), "{out}");
    assert_eq!(read(r, "res_phoneprov.so.stock"), "stock");

    // make uninstall: ours goes, the stock file comes back, the configuration stays.
    let out = run(r, &["--uninstall"]);
    assert!(out.contains("uninstall: removed"), "{out}");
    assert!(out.contains("the stock module is back"), "{out}");
    assert_eq!(read(r, "res_phoneprov.so"), "stock");
    assert!(!r.join(MODDIR).join("res_phoneprov.so.stock").exists());
    assert!(r.join("etc/asterisk/phoneprov.conf").is_file());
    let listed = Command::new("dpkg-divert")
        .args([&root_arg, "--listpackage", &target])
        .output()
        .expect("dpkg-divert");
    assert!(listed.stdout.is_empty(), "{listed:?}");
    // Run again, it finds nothing of ours and leaves the stock module alone.
    let out = run(r, &["--uninstall"]);
    assert!(out.contains("is not this module: left alone"), "{out}");
    assert_eq!(read(r, "res_phoneprov.so"), "stock");
}

#[test]
fn no_diversion_without_a_package_database() {
    let root = fake_root("staging", false);
    let out = install(&root.0);
    assert!(!out.contains("divert"), "{out}");
    assert_eq!(read(&root.0, "res_phoneprov.so"), OURS);
    assert!(!root.0.join(MODDIR).join("res_phoneprov.so.stock").exists());
}
