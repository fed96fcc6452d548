//! One HTTP request as Asterisk hands it to us, and the ways to answer it.

use std::cell::Cell;
use std::ffi::{c_int, CStr};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

mod capture;
mod stream;

use super::{cstring, cstring_joined, owned, sys};
use capture::Content;
use phoneprov_core::http::body::BodySource;
use phoneprov_core::http::useragent::{self, UserAgent};
use phoneprov_core::model::server::dotted;
use phoneprov_core::util::clean::Clean;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Other,
}

/// What became of the request body (only PUT bodies are read by the module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// Asterisk reads it (if any) before answering: none is expected, or it is small and
    /// announced, so reading it keeps the connection.
    Asterisk,
    /// Left unread by an answer: the connection closes instead (an `Expect: 100-continue`
    /// client may never send it; a large or chunked one is not worth reading).
    CloseIfUnread,
    /// Read (or abandoned) by the module, and Asterisk told.
    Done,
}

/// A connection (session address, client endpoint) and its local endpoint.
type LocalEndpoint = ((usize, Option<(IpAddr, u16)>), (IpAddr, u16));

thread_local! {
    // Copy data only: a thread-local that needs dropping would register a destructor with
    // the C library, which keeps this module mapped until every such thread has ended.
    static LOCAL: Cell<Option<LocalEndpoint>> = const { Cell::new(None) };
}

/// An address and port as the glue wrote them (family 4: the first 4 bytes of `buf`).
fn endpoint(res: c_int, family: c_int, buf: [u8; 16], port: c_int) -> Option<(IpAddr, u16)> {
    let ip = match (res, family) {
        (0, 4) => IpAddr::V4(Ipv4Addr::new(buf[0], buf[1], buf[2], buf[3])),
        (0, 6) => IpAddr::V6(Ipv6Addr::from(buf)),
        _ => return None,
    };
    Some((ip, u16::try_from(port).unwrap_or(0)))
}

pub struct Request<'a> {
    ser: *mut sys::ast_tcptls_session_instance,
    raw_method: c_int,
    headers: *mut sys::ast_variable,
    /// The path below /phoneprov/ as the client sent it, query string removed, not decoded.
    pub raw_uri: &'a [u8],
    pub method: Method,
    /// The status of the answer handed to Asterisk, 0 before one is; the glue answers 500
    /// for a request left without.
    status: Cell<u16>,
    body: Cell<Body>,
}

impl<'a> Request<'a> {
    /// # Safety
    /// `ser` and `headers` must be the live session and header list of the request being
    /// handled, valid and not changed by anyone else until the callback returns (the `'a`
    /// of `raw_uri`).
    pub unsafe fn new(
        ser: *mut sys::ast_tcptls_session_instance,
        raw_uri: &'a [u8],
        raw_method: c_int,
        headers: *mut sys::ast_variable,
    ) -> Self {
        use sys::ast_http_method::*;
        let method = match raw_method {
            AST_HTTP_GET => Method::Get,
            AST_HTTP_HEAD => Method::Head,
            AST_HTTP_PUT => Method::Put,
            _ => Method::Other,
        };
        Request {
            ser,
            raw_method,
            headers,
            raw_uri,
            method,
            status: Cell::new(0),
            body: Cell::new(Body::Asterisk),
        }
    }

    /// Asks that an answer given while the body is still unread closes the connection
    /// rather than have Asterisk read the body first.
    pub fn close_if_body_unread(&self) {
        if self.body.get() == Body::Asterisk {
            self.body.set(Body::CloseIfUnread);
        }
    }

    /// Before any answer: an unread body the module chose not to read closes the connection.
    fn before_answer(&self) {
        if self.body.get() == Body::CloseIfUnread {
            self.close_after_answer();
        }
    }

    /// The connection closes after the answer.
    pub fn close_after_answer(&self) {
        // SAFETY: ser is the live session of this request.
        unsafe { sys::pp_http_close_on_completion(self.ser) };
    }

