//! A real Linphone client for the integration suite: `linphonec` of Debian trixie's
//! `linphone-cli` (liblinphone 5.3), in the root `scripts/linphone-root.sh` makes, driven with
//! `linphonecsh`; and a wire tap that records the HTTP requests as they reach Asterisk.
//!
//! Each client runs under a user id of its own: linphonec's command pipe is
//! `/tmp/linphonec-<uid>` inside the root, so two clients of the same uid would share it.
//!
//! # How liblinphone 5.3 answers an HTTP digest challenge during remote provisioning
//!
//! Measured with this root's liblinphone 5.3.105 at `-d 6` against a digest stand-in (see the
//! report of the branch `linphone`); what the served files and the module's `auth = digest`
//! must allow for:
//!
//! - The provisioning GET carries `X-Linphone-Provisioning: 1` and `User-Agent: Unknown` (the
//!   rc's `user_agent` is not used for it), no credentials. On a 401 it retries once, on the
//!   same connection, with `Authorization: Digest realm=…, username=…, qop=auth, nc=00000001`
//!   (log: `linphone_core_find_auth_info(): returning auth info username=6050, realm=`).
//! - Which credentials: the request has no From, so only the challenge's realm and algorithm
//!   select an `auth_info_N`: first one whose `realm=` equals the challenge's realm (several
//!   such: none), else the first `auth_info_N` of the rc whatever its username and domain. The
//!   `auth_info_0` of our Linphone template (username, passwd, domain, no realm) is therefore
//!   what answers the next fetch: the served file must carry the HTTP credentials as its first
//!   auth section (they are the line's USERNAME/SECRET unless HTTP_USERNAME/HTTP_SECRET are
//!   set; if those differ, serve them in an extra `auth_info_N` with `realm=` the profile's
//!   `auth_realm`: measured, the realm step picks it even when it is not the first
//!   (`returning auth info username=httpuser, realm=phoneprov`), and SIP keeps its own).
//! - Algorithms: with one WWW-Authenticate per algorithm it answers the first one listed that
//!   it knows (SHA-256 first → SHA-256; MD5 first → MD5). List SHA-256 first.
//! - Wrong credentials: one authenticated retry, then it gives up for this start and keeps its
//!   previous configuration; no prompt (linphonec does not ask for HTTP passwords).
//! - No auth_info at all (a fresh client): belle-sip logs `No auth info found for request
//!   [...], cannot authenticate` and provisioning fails: a first fetch needs no digest (an
//!   enrollment token URL) or a pre-seeded `auth_info_0`.
//! - Applying a file replaces every `auth_info_N` with the file's, and keeps `[misc]
//!   config-uri`, so the next start fetches the same URL with the served credentials.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::project_dir;

