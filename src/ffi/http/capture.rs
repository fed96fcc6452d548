//! Answers `ast_http_send` cannot write as they must be:
//! - a 304: it writes `Content-Length: 0` into every answer, but a 304 carries either none
//!   or the length a 200 would have had (RFC 9110, 8.6);
//! - a body with NUL bytes kept in memory: it writes string bodies with `%s` (cut at the
//!   first NUL), and its descriptor path writes the head and the body separately, 256 bytes
//!   at a time;
//! - a file: its descriptor path reads and writes 256 bytes at a time, and sends the file
//!   to its end whatever length the head announced. The module sends the file's bytes
//!   itself after the head (`stream`).
//!
//! The rest of what it writes depends on http.c's private settings (servername,
//! session_keep_alive) and on the request's private body and close flags, none of which a
//! module can read. So the answer is rendered by `ast_http_send` itself, without a body,
//! into a pipe standing in for the connection, and copied to the connection without its
//! Content-Length line (`phoneprov_core::http::head`): for a body, with the body's length
//! and the body, in one write; for a file, with the file's length, its bytes following.
//! Whether `ast_http_send` closed the stand-in tells whether the connection must close.
//!
//! Stand-ins are kept in a small pool: making a pipe and closing both its ends cost more
//! system calls than the answer itself (8 per answer; 3 with a pooled stand-in).

use std::ffi::{c_int, CStr};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use crate::ffi::sys;
use phoneprov_core::http::head::{self, Body};
use phoneprov_core::util::lock::lock;

/// A pipe's write end as an iostream (what `ast_http_send` writes to), closed on drop.
struct WriteEnd(NonNull<sys::ast_iostream>);

// SAFETY: an iostream is not tied to a thread; a stand-in is used by one thread at a time
// (the one that took it from the pool), and the pool hands it over under its lock.
unsafe impl Send for WriteEnd {}

impl Drop for WriteEnd {
    fn drop(&mut self) {
        // SAFETY: the stream is ours and still open (one `ast_http_send` closed is
        // forgotten instead, see `send`); closing it closes the pipe's write end and frees
        // the stream.
        unsafe { sys::ast_iostream_close(self.0.as_ptr()) };
    }
}

/// A pipe standing in for a connection: its write end as an iostream, and its read end.
struct StandIn {
    stream: WriteEnd,
    read: OwnedFd,
}

/// As many as answers are written at once, within reason: each holds two descriptors.
const POOL_SIZE: usize = 32;

static POOL: Mutex<Vec<StandIn>> = Mutex::new(Vec::new());

fn pool() -> MutexGuard<'static, Vec<StandIn>> {
    lock(&POOL)
}

