//! inotify through the glue (csrc/pp_watch.c): directories watched for changes, and a
//! question a request can ask about all of them at once.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{cstring, sys};

/// A new inotify instance, closed on drop; None when the system gives none.
pub fn open() -> Option<OwnedFd> {
    // SAFETY: no arguments; the glue returns a new descriptor or -1.
    let fd = unsafe { sys::pp_watch_open() };
    // SAFETY: fd was just opened, and nothing else owns it.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Watches `dir` for changes to its entries and to itself; false when it cannot be
/// watched, or sits on a filesystem other machines may change (NFS, say).
pub fn watch_dir(fd: BorrowedFd<'_>, dir: &Path) -> bool {
    let dir = cstring(dir.as_os_str().as_bytes());
    // SAFETY: fd is open for the call; dir is a valid C string.
    unsafe { sys::pp_watch_dir(fd.as_raw_fd(), dir.as_ptr()) == 1 }
}

/// Whether events are queued on `fd`; true also when that cannot be told.
pub fn pending(fd: RawFd) -> bool {
    // SAFETY: the glue only asks the kernel how many bytes `fd` has to read (an int written
    // to its own variable); any descriptor, closed ones included, is safe to ask.
    unsafe { sys::pp_watch_pending(fd) != 0 }
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
pub fn read(fd: RawFd) -> Events {
    // SAFETY: the glue reads into its own buffer; on a descriptor that is not inotify's
    // the kernel refuses or the glue reports an error.
    match unsafe { sys::pp_watch_read(fd) } {
        0 => Events::None,
        1 => Events::Some,
        2 => Events::WatchesLost,
        _ => Events::Error,
    }
}