    /// Sends `100 Continue` (for a client that sent `Expect: 100-continue`); false when
    /// the connection failed.
    pub fn send_continue(&self) -> bool {
        // SAFETY: ser is the live session of this request.
        unsafe { sys::pp_http_continue(self.ser) == 0 }
    }

    /// The body, to be read once. Call [`Request::body_finished`] afterwards.
    pub fn body_reader(&self) -> BodyReader<'_> {
        BodyReader {
            ser: self.ser,
            _req: std::marker::PhantomData,
        }
    }

    /// Tells Asterisk the body was read whole (`complete`), or abandoned part-way (the
    /// connection then closes after the answer: the rest of the body is still on it).
    pub fn body_finished(&self, complete: bool) {
        self.body.set(Body::Done);
        // SAFETY: ser is the live session of this request.
        unsafe { sys::pp_http_body_status(self.ser, c_int::from(complete)) };
        if !complete {
            self.close_after_answer();
        }
    }

    /// Whether an answer was sent (or handed to Asterisk to send).
    pub fn answered(&self) -> bool {
        self.status.get() != 0
    }

    /// The status answered (0: none yet).
    pub fn status(&self) -> u16 {
        self.status.get()
    }

    /// The phone the request's User-Agent describes, if its format is known.
    pub fn agent(&self) -> Option<UserAgent> {
        let linphone = self
            .header("X-Linphone-Provisioning")
            .is_some_and(|v| v.trim_ascii() == b"1");
        useragent::parse(self.header("User-Agent").unwrap_or_default(), linphone)
    }

    /// The URI (below /phoneprov/, as sent) as text for logs, events and CLI output: the
    /// one way request text reaches them is through a [`Clean`], escaped where it enters.
    pub fn uri_text(&self) -> Clean {
        Clean::new(self.raw_uri)
    }

    /// A header's value as text for logs, events and CLI output (see [`Request::uri_text`]).
    pub fn header_text(&self, name: &str) -> Option<Clean> {
        self.header(name).map(Clean::new)
    }

    /// The value of a request header (names compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        let mut h = self.headers;
        while !h.is_null() {
            // SAFETY: the header list is alive and unchanged for 'a (see `new`).
            let v = unsafe { &*h };
            h = v.next;
            if v.name.is_null() || v.value.is_null() {
                continue;
            }
            // SAFETY: a header's name is a C string of that live list.
            let n = unsafe { CStr::from_ptr(v.name) };
            if n.to_bytes().eq_ignore_ascii_case(name.as_bytes()) {
                // SAFETY: so is its value (measured only for the header asked for).
                return Some(unsafe { CStr::from_ptr(v.value) }.to_bytes());
            }
        }
        None
    }

    /// Whether the request came over TLS.
    pub fn is_tls(&self) -> bool {
        // SAFETY: ser is the live session of this request.
        unsafe { sys::pp_is_tls(self.ser) != 0 }
    }

    /// The client's address (without port), as Asterisk prints it. An IPv4 one (mapped
    /// ones included) is printed here: Asterisk's getnameinfo cost ~1 us per request; an
    /// IPv6 one may carry a scope, which only Asterisk's printing shows.
    pub fn client_address(&self) -> Option<String> {
        if let Some((IpAddr::V4(v4), _)) = self.remote() {
            return Some(dotted(v4));
        }
        let mut buf = [0 as std::ffi::c_char; 64];
        // SAFETY: ser is the live session; buf is writable for its length, and the glue
        // writes a NUL-terminated string into it.
        let res = unsafe { sys::pp_client_address(self.ser, buf.as_mut_ptr(), buf.len() as c_int) };
        // SAFETY: on success buf holds a NUL-terminated string.
        (res == 0).then(|| unsafe { owned(buf.as_ptr()) })
    }

    /// The local address of the connection this request came in on.
    pub fn local_ip(&self) -> Option<IpAddr> {
        self.local().map(|(ip, _)| ip)
    }

    /// The local address and port, asked of the kernel once per connection: Asterisk runs
    /// each connection on a thread of its own, so the thread remembers the last answer for
    /// the session and client it was for (a request otherwise costs a getsockname per use).
    fn local(&self) -> Option<(IpAddr, u16)> {
        let key = (self.ser as usize, self.remote());
        if let Some((k, local)) = LOCAL.get() {
            if k == key {
                return Some(local);
            }
        }
        let mut buf = [0u8; 16];
        let (mut family, mut port) = (0, 0);
        // SAFETY: ser is the live session; buf has 16 bytes; family and port are out-pointers.
        let res =
            unsafe { sys::pp_local_address(self.ser, buf.as_mut_ptr(), &mut family, &mut port) };
        let local = endpoint(res, family, buf, port)?;
        LOCAL.set(Some((key, local)));
        Some(local)
    }

    /// The client's address (an IPv4 client of a dual-stack listener as plain IPv4) and
    /// port.
    pub fn remote(&self) -> Option<(IpAddr, u16)> {
        let mut buf = [0u8; 16];
        let (mut family, mut port) = (0, 0);
        // SAFETY: ser is the live session; buf has 16 bytes; family and port are out-pointers.
        let res =
            unsafe { sys::pp_remote_address(self.ser, buf.as_mut_ptr(), &mut family, &mut port) };
        endpoint(res, family, buf, port).map(|(ip, port)| (ip.to_canonical(), port))
    }

    /// The local address and port of the connection this request came in on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local().map(SocketAddr::from)
    }

    /// The local port of the connection (0 when unknown).
    pub fn local_port(&self) -> u16 {
        self.local().map_or(0, |(_, port)| port)
    }

    /// The method as the client sent it (for Digest), GET or HEAD.
    pub fn method_name(&self) -> &'static [u8] {
        match self.method {
            Method::Head => b"HEAD",
            Method::Put => b"PUT",
            _ => b"GET",
        }
    }

    /// Answers with a body (left out by Asterisk for HEAD). `headers`: lines ending in CRLF,
    /// in parts sent one after the other. A 304 is sent without body and without
    /// Content-Length.
    pub fn send(&self, status: u16, title: &str, headers: &[&[u8]], body: &[u8], cacheable: bool) {
        self.send_raw(status, title, headers, body, 0, cacheable);
    }

    /// Answers 200 with a cacheable body that may hold NUL bytes, head and body in one write
    /// (Asterisk's own string path would cut the body at its first NUL).
    pub fn send_binary(&self, headers: &[&[u8]], body: &[u8]) {
        self.before_answer();
        let h = cstring_joined(headers);
        self.status.set(200);
        let body = Content::Bytes(body);
        // SAFETY: ser is the live session of this request, on this thread.
        unsafe { capture::send(self.ser, self.raw_method, 200, c"OK", &h, body, true) };
    }

    /// Answers with the contents of an open file: the head as Asterisk renders it with the
    /// file's length, then the file's bytes in large pieces (see `capture`). A file that is
    /// not a regular one (no length to announce) is streamed by Asterisk to its end.
    pub fn send_file(
        &self,
        status: u16,
        title: &str,
        headers: &[&[u8]],
        file: &File,
        cacheable: bool,
    ) {
        let len = match file.metadata() {
            Ok(meta) if meta.is_file() => meta.len(),
            _ => return self.send_raw(status, title, headers, &[], file.as_raw_fd(), cacheable),
        };
        self.before_answer();
        let (t, h) = (cstring(title), cstring_joined(headers));
        self.status.set(status);
        let (status, body) = (c_int::from(status), Content::File(file, len));
        // SAFETY: ser is the live session of this request, on this thread; the file stays
        // open (borrowed) until the call returns.
        unsafe { capture::send(self.ser, self.raw_method, status, &t, &h, body, cacheable) };
    }

    fn send_raw(
        &self,
        status: u16,
        title: &str,
        headers: &[&[u8]],
        body: &[u8],
        fd: c_int,
        cacheable: bool,
    ) {
        self.before_answer();
        let (t, h) = (cstring(title), cstring_joined(headers));
        self.status.set(status);
        if status == 304 {
            let none = Content::None;
            // SAFETY: ser is the live session of this request, on this thread; no body
            // asks for no Content-Length.
            unsafe { capture::send(self.ser, self.raw_method, 304, &t, &h, none, true) };
            return;
        }
        let body_ptr = if body.is_empty() {
            std::ptr::null()
        } else {
            body.as_ptr().cast()
        };
        // SAFETY: ser is live; the strings and body are valid for the call (the glue copies
        // them), and fd, when given, stays open until it returns.
        unsafe {
            sys::pp_http_send(
                self.ser,
                self.raw_method,
                c_int::from(status),
                t.as_ptr(),
                h.as_ptr(),
                body_ptr,
                body.len(),
                fd,
                c_int::from(cacheable),
            )
        }
    }

    /// Asterisk's HTML error page. `text` must already be safe to show.
    pub fn error(&self, status: u16, title: &str, text: &str) {
        self.before_answer();
        let (t, x) = (cstring(title), cstring(text));
        self.status.set(status);
        // SAFETY: ser is live; strings valid for the call.
        unsafe { sys::pp_http_error(self.ser, c_int::from(status), t.as_ptr(), x.as_ptr()) }
    }
}

