//! Integration harness: starts a real Asterisk from the project's sandbox (under chroot),
//! with a private configuration, data, run and log directory, a free HTTP port, and only
//! the modules a test asks for plus res_phoneprov (ours, or the stock C one to compare).
//! Asterisk is always stopped, even when a test panics; its log is printed on failure, and
//! an Asterisk that died during the test or at its shutdown fails the test.
#![allow(dead_code)]

pub mod ami;
pub mod digest;
pub mod haproxy;
pub mod linphone;
pub mod load;
pub mod overlay;
pub mod postgres;
pub mod realtime;
pub mod samples;
pub mod tftp;
pub mod xml;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const STOCK_MODULES: &str = "/usr/lib/x86_64-linux-gnu/asterisk/modules";

/// What res_pjsip_phoneprov_provider needs loaded before it.
pub const PJSIP_MODULES: [&str; 6] = [
    "res_pjproject",
    "res_sorcery_config",
    "res_sorcery_memory",
    "res_sorcery_astdb",
    "res_http_websocket",
    "res_pjsip",
];

/// Which res_phoneprov.so to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Rust,
    Stock,
}

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sandbox_root() -> PathBuf {
    let sandbox = std::env::var_os("PHONEPROV_SANDBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir().join(".sandbox"));
    let root = sandbox.join("root");
    assert!(
        root.join("usr/sbin/asterisk").exists(),
        "no Asterisk sandbox at {}: run `make sandbox` (integration tests run as root)",
        root.display()
    );
    root
}

pub fn our_module() -> PathBuf {
    let m = std::env::var_os("PHONEPROV_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir().join("target/release/libres_phoneprov.so"));
    assert!(m.exists(), "{} is missing: run `make` first", m.display());
    m
}

/// Ports a database of this test process was given, kept out of [`free_port`]'s answers even
/// while it is stopped: a test that stops its database expects connections to it refused,
/// not held for 30 s by another test's Asterisk HTTP server bound to the port meanwhile.
static RESERVED_PORTS: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

pub fn reserve_port(port: u16) {
    let mut reserved = RESERVED_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    if !reserved.contains(&port) {
        reserved.push(port);
    }
}

/// A port nobody uses right now (TCP and UDP, every address), and no database of this
/// process was given. Below the kernel's ephemeral range (32768 and up by default): a port
/// from there may become the source port of any outgoing connection (a test opening
/// thousands of them) between this answer and the bind of the Asterisk that gets it.
pub fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    // Processes that run at once start at different places.
    let start = std::process::id().wrapping_mul(7_919);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(LOW + start.wrapping_add(n) % SPAN).expect("below 32,000");
        if RESERVED_PORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&port)
        {
            continue;
        }
        let free = |any: &str| {
            TcpListener::bind((any, port)).is_ok() && std::net::UdpSocket::bind((any, port)).is_ok()
        };
        // [::] covers IPv4 too (dual stack); a host without IPv6 is asked for IPv4 alone.
        let ipv6 = std::net::UdpSocket::bind("[::1]:0").is_ok();
        if (ipv6 && free("::")) || (!ipv6 && free("0.0.0.0")) {
            return port;
        }
    }
}

/// The failregex of the shipped fail2ban filter, `<HOST>` as the group `host`.
pub fn failregex() -> regex::Regex {
    let filter = fs::read_to_string(
        project_dir().join("asterisk-conf/fail2ban/filter.d/asterisk-phoneprov.conf"),
    )
    .expect("filter");
    let failregex = filter
        .lines()
        .find_map(|l| l.strip_prefix("failregex = "))
        .expect("failregex");
    regex::Regex::new(&failregex.replace("<HOST>", "(?P<host>[0-9a-fA-F:.]+)"))
        .expect("the filter's regex compiles")
}

