//! The shipped fail2ban filter and jail, run by the real fail2ban (Debian's package, which
//! `make test` installs with scripts/fail2ban.sh) against the security.log of a real
//! Asterisk (issue 24): a client who writes forged lines bans nobody but itself, and ten
//! wrong passwords from one address ban that address.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{project_dir, Asterisk, Builder, Impl};
use phoneprov_core::access::auth::base64_encode;

/// An address no test client uses: the one the attacker wants banned.
const VICTIM: &str = "192.0.2.77";

const CONF: &str = "\
[general]
default_profile = basic

[basic]
auth = basic
auth_basic_plain = yes
${MAC}.cfg => phone.cfg

[dig]
auth = digest
${MAC}.cfg => phone.cfg
";

const USERS: &str = "\
[bb]
autoprov = yes
macaddress = 000000000003
profile = basic
secret = pw-bb

[dd]
autoprov = yes
macaddress = 000000000004
profile = dig
secret = pw-dd
";

fn start() -> Asterisk {
    Builder::new(Impl::Rust)
        .bindaddr("::")
        .module("res_security_log")
        .conf("phoneprov.conf", CONF)
        .conf("phoneprov_users.conf", USERS)
        .conf(
            "logger.conf",
            "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n\
             security.log => security\n",
        )
        .file("phone.cfg", "user=${USERNAME} secret=${SECRET}\n")
        .start()
}

fn basic(user: &str, pw: &str) -> String {
    let token = base64_encode(format!("{user}:{pw}").as_bytes());
    format!("Authorization: Basic {token}\r\n")
}

/// A private fail2ban server: its own configuration (the shipped filter and jail, a jail.local
/// pointing them at `log`, an action that appends each ban to a file), socket, pid file and
/// database, in a temporary directory; stopped on drop.
struct Fail2ban {
    dir: PathBuf,
    child: Child,
}

