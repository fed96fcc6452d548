//! docs/quickstart.md, run as written: its `sh` blocks line by line (the build machine's in
//! the project directory, the Asterisk machine's as root in an overlay of the sandbox: Debian's
//! Asterisk package with its own /etc/asterisk), its users.conf block added to the office's
//! users.conf, against an Asterisk already running there with the stock module loaded. Only
//! the HTTP port differs (8088 becomes a free one), and `systemctl restart asterisk` is done
//! by the test (no systemd in the overlay). Then the phones' side: each phone's file
//! with its Digest credentials, and the Linphone enrollment URL the token command printed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::overlay::Overlay;
use common::{free_port, http_raw, project_dir};

/// The office before the quick start: Debian's users.conf with four users. The doc's
/// example section must be one of them, as written.
const OFFICE: [(&str, &str); 4] = [
    ("6001", "Ada Polycom"),
    ("6002", "Bob Yealink"),
    ("6003", "Cy Snom"),
    ("6004", "Di Linphone"),
];

fn office_users() -> String {
    OFFICE
        .iter()
        .map(|(user, name)| {
            format!("\n[{user}]\nfullname = {name}\nsecret = {user}-s3cret\nhassip = yes\n")
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the project's directory.
    Build,
    /// As root on the Asterisk machine (the overlay).
    Asterisk,
    /// Where the phones are (here: this machine, reaching the overlay's HTTP port).
    Phones,
}

enum Block {
    /// Commands, and where they run.
    Sh { place: Place, lines: Vec<String> },
    /// Lines to add to users.conf, by section (None: an example, not an instruction).
    Users(Option<Vec<(String, Vec<String>)>>),
}

/// The fenced blocks of the quick start, in order.
fn blocks(doc: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        match lang {
            "sh" => {
                let place = body.first().copied().unwrap_or_default();
                assert!(
                    place.starts_with("# "),
                    "a sh block says where it runs: {place}"
                );
                let place = if place.starts_with("# build machine") {
                    Place::Build
                } else if place.starts_with("# Asterisk machine") {
                    Place::Asterisk
                } else if place.starts_with("# the phones' network") {
                    Place::Phones
                } else {
                    panic!("a sh block says where it runs: {place}")
                };
                out.push(Block::Sh {
                    place,
                    lines: body[1..].iter().map(|l| (*l).to_owned()).collect(),
                });
            }
            "ini" if body.first() == Some(&"; /etc/asterisk/users.conf") => {
                let mut sections: Vec<(String, Vec<String>)> = Vec::new();
                for l in &body[1..] {
                    if let Some(name) = l.strip_prefix('[') {
                        sections.push((name.trim_end_matches(']').to_owned(), Vec::new()));
                    } else if !l.is_empty() {
                        sections
                            .last_mut()
                            .expect("a section")
                            .1
                            .push((*l).to_owned());
                    }
                }
                out.push(Block::Users(Some(sections)));
            }
            "ini" => {
                let example = body.join("\n");
                assert!(
                    office_users().contains(&example),
                    "the doc's example is the office's:\n{example}"
                );
                out.push(Block::Users(None));
            }
            other => panic!("unexpected block {other:?} in docs/quickstart.md"),
        }
    }
    out
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Debian's Asterisk, started in the overlay as its init script would (as root, its own
/// configuration), stopped when dropped.
struct Running {
    root: PathBuf,
    child: Child,
}

impl Running {
    fn start(root: &Path) -> Running {
        let running = Running {
            root: root.to_owned(),
            child: spawn(root),
        };
        running.wait_booted();
        running
    }

    fn wait_booted(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.rx("core waitfullybooted").status.success() {
            assert!(Instant::now() < deadline, "Asterisk did not boot");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn rx(&self, command: &str) -> Output {
        Command::new("chroot")
            .arg(&self.root)
            .args(["/usr/sbin/asterisk", "-rx", command])
            .output()
            .expect("asterisk -rx")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Running {
    /// What `systemctl restart asterisk` does: stop it, start it again.
    fn restart(&mut self) {
        self.stop();
        self.child = spawn(&self.root);
        self.wait_booted();
    }

    fn stop(&mut self) {
        let _ = self.rx("core stop now");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(root: &Path) -> Child {
    Command::new("chroot")
        .arg(root)
        .args(["/usr/sbin/asterisk", "-f", "-n"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("asterisk")
}

/// Adds `lines` to the section `[name]` of an Asterisk configuration file.
fn add_to_section(conf: &str, name: &str, lines: &[String]) -> String {
    let header = format!("[{name}]\n");
    let at = conf
        .find(&header)
        .unwrap_or_else(|| panic!("no [{name}] in users.conf"))
        + header.len();
    format!("{}{}\n{}", &conf[..at], lines.join("\n"), &conf[at..])
}

fn get(port: u16, path: &str, headers: &str) -> common::Response {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}\r\n"
    );
    http_raw(([127, 0, 0, 1], port).into(), req.as_bytes()).expect("GET")
}

#[test]
fn the_quick_start_runs_as_written() {
    let doc = fs::read_to_string(project_dir().join("docs/quickstart.md")).expect("quickstart");
    let blocks = blocks(&doc);
    let Some(overlay) = Overlay::new() else {
        if std::env::var_os("CI").is_some() {
            panic!("overlay mounts are needed for the quick-start test");
        }
        eprintln!("skipped: this machine cannot mount an overlay");
        return;
    };
    let root = overlay.root();
    let etc = root.join("etc/asterisk");
    for d in [
        "var/run/asterisk",
        "var/log/asterisk",
        "var/lib/asterisk",
        "root",
    ] {
        fs::create_dir_all(root.join(d)).expect("dir");
    }
    // The office's system: Debian's configuration as the package installs it (every module
    // autoloaded, the stock res_phoneprov among them), and its users.
    let users = fs::read_to_string(etc.join("users.conf")).expect("Debian's users.conf");
    fs::write(etc.join("users.conf"), users + &office_users()).expect("users.conf");
    let mut asterisk = Running::start(&root);
    let stock = text(&asterisk.rx("module show like res_phoneprov"));
    assert!(
        stock.contains("res_phoneprov.so") && !stock.contains("Rust"),
        "{stock}"
    );

    let port = free_port();
    let mut said = Vec::new();
    for block in &blocks {
        match block {
            Block::Sh {
                place: Place::Build,
                lines,
            } => {
                for line in lines {
                    let out = Command::new("sh")
                        .args(["-c", line])
                        .current_dir(project_dir())
                        .output()
                        .expect("sh");
                    let t = text(&out);
                    assert!(out.status.success(), "{line}:\n{t}");
                    let deb = t
                        .split_whitespace()
                        .find(|w| w.ends_with(".deb"))
                        .map(PathBuf::from);
                    if let Some(deb) = deb {
                        let name = deb.file_name().expect("a file name");
                        fs::copy(&deb, root.join("root").join(name)).expect("copy the package");
                    }
                }
            }
            Block::Sh { place, lines } => {
                for line in lines {
                    let line = line.replace("8088", &port.to_string());
                    if line == "systemctl restart asterisk" {
                        // No systemd in the overlay: the test's stand-in.
                        asterisk.restart();
                        continue;
                    }
                    let out = match place {
                        Place::Phones => Command::new("sh").args(["-c", &line]).output(),
                        _ => Command::new("chroot")
                            .arg(&root)
                            .args(["sh", "-c", &format!("cd /root && {line}")])
                            .env("DEBIAN_FRONTEND", "noninteractive")
                            .output(),
                    }
                    .expect("a shell");
                    let t = text(&out);
                    assert!(out.status.success(), "{line}:\n{t}");
                    said.push((line, t));
                }
            }
            Block::Users(Some(sections)) => {
                let mut conf = fs::read_to_string(etc.join("users.conf")).expect("users.conf");
                for (name, lines) in sections {
                    conf = add_to_section(&conf, name, lines);
                }
                fs::write(etc.join("users.conf"), conf).expect("users.conf");
            }
            Block::Users(None) => {}
        }
    }
    let output = |command: &str| -> &str {
        &said
            .iter()
            .find(|(line, _)| line.contains(command))
            .unwrap_or_else(|| panic!("the quick start runs {command}"))
            .1
    };

    let ours = text(&asterisk.rx("module show like res_phoneprov"));
    assert!(ours.contains("Rust"), "ours is loaded: {ours}");
    let phones = output("phoneprov show phones");
    for mac in [
        "0004f2a1b2c3",
        "805ec0a1b2c3",
        "000413a1b2c3",
        "5b1f0c9e7a2d4e8f9a3c6b1d",
    ] {
        assert!(phones.contains(mac), "{mac} in:\n{phones}");
    }
    // Each phone's file, fetched with its Digest credentials by curl, names its user; the
    // same file without credentials is refused.
    for (user, path) in [
        ("6001", "/phoneprov/0004f2a1b2c3-reg.cfg"),
        ("6002", "/phoneprov/805ec0a1b2c3.cfg"),
        ("6003", "/phoneprov/snom/000413A1B2C3.xml"),
    ] {
        let body = output(path);
        assert!(body.contains(user), "{path}:\n{body}");
        assert!(body.contains(&format!("{user}-s3cret")), "{path}:\n{body}");
        assert_eq!(
            get(port, path, "").status,
            401,
            "{path} without credentials"
        );
    }
    // The Linphone account's enrollment URL: served once, then gone.
    let token = output("phoneprov token");
    let url = token
        .lines()
        .find_map(|l| l.strip_prefix("Enrollment URL (single use): "))
        .unwrap_or_else(|| panic!("no URL in:\n{token}"));
    let path = &url[url.find("/phoneprov/").expect("a phoneprov URL")..];
    let first = get(port, path, "");
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(first.text().contains("6004"), "{}", first.text());
    assert_eq!(get(port, path, "").status, 410);
    drop(asterisk);
    drop(overlay);
}
