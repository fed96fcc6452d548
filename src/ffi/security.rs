//! Asterisk security events (`ast_security_event_report`, service "phoneprov"), which
//! `res_security_log` writes to the `security` logger channel for fail2ban and the like.

use std::net::IpAddr;
use std::ptr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::acl::ast_sockaddr;
use super::{cstring, sys};
use phoneprov_core::util::clean::Clean;

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

/// How the client reached us: HTTP, HTTPS, or TFTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Tls,
    Udp,
}

/// One end of the connection.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// Reports one event. `detail`: the challenge (auth events), the ACL's name (FailedAcl) or
/// the refused request (ReqNotAllowed). The account and the detail are [`Clean`]: Asterisk
/// prints them as given inside `"..."`, so a quote or a line break of a client's would
/// forge fields or whole lines of security.log.
pub fn report(
    event: Event,
    account: &Clean,
    session: &str,
    detail: &Clean,
    local: Option<Endpoint>,
    remote: Option<Endpoint>,
    transport: Transport,
) {
    use sys::ast_security_event_type::*;
    let (account, session, detail) = (
        cstring(account.as_bytes()),
        cstring(session),
        cstring(detail.as_bytes()),
    );
    // An unknown end is all zeros, family 0.
    let address =
        |e: Option<Endpoint>| e.map_or_else(Default::default, |e| ast_sockaddr(e.ip, e.port));
    let (local, remote) = (address(local), address(remote));
    let transport = match transport {
        Transport::Tcp => sys::ast_transport::AST_TRANSPORT_TCP,
        Transport::Tls => sys::ast_transport::AST_TRANSPORT_TLS,
        Transport::Udp => sys::ast_transport::AST_TRANSPORT_UDP,
    };
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now = sys::timeval {
        tv_sec: sys::time_t::try_from(since.as_secs()).unwrap_or(sys::time_t::MAX),
        tv_usec: since.subsec_micros().into(),
    };
    let common = |event_type, version| sys::ast_security_event_common {
        event_type,
        version,
        service: c"phoneprov".as_ptr(),
        module: c"res_phoneprov".as_ptr(),
        account_id: account.as_ptr(),
        session_id: session.as_ptr(),
        session_tv: &now,
        local_addr: sys::ast_security_event_ip_addr {
            addr: &local,
            transport,
        },
        remote_addr: sys::ast_security_event_ip_addr {
            addr: &remote,
            transport,
        },
    };
    let detail = detail.as_ptr();
    let empty = c"".as_ptr();
    match event {
        Event::FailedAcl => send(&sys::ast_security_event_failed_acl {
            common: common(
                AST_SECURITY_EVENT_FAILED_ACL,
                sys::AST_SECURITY_EVENT_FAILED_ACL_VERSION,
            ),
            acl_name: detail,
        }),
        Event::InvalAcctId => send(&sys::ast_security_event_inval_acct_id {
            common: common(
                AST_SECURITY_EVENT_INVAL_ACCT_ID,
                sys::AST_SECURITY_EVENT_INVAL_ACCT_ID_VERSION,
            ),
        }),
        Event::ChalRespFailed => send(&sys::ast_security_event_chal_resp_failed {
            common: common(
                AST_SECURITY_EVENT_CHAL_RESP_FAILED,
                sys::AST_SECURITY_EVENT_CHAL_RESP_FAILED_VERSION,
            ),
            challenge: detail,
            response: empty,
            expected_response: empty,
        }),
        Event::InvalPassword => send(&sys::ast_security_event_inval_password {
            common: common(
                AST_SECURITY_EVENT_INVAL_PASSWORD,
                sys::AST_SECURITY_EVENT_INVAL_PASSWORD_VERSION,
            ),
            challenge: detail,
            received_challenge: empty,
            received_hash: empty,
        }),
        Event::SuccessfulAuth => send(&sys::ast_security_event_successful_auth {
            common: common(
                AST_SECURITY_EVENT_SUCCESSFUL_AUTH,
                sys::AST_SECURITY_EVENT_SUCCESSFUL_AUTH_VERSION,
            ),
            using_password: 1,
        }),
        Event::ChalSent => send(&sys::ast_security_event_chal_sent {
            common: common(
                AST_SECURITY_EVENT_CHAL_SENT,
                sys::AST_SECURITY_EVENT_CHAL_SENT_VERSION,
            ),
            challenge: detail,
        }),
        Event::ReqNotAllowed => send(&sys::ast_security_event_req_not_allowed {
            common: common(
                AST_SECURITY_EVENT_REQ_NOT_ALLOWED,
                sys::AST_SECURITY_EVENT_REQ_NOT_ALLOWED_VERSION,
            ),
            request_type: detail,
            request_params: empty,
        }),
    }
}

/// An `ast_security_event_*` structure.
///
/// # Safety
/// Implemented only for C event structures whose first member is the common part, whose
/// event type tells Asterisk which structure it is.
unsafe trait SecurityEvent {}

// SAFETY: each is declared in security_events_defs.h with `common` as its first member.
unsafe impl SecurityEvent for sys::ast_security_event_failed_acl {}
// SAFETY: as above.
unsafe impl SecurityEvent for sys::ast_security_event_inval_acct_id {}
// SAFETY: as above.
unsafe impl SecurityEvent for sys::ast_security_event_chal_resp_failed {}
// SAFETY: as above.
unsafe impl SecurityEvent for sys::ast_security_event_inval_password {}
// SAFETY: as above.
unsafe impl SecurityEvent for sys::ast_security_event_successful_auth {}
// SAFETY: as above.
unsafe impl SecurityEvent for sys::ast_security_event_chal_sent {}
// SAFETY: as above.
unsafe impl SecurityEvent for sys::ast_security_event_req_not_allowed {}

/// Reports an event: the pointer to the whole structure goes to Asterisk, as the C macro
/// `AST_SEC_EVT` passes it.
fn send<E: SecurityEvent>(event: &E) {
    // SAFETY: event starts with its common part (E: SecurityEvent); its pointers are alive
    // for the call, and Asterisk copies what it keeps.
    unsafe { sys::ast_security_event_report(ptr::from_ref(event).cast()) };
}