/// Closes the pipes kept to render answers through Asterisk (see `send_binary`). Called once
/// no request is in the handler: a pipe in use is never taken from under its answer.
pub fn release_stand_ins() {
    capture::clear();
}

/// A request's body as the core's body reader reads it: straight from the connection,
/// never past the body.
pub struct BodyReader<'r> {
    ser: *mut sys::ast_tcptls_session_instance,
    _req: std::marker::PhantomData<&'r ()>,
}

impl BodySource for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: ser is the live session of the request this reader borrows; buf is
        // writable for its length.
        let n = unsafe { sys::pp_http_body_read(self.ser, buf.as_mut_ptr().cast(), buf.len()) };
        usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
    }

    fn read_line(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; max + 1];
        // SAFETY: as in `read`; the glue writes at most buf.len() bytes, NUL included.
        let n = unsafe { sys::pp_http_body_gets(self.ser, buf.as_mut_ptr().cast(), buf.len()) };
        let n = usize::try_from(n).map_err(|_| std::io::Error::last_os_error())?;
        buf.truncate(n.min(max));
        Ok(buf)
    }
}

/// A listening TCP socket of this process (Asterisk's HTTP server's among them), as
/// [`listening_sockets`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listener {
    pub addr: SocketAddr,
    fd: c_int,
}

