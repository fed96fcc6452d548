//! inotify: directories watched for changes, and a question a request can ask about all of
//! them at once. A change in a watched directory shows as a pending event, which a request
//! can ask for without a stat.

use std::ffi::c_int;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{cstring, sys};
use phoneprov_core::util::inotify::{self, Batch};

// The core reads the kernel's records with its own copy of their layout and masks.
const _: () = assert!(
    std::mem::size_of::<sys::inotify_event>() == inotify::HEADER
        && sys::IN_IGNORED == inotify::IN_IGNORED
        && sys::IN_Q_OVERFLOW == inotify::IN_Q_OVERFLOW
        && sys::IN_DELETE_SELF == inotify::IN_DELETE_SELF
        && sys::IN_MOVE_SELF == inotify::IN_MOVE_SELF
);

/// What a watched directory reports: changes to its entries, and to itself.
const MASK: u32 = sys::IN_MODIFY
    | sys::IN_ATTRIB
    | sys::IN_CLOSE_WRITE
    | sys::IN_MOVED_FROM
    | sys::IN_MOVED_TO
    | sys::IN_CREATE
    | sys::IN_DELETE
    | sys::IN_DELETE_SELF
    | sys::IN_MOVE_SELF;

/// A new non-blocking inotify instance, closed on drop; None when the system gives none.
pub fn open() -> Option<OwnedFd> {
    let flags = (sys::IN_NONBLOCK | sys::IN_CLOEXEC) as c_int;
    // SAFETY: no pointers; the call returns a new descriptor or -1.
    let fd = unsafe { sys::inotify_init1(flags) };
    // SAFETY: fd was just opened, and nothing else owns it.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Watches `dir` for changes to its entries and to itself; false when it cannot be
/// watched, or sits on a filesystem other machines may change (NFS, say).
pub fn watch_dir(fd: BorrowedFd<'_>, dir: &Path) -> bool {
    let dir = cstring(dir.as_os_str().as_bytes());
    // SAFETY: plain integers, for which all zeroes is a value.
    let mut fs: sys::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: dir is a valid C string; fs is writable, and the call fills it.
    if unsafe { sys::statfs(dir.as_ptr(), &mut fs) } != 0 {
        return false;
    }
    // A long: 32 bits on some targets.
    #[allow(clippy::useless_conversion)]
    let f_type = i64::from(fs.f_type);
    if !inotify::local_filesystem(f_type) {
        return false;
    }
    // SAFETY: fd is open while borrowed; dir is a valid C string.
    unsafe { sys::inotify_add_watch(fd.as_raw_fd(), dir.as_ptr(), MASK) >= 0 }
}

/// Whether events are queued on `fd`; true also when that cannot be told.
pub fn pending(fd: BorrowedFd<'_>) -> bool {
    let mut bytes: c_int = 0;
    // SAFETY: fd is open while borrowed; FIONREAD writes one int, to bytes.
    let res = unsafe { sys::ioctl(fd.as_raw_fd(), sys::FIONREAD as _, &mut bytes) };
    res != 0 || bytes > 0
}

/// What one read of queued events found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Events {
    None,
    Some,
    /// Some, and a watch is gone (its directory deleted or moved) or events were lost.
    WatchesLost,
    Error,
}

/// Reads (and forgets) queued events of `fd`, as many as one read returns.
pub fn read(fd: BorrowedFd<'_>) -> Events {
    // Room for at least one event with the longest name.
    let mut buf = [0u8; inotify::HEADER + inotify::NAME_MAX + 1];
    // SAFETY: fd is open while borrowed; buf is writable for its length.
    let n = unsafe { sys::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    let Ok(n) = usize::try_from(n) else {
        return match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::WouldBlock => Events::None,
            _ => Events::Error,
        };
    };
    match inotify::classify(&buf[..n]) {
        Batch::Empty => Events::None,
        Batch::Changes => Events::Some,
        Batch::Lost => Events::WatchesLost,
    }
}