/// The trixie root holding linphone-cli, made by `scripts/linphone-root.sh` if it is missing.
/// Err says why it could not be made (the test then skips).
pub fn root() -> Result<PathBuf, String> {
    let base = std::env::var_os("PHONEPROV_LINPHONE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir().join(".sandbox/linphone"));
    let root = base.join("root");
    let ready = || base.join(".complete").exists() && root.join("usr/bin/linphonec").exists();
    if ready() {
        return Ok(root);
    }
    // `make test` made it already; a bare `cargo test` makes it here (about a minute).
    let out = Command::new(project_dir().join("scripts/linphone-root.sh"))
        .output()
        .map_err(|e| format!("cannot run scripts/linphone-root.sh: {e}"))?;
    if ready() {
        return Ok(root);
    }
    Err(format!(
        "scripts/linphone-root.sh did not make {} ({}):\n{}{}",
        root.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Runs a command with a deadline: killed when it outlives it (a hung linphonecsh must not
/// hang the suite).
fn output_within(mut cmd: Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + limit;
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().ok()
}

/// A running linphonec (`--pipe`, the daemon `linphonecsh init` starts), with its own
/// directory inside the root: HOME, the rc file it applies provisioning to, and its log.
pub struct Linphone {
    root: PathBuf,
    /// The directory as seen from outside the root.
    pub dir: PathBuf,
    /// The same directory as linphonec sees it.
    inner: String,
    uid: u32,
    child: Option<Child>,
}

impl Linphone {
    /// Writes `rc` as the client's configuration file and starts it.
    pub fn start(root: &Path, rc: &str) -> Linphone {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst) as u32;
        let uid = 20_000 + (std::process::id() % 1000) * 32 + n % 32;
        let name = format!("pplinphone-{}-{n}", std::process::id());
        let inner = format!("/tmp/{name}");
        let dir = root.join("tmp").join(&name);
        let _ = fs::remove_dir_all(&dir);
        // liblinphone keeps its databases there and fails to start without it.
        fs::create_dir_all(dir.join("home/.local/share/linphone")).expect("linphone home");
        fs::write(dir.join("rc"), rc).expect("rc file");
        for entry in walk(&dir) {
            std::os::unix::fs::chown(&entry, Some(uid), Some(uid)).expect("chown");
        }
        let mut l = Linphone {
            root: root.to_owned(),
            dir,
            inner,
            uid,
            child: None,
        };
        l.spawn();
        l
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("chroot");
        c.arg(format!("--userspec={0}:{0}", self.uid))
            .arg(&self.root)
            .arg("env")
            .arg(format!("HOME={}/home", self.inner))
            // PulseAudio's client leaves its runtime folder there instead of the root's /tmp.
            .arg(format!("TMPDIR={}", self.inner))
            .arg(format!("XDG_RUNTIME_DIR={}", self.inner))
            .arg(program);
        c
    }

    fn spawn(&mut self) {
        // A pipe left by a killed client would make the new one's creation fail.
        let _ = fs::remove_file(self.root.join(format!("tmp/linphonec-{}", self.uid)));
        let out = fs::File::create(self.dir.join("stdout.log")).expect("stdout log");
        let child = self
            .command("linphonec")
            .args(["--pipe", "-c", &format!("{}/rc", self.inner), "-d", "6"])
            .args(["-l", &format!("{}/linphone.log", self.inner)])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("start linphonec under chroot (tests run as root)");
        self.child = Some(child);
        // Ready when its command pipe answers.
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.csh(&["generic", "status register"]).is_none() {
            assert!(
                self.is_running(),
                "linphonec exited at start:\n{}",
                self.log_tail()
            );
            assert!(
                Instant::now() < deadline,
                "linphonec did not answer within 20 s:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the client and starts it again on the rc file it has written (a phone's restart).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `linphonecsh ARGS` against this client: what linphonec answered, None when it could
    /// not be reached. The exit status says nothing more (`linphonecsh status register` exits
    /// non-zero once registered).
    pub fn csh(&self, args: &[&str]) -> Option<String> {
        let mut c = self.command("linphonecsh");
        c.args(args);
        let out = output_within(c, Duration::from_secs(10))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (!text.trim().is_empty() || args == ["exit"]).then_some(text)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The configuration file as liblinphone last wrote it.
    pub fn rc(&self) -> String {
        fs::read_to_string(self.dir.join("rc")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(self.dir.join("linphone.log")).unwrap_or_default();
        s += &fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        s
    }

    /// The log lines that tell what happened to provisioning and registration (the whole log
    /// at -d 6 is thousands of lines of codecs and sound cards).
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| {
                !l.contains("odec")
                    && !l.contains("alsa")
                    && !l.contains("encoder")
                    && !l.contains("soundcard")
            })
            .collect();
        format!(
            "----- last lines of the linphonec log ({}) -----\n{}\n----- end -----",
            self.dir.display(),
            lines[lines.len().saturating_sub(80)..].join("\n")
        )
    }

    /// `linphonecsh exit`, then a kill if it has not ended within 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = self.csh(&["exit"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if matches!(child.try_wait(), Ok(None)) {
            eprintln!("linphonec ignored `linphonecsh exit` for 10 s: killed");
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_owned()];
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// `key=value` of `[section]` in an INI text such as liblinphone's rc.
pub fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = "";
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name;
        } else if current == section {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    return Some(v.trim().to_owned());
                }
            }
        }
    }
    None
}

/// One HTTP request as it reached the server, and the status the server answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub head: String,
    pub status: Option<u16>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

#[derive(Default)]
struct Conn {
    up: Vec<u8>,
    down: Vec<u8>,
}

/// A TCP relay in front of Asterisk's HTTP port that keeps the bytes of both directions: what
/// the client really sent, headers included, and what it was answered. It forwards bytes
/// unchanged, so Asterisk and the client talk to each other as they would directly.
pub struct Tap {
    pub addr: SocketAddr,
    conns: Arc<Mutex<Vec<Arc<Mutex<Conn>>>>>,
    stop: Arc<AtomicBool>,
}

impl Tap {
    pub fn start(upstream: SocketAddr) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("tap listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("tap address");
        let conns: Arc<Mutex<Vec<Arc<Mutex<Conn>>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (conns.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let conn = Arc::new(Mutex::new(Conn::default()));
                        c.lock().expect("tap lock").push(conn.clone());
                        std::thread::spawn(move || relay(client, upstream, conn));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Tap { addr, conns, stop }
    }

    /// Every request so far, in order, with the status answered to it (None: not answered yet).
    pub fn seen(&self) -> Vec<Seen> {
        let conns = self.conns.lock().expect("tap lock");
        let mut out = Vec::new();
        for conn in conns.iter() {
            let conn = conn.lock().expect("conn lock");
            let heads = messages(&conn.up);
            let statuses: Vec<u16> = messages(&conn.down)
                .iter()
                .filter_map(|h| h.split(' ').nth(1)?.parse().ok())
                .collect();
            for (i, head) in heads.into_iter().enumerate() {
                out.push(Seen {
                    head,
                    status: statuses.get(i).copied(),
                });
            }
        }
        out
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The heads of the HTTP messages in a byte stream, skipping bodies by Content-Length.
fn messages(mut bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        out.push(head);
        bytes = &bytes[(end + 4 + len).min(bytes.len())..];
    }
    out
}

fn relay(client: TcpStream, upstream: SocketAddr, conn: Arc<Mutex<Conn>>) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        return;
    };
    let pipe = |mut from: TcpStream, mut to: TcpStream, up: bool, conn: Arc<Mutex<Conn>>| {
        // Bounded: a silent connection ends after 30 s.
        let _ = from.set_read_timeout(Some(Duration::from_secs(30)));
        let mut buf = [0u8; 16384];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            {
                let mut c = conn.lock().expect("conn lock");
                let side = if up { &mut c.up } else { &mut c.down };
                side.extend_from_slice(&buf[..n]);
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    };
    let (c2, s2, conn2) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
        conn.clone(),
    );
    let t = std::thread::spawn(move || pipe(c2, s2, true, conn2));
    pipe(server, client, false, conn);
    let _ = t.join();
}
