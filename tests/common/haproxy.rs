//! A real HAProxy (Debian's `haproxy`, installed by `make haproxy`) in front of test nodes:
//! round robin, an HTTP health check on a static file, and its admin socket to take a node
//! out and put it back. Runs in the foreground on a free loopback port; killed on drop.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, http_raw};

pub struct Haproxy {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
}

const BIN: &str = "/usr/sbin/haproxy";

impl Haproxy {
    /// Balances over `servers` (name, address), checking each with `GET check_path` every
    /// 100 ms (down after 2 failures, up after 2 successes; a check may take 2 s, as a busy
    /// test machine needs: the default would be the 100 ms interval). Returns once every
    /// server is up.
    pub fn start(servers: &[(&str, SocketAddr)], check_path: &str) -> Haproxy {
        assert!(
            std::path::Path::new(BIN).exists(),
            "{BIN} is missing: run `make haproxy` (apt-get install haproxy)"
        );
        let dir =
            std::env::temp_dir().join(format!("pphaproxy-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("haproxy dir");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let mut cfg = format!(
            "global\n    maxconn 512\n    stats socket {}/admin.sock mode 600 level admin\n\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 20s\n\
             \x20   timeout server 20s\n    timeout check 2s\n    retries 3\n\
             \x20   option redispatch\n\n\
             frontend phones\n    bind {addr}\n    default_backend nodes\n\n\
             backend nodes\n    balance roundrobin\n    option httpchk GET {check_path}\n\
             \x20   http-check expect status 200\n    default-server inter 100ms fall 2 rise 2\n",
            dir.display()
        );
        for (name, server) in servers {
            cfg += &format!("    server {name} {server} check\n");
        }
        std::fs::write(dir.join("haproxy.cfg"), cfg).expect("haproxy.cfg");
        let child = Command::new(BIN)
            .arg("-db")
            .arg("-f")
            .arg(dir.join("haproxy.cfg"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("haproxy.log")).expect("log"))
            .spawn()
            .expect("run haproxy");
        let lb = Haproxy { child, dir, addr };
        for (name, _) in servers {
            lb.wait_state(name, "UP");
        }
        lb
    }

    /// A command on the admin socket; its answer.
    pub fn admin(&self, command: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut s = loop {
            match UnixStream::connect(self.dir.join("admin.sock")) {
                Ok(s) => break s,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "admin socket: {e}\n{}",
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        s.write_all(format!("{command}\n").as_bytes())
            .expect("admin write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("admin read");
        out
    }

    /// A field of `show stat` for the server `name` of the backend ("status", "scur"...).
    pub fn stat(&self, name: &str, field: &str) -> String {
        let out = self.admin("show stat");
        let mut lines = out.lines();
        let head: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = head
            .iter()
            .position(|h| *h == field)
            .unwrap_or_else(|| panic!("no field {field}: {out}"));
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&"nodes") && f.get(1) == Some(&name))
            .and_then(|f| f.get(col).map(|v| (*v).to_owned()))
            .unwrap_or_else(|| panic!("no server {name}: {out}"))
    }

    /// Waits (bounded) until the server's status starts with `state` (UP, MAINT, DOWN).
    pub fn wait_state(&self, name: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = self.stat(name, "status");
            if now.starts_with(state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server {name} not {state} within 15 s: {now}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Takes `name` out (no new requests) and waits until the requests it had are done.
    pub fn drain(&self, name: &str) {
        self.admin(&format!("set server nodes/{name} state maint"));
        self.wait_state(name, "MAINT");
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.stat(name, "scur") != "0" {
            assert!(
                Instant::now() < deadline,
                "server {name} still busy after 15 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Puts `name` back and waits until its health check says it is up.
    pub fn ready(&self, name: &str) {
        self.admin(&format!("set server nodes/{name} state ready"));
        self.wait_state(name, "UP");
    }

    /// `GET path` through the balancer.
    pub fn get(&self, path: &str) -> super::Response {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        http_raw(self.addr, req.as_bytes()).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
