//! The TFTP server's sockets and threads: one thread reads requests on the listening socket;
//! each read request gets a thread and a socket of its own (its own port, RFC 1350's
//! transfer identifier), connected to the client so the kernel drops other senders' packets.
//! All are threads of the module's own (`ffi::thread`), told to stop and joined before the
//! library can be unmapped.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ffi::log;
use crate::ffi::poll::{readable, writable};
use crate::ffi::thread::{self, Thread};
use phoneprov_core::tftp::options::{negotiate, MAX_BLKSIZE};
use phoneprov_core::tftp::packet::{self, ErrorCode, Incoming, Malformed, Mode, Request};
use phoneprov_core::tftp::transfer::{Source, Step, Transfer};
use phoneprov_core::util::lock::lock;

/// How often a waiting thread looks at the stop flag.
const TICK: Duration = Duration::from_millis(100);

/// How long a transfer polls for the client's next ACK before it sleeps: lockstep TFTP is
/// all round trips, and a client on the LAN answers within tens of microseconds, about what
/// waking a sleeping thread costs. Only while few transfers run (see `spin_allowed`), and
/// only for a client that answered that fast the last time.
const SPIN: Duration = Duration::from_micros(150);

/// A read request the module answers: the body to send, or the error.
pub struct Ask<'a> {
    /// The name as the client sent it.
    pub name: &'a [u8],
    pub mode: Mode,
    /// An IPv4 client of a dual-stack socket as IPv4.
    pub peer: SocketAddr,
    /// The local address the transfer's socket sends from.
    pub local: IpAddr,
}

pub type Refusal = (ErrorCode, &'static str);

/// What the module does with requests (see `files.rs`).
pub trait Handler: Send + Sync + 'static {
    /// What the module keeps of a request while its transfer runs.
    type Served: Send;
    /// The body to send, or the error to answer with.
    fn answer(&self, ask: &Ask<'_>) -> Result<(Source, Self::Served), Refusal>;
    /// The transfer ended: the body's bytes the client acknowledged, None when it did not
    /// finish.
    fn finished(&self, ask: &Ask<'_>, served: Self::Served, acked: Option<usize>);
}

/// A running listener; dropping it stops and joins every thread.
pub struct Listener {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<Thread>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.join();
        }
    }
}

/// Binds `addr` (all addresses: IPv6 and IPv4 when the system has IPv6) and starts serving.
pub fn start<H: Handler>(
    bind: Option<IpAddr>,
    port: u16,
    max_transfers: usize,
    handler: H,
) -> std::io::Result<Listener> {
    let socket = match bind {
        Some(ip) => UdpSocket::bind((ip, port))?,
        None => UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port))
            .or_else(|_| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)))?,
    };
    socket.set_read_timeout(Some(TICK))?;
    let addr = socket.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = Server {
        socket,
        bind,
        stop: stop.clone(),
        max_transfers,
        handler: Arc::new(handler),
        transfers: Mutex::new(Vec::new()),
        live: Arc::new(AtomicUsize::new(0)),
    };
    let thread = thread::spawn(move || server.run())
        .ok_or_else(|| std::io::Error::other("no thread could be made for the TFTP listener"))?;
    Ok(Listener {
        addr,
        stop,
        thread: Some(thread),
    })
}

struct Running {
    done: Arc<AtomicBool>,
    thread: Thread,
}

struct Server<H> {
    socket: UdpSocket,
    bind: Option<IpAddr>,
    stop: Arc<AtomicBool>,
    max_transfers: usize,
    handler: Arc<H>,
    transfers: Mutex<Vec<Running>>,
    live: Arc<AtomicUsize>,
}

impl<H: Handler> Server<H> {
    fn run(self) {
        let mut buf = vec![0u8; 2048];
        while !self.stop.load(Ordering::Acquire) {
            let Ok((n, peer)) = self.socket.recv_from(&mut buf) else {
                // A timeout (to look at the stop flag), or an error worth no more.
                self.reap(false);
                continue;
            };
            self.reap(false);
            // Every error answered here is no longer than what asked for it: the listening
            // port is no amplifier for a forged source address.
            let answer = |code, message: &str| self.reply_within(peer, code, message, n);
            match packet::parse(&buf[..n]) {
                Ok(Incoming::Request(req)) if req.write => {
                    answer(ErrorCode::AccessViolation, "Read only")
                }
                Ok(Incoming::Request(req)) => self.begin(req, peer),
                // An ACK or ERROR for no transfer of this port (RFC 1350's unknown TID): an
                // answer would be larger than a 4-byte ACK, so none.
                Ok(_) | Err(Malformed::Garbage) => {}
                Err(Malformed::Mode) => answer(ErrorCode::IllegalOperation, "Bad mode"),
                Err(Malformed::Fields) => answer(ErrorCode::IllegalOperation, "Malformed"),
            }
        }
        self.reap(true);
    }

    /// Joins the transfers that ended (all of them, told to stop, when `all`).
    fn reap(&self, all: bool) {
        let mut transfers = lock(&self.transfers);
        let (ended, running): (Vec<Running>, Vec<Running>) = std::mem::take(&mut *transfers)
            .into_iter()
            .partition(|r| all || r.done.load(Ordering::Acquire));
        *transfers = running;
        drop(transfers);
        for r in ended {
            r.thread.join();
        }
    }

    fn reply(&self, peer: SocketAddr, code: ErrorCode, message: &str) {
        let _ = self.socket.send_to(&packet::error(code, message), peer);
    }

    /// [`Server::reply`] no longer than the `asked` bytes that called for it: without its
    /// message if need be, not at all if even that is longer.
    fn reply_within(&self, peer: SocketAddr, code: ErrorCode, message: &str, asked: usize) {
        let error = [packet::error(code, message), packet::error(code, "")]
            .into_iter()
            .find(|e| e.len() <= asked);
        if let Some(error) = error {
            let _ = self.socket.send_to(&error, peer);
        }
    }

