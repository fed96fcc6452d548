//! `make install` (scripts/install.sh) below a fake root with its own dpkg database: the
//! package's stock module is diverted, not overwritten, and the diversion can be undone; the
//! live configuration is never changed (samples go to the documentation directory), so the
//! phones served before are the phones served after. Nothing outside a temporary directory
//! is touched (dpkg and dpkg-divert run with --root).

mod common;

use common::{Builder, Impl};

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
    let (ok, text) = try_run(root, args, false);
    assert!(ok, "{text}");
    text
}

/// scripts/install.sh with `args`, below `root`, with no terminal (and FORCE=1 when
/// `force`): whether it succeeded, and what it printed.
fn try_run(root: &Path, args: &[&str], force: bool) -> (bool, String) {
    let out = Command::new(env!("CARGO_MANIFEST_DIR").to_owned() + "/scripts/install.sh")
        .args(args)
        .env("DESTDIR", root)
        .env("FORCE", if force { "1" } else { "" })
        .stdin(std::process::Stdio::null())
        .env_remove("ASTMODDIR")
        .env_remove("ASTDATADIR")
        .env_remove("ASTETCDIR")
        .output()
        .expect("run install.sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
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
    // The samples are documentation; the live configuration got none of them.
    let examples = r.join("usr/share/doc/asterisk-res-phoneprov-rs/examples");
    assert!(examples.join("phoneprov.conf").is_file());
    assert!(examples.join("phoneprov_users.conf").is_file());
    assert!(!r.join("etc/asterisk/phoneprov.conf").exists());
    assert!(!r.join("etc/asterisk/phoneprov_users.conf").exists());
    assert!(!r.join("usr/share/asterisk/phoneprov").exists());

    // Installing again (a new build) keeps the one diversion and replaces our file.
    let out = install(r);
    assert!(out.contains("already diverted"), "{out}");
    assert_eq!(read(r, "res_phoneprov.so.stock"), "stock");

    // make uninstall: ours goes with its samples, the stock file comes back, the
    // configuration stays.
    fs::write(r.join("etc/asterisk/phoneprov.conf"), "[p]\n").expect("configuration");
    let out = run(r, &["--uninstall"]);
    assert!(out.contains("uninstall: removed"), "{out}");
    assert!(out.contains("the stock module is back"), "{out}");
    assert_eq!(read(r, "res_phoneprov.so"), "stock");
    assert!(!r.join(MODDIR).join("res_phoneprov.so.stock").exists());
    assert!(r.join("etc/asterisk/phoneprov.conf").is_file());
    assert!(!examples.exists());
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

/// Every file below `dir`, with its contents.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push((path.clone(), fs::read(&path).expect("file")));
            }
        }
    }
    out.sort();
    out
}

const PHONEPROV: &str = "[general]\ndefault_profile = p\n\n[p]\n${MAC}.cfg => t.cfg\n";

/// An office as Asterisk 22 keeps it: its phones in users.conf.
fn office_users() -> String {
    (1..=3)
        .map(|i| {
            format!(
                "[desk{i}]\nusername = desk{i}\nautoprov = yes\nmacaddress = 0004f200000{i}\n\n"
            )
        })
        .collect()
}

#[test]
fn install_leaves_the_phones_served_as_they_were() {
    let root = fake_root("office", false);
    let r = &root.0;
    let etc = r.join("etc/asterisk");
    fs::write(etc.join("phoneprov.conf"), PHONEPROV).expect("phoneprov.conf");
    fs::write(etc.join("users.conf"), office_users()).expect("users.conf");
    let data = r.join("usr/share/asterisk/phoneprov");
    fs::create_dir_all(&data).expect("data dir");
    fs::write(data.join("t.cfg"), "${USERNAME}").expect("template");
    let (etc_before, data_before) = (tree(&etc), tree(&data));

    let out = install(r);
    assert!(out.contains("nothing in"), "{out}");
    assert_eq!(tree(&etc), etc_before, "install changed the configuration");
    assert_eq!(tree(&data), data_before, "install changed the templates");

    // Loaded with that configuration, the office's phones are the ones served.
    let ast = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            fs::read(etc.join("phoneprov.conf")).expect("conf"),
        )
        .conf(
            "users.conf",
            fs::read(etc.join("users.conf")).expect("users"),
        )
        .file("t.cfg", fs::read(data.join("t.cfg")).expect("template"))
        .start();
    for i in 1..=3 {
        let r = ast.get(&format!("/phoneprov/0004f200000{i}.cfg"));
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, format!("desk{i}").as_bytes())
        );
    }
    let status = ast.cli("phoneprov show status");
    assert!(status.contains("Users:   users.conf\n"), "{status}");
}

