//! Asterisk access-control lists (`ast_acl_list`): `permit`, `deny` and named ACLs of
//! `acl.conf`, with Asterisk's own semantics (within a list the last matching rule decides;
//! every named ACL must allow too; an unknown named ACL denies everyone).

use std::net::IpAddr;
use std::ptr;

use super::{cstring, sys};

/// An ACL list owned by us; dropping it frees it.
pub struct Acl {
    list: *mut sys::ast_acl_list,
}

// SAFETY: the list is only read after it is built (ast_apply_acl_nolog takes the list's own
// read lock), and freed once, by Drop, when no reference remains.
unsafe impl Send for Acl {}
// SAFETY: as above; concurrent readers are what the list's lock is for.
unsafe impl Sync for Acl {}

/// A rule Asterisk could not parse, as written.
#[derive(Debug)]
pub struct BadRule(pub String);

impl Acl {
    /// Builds a list from rules in order: `(sense, value)` with sense `permit`, `deny` or
    /// `acl`. Err names the first rule Asterisk refused (the rules parsed so far are freed).
    pub fn build<'a>(rules: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<Acl, BadRule> {
        let mut acl = Acl {
            list: ptr::null_mut(),
        };
        for (sense, value) in rules {
            let (s, v) = (cstring(sense), cstring(value));
            let (mut error, mut named) = (0, 0);
            // SAFETY: the strings live for the call; acl.list is NULL or a list made by this
            // function, which ast_append_acl extends (or creates) in place.
            unsafe {
                sys::ast_append_acl(
                    s.as_ptr(),
                    v.as_ptr(),
                    &mut acl.list,
                    &mut error,
                    &mut named,
                )
            };
            if error != 0 {
                return Err(BadRule(format!(
                    "{sense} = {}",
                    String::from_utf8_lossy(value)
                )));
            }
        }
        Ok(acl)
    }

    /// Whether the list lets `addr` in (an empty list allows everyone).
    pub fn allows(&self, addr: IpAddr) -> bool {
        if self.list.is_null() {
            return true;
        }
        let sa = ast_sockaddr(addr, 0);
        // SAFETY: list is a live list made by build; sa is a local address.
        let sense = unsafe { sys::ast_apply_acl_nolog(self.list, &sa) };
        sense == sys::ast_acl_sense::AST_SENSE_ALLOW
    }
}

/// An address and port as Asterisk's `struct ast_sockaddr` holds them.
pub(super) fn ast_sockaddr(ip: IpAddr, port: u16) -> sys::ast_sockaddr {
    let mut sa = sys::ast_sockaddr::default();
    let at = ptr::addr_of_mut!(sa.ss);
    match ip {
        IpAddr::V4(a) => {
            let sin = sys::sockaddr_in {
                sin_family: sys::AF_INET as sys::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: sys::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a sockaddr_storage is large and aligned enough for any socket address.
            unsafe { at.cast::<sys::sockaddr_in>().write(sin) };
            sa.len = size_of::<sys::sockaddr_in>() as sys::socklen_t;
        }
        IpAddr::V6(a) => {
            let mut sin6 = sys::sockaddr_in6 {
                sin6_family: sys::AF_INET6 as sys::sa_family_t,
                sin6_port: port.to_be(),
                ..Default::default()
            };
            sin6.sin6_addr.__in6_u.__u6_addr8 = a.octets();
            // SAFETY: as for IPv4.
            unsafe { at.cast::<sys::sockaddr_in6>().write(sin6) };
            sa.len = size_of::<sys::sockaddr_in6>() as sys::socklen_t;
        }
    }
    sa
}

impl Drop for Acl {
    fn drop(&mut self) {
        if !self.list.is_null() {
            // SAFETY: list was made by ast_append_acl and is freed exactly once, here.
            unsafe { sys::ast_free_acl_list(self.list) };
        }
    }
}
