//! A bounded HTTP load generator for the stress tests: N client threads cycle through a
//! list of targets until stopped, and every answer is checked.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::http_raw;

/// One URL to fetch and the body it must return (None: any 200 body).
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub body: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub requests: u64,
    pub ok: u64,
    pub non_200: u64,
    pub wrong_body: u64,
    pub errors: u64,
    /// The first few problems, to print.
    pub problems: Vec<String>,
}

impl Stats {
    fn add(&mut self, other: Stats) {
        self.requests += other.requests;
        self.ok += other.ok;
        self.non_200 += other.non_200;
        self.wrong_body += other.wrong_body;
        self.errors += other.errors;
        let room = 10usize.saturating_sub(self.problems.len());
        self.problems.extend(other.problems.into_iter().take(room));
    }

    pub fn failures(&self) -> u64 {
        self.non_200 + self.wrong_body + self.errors
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Stats>>,
}

/// Hard limits, so a load never runs away: per client, at most this many requests.
const MAX_REQUESTS_PER_CLIENT: u64 = 200_000;

impl Load {
    /// Starts `clients` threads; each stops at `stop()` or after `limit`, whichever is first.
    pub fn start(targets: Vec<Target>, clients: usize, limit: Duration) -> Load {
        assert!(!targets.is_empty());
        let targets = Arc::new(targets);
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + limit;
        let threads = (0..clients)
            .map(|c| {
                let (targets, stop) = (targets.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut st = Stats::default();
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed)
                        && Instant::now() < deadline
                        && st.requests < MAX_REQUESTS_PER_CLIENT
                    {
                        let t = &targets[i % targets.len()];
                        i += clients;
                        st.requests += 1;
                        let req = format!(
                            "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                            t.path
                        );
                        let problem = match http_raw(t.addr, req.as_bytes()) {
                            Err(e) => {
                                st.errors += 1;
                                Some(format!("{} {}: {e}", t.addr, t.path))
                            }
                            Ok(r) if r.status != 200 => {
                                st.non_200 += 1;
                                Some(format!("{} {}: status {}", t.addr, t.path, r.status))
                            }
                            Ok(r) => match &t.body {
                                Some(b) if r.body != b.as_bytes() => {
                                    st.wrong_body += 1;
                                    Some(format!("{} {}: body {:?}", t.addr, t.path, r.text()))
                                }
                                _ => {
                                    st.ok += 1;
                                    None
                                }
                            },
                        };
                        if let Some(p) = problem {
                            if st.problems.len() < 10 {
                                st.problems.push(p);
                            }
                        }
                    }
                    st
                })
            })
            .collect();
        Load { stop, threads }
    }

    /// Stops the clients now and returns what they saw.
    pub fn stop(self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        self.finish()
    }

    /// Lets the clients run to their time limit and returns what they saw.
    pub fn finish(self) -> Stats {
        let total = Mutex::new(Stats::default());
        for t in self.threads {
            let st = t.join().expect("load thread");
            total.lock().expect("stats").add(st);
        }
        total.into_inner().expect("stats")
    }
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
