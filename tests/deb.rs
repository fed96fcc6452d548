//! `make deb`'s package, installed with dpkg into an overlay of the sandbox (the sandbox
//! itself is never changed): Asterisk then loads our module; removing the package brings the
//! stock module back.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::overlay::Overlay;
use common::{Builder, Impl};

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn build_deb() -> PathBuf {
    build_deb_version(None)
}

/// `make deb`'s package, versioned `version` when given.
fn build_deb_version(version: Option<&str>) -> PathBuf {
    let mut deb = Command::new(common::project_dir().join("scripts/deb.sh"));
    if let Some(v) = version {
        deb.env("PKG_VERSION", v);
    }
    let out = deb.output().expect("scripts/deb.sh");
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let path = said
        .split_whitespace()
        .find(|w| w.ends_with(".deb"))
        .unwrap_or_else(|| panic!("no package named in: {said}"));
    PathBuf::from(path)
}

fn description(root: &Path) -> String {
    let ast = Builder::new(Impl::Stock)
        .root(root)
        .conf("phoneprov.conf", "[p]\nstatic_file => s.txt\n")
        .start();
    ast.cli("module show like res_phoneprov")
}

#[test]
fn the_package_replaces_the_stock_module_and_gives_it_back() {
    let deb = build_deb();
    let Some(overlay) = Overlay::new() else {
        if std::env::var_os("CI").is_some() {
            panic!("overlay mounts are needed for the package test");
        }
        eprintln!("skipped: this machine cannot mount an overlay");
        return;
    };
    fs::copy(&deb, overlay.root().join("tmp/pkg.deb")).expect("copy the package");

    let installed = overlay.chroot(&["apt-get", "install", "-y", "/tmp/pkg.deb"]);
    let said = text(&installed);
    assert!(installed.status.success(), "{said}");
    assert!(
        said.contains("is diverted to res_phoneprov.so.stock"),
        "{said}"
    );
    let shown = description(&overlay.root());
    assert!(shown.contains("(Rust, "), "{shown}");
    let docs = overlay
        .root()
        .join("usr/share/doc/asterisk-res-phoneprov-rs/examples");
    assert!(docs.join("phoneprov.conf").exists());

    // Before it goes, the package says what the stock module will do with this
    // configuration.
    let etc = overlay.root().join("etc/asterisk");
    fs::create_dir_all(&etc).expect("etc");
    fs::write(
        etc.join("phoneprov.conf"),
        "[general]\ndefault_profile = p\n\n[p]\nauth = digest\n${MAC}.cfg => t.cfg\n",
    )
    .expect("phoneprov.conf");
    let removed = overlay.chroot(&["apt-get", "remove", "-y", "asterisk-res-phoneprov-rs"]);
    let said = text(&removed);
    assert!(removed.status.success(), "{said}");
    assert!(
        said.contains("serve the files of [p] to anyone: authentication (auth) is ignored"),
        "{said}"
    );
    assert!(said.contains("res_phoneprov.so is back"), "{said}");
    let shown = description(&overlay.root());
    assert!(shown.contains("res_phoneprov.so"), "{shown}");
    assert!(!shown.contains("Rust"), "{shown}");
    // The sandbox itself never saw any of it.
    assert!(!common::sandbox_root()
        .join("usr/share/doc/asterisk-res-phoneprov-rs")
        .exists());
}

/// An upgrade from one package version to the next keeps the diversion (the stock module
/// stays aside, ours in place) and the administrator's configuration; the package carries
/// its version, the Asterisk it was built for and a changelog.
#[test]
fn an_upgrade_keeps_the_diversion_and_the_configuration() {
    let first = build_deb_version(Some("0.1.0+1+ast22.10.1"));
    let fs_name = |p: &Path| p.file_name().expect("name").to_owned();
    let first_copy = std::env::temp_dir().join(format!("pp-first-{}.deb", std::process::id()));
    fs::copy(&first, &first_copy).expect("keep the first package");
    let second = build_deb_version(Some("0.1.0+2+ast22.10.1"));
    assert_ne!(fs_name(&first), fs_name(&second));
    let Some(overlay) = Overlay::new() else {
        if std::env::var_os("CI").is_some() {
            panic!("overlay mounts are needed for the package test");
        }
        eprintln!("skipped: this machine cannot mount an overlay");
        return;
    };
    fs::copy(&first_copy, overlay.root().join("tmp/first.deb")).expect("copy");
    fs::copy(&second, overlay.root().join("tmp/second.deb")).expect("copy");
    let _ = fs::remove_file(&first_copy);

    let installed = overlay.chroot(&["apt-get", "install", "-y", "/tmp/first.deb"]);
    assert!(installed.status.success(), "{}", text(&installed));
    let etc = overlay.root().join("etc/asterisk");
    fs::create_dir_all(&etc).expect("etc");
    let conf = "[general]\ndefault_profile = p\n\n[p]\nstatic_file => s.txt ; mine\n";
    fs::write(etc.join("phoneprov.conf"), conf).expect("phoneprov.conf");

    let upgraded = overlay.chroot(&["apt-get", "install", "-y", "/tmp/second.deb"]);
    let said = text(&upgraded);
    assert!(upgraded.status.success(), "{said}");
    let version = overlay.chroot(&[
        "dpkg-query",
        "-W",
        "-f=${Version} ${Depends}",
        "asterisk-res-phoneprov-rs",
    ]);
    let version = text(&version);
    assert!(
        version.starts_with("0.1.0+2+ast22.10.1 asterisk-abi-"),
        "{version}"
    );
    let diverted = text(&overlay.chroot(&["dpkg-divert", "--list", "*res_phoneprov*"]));
    assert!(
        diverted.contains("res_phoneprov.so.stock by asterisk-res-phoneprov-rs"),
        "{diverted}"
    );
    assert_eq!(
        fs::read_to_string(etc.join("phoneprov.conf")).expect("conf"),
        conf
    );
    let shown = description(&overlay.root());
    assert!(shown.contains("(Rust, "), "{shown}");
    assert!(overlay
        .root()
        .join("usr/share/doc/asterisk-res-phoneprov-rs/changelog.Debian.gz")
        .is_file());
}