/// What of a security.log line the failregex is applied to: fail2ban's prefregex leaves
/// the event from `SecurityEvent=` on (tests/fail2ban.rs runs the whole filter).
pub fn security_event(line: &str) -> &str {
    &line[line.find("SecurityEvent=").expect("an event")..]
}

/// A test's Asterisk, before it starts. In configuration files, `@SIP_ADDR@` becomes a
/// loopback address of this instance's own.
pub struct Builder {
    imp: Impl,
    preload: Vec<String>,
    modules: Vec<String>,
    conf: BTreeMap<String, Vec<u8>>,
    data: BTreeMap<String, Vec<u8>>,
    bindaddr: String,
    our_file: Option<PathBuf>,
    root: Option<PathBuf>,
    system_name: Option<String>,
}

impl Builder {
    pub fn new(imp: Impl) -> Self {
        Builder {
            imp,
            preload: Vec::new(),
            modules: Vec::new(),
            conf: BTreeMap::new(),
            data: BTreeMap::new(),
            bindaddr: "127.0.0.1".into(),
            our_file: None,
            root: None,
            system_name: None,
        }
    }

    /// asterisk.conf's `systemname`: a node's name in a cluster.
    pub fn system_name(mut self, name: &str) -> Self {
        self.system_name = Some(name.to_owned());
        self
    }

    /// Runs Asterisk in another root than the sandbox (a copy of it where packages were
    /// installed); `Impl::Stock` then loads whatever that root's res_phoneprov.so is.
    pub fn root(mut self, root: &Path) -> Self {
        self.root = Some(root.to_owned());
        self
    }

    /// Loads this build of our module instead of [`our_module`].
    pub fn our_module_file(mut self, path: &Path) -> Self {
        self.our_file = Some(path.to_owned());
        self
    }

    /// Loads a stock module too (name without `.so`).
    pub fn module(mut self, name: &str) -> Self {
        self.modules.push(name.to_owned());
        self
    }

    /// Loads a stock module before every other one (`preload =>`), as an administrator does
    /// for modules whose functions must exist while res_phoneprov loads.
    pub fn preload(mut self, name: &str) -> Self {
        self.preload.push(name.to_owned());
        self
    }

    /// A file in the configuration directory. Bytes, so that files in other encodings than
    /// UTF-8 reach Asterisk as written.
    pub fn conf(mut self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        self.conf
            .insert(name.to_owned(), contents.as_ref().to_owned());
        self
    }

    /// A file below `AST_DATA_DIR/phoneprov/`.
    pub fn file(mut self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        self.data
            .insert(name.to_owned(), contents.as_ref().to_owned());
        self
    }

    pub fn bindaddr(mut self, addr: &str) -> Self {
        self.bindaddr = addr.to_owned();
        self
    }

