//! Waiting for a socket to be readable, for sockets of the module's own (TFTP's): std's
//! sockets block or return at once, and a transfer that polls for an answer first must be
//! able to sleep until one comes, a bounded time.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use super::sys;

/// Waits until `socket` has something to read, at most `timeout` (whole milliseconds, at
/// least one); whether it has. An error counts as ready: the read that follows says what.
pub fn readable(socket: BorrowedFd<'_>, timeout: Duration) -> bool {
    ready(socket, sys::POLLIN, timeout)
}

/// [`readable`] for room to write.
pub fn writable(socket: BorrowedFd<'_>, timeout: Duration) -> bool {
    ready(socket, sys::POLLOUT, timeout)
}

fn ready(socket: BorrowedFd<'_>, events: u32, timeout: Duration) -> bool {
    let mut p = sys::pollfd {
        fd: socket.as_raw_fd(),
        events: events as i16,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
    // SAFETY: p is one valid pollfd for the call; poll waits at most `ms` milliseconds.
    let n = unsafe { sys::poll(&mut p, 1, ms) };
    n != 0
}
