//! The bench's own load client, for what wrk cannot do: answer HTTP Digest challenges. wrk
//! replays one fixed request, and the module accepts each nonce count once, so every
//! request needs a fresh `nc` and response hash.
//!
//! One thread per connection, HTTP/1.1 keep-alive on loopback, the same route fetched over
//! and over for a fixed time, every answer's status checked, like wrk. Under Digest, a
//! connection takes one challenge before the timed window opens, then answers every request
//! with that nonce and an increasing nonce count (qop=auth). The algorithm is MD5: what curl
//! and liblinphone answer with by default, though the module offers SHA-256 first.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};

/// The credentials to answer challenges with.
#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: String,
}

/// What one run saw, summed over its connections.
#[derive(Clone, Copy, Default, Debug)]
pub struct Outcome {
    /// Complete answers within the timed window, whatever their status (as wrk counts).
    pub responses: u64,
    /// Answers other than 200, and connections that failed or closed.
    pub failed: u64,
    pub seconds: f64,
}

impl Outcome {
    pub fn rps(&self) -> f64 {
        self.responses as f64 / self.seconds.max(1e-9)
    }
}

fn md5_hex(parts: &[&[u8]]) -> String {
    let digest = Md5::digest(parts.join(&b':'));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Digest challenge's parameters, from the `WWW-Authenticate` line offering MD5.
struct Challenge {
    realm: String,
    nonce: String,
}

fn param(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[start..];
    let value = match rest.strip_prefix('"') {
        Some(q) => &q[..q.find('"')?],
        None => rest.split([',', ' ']).next()?,
    };
    Some(value.to_owned())
}

struct Answer {
    status: u16,
    close: bool,
    challenge: Option<Challenge>,
}

struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn {
            addr,
            stream,
            buf: Vec::with_capacity(16 << 10),
        })
    }

    fn reopen(&mut self) -> io::Result<()> {
        *self = Conn::open(self.addr)?;
        Ok(())
    }

    /// Sends one request and reads its whole answer (Content-Length framed, as Asterisk
    /// frames every answer it sends).
    fn exchange(&mut self, request: &[u8]) -> io::Result<Answer> {
        let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
        self.stream.write_all(request)?;
        self.buf.clear();
        let mut chunk = [0u8; 16 << 10];
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("closed before the end of the headers"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let (mut length, mut close, mut challenge) = (None, false, None);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("Content-Length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("Connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("WWW-Authenticate")
                && value.contains("algorithm=MD5")
            {
                challenge = param(value, "realm")
                    .zip(param(value, "nonce"))
                    .map(|(realm, nonce)| Challenge { realm, nonce });
            }
        }
        let total = end + 4 + length.ok_or_else(|| bad("no Content-Length"))?;
        while self.buf.len() < total {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("closed before the end of the body"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(Answer {
            status,
            close,
            challenge,
        })
    }
}

/// One connection's Digest state: HA1 and HA2 are fixed for the run, so only the response
/// hash is computed per request, keeping the client's share of the two cores small.
struct DigestState {
    login: Login,
    path: String,
    realm: String,
    nonce: String,
    ha1: String,
    ha2: String,
    nc: u32,
}

impl DigestState {
    fn new(login: Login, path: &str, c: Challenge) -> DigestState {
        let ha1 = md5_hex(&[
            login.user.as_bytes(),
            c.realm.as_bytes(),
            login.password.as_bytes(),
        ]);
        let ha2 = md5_hex(&[b"GET", path.as_bytes()]);
        DigestState {
            login,
            path: path.to_owned(),
            realm: c.realm,
            nonce: c.nonce,
            ha1,
            ha2,
            nc: 0,
        }
    }

    fn renew(&mut self, c: Challenge) {
        *self = DigestState::new(self.login.clone(), &self.path, c);
    }

    fn header(&mut self, cnonce: &str) -> String {
        self.nc += 1;
        let nc = format!("{:08x}", self.nc);
        let response = md5_hex(&[
            self.ha1.as_bytes(),
            self.nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            b"auth",
            self.ha2.as_bytes(),
        ]);
        format!(
            "Authorization: Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", \
             algorithm=MD5, qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\"\r\n",
            self.login.user, self.realm, self.nonce, self.path
        )
    }
}

/// Fetches `path` over `conns` keep-alive connections for `seconds`, answering Digest
/// challenges with `login` when given.
pub fn run(
    addr: SocketAddr,
    path: &str,
    conns: u32,
    seconds: u32,
    login: Option<Login>,
) -> Outcome {
    let plain = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let ready = Arc::new(Barrier::new(conns as usize + 1));
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let (ready, plain, path, login) =
                (ready.clone(), plain.clone(), path.to_owned(), login.clone());
            thread::spawn(move || {
                let cnonce = format!("bench{i:04}");
                let mut failed = 0u64;
                // The challenge comes before the timed window: it is once per connection, not
                // per request, in a phone's life as here.
                let setup = Conn::open(addr).and_then(|mut conn| {
                    let digest = match login {
                        None => None,
                        Some(login) => {
                            let a = conn.exchange(plain.as_bytes())?;
                            let c = a.challenge.filter(|_| a.status == 401).ok_or_else(|| {
                                io::Error::other(format!("no MD5 challenge (status {})", a.status))
                            })?;
                            if a.close {
                                conn.reopen()?;
                            }
                            Some(DigestState::new(login, &path, c))
                        }
                    };
                    Ok((conn, digest))
                });
                ready.wait();
                let deadline = Instant::now() + Duration::from_secs(u64::from(seconds));
                let (mut conn, mut digest) = match setup {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("connection {i}: {e}");
                        return (0, 1, Instant::now());
                    }
                };
                let mut responses = 0u64;
                while Instant::now() < deadline {
                    let request = match &mut digest {
                        None => plain.clone(),
                        Some(d) => format!(
                            "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{}\r\n",
                            d.header(&cnonce)
                        ),
                    };
                    match conn.exchange(request.as_bytes()) {
                        Ok(a) => {
                            responses += 1;
                            if a.status != 200 {
                                failed += 1;
                                // A stale or forgotten nonce: carry on with the new one.
                                if let (Some(d), Some(c)) = (&mut digest, a.challenge) {
                                    d.renew(c);
                                }
                            }
                            if a.close {
                                failed += 1;
                                if conn.reopen().is_err() {
                                    break;
                                }
                            }
                        }
                        Err(_) => {
                            failed += 1;
                            thread::sleep(Duration::from_millis(10));
                            if conn.reopen().is_err() {
                                break;
                            }
                        }
                    }
                }
                (responses, failed, Instant::now())
            })
        })
        .collect();
    ready.wait();
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut last = start;
    for t in threads {
        let (responses, failed, ended) = t.join().expect("load thread");
        out.responses += responses;
        out.failed += failed;
        last = last.max(ended);
    }
    out.seconds = (last - start).as_secs_f64();
    out
}
