//! The accept backlog of Asterisk's HTTP server (`http_backlog` in phoneprov.conf).
//! Asterisk listens with a backlog of 10; when more phones connect at once (a building
//! powering up), the kernel drops the handshakes beyond it and those phones wait for TCP to
//! retry, a second or more (measured: 64 connections opened at once left p99 latencies of
//! 100-700 ms, each with listen-queue overflows; none without). The listening socket a
//! request came in on is raised once per port, never lowered.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::ffi::http::Request;
use crate::ffi::log;
use phoneprov_core::util::lock::lock;

#[derive(Default)]
pub struct Backlog {
    /// Ports whose listening socket was looked at.
    done: Mutex<Vec<u16>>,
    /// The last of them plus one (0: none), so that a request on it takes no lock.
    last: AtomicU32,
}

impl Backlog {
    /// Raises the backlog of the socket `req` came in on to `backlog` (0: leave it), the
    /// first time a request comes in on its port.
    pub fn ensure(&self, req: &Request, backlog: u32) {
        if backlog == 0 {
            return;
        }
        let port = req.local_port();
        let tag = u32::from(port) + 1;
        if port == 0 || self.last.load(Ordering::Relaxed) == tag {
            return;
        }
        let first = {
            let mut done = lock(&self.done);
            let first = !done.contains(&port);
            if first {
                done.push(port);
            }
            first
        };
        self.last.store(tag, Ordering::Relaxed);
        if !first {
            return;
        }
        match req.raise_listen_backlog(backlog) {
            Some((before, true)) => log::notice!(
                "HTTP server port {port}: accept backlog raised from {before} to {backlog} \
                 (phoneprov.conf http_backlog), so that phones connecting at once are not \
                 left waiting for TCP retries."
            ),
            Some((_, false)) => {}
            None => log::warning!(
                "HTTP server port {port}: its listening socket was not found; its accept \
                 backlog is left as it is."
            ),
        }
    }

    /// Looks at every port again on the next request (a reload: `http_backlog` may have
    /// changed, and Asterisk may have made its listening socket anew).
    pub fn forget(&self) {
        lock(&self.done).clear();
        self.last.store(0, Ordering::Relaxed);
    }
}
