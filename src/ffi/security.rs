//! Asterisk security events (`ast_security_event_report`, service "phoneprov"), which
//! `res_security_log` writes to the `security` logger channel for fail2ban and the like.

use std::net::IpAddr;

use super::{cstring, sys};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    FailedAcl,
    InvalAcctId,
    ChalRespFailed,
    InvalPassword,
    SuccessfulAuth,
    ChalSent,
    ReqNotAllowed,
}

/// One end of the connection.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

fn raw(e: Option<Endpoint>) -> ([u8; 16], i32, i32) {
    let mut b = [0u8; 16];
    match e {
        Some(Endpoint {
            ip: IpAddr::V4(a),
            port,
        }) => {
            b[..4].copy_from_slice(&a.octets());
            (b, 4, i32::from(port))
        }
        Some(Endpoint {
            ip: IpAddr::V6(a),
            port,
        }) => (a.octets(), 6, i32::from(port)),
        None => (b, 0, 0),
    }
}

/// Reports one event. `detail`: the challenge (auth events), the ACL's name (FailedAcl) or
/// the refused request (ReqNotAllowed).
pub fn report(
    event: Event,
    account: &[u8],
    session: &str,
    detail: &[u8],
    local: Option<Endpoint>,
    remote: Option<Endpoint>,
    tls: bool,
) {
    use sys::pp_security_event::*;
    let code = match event {
        Event::FailedAcl => PP_SEC_FAILED_ACL,
        Event::InvalAcctId => PP_SEC_INVAL_ACCT_ID,
        Event::ChalRespFailed => PP_SEC_CHAL_RESP_FAILED,
        Event::InvalPassword => PP_SEC_INVAL_PASSWORD,
        Event::SuccessfulAuth => PP_SEC_SUCCESSFUL_AUTH,
        Event::ChalSent => PP_SEC_CHAL_SENT,
        Event::ReqNotAllowed => PP_SEC_REQ_NOT_ALLOWED,
    };
    let (account, session, detail) = (cstring(account), cstring(session), cstring(detail));
    let (l, lf, lp) = raw(local);
    let (r, rf, rp) = raw(remote);
    // SAFETY: every string lives for the call; the address buffers hold 16 bytes each; the
    // glue copies what it needs into the event it reports before returning.
    unsafe {
        sys::pp_security_event(
            code as i32,
            account.as_ptr(),
            session.as_ptr(),
            detail.as_ptr(),
            l.as_ptr(),
            lf,
            lp,
            r.as_ptr(),
            rf,
            rp,
            i32::from(tls),
        )
    }
}