    pub fn start(self) -> Asterisk {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let root = self.root.clone().unwrap_or_else(sandbox_root);
        // This instance's own number: two tests that start at once must not share an address.
        let instance = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("pptest-{}-{}", std::process::id(), instance);
        let inner = PathBuf::from("/tmp").join(&name);
        let dir = root.join("tmp").join(&name);
        let _ = fs::remove_dir_all(&dir);
        for sub in ["etc", "mod", "lib", "data/phoneprov", "spool", "run", "log"] {
            fs::create_dir_all(dir.join(sub)).expect("test directory");
        }
        let port = free_port();
        // A loopback address of its own for anything else that listens (pjsip's 5060).
        let n = instance as u32 + std::process::id() * 64;
        let own_addr = format!(
            "127.{}.{}.{}",
            1 + (n >> 16) % 250,
            (n >> 8) % 256,
            1 + n % 250
        );
        let d = |sub: &str| inner.join(sub).display().to_string();
        let asterisk_conf = format!(
            "[directories]\nastetcdir => {}\nastmoddir => {}\nastvarlibdir => {}\n\
             astdbdir => {}\nastkeydir => {}\nastdatadir => {}\nastagidir => {}\n\
             astspooldir => {}\nastrundir => {}\nastlogdir => {}\nastsbindir => /usr/sbin\n\
             [options]\nmaxload = 0\n",
            d("etc"),
            d("mod"),
            d("lib"),
            d("lib"),
            d("lib"),
            d("data"),
            d("data"),
            d("spool"),
            d("run"),
            d("log")
        );
        let mut asterisk_conf = asterisk_conf;
        if let Some(name) = &self.system_name {
            asterisk_conf += &format!("systemname = {name}\n");
        }
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        files.insert("asterisk.conf".into(), asterisk_conf.into());
        let mut modules_conf = String::from("[modules]\nautoload = no\n");
        for m in &self.preload {
            modules_conf += &format!("preload => {m}.so\n");
        }
        for m in &self.modules {
            modules_conf += &format!("load => {m}.so\n");
        }
        modules_conf += "load => res_phoneprov.so\n";
        files.insert("modules.conf".into(), modules_conf.into());
        files.insert(
            "http.conf".into(),
            // Asterisk refuses connections past `sessionlimit` (100) open sessions: on a loaded
            // machine the threads of closed connections can linger past that while 16
            // clients reconnect for each request, and the load tests would count Asterisk's
            // refusals as our failures.
            format!(
                "[general]\nenabled = yes\nbindaddr = {}\nbindport = {port}\nsessionlimit = 1000\n",
                self.bindaddr
            )
            .into(),
        );
        files.insert(
            "logger.conf".into(),
            b"[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n".to_vec(),
        );
        files.extend(
            self.conf
                .into_iter()
                .map(|(k, v)| (k, replace_bytes(&v, b"@SIP_ADDR@", own_addr.as_bytes()))),
        );
        // Asterisk needs its XML documentation (Stasis will not start without it).
        std::os::unix::fs::symlink(
            "/usr/share/asterisk/documentation",
            dir.join("data/documentation"),
        )
        .expect("documentation link");
        for (name, text) in &files {
            fs::write(dir.join("etc").join(name), text).expect("config file");
        }
        for (name, contents) in &self.data {
            let path = dir.join("data/phoneprov").join(name);
            fs::create_dir_all(path.parent().expect("has a parent")).expect("data dir");
            fs::write(path, contents).expect("data file");
        }
        for m in self.preload.iter().chain(&self.modules) {
            std::os::unix::fs::symlink(
                format!("{STOCK_MODULES}/{m}.so"),
                dir.join("mod").join(format!("{m}.so")),
            )
            .expect("module link");
        }
        let ours = dir.join("mod/res_phoneprov.so");
        match self.imp {
            Impl::Rust => {
                let file = self.our_file.clone().unwrap_or_else(our_module);
                fs::copy(file, &ours).expect("copy our module");
            }
            Impl::Stock => {
                std::os::unix::fs::symlink(format!("{STOCK_MODULES}/res_phoneprov.so"), &ours)
                    .expect("stock module link");
            }
        }
        let conf = inner.join("etc/asterisk.conf").display().to_string();
        let child = spawn(&root, &dir, &conf);
        let mut ast = Asterisk {
            imp: self.imp,
            root,
            dir,
            conf,
            port,
            bindaddr: self.bindaddr,
            sip_addr: own_addr,
            child: Some(child),
        };
        ast.wait_ready();
        ast
    }
}

/// Starts Asterisk in the instance's directory (its output appended to stdout.log).
fn spawn(root: &Path, dir: &Path, conf: &str) -> Child {
    let stdout = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stdout.log"))
        .expect("stdout log");
    Command::new("chroot")
        .arg(root)
        .args(["/usr/sbin/asterisk", "-C", conf, "-f", "-n", "-q"])
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().expect("dup"))
        .stderr(stdout)
        .spawn()
        .expect("start asterisk under chroot (tests run as root)")
}

