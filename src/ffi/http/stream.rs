//! A file's bytes sent on the connection after the head that announced their count (see
//! `capture`), in large pieces: `ast_http_send` writes a descriptor's contents 256 bytes at
//! a time, two system calls per 256 bytes.
//!
//! - Plain TCP: `sendfile(2)` from the file to the connection's socket, with no copy through
//!   the module. Asterisk's HTTP server makes the socket non-blocking, so a full socket
//!   returns at once.
//! - TLS (or a file `sendfile` cannot read): pieces of one TLS record read from the file and
//!   written with `ast_iostream_write`, which encrypts them.
//!
//! When the connection is full, the next piece is 256 bytes written with
//! `ast_iostream_write`, which waits for room up to the session's own timeout (http.conf's
//! `session_inactivity`, which a module cannot read): the time Asterisk's own loop gives
//! each 256 bytes. A slow client is so given the time Asterisk gives it, one that stops
//! reading is dropped when Asterisk would drop it, and a gone one fails the next send.
//!
//! Never more bytes go out than announced, and a send that ends short (a client gone or too
//! slow, a file that shrank) says so: the caller then closes the connection.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;

use crate::ffi::sys;
use phoneprov_core::http::streamed::{Next, Progress, Sent};

/// The most one `sendfile` is asked for: the kernel moves at most about 2 GiB per call, and
/// on a non-blocking socket returns once the socket is full.
const SENDFILE_MAX: usize = 1 << 30;

/// The pieces read from the file and written with `ast_iostream_write` while the connection
/// takes them: one TLS record.
const PIECE: usize = 16 * 1024;

/// The piece written into a full connection: what `ast_http_send` writes per call, so that
/// a slow client has as long per byte as Asterisk gives it.
const SLOW_PIECE: usize = 256;

/// Sends the first `len` bytes of `file` on `conn`; false when fewer went out, after which
/// the connection must close.
///
/// # Safety
/// `conn` must be the live stream of the connection being answered, used by no other thread
/// during the call (Asterisk runs each connection on a thread of its own).
pub(super) unsafe fn send(conn: *mut sys::ast_iostream, file: &File, len: u64) -> bool {
    // SAFETY: conn is live, per this function's contract.
    let fd = unsafe { sys::ast_iostream_get_fd(conn) };
    if fd < 0 {
        return false;
    }
    // SAFETY: the descriptor is the live stream's, open until the stream is closed, which
    // no one does during this call.
    let socket = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut progress = Progress::new(len);
    let mut buf = Vec::new();
    // SAFETY: conn is live, as above.
    let tls = !unsafe { sys::ast_iostream_get_ssl(conn) }.is_null();
    if !tls {
        loop {
            let next = match progress.record(sendfile(socket, file, &progress)) {
                // SAFETY: conn is live, as above.
                Next::Wait => unsafe { piece(conn, file, &mut progress, &mut buf, SLOW_PIECE) },
                next => next,
            };
            match next {
                Next::Send | Next::Wait => {}
                Next::Done => return true,
                Next::Close => return false,
                Next::Switch => break,
            }
        }
    }
    loop {
        let size = if writable(socket) { PIECE } else { SLOW_PIECE };
        // SAFETY: conn is live, as above.
        match unsafe { piece(conn, file, &mut progress, &mut buf, size) } {
            Next::Done => return true,
            Next::Send | Next::Wait => {}
            Next::Close | Next::Switch => return false,
        }
    }
}

/// One `sendfile` of the next bytes from `file` to `socket`.
fn sendfile(socket: BorrowedFd<'_>, file: &File, progress: &Progress) -> Sent {
    let count = progress.next(SENDFILE_MAX);
    let Ok(mut offset) = sys::off_t::try_from(progress.offset()) else {
        return Sent::Failed;
    };
    // SAFETY: both descriptors are borrowed, open for the call; offset is a valid place
    // for the kernel to read and update.
    let n = unsafe { sys::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut offset, count) };
    match usize::try_from(n) {
        Ok(n) => Sent::Bytes(n),
        Err(_) => match std::io::Error::last_os_error().kind() {
            ErrorKind::WouldBlock => Sent::Full,
            ErrorKind::Interrupted => Sent::Interrupted,
            // EINVAL, ENOSYS: the file's file system cannot hand its pages to a socket.
            ErrorKind::InvalidInput | ErrorKind::Unsupported => Sent::Unsupported,
            _ => Sent::Failed,
        },
    }
}

/// Whether `socket` takes more bytes now (an error or a hang-up counts as no: the small
/// piece written next finds it out).
fn writable(socket: BorrowedFd<'_>) -> bool {
    let mut p = sys::pollfd {
        fd: socket.as_raw_fd(),
        events: sys::POLLOUT as i16,
        revents: 0,
    };
    // SAFETY: p is one valid pollfd for the call; a timeout of 0 never waits.
    let n = unsafe { sys::poll(&mut p, 1, 0) };
    n == 1 && p.revents == sys::POLLOUT as i16
}

/// Reads the next piece of `file`, at most `size` bytes, into `buf` (made on first use) and
/// writes it whole with `ast_iostream_write`, which waits for room up to the session's
/// timeout.
///
/// # Safety
/// As for [`send`].
unsafe fn piece(
    conn: *mut sys::ast_iostream,
    file: &File,
    progress: &mut Progress,
    buf: &mut Vec<u8>,
    size: usize,
) -> Next {
    if buf.is_empty() {
        // Refused rather than an abort of Asterisk when memory runs out.
        if buf.try_reserve_exact(PIECE).is_err() {
            return progress.record(Sent::Failed);
        }
        buf.resize(PIECE, 0);
    }
    let want = progress.next(size.min(buf.len()));
    let n = loop {
        match file.read_at(&mut buf[..want], progress.offset()) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return progress.record(Sent::Failed),
        }
    };
    if n == 0 {
        // The file ended early (or nothing was wanted: all went out).
        return progress.record(Sent::Bytes(0));
    }
    // SAFETY: conn is live per the contract; buf holds n bytes read.
    let wrote = unsafe { sys::ast_iostream_write(conn, buf.as_ptr().cast(), n) };
    if usize::try_from(wrote).ok() != Some(n) {
        return progress.record(Sent::Failed);
    }
    progress.record(Sent::Bytes(n))
}
