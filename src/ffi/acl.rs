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
        let (bytes, family) = match addr {
            IpAddr::V4(a) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&a.octets());
                (b, 4)
            }
            IpAddr::V6(a) => (a.octets(), 6),
        };
        // SAFETY: list is a live list made by build; bytes holds 16 bytes (4 read for IPv4).
        unsafe { sys::pp_acl_allows(self.list, bytes.as_ptr(), family) != 0 }
    }
}

impl Drop for Acl {
    fn drop(&mut self) {
        if !self.list.is_null() {
            // SAFETY: list was made by ast_append_acl and is freed exactly once, here.
            unsafe { sys::ast_free_acl_list(self.list) };
        }
    }
}
