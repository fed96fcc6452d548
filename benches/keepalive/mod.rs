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
    let mut out = Vec::with_capacity(32);
    hex_into(&mut out, &Md5::digest(parts.join(&b':')));
    String::from_utf8(out).expect("hex digits")
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

/// One connection's Digest state. Everything but the nonce count and the response is fixed
/// for the run, so a request is a prepared prefix, eight hex digits, one MD5 over a few dozen
/// bytes from a prepared hash state, and a prepared suffix: the client's share of the two cores
/// it shares with Asterisk stays close to what it is without Digest, and the row measures the
/// server.
struct DigestState {
    login: Login,
    path: String,
    cnonce: String,
    /// The request up to the nonce count's value.
    head: Vec<u8>,
    /// MD5 over `HA1:nonce:`.
    hashed: Md5,
    /// `:cnonce:auth:HA2`, hashed after the nonce count.
    tail: Vec<u8>,
    nc: u32,
    request: Vec<u8>,
}

fn hex_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.extend([DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
    }
}

impl DigestState {
    fn new(login: Login, path: &str, host: &str, cnonce: &str, c: Challenge) -> DigestState {
        let ha1 = md5_hex(&[
            login.user.as_bytes(),
            c.realm.as_bytes(),
            login.password.as_bytes(),
        ]);
        let ha2 = md5_hex(&[b"GET", path.as_bytes()]);
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Digest username=\"{}\", \
             realm=\"{}\", nonce=\"{}\", uri=\"{path}\", algorithm=MD5, qop=auth, \
             cnonce=\"{cnonce}\", nc=",
            login.user, c.realm, c.nonce
        );
        let mut hashed = Md5::new();
        hashed.update(format!("{ha1}:{}:", c.nonce));
        DigestState {
            login,
            path: path.to_owned(),
            cnonce: cnonce.to_owned(),
            head: head.into_bytes(),
            hashed,
            tail: format!(":{cnonce}:auth:{ha2}").into_bytes(),
            nc: 0,
            request: Vec::new(),
        }
    }

    fn renew(&mut self, host: &str, c: Challenge) {
        *self = DigestState::new(self.login.clone(), &self.path, host, &self.cnonce, c);
    }

    /// The next request, with a fresh nonce count.
    fn request(&mut self) -> &[u8] {
        self.nc += 1;
        let nc = self.nc.to_be_bytes();
        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(&self.head);
        let at = r.len();
        hex_into(r, &nc);
        let mut h = self.hashed.clone();
        h.update(&r[at..]);
        h.update(&self.tail);
        r.extend_from_slice(b", response=\"");
        hex_into(r, &h.finalize());
        r.extend_from_slice(b"\"\r\n\r\n");
        &self.request
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
    let host = addr.to_string();
    let plain = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let ready = Arc::new(Barrier::new(conns as usize + 1));
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let (ready, plain, path, login, host) = (
                ready.clone(),
                plain.clone(),
                path.to_owned(),
                login.clone(),
                host.clone(),
            );
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
                            Some(DigestState::new(login, &path, &host, &cnonce, c))
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
                        None => plain.as_bytes(),
                        Some(d) => d.request(),
                    };
                    match conn.exchange(request) {
                        Ok(a) => {
                            responses += 1;
                            if a.status != 200 {
                                failed += 1;
                                // A stale or forgotten nonce: carry on with the new one.
                                if let (Some(d), Some(c)) = (&mut digest, a.challenge) {
                                    d.renew(&host, c);
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