    fn begin(&self, req: Request, peer: SocketAddr) {
        if self.live.load(Ordering::Acquire) >= self.max_transfers {
            self.reply(peer, ErrorCode::NotDefined, "Server busy, try again later");
            return;
        }
        let local_bind = self.bind.unwrap_or(match peer {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        let socket = match UdpSocket::bind((local_bind, 0)).and_then(|s| {
            s.connect(peer)?;
            // Read without waiting; waits are `wait`'s (spin, then poll).
            s.set_nonblocking(true)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                log::warning!("TFTP: no socket for a transfer to {peer}: {e}");
                self.reply(peer, ErrorCode::NotDefined, "No socket for the transfer");
                return;
            }
        };
        let done = Arc::new(AtomicBool::new(false));
        let work = Work {
            spin: Cell::new(true),
            socket,
            req,
            peer,
            stop: self.stop.clone(),
            handler: self.handler.clone(),
            done: done.clone(),
            live: self.live.clone(),
        };
        self.live.fetch_add(1, Ordering::AcqRel);
        match thread::spawn(move || work.run()) {
            Some(thread) => lock(&self.transfers).push(Running { done, thread }),
            None => {
                self.live.fetch_sub(1, Ordering::AcqRel);
                self.reply(peer, ErrorCode::NotDefined, "Server busy, try again later");
            }
        }
    }
}

/// One transfer, on its thread.
struct Work<H> {
    /// Whether the client answered within [`SPIN`] the last time (polled for again).
    spin: Cell<bool>,
    socket: UdpSocket,
    req: Request,
    peer: SocketAddr,
    stop: Arc<AtomicBool>,
    handler: Arc<H>,
    done: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
}

impl<H: Handler> Work<H> {
    fn run(self) {
        let local = self
            .socket
            .local_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
        let ask = Ask {
            name: &self.req.name,
            mode: self.req.mode,
            // IPv4 clients of a dual-stack socket, as IPv4.
            peer: SocketAddr::new(self.peer.ip().to_canonical(), self.peer.port()),
            local,
        };
        match self.handler.answer(&ask) {
            Ok((body, served)) => {
                let acked = self.send(body);
                self.handler.finished(&ask, served, acked);
            }
            Err((code, message)) => {
                let _ = self.socket.send(&packet::error(code, message));
            }
        }
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.done.store(true, Ordering::Release);
    }

    /// Runs the transfer of `body`; the bytes acknowledged, None when it did not end.
    fn send(&self, body: Source) -> Option<usize> {
        let granted = negotiate(&self.req.options, body.len());
        let mut transfer = Transfer::new(body, &granted);
        let mut step = transfer.start();
        let mut buf = vec![0u8; MAX_BLKSIZE + 4];
        let mut deadline = Instant::now();
        loop {
            match step {
                Step::Send(packets) => {
                    for p in &packets {
                        if !self.send_packet(p) {
                            return None;
                        }
                    }
                    deadline = Instant::now() + granted.timeout;
                }
                // A duplicate does not buy the client more time.
                Step::Wait => {}
                Step::Done => return Some(transfer.bytes_acked()),
                Step::GiveUp => return None,
            }
            step = match self.wait(&mut buf, deadline) {
                Heard::Packet(Incoming::Ack(block)) => transfer.on_ack(block),
                Heard::Packet(_) => Step::Wait,
                // The client ended it (an ERROR, RFC 2347's 8 among them), or is gone.
                Heard::Ended => return None,
                Heard::Nothing => transfer.on_timeout(),
            };
        }
    }

    /// Sends one packet, waiting for room when a window filled the socket's buffer; false
    /// when it cannot be sent (or the module stops).
    fn send_packet(&self, p: &[u8]) -> bool {
        loop {
            match self.socket.send(p) {
                Ok(_) => return true,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if self.stop.load(Ordering::Acquire) {
                        return false;
                    }
                    writable(self.socket.as_fd(), TICK);
                }
                Err(_) => return false,
            }
        }
    }

    /// The next packet from the client before `deadline`: polled for a moment (a fast
    /// client's answer is there before a sleeping thread would wake), then slept for.
    fn wait(&self, buf: &mut [u8], deadline: Instant) -> Heard {
        let started = Instant::now();
        let spin_until = if self.spin.get() && self.spin_allowed() {
            started + SPIN
        } else {
            started
        };
        loop {
            if self.stop.load(Ordering::Acquire) {
                return Heard::Ended;
            }
            match self.socket.recv(buf) {
                Ok(n) => match packet::parse(&buf[..n]) {
                    Ok(Incoming::Error(_)) => return Heard::Ended,
                    Ok(p) => {
                        // Worth polling for next time only if it came within the spin.
                        self.spin.set(started.elapsed() <= SPIN);
                        return Heard::Packet(p);
                    }
                    Err(_) => {}
                },
                // An ICMP port unreachable: nobody listens there any more.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Heard::Ended,
                Err(_) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Heard::Nothing;
                    }
                    if now < spin_until {
                        std::hint::spin_loop();
                    } else {
                        readable(self.socket.as_fd(), (deadline - now).min(TICK));
                    }
                }
            }
        }
    }

    /// Polling is for a server with cores to spare: while transfers are no more than half
    /// the cores, so that spinning never takes a core a client or Asterisk needs.
    fn spin_allowed(&self) -> bool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.live.load(Ordering::Acquire) <= (cores / 2).max(1)
    }
}

enum Heard {
    Packet(Incoming),
    Ended,
    Nothing,
}