#[test]
fn both_users_files_say_which_one_is_read() {
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .conf("users.conf", office_users())
        .conf(
            "phoneprov_users.conf",
            "[lab]\nusername = lab\nautoprov = yes\nmacaddress = 0004f2000099\n",
        )
        .file("t.cfg", "${USERNAME}")
        .start();
    assert!(ast.log_has(
        "Phones are read from phoneprov_users.conf; users.conf exists too and is not read"
    ));
    let status = ast.cli("phoneprov show status");
    assert!(
        status.contains("Users:   phoneprov_users.conf (users.conf exists too and is not read)"),
        "{status}"
    );
    assert_eq!(ast.get("/phoneprov/0004f2000099.cfg").status, 200);
    assert_eq!(ast.get("/phoneprov/0004f2000001.cfg").status, 404);
}

#[test]
fn uninstall_says_what_the_stock_module_will_do_and_asks_first() {
    let root = fake_root("rollback", true);
    let r = &root.0;
    install(r);
    let etc = r.join("etc/asterisk");
    fs::write(
        etc.join("phoneprov.conf"),
        "[general]\ndefault_profile = p\nmiss_limit = 10\n\n[p]\nauth = digest\n\
         permit = 10.0.0.0/8\nuploads = ${MAC}-phone.cfg\nenroll_file = ${MAC}.cfg\n\
         ${MAC}.cfg => t.cfg\n",
    )
    .expect("phoneprov.conf");
    fs::write(
        etc.join("phoneprov_users.conf"),
        "[a]\nautoprov = yes\nmacaddress = 0004f2000001\n\n\
         [b]\nautoprov = yes\nmacaddress = 0004f2000002\n",
    )
    .expect("users");

    // No terminal to ask on and no FORCE: the report, and nothing changed.
    let (ok, said) = try_run(r, &["--uninstall"], false);
    assert!(!ok, "{said}");
    for expected in [
        "serve the files of [p] to anyone: authentication (auth) is ignored",
        "ignore the access lists (permit) of [p]",
        "answer 404 to every enrollment token URL",
        "refuse every upload (PUT) of [p]",
        "not rate-limit failed requests",
        "read this module's profile options",
        "serve none of the 2 phones of phoneprov_users.conf",
        "run again with FORCE=1",
        "nothing was changed",
    ] {
        assert!(said.contains(expected), "missing '{expected}' in:\n{said}");
    }
    assert_eq!(read(r, "res_phoneprov.so"), OURS);

    // FORCE=1: the same report, then the stock module comes back.
    let (ok, said) = try_run(r, &["--uninstall"], true);
    assert!(ok, "{said}");
    assert!(said.contains("authentication (auth) is ignored"), "{said}");
    assert!(said.contains("the stock module is back"), "{said}");
    assert_eq!(read(r, "res_phoneprov.so"), "stock");
    assert!(etc.join("phoneprov_users.conf").is_file());
}

#[test]
fn a_configuration_the_stock_module_serves_alike_goes_back_without_asking() {
    let root = fake_root("plain", true);
    let r = &root.0;
    install(r);
    fs::write(r.join("etc/asterisk/phoneprov.conf"), PHONEPROV).expect("conf");
    fs::write(r.join("etc/asterisk/users.conf"), office_users()).expect("users");
    let (ok, said) = try_run(r, &["--uninstall"], false);
    assert!(ok, "{said}");
    assert!(!said.contains("rollback:"), "{said}");
    assert_eq!(read(r, "res_phoneprov.so"), "stock");
}