/// `text` with every `from` replaced by `to`, byte for byte.
fn replace_bytes(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// A running Asterisk. Dropping it stops it, and fails the test unless Asterisk was still
/// running and then exited normally (see [`Asterisk::stop`]).
pub struct Asterisk {
    pub imp: Impl,
    root: PathBuf,
    pub dir: PathBuf,
    conf: String,
    pub port: u16,
    bindaddr: String,
    /// The loopback address `@SIP_ADDR@` stands for in this instance's configuration.
    pub sip_addr: String,
    child: Option<Child>,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The header block as received: `headers` is decoded lossily.
    pub head: Vec<u8>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A header's value as sent, byte for byte (leading blanks cut).
    pub fn raw_header(&self, name: &str) -> Option<&[u8]> {
        self.head.split(|&b| b == b'\n').skip(1).find_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            let value = &line[colon + 1..];
            let blanks = value
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
                .then_some(&value[blanks..])
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one raw HTTP request and reads the whole answer (the request asks to close).
pub fn http_raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.write_all(request)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> std::io::Result<Response> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim_start().to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        head: buf[..end].to_vec(),
        body: buf[end + 4..].to_vec(),
    })
}

/// Reads one answer's head (status line and headers) from a connection that stays open,
/// byte by byte so that nothing of the body or of the next answer is taken.
pub fn read_head(s: &mut TcpStream) -> Response {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).expect("read answer");
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    parse_response(&buf).expect("answer")
}

impl Asterisk {
    pub fn addr(&self) -> SocketAddr {
        let ip: std::net::IpAddr = match self.bindaddr.as_str() {
            "0.0.0.0" => "127.0.0.1".parse().expect("ip"),
            "::" => "::1".parse().expect("ip"),
            a => a.parse().expect("bindaddr is an address"),
        };
        SocketAddr::new(ip, self.port)
    }

    /// A connection to the HTTP port for requests written by hand, reads giving up after
    /// 10 s.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }

    /// The HTTP port at another local address (for listeners on 0.0.0.0 or ::).
    pub fn addr_at(&self, ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("an IP address"), self.port)
    }

    /// `METHOD /path` with optional extra header lines.
    pub fn request(&self, method: &str, path: &str, extra_headers: &str) -> Response {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n{extra_headers}\r\n",
            self.port
        );
        http_raw(self.addr(), req.as_bytes()).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, "")
    }

    /// `method` of `path` from the loopback address `ip` (an IPv4 address of 127.0.0.0/8,
    /// or an IPv6 address of `lo`), one request per connection.
    pub fn request_at(&self, ip: &str, method: &str, path: &str, headers: &str) -> Response {
        self.send_at(ip, method, path, headers, b"")
    }

    /// [`Asterisk::request_at`] with a body (`headers` say how long it is).
    pub fn send_at(
        &self,
        ip: &str,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Response {
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_owned()
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}:{}\r\nConnection: close\r\n{headers}\r\n",
            self.port
        )
        .into_bytes();
        req.extend_from_slice(body);
        http_raw(self.addr_at(ip), &req).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// [`Asterisk::request_at`] of a GET.
    pub fn get_at(&self, ip: &str, path: &str, headers: &str) -> Response {
        self.request_at(ip, "GET", path, headers)
    }

    /// The path of a new enrollment token, `args` as `phoneprov token` takes them (the MAC,
    /// then a lifetime).
    pub fn token(&self, args: &str) -> String {
        let out = self.cli(&format!("phoneprov token {args}"));
        let at = out
            .find("/phoneprov/enroll/")
            .unwrap_or_else(|| panic!("{out}\n{}", self.log_tail()));
        out[at..]
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// Runs a CLI command through `asterisk -rx` and returns what it printed.
    pub fn cli(&self, command: &str) -> String {
        String::from_utf8_lossy(&self.cli_raw(command)).into_owned()
    }

    /// What a CLI command printed, as bytes (values in other encodings than UTF-8).
    pub fn cli_raw(&self, command: &str) -> Vec<u8> {
        Command::new("chroot")
            .arg(&self.root)
            .args(["/usr/sbin/asterisk", "-C", &self.conf, "-rx", command])
            .output()
            .expect("asterisk -rx")
            .stdout
    }

    /// Writes a file of the configuration directory (for reload tests).
    pub fn write_conf(&self, name: &str, contents: impl AsRef<[u8]>) {
        fs::write(self.dir.join("etc").join(name), contents).expect("write config");
    }

    pub fn remove_conf(&self, name: &str) {
        let _ = fs::remove_file(self.dir.join("etc").join(name));
    }

    /// Rewrites http.conf with `extra` lines in [general] and reloads Asterisk's HTTP
    /// server; with `tls`, also an HTTPS listener (a self-signed certificate made for it)
    /// on a port of its own, which is returned.
    pub fn reconfigure_http(&self, extra: &str, tls: bool) -> Option<u16> {
        let mut conf = format!(
            "[general]\nenabled = yes\nbindaddr = {}\nbindport = {}\nsessionlimit = 1000\n{extra}",
            self.bindaddr, self.port
        );
        let tls_port = tls.then(|| {
            let cert = self.dir.join("etc/pp.pem");
            let made = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .args(["-subj", "/CN=127.0.0.1", "-keyout"])
                .arg(&cert)
                .arg("-out")
                .arg(&cert)
                .output()
                .expect("openssl");
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
            let port = free_port();
            // The path as Asterisk sees it, inside the sandbox's root.
            let inner = format!(
                "/tmp/{}/etc/pp.pem",
                self.dir.file_name().expect("name").to_string_lossy()
            );
            conf += &format!(
                "tlsenable = yes\ntlsbindaddr = 127.0.0.1:{port}\ntlscertfile = {inner}\n\
                 tlsprivatekey = {inner}\n"
            );
            port
        });
        self.write_conf("http.conf", conf);
        self.cli("module reload http");
        tls_port
    }

    /// Writes a file below `AST_DATA_DIR/phoneprov/`.
    pub fn write_file(&self, name: &str, contents: impl AsRef<[u8]>) {
        let path = self.dir.join("data/phoneprov").join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        fs::write(path, contents).expect("write data file");
    }

    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(self.dir.join("log/messages.log")).unwrap_or_default();
        s += &fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        s
    }

    /// Whether the log holds `text`, waiting up to 5 s for Asterisk's logger thread (it
    /// writes asynchronously) to catch up.
    pub fn log_has(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.log().contains(text) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id of Asterisk (for memory readings).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// This instance's module file (replace it between unload and load to upgrade).
    pub fn module_file(&self) -> PathBuf {
        self.dir.join("mod/res_phoneprov.so")
    }

    /// Whether this instance's res_phoneprov.so is still mapped into Asterisk (also after the
    /// file was replaced: the kernel then lists the old image as deleted).
    pub fn module_mapped(&self) -> bool {
        let maps = fs::read_to_string(format!("/proc/{}/maps", self.pid())).expect("maps");
        let name = self.dir.file_name().expect("named").to_string_lossy();
        let file = format!("{name}/mod/res_phoneprov.so");
        maps.lines().any(|l| l.contains(file.as_str()))
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                self.is_running(),
                "Asterisk exited during start-up:\n{}",
                self.log()
            );
            if self.cli("core waitfullybooted").contains("fully booted")
                && TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1)).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Asterisk did not come up within 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops Asterisk and fails the test unless it had kept running until now and then
    /// exited normally: a crash during the test, or one in our module's unload (which
    /// `core stop now` runs), must not go unnoticed.
    /// Stops Asterisk (which must end cleanly) and starts it again in the same directory:
    /// its configuration, data and astdb are kept, as across a real restart.
    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(spawn(&self.root, &self.dir, &self.conf));
        self.wait_ready();
    }

    pub fn stop(&mut self) {
        if let Some(problem) = self.stop_unchecked().problem() {
            panic!("{problem}\n{}", self.log_tail());
        }
    }

    /// Stops Asterisk if it still runs and says how it ended, without judging: for tests
    /// that expect it to die.
    pub fn stop_unchecked(&mut self) -> Ending {
        let Some(mut child) = self.child.take() else {
            return Ending::default();
        };
        let was_running = matches!(child.try_wait(), Ok(None));
        let mut killed = false;
        if was_running {
            let _ = Command::new("chroot")
                .arg(&self.root)
                .args([
                    "/usr/sbin/asterisk",
                    "-C",
                    &self.conf,
                    "-rx",
                    "core stop now",
                ])
                .output();
            let deadline = Instant::now() + Duration::from_secs(15);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            killed = matches!(child.try_wait(), Ok(None)) && child.kill().is_ok();
        }
        Ending {
            was_running,
            killed,
            status: child.wait().ok(),
        }
    }

    /// Hands the Asterisk process over (to signal it, say): from then on the test waits for
    /// it, and neither `stop` nor dropping this looks at it.
    pub fn take_process(&mut self) -> Child {
        self.child.take().expect("the process was not taken yet")
    }

    /// The last lines of the log, enough to see why Asterisk died.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "----- last lines of the Asterisk log ({:?}, {}) -----\n{}\n----- end of log -----",
            self.imp,
            self.dir.display(),
            lines[lines.len().saturating_sub(60)..].join("\n")
        )
    }
}