/// A new pipe, both ends non-blocking and closed on exec.
fn pipe() -> Option<(OwnedFd, OwnedFd)> {
    let mut ends: [c_int; 2] = [-1; 2];
    let flags = (sys::O_CLOEXEC | sys::O_NONBLOCK) as c_int;
    // SAFETY: ends has room for the two descriptors pipe2 writes.
    if unsafe { sys::pipe2(ends.as_mut_ptr(), flags) } != 0 {
        return None;
    }
    // SAFETY: both descriptors were just made, and nothing else owns them.
    Some(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// A pooled stand-in, else a new one. Never blocking: with no time to wait, a write the
/// pipe cannot take whole is cut short (`ast_iostream_write` would otherwise wait for a
/// reader, and the reader is this thread); a cut head is refused by `head::frame`.
fn take() -> Option<StandIn> {
    // The guard goes at the end of this statement: nothing below runs under the lock.
    let pooled = pool().pop();
    if pooled.is_some() {
        return pooled;
    }
    let (read, write) = pipe()?;
    let mut raw = write.into_raw_fd();
    // SAFETY: raw is an open descriptor of ours; on success the stream owns it (and the
    // call sets raw to -1), on failure it is left untouched.
    let stream = unsafe { sys::ast_iostream_from_fd(&mut raw) };
    let Some(stream) = NonNull::new(stream) else {
        // SAFETY: not taken over by a stream: still ours, closed here.
        drop(unsafe { OwnedFd::from_raw_fd(raw) });
        return None;
    };
    // SAFETY: stream is the live iostream just made, used by this thread only.
    unsafe { sys::ast_iostream_set_timeout_inactivity(stream.as_ptr(), 0) };
    Some(StandIn {
        stream: WriteEnd(stream),
        read,
    })
}

/// Only an empty pipe goes back to the pool: the caller read all that was written.
fn give_back(s: StandIn) {
    let extra = {
        let mut pool = pool();
        if pool.len() < POOL_SIZE {
            pool.push(s);
            None
        } else {
            Some(s)
        }
    };
    // Closed with no lock held: closing calls into Asterisk.
    drop(extra);
}

/// Closes the stand-ins kept (on unload, once no answer is being written).
pub(super) fn clear() {
    let kept = std::mem::take(&mut *pool());
    drop(kept);
}

/// Reads into `buf` what the pipe holds: the byte count, 0 once a closed pipe is empty,
/// None once an open one is (EAGAIN) or on an error.
fn read(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: fd is open while borrowed; buf is writable for its length.
    let n = unsafe { sys::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).ok()
}

/// What follows the head of an answer.
#[derive(Clone, Copy)]
pub(super) enum Content<'a> {
    /// Nothing, and no Content-Length either (a 304).
    None,
    /// A body from memory, which may hold NUL bytes.
    Bytes(&'a [u8]),
    /// The first `len` bytes of an open regular file (its length as the answer starts).
    File(&'a File, u64),
}

/// Asterisk's 500 page for an answer that could not be made.
///
/// # Safety
/// `ser` must be a live session, used by this thread only during the call.
unsafe fn out_of_memory(ser: *mut sys::ast_tcptls_session_instance) {
    let (t, x) = (c"Server Error", c"Out of memory");
    // SAFETY: per this function's contract ser is live; the strings are valid for the call.
    unsafe { sys::ast_http_error(ser, 500, t.as_ptr(), x.as_ptr()) };
}

/// Sends an answer as `ast_http_send` would, rendered by it into a stand-in and copied to
/// the connection: with [`Content::None`] without any Content-Length; with bytes, their
/// length and the bytes, in one write; with a file, its length, then its bytes sent by
/// `stream`. The body is left out as `ast_http_send` leaves it out (HEAD, below 400).
/// `cacheable` leaves out Asterisk's no-cache header lines.
///
/// # Safety
/// `ser` must be NULL or the live session of the request being answered, used by no other
/// thread during the call (Asterisk runs each connection on a thread of its own).
pub(super) unsafe fn send(
    ser: *mut sys::ast_tcptls_session_instance,
    method: c_int,
    status: c_int,
    title: &CStr,
    headers: &CStr,
    content: Content<'_>,
    cacheable: bool,
) {
    // The session is reached through `ser` alone, never a reference: ast_http_send
    // changes its stream while it runs.
    // SAFETY: per this function's contract, ser is NULL or a live session of this thread.
    if ser.is_null() || unsafe { (*ser).stream }.is_null() {
        return;
    }
    // SAFETY: ser is live. From the real connection: ast_http_send would otherwise read it
    // from the stand-in.
    unsafe { sys::ast_http_body_discard(ser) };

    let bytes = headers.to_bytes();
    // SAFETY: bytes is valid for its length; the glue copies it into a new ast_str.
    let hdrs = unsafe { sys::pp_str_from(bytes.as_ptr().cast(), bytes.len()) };
    if hdrs.is_null() {
        // Without its headers (type, validators) the answer would mislead a cache.
        // SAFETY: ser is live.
        unsafe { out_of_memory(ser) };
        return;
    }
    // Called once, on one of the two paths below.
    let http_send = move |fd: c_int| {
        // SAFETY: ser is live; ast_http_send takes and frees hdrs, and reads fd (0 is none
        // to it, as it tests the descriptor for non-zero) during the call only.
        unsafe {
            sys::ast_http_send(
                ser,
                method as sys::ast_http_method::Type,
                status,
                title.as_ptr(),
                hdrs,
                std::ptr::null_mut(),
                fd,
                u32::from(cacheable),
            )
        }
    };
    let Some(capture) = take() else {
        // Degraded: a 304 with its Content-Length: 0 is still valid framing, and so is a
        // file streamed by Asterisk itself; a body that cannot be framed is refused rather
        // than cut.
        let fd = match content {
            Content::None => Some(0),
            Content::File(file, _) => Some(file.as_raw_fd()),
            Content::Bytes(_) => None,
        };
        match fd {
            // The borrowed file's descriptor is open during the call.
            Some(fd) => http_send(fd),
            None => {
                // SAFETY: hdrs was made above and is not used again.
                unsafe { sys::pp_str_free(hdrs) };
                // SAFETY: ser is live.
                unsafe { out_of_memory(ser) };
            }
        }
        return;
    };

    let StandIn {
        stream,
        read: read_end,
    } = capture;
    // SAFETY: ser is live, and used by this thread only.
    let conn = unsafe { (*ser).stream };
    // SAFETY: as above; the stand-in's stream is open (ast_http_send may close it, which
    // the check after it sees).
    unsafe { (*ser).stream = stream.0.as_ptr() };
    // Its stream now the stand-in's: the head without a body.
    http_send(0);
    // SAFETY: ser is live; the real connection goes back before anything else runs.
    let mut closing = unsafe { (*ser).stream }.is_null();
    // SAFETY: as above.
    unsafe { (*ser).stream = conn };
    let stream = if closing {
        // ast_http_send closed the stand-in's write end (and freed its stream).
        std::mem::forget(stream);
        None
    } else {
        Some(stream)
    };

    // ast_http_send wrote the head in one write, which a pipe keeps whole: one read gets
    // it. A pipe still open reads EAGAIN once empty, a closed one reads 0.
    let mut buf = [0u8; head::MAX_HEAD];
    let mut size = 0;
    while size < buf.len() && !head::complete(&buf[..size]) {
        match read(&read_end, &mut buf[size..]) {
            Some(n) if n > 0 => size += n,
            _ => break,
        }
    }
    // As ast_http_send decides whether a body follows its head.
    let send_content = method != sys::ast_http_method::AST_HTTP_HEAD as c_int || status >= 400;
    let framed = head::frame(
        &buf[..size],
        match content {
            Content::None => Body::None,
            Content::Bytes(b) if send_content => Body::Bytes(b),
            Content::Bytes(b) => Body::Length(b.len() as u64),
            Content::File(_, len) => Body::Length(len),
        },
    );
    match stream {
        Some(stream) if framed.is_some() => give_back(StandIn {
            stream,
            read: read_end,
        }),
        // A pipe that may hold a part of a head, or whose write end is closed, is closed.
        _ => drop((stream, read_end)),
    }

    let Some(text) = framed else {
        // Nothing was written to the connection yet: an answer that says so, after which
        // Asterisk closes it (the head it rendered is lost).
        let (t, x) = (c"Server Error", c"The answer could not be framed.");
        // SAFETY: ser is live, its own stream back in place; the strings are valid.
        unsafe {
            sys::ast_http_request_close_on_completion(ser);
            sys::ast_http_error(ser, 500, t.as_ptr(), x.as_ptr());
        }
        return;
    };
    // SAFETY: conn is the session's live stream; text is valid for its length.
    let wrote = unsafe { sys::ast_iostream_write(conn, text.as_ptr().cast(), text.len()) };
    if usize::try_from(wrote).ok() != Some(text.len()) {
        closing = true;
    } else if let Content::File(file, len) = content {
        // SAFETY: conn is the session's live stream, used by this thread only.
        if send_content && !unsafe { super::stream::send(conn, file, len) } {
            // Fewer bytes than the head announced: the client must not wait for the rest
            // or read the next answer as part of this one.
            closing = true;
        }
    }
    if closing {
        // SAFETY: ser is live; closing its stream also sets it to NULL, which Asterisk's
        // HTTP worker checks before reading the next request.
        unsafe {
            sys::ast_http_request_close_on_completion(ser);
            sys::ast_tcptls_close_session_file(ser);
        }
    }
}