/// Listening sockets are made while Asterisk starts: low descriptors. Looked for by number
/// rather than in /proc/self/fd, which a chroot may not have.
const MAX_FD_LOOKED_AT: c_int = 65536;

/// A socket address as `getsockname` writes it.
#[repr(C)]
union SockAddr {
    any: sys::sockaddr_storage,
    v4: sys::sockaddr_in,
    v6: sys::sockaddr_in6,
}

/// The local address of socket `fd`, when it is an IPv4 or IPv6 one.
fn socket_addr(fd: c_int) -> Option<SocketAddr> {
    // SAFETY: every field is plain integers, for which all zeroes is a value.
    let mut sa: SockAddr = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<SockAddr>() as sys::socklen_t;
    // SAFETY: sa is writable for len bytes; a descriptor that is not a socket (or not
    // open) only makes the call fail.
    if unsafe { sys::getsockname(fd, std::ptr::addr_of_mut!(sa).cast(), &mut len) } != 0 {
        return None;
    }
    // SAFETY: the family is common to every variant, and written by the call.
    let family = c_int::from(unsafe { sa.any.ss_family });
    if family == sys::AF_INET as c_int {
        // SAFETY: the family says the call wrote a sockaddr_in.
        let v4 = unsafe { sa.v4 };
        let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
        Some(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
    } else if family == sys::AF_INET6 as c_int {
        // SAFETY: the family says the call wrote a sockaddr_in6.
        let v6 = unsafe { sa.v6 };
        // SAFETY: every variant of in6_addr is the same 16 bytes.
        let ip = Ipv6Addr::from(unsafe { v6.sin6_addr.__in6_u.__u6_addr8 });
        Some(SocketAddr::V6(std::net::SocketAddrV6::new(
            ip,
            u16::from_be(v6.sin6_port),
            v6.sin6_flowinfo,
            v6.sin6_scope_id,
        )))
    } else {
        None
    }
}

/// Whether `fd` is a listening socket, and its address if so.
fn listening_at(fd: c_int) -> Option<SocketAddr> {
    let mut listening: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as sys::socklen_t;
    // SAFETY: listening is writable for len bytes; any descriptor number may be asked (a
    // closed one, or one that is no socket, fails).
    let res = unsafe {
        sys::getsockopt(
            fd,
            sys::SOL_SOCKET as c_int,
            sys::SO_ACCEPTCONN as c_int,
            std::ptr::addr_of_mut!(listening).cast(),
            &mut len,
        )
    };
    (res == 0 && listening != 0).then(|| socket_addr(fd))?
}

/// The accept backlog of the listening TCP socket `fd` (None for one that is not TCP).
fn backlog_of(fd: c_int) -> Option<u32> {
    // SAFETY: plain integers, for which all zeroes is a value.
    let mut info: sys::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<sys::tcp_info>() as sys::socklen_t;
    // SAFETY: info is writable for len bytes; the kernel writes at most that.
    let res = unsafe {
        sys::getsockopt(
            fd,
            sys::IPPROTO_TCP as c_int,
            sys::TCP_INFO as c_int,
            std::ptr::addr_of_mut!(info).cast(),
            &mut len,
        )
    };
    // A listening socket's tcp_info gives its backlog in tcpi_sacked.
    (res == 0).then_some(info.tcpi_sacked)
}

/// Every listening TCP socket of the process, in descriptor order. Up to 65,536 system
/// calls: for load and reload, never a request's thread.
pub fn listening_sockets() -> Vec<Listener> {
    // SAFETY: plain integers, for which all zeroes is a value.
    let mut lim: sys::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: lim is writable; the call fills it.
    let res = unsafe { sys::getrlimit(sys::__rlimit_resource::RLIMIT_NOFILE, &mut lim) };
    let limit = match res {
        0 => c_int::try_from(lim.rlim_cur).map_or(MAX_FD_LOOKED_AT, |l| l.min(MAX_FD_LOOKED_AT)),
        _ => MAX_FD_LOOKED_AT,
    };
    (0..limit)
        .filter_map(|fd| {
            let addr = listening_at(fd)?;
            backlog_of(fd)?;
            Some(Listener { addr, fd })
        })
        .collect()
}

impl Listener {
    /// Raises this socket's accept backlog to `backlog`, unless it is that already: the
    /// backlog it had, and whether it was raised. None when it is no longer a socket
    /// listening on that address (its descriptor closed since the scan, and the number
    /// perhaps taken by another socket, which must not be made to listen), or on an error.
    pub fn raise_backlog(&self, backlog: u32) -> Option<(u32, bool)> {
        if listening_at(self.fd)? != self.addr {
            return None;
        }
        let before = backlog_of(self.fd)?;
        if before >= backlog {
            return Some((before, false));
        }
        let wanted = c_int::try_from(backlog).unwrap_or(c_int::MAX);
        // SAFETY: fd is, as just checked, a socket listening on that address: listen on
        // it only changes its backlog.
        let res = unsafe { sys::listen(self.fd, wanted) };
        (res == 0).then_some((before, true))
    }
}
