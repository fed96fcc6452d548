//! The accept backlog of Asterisk's HTTP server (`http_backlog` in phoneprov.conf).
//! Asterisk listens with a backlog of 10; when more phones connect at once (a building
//! powering up), the kernel drops the handshakes beyond it and those phones wait for TCP to
//! retry, a second or more (measured: 64 connections opened at once left p99 latencies of
//! 100-700 ms, each with listen-queue overflows; none without). The listening socket a
//! request came in on is raised once per port, never lowered.
//!
//! Finding the listening sockets means asking the kernel about every descriptor number (up
//! to 65,536 system calls), so it is done at load and at reload, never on a request's
//! thread: a request only looks its local address up among the sockets found then. One not
//! found (a socket made since, by `module reload http` with a new address, say; or a
//! systemd-activated one that belongs to another process) is left as it is, with a warning,
//! until the next reload looks again: a rescan on a miss would cost every first request on
//! such a port those system calls, for a socket that is most often not there to find.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::ffi::http::{self as host_http, Listener, Request};
use crate::ffi::log;
use phoneprov_core::http::listen;
use phoneprov_core::util::lock::lock;

pub struct Backlog {
    /// Ports whose listening socket was looked at.
    done: Mutex<Vec<u16>>,
    /// The last of them plus one (0: none), so that a request on it takes no lock.
    last: AtomicU32,
    /// The process's listening sockets, as found at load or the last reload.
    listeners: Mutex<Vec<Listener>>,
}

impl Backlog {
    /// Looks for the process's listening sockets (at load, before requests come in).
    pub fn new() -> Backlog {
        Backlog {
            done: Mutex::new(Vec::new()),
            last: AtomicU32::new(0),
            listeners: Mutex::new(host_http::listening_sockets()),
        }
    }

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
        let found = req.local_addr().and_then(|local| {
            let listeners = lock(&self.listeners);
            listen::find(listeners.iter().map(|l| (l.addr, *l)), local)
        });
        match found.and_then(|l| l.raise_backlog(backlog)) {
            Some((before, true)) => log::notice!(
                "HTTP server port {port}: accept backlog raised from {before} to {backlog} \
                 (phoneprov.conf http_backlog), so that phones connecting at once are not \
                 left waiting for TCP retries."
            ),
            Some((_, false)) => {}
            None => log::warning!(
                "HTTP server port {port}: its listening socket was not found among those \
                 seen at load or the last reload; its accept backlog is left as it is (a \
                 reload of res_phoneprov looks again)."
            ),
        }
    }

    /// Looks at every port again on the next request, and for the listening sockets again
    /// (a reload: `http_backlog` may have changed, and Asterisk may have made its listening
    /// socket anew).
    pub fn forget(&self) {
        let found = host_http::listening_sockets();
        *lock(&self.listeners) = found;
        lock(&self.done).clear();
        self.last.store(0, Ordering::Relaxed);
    }
}