/// How an Asterisk process ended.
#[derive(Debug, Default)]
pub struct Ending {
    /// Whether it still ran when it was told to stop.
    pub was_running: bool,
    /// Whether it ignored `core stop now` for 15 s and was killed.
    pub killed: bool,
    /// None when the process had been handed over or stopped already.
    pub status: Option<ExitStatus>,
}

impl Ending {
    /// What went wrong, if anything: Asterisk found dead, hung at shutdown, killed by a
    /// signal, dumped core, or exited with a failure code.
    pub fn problem(&self) -> Option<String> {
        use std::os::unix::process::ExitStatusExt;
        let status = self.status?;
        if !self.was_running {
            return Some(format!(
                "Asterisk had died before the test stopped it: {status}"
            ));
        }
        if self.killed {
            return Some("Asterisk did not stop within 15 s of `core stop now`".to_owned());
        }
        if status.core_dumped() || status.signal().is_some() || !status.success() {
            return Some(format!(
                "Asterisk did not exit normally at `core stop now`: {status}"
            ));
        }
        None
    }
}

impl Drop for Asterisk {
    fn drop(&mut self) {
        let ending = self.stop_unchecked();
        if std::thread::panicking() {
            // The test failed already: its log says why; a second panic would abort.
            eprintln!(
                "----- Asterisk log ({:?}, {}) -----\n{}\n----- end of log -----",
                self.imp,
                self.dir.display(),
                self.log()
            );
            return;
        }
        if let Some(problem) = ending.problem() {
            panic!("{problem}\n{}", self.log_tail());
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Path helper for files a test wants to look at directly.
pub fn data_path(ast: &Asterisk, name: &str) -> PathBuf {
    ast.dir.join("data/phoneprov").join(Path::new(name))
}

/// The figures of the "Last reload" line of `phoneprov show status`: total, config API, ours.
pub fn reload_split(status: &str) -> Option<(f64, f64, f64)> {
    let line = status.lines().find(|l| l.starts_with("Last reload:"))?;
    let ms: Vec<f64> = line
        .split(" ms")
        .filter_map(|part| part.rsplit(' ').next()?.parse().ok())
        .collect();
    match ms[..] {
        [total, api, ours] => Some((total, api, ours)),
        _ => None,
    }
}