impl Fail2ban {
    fn start(log: &Path) -> Fail2ban {
        assert!(
            Command::new("fail2ban-server")
                .arg("--version")
                .output()
                .is_ok(),
            "fail2ban-server is missing: run scripts/fail2ban.sh (make test does)"
        );
        let dir = std::env::temp_dir().join(format!("pp-f2b-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["filter.d", "action.d", "jail.d"] {
            fs::create_dir_all(dir.join(sub)).expect("fail2ban dir");
        }
        let shipped = project_dir().join("asterisk-conf/fail2ban");
        // The shipped filter includes Debian's common.conf (the prefix of a log line).
        fs::copy(
            "/etc/fail2ban/filter.d/common.conf",
            dir.join("filter.d/common.conf"),
        )
        .expect("Debian's common.conf");
        for f in [
            "filter.d/asterisk-phoneprov.conf",
            "jail.d/asterisk-phoneprov.conf",
        ] {
            fs::copy(shipped.join(f), dir.join(f)).expect("shipped fail2ban file");
        }
        let d = dir.display();
        fs::write(
            dir.join("fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/fail2ban.log\n\
                 socket = {d}/fail2ban.sock\npidfile = {d}/fail2ban.pid\n\
                 dbfile = {d}/fail2ban.sqlite3\ndbpurgeage = 1d\n"
            ),
        )
        .expect("fail2ban.conf");
        fs::write(
            dir.join("action.d/record.conf"),
            format!("[Definition]\nactionban = echo <ip> >> {d}/bans\nactionunban =\n"),
        )
        .expect("action");
        // jail.conf's defaults; jail.local overrides the shipped jail only where a test must:
        // its log, the recording action, and no exemption for this host's own addresses
        // (the test's clients are on loopback).
        fs::write(
            dir.join("jail.conf"),
            "[DEFAULT]\nbackend = polling\nmaxretry = 5\nfindtime = 600\nbantime = 600\n",
        )
        .expect("jail.conf");
        fs::write(
            dir.join("jail.local"),
            format!(
                "[asterisk-phoneprov]\nlogpath = {}\naction = record\nignoreself = false\n\
                 ignoreip =\n",
                log.display()
            ),
        )
        .expect("jail.local");
        let child = Command::new("fail2ban-server")
            .args(["-f", "-x", "-c"])
            .arg(&dir)
            .arg("-s")
            .arg(dir.join("fail2ban.sock"))
            .arg("-p")
            .arg(dir.join("fail2ban.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fail2ban-server");
        let f2b = Fail2ban { dir, child };
        f2b.wait_for("the jail to start", || {
            f2b.client(&["status", "asterisk-phoneprov"])
                .contains("Currently banned")
        });
        f2b
    }

    fn client(&self, args: &[&str]) -> String {
        let out = Command::new("fail2ban-client")
            .arg("-c")
            .arg(&self.dir)
            .arg("-s")
            .arg(self.dir.join("fail2ban.sock"))
            .args(args)
            .output()
            .expect("fail2ban-client");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The addresses the jail bans now, as fail2ban-client reports them.
    fn banned(&self) -> Vec<String> {
        let status = self.client(&["status", "asterisk-phoneprov"]);
        status
            .lines()
            .find_map(|l| l.split_once("Banned IP list:"))
            .map(|(_, ips)| ips.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Every ban the action recorded, in order.
    fn bans(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("bans"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Polls `done` for up to 60 s (fail2ban polls the log once a second).
    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "fail2ban: no {what} within 60 s; its log:\n{}",
                fs::read_to_string(self.dir.join("fail2ban.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Fail2ban {
    fn drop(&mut self) {
        let _ = self.client(&["stop"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A security event line for `VICTIM`, in the field order res_security_log writes.
fn forged_event(event: &str) -> String {
    format!(
        "SecurityEvent=\"{event}\",EventTV=\"2026-01-01T00-00-00.000+0000\",Severity=\"Error\",\
         Service=\"phoneprov\",EventVersion=\"2\",AccountID=\"x\",SessionID=\"x\",\
         LocalAddress=\"IPV4/TCP/127.0.0.1/8088\",RemoteAddress=\"IPV4/TCP/{VICTIM}/5060\""
    )
}

/// Lines of `path` that an attacker wrote: a line Asterisk writes starts with its
/// timestamp, and names the victim only inside an escaped value (`\x22` for each quote).
fn forged_lines(path: &Path) -> Vec<String> {
    let field = format!("Address=\"IPV4/TCP/{VICTIM}/");
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('[') || l.contains(&field))
        .map(str::to_owned)
        .collect()
}

#[test]
fn forged_lines_ban_nobody_but_the_attacker_and_wrong_passwords_ban() {
    let ast = start();
    let log = ast.dir.join("log/security.log");
    // res_security_log opens the file at the first event: one challenge makes it.
    assert_eq!(
        ast.get_at("::1", "/phoneprov/000000000003.cfg", "").status,
        401
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.exists() {
        assert!(Instant::now() < deadline, "no security.log");
        std::thread::sleep(Duration::from_millis(50));
    }
    let f2b = Fail2ban::start(&log);

    // The attacker, from 127.0.0.1. A Basic user name holding line breaks: each line after
    // the first is a whole event of the victim's.
    let lines: String = (0..10)
        .map(|_| format!("\n{}", forged_event("InvalidPassword")))
        .collect();
    // A user name that closes AccountID early and supplies its own RemoteAddress.
    let quoted = format!(
        "x\",SessionID=\"x\",LocalAddress=\"IPV4/TCP/127.0.0.1/8088\",\
         RemoteAddress=\"IPV4/TCP/{VICTIM}/5060"
    );
    let uri = "/phoneprov/000000000003.cfg";
    for _ in 0..3 {
        let r = ast.get_at("127.0.0.1", uri, &basic(&format!("x{lines}"), "p"));
        assert_eq!(r.status, 401);
        let r = ast.get_at("127.0.0.1", uri, &basic(&quoted, "p"));
        assert_eq!(r.status, 401);
        // The same through Digest, whose quoted user name may hold `\"`.
        let digest = format!(
            "Authorization: Digest username=\"{}\", realm=\"phoneprov\", nonce=\"n\", \
             uri=\"/phoneprov/000000000004.cfg\", response=\"00\", qop=auth, nc=00000001, \
             cnonce=\"c\"\r\n",
            quoted.replace('"', "\\\"")
        );
        ast.get_at("127.0.0.1", "/phoneprov/000000000004.cfg", &digest);
        // The User-Agent and the URI (a decoded %0a) of a scan for MACs.
        let agent = format!(
            "User-Agent: Yealink SIP-T46S 66.86.0.15 \"{}\r\n",
            forged_event("FailedACL")
        );
        ast.get_at("127.0.0.1", "/phoneprov/00000000abcd.cfg", &agent);
        let path = format!(
            "/phoneprov/00000000abce%0a{}.cfg",
            forged_event("InvalidAccountID")
                .replace('"', "%22")
                .replace(' ', "%20")
        );
        ast.get_at("127.0.0.1", &path, &agent);
    }

    // Ten real wrong passwords, from ::1.
    for _ in 0..10 {
        let r = ast.get_at("::1", uri, &basic("bb", "wrong"));
        assert_eq!(r.status, 401);
    }
    // The log is read in order: once ::1 is banned, every line before is counted.
    f2b.wait_for("ban of ::1", || f2b.banned().iter().any(|ip| ip == "::1"));

    let bans = f2b.bans();
    let victim_bans = bans.iter().filter(|ip| *ip == VICTIM).count();
    let forged = forged_lines(&log);
    let forged_messages = forged_lines(&ast.dir.join("log/messages.log"));
    println!(
        "bans: {bans:?}; victim bans: {victim_bans}; forged lines written: {} (security.log) + {} \
         (messages.log)",
        forged.len(),
        forged_messages.len()
    );
    assert!(
        forged.is_empty(),
        "forged lines in security.log:\n{}",
        forged.join("\n")
    );
    assert!(
        forged_messages.is_empty(),
        "forged lines in messages.log:\n{}",
        forged_messages.join("\n")
    );
    assert_eq!(victim_bans, 0, "the victim was banned: {bans:?}");
    for ip in &bans {
        assert!(ip == "::1" || ip == "127.0.0.1", "banned {ip}: {bans:?}");
    }
}
