//! Who may fetch a profile's files: access lists, TLS, HTTP authentication and rate limits,
//! with a security event for every refusal and failure.
//!
//! The policy (each profile's ACL, built through Asterisk's ACL API, and its options) is
//! built when the configuration is read and published as an `Arc`, like the snapshot.
//! What changes per request (issued nonces, misses per address) lives in [`Runtime`],
//! bounded, under a lock never held while calling into Asterisk.

use std::cell::OnceCell;
use std::io::Read;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::acl::Acl;
use crate::ffi::host::http_prefix;
use crate::ffi::http::Request;
use crate::ffi::log;
use crate::ffi::security::{self, Endpoint, Event};
use phoneprov_core::access::auth::{
    basic_challenge, digest_challenge, digest_matches, parse_authorization, same, Algorithm,
    Credentials, NcCheck, NonceCheck, NonceKey, NonceTable,
};
use phoneprov_core::access::options::{Access, AuthScheme, Limits};
use phoneprov_core::access::ratelimit::MissTable;
use phoneprov_core::config::profile::Config;
use phoneprov_core::config::vars;
use phoneprov_core::http::useragent::normalize_mac;
use phoneprov_core::model::snapshot::{Phone, Resolved, Snapshot};
use phoneprov_core::util::bytes::lossy;

/// Nonces remembered (issued and not yet forgotten) and client addresses counted.
const NONCES: usize = 16_384;
const ADDRESSES: usize = 8_192;

struct ProfilePolicy {
    name: Vec<u8>,
    access: Access,
    /// None: no access list. Err: a rule Asterisk refused; everyone is denied until fixed.
    acl: Option<Result<Acl, String>>,
}

#[derive(Default)]
struct Policy {
    profiles: Vec<ProfilePolicy>,
    limits: Limits,
}

impl Policy {
    fn profile(&self, name: &[u8]) -> Option<&ProfilePolicy> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

struct Runtime {
    key: NonceKey,
    serial: u64,
    nonces: NonceTable,
    misses: MissTable,
}

static POLICY: RwLock<Option<Arc<Policy>>> = RwLock::new(None);
static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

fn runtime() -> MutexGuard<'static, Option<Runtime>> {
    RUNTIME.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .is_err()
    {
        // Unreachable on Linux; still unpredictable enough to tag nonces for one run.
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        key[..16].copy_from_slice(&t.to_le_bytes());
        key[16..24].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
    }
    key
}

/// Builds the policy of a configuration (load and reload) and publishes it.
pub fn configure(config: &Config) {
    let mut problems = Vec::new();
    let profiles = config
        .profiles
        .iter()
        .map(|p| {
            let access = p.access.resolve(&config.settings.access);
            let acl = (!access.acl.is_empty()).then(|| {
                Acl::build(access.acl.iter().map(|r| r.parts())).map_err(|bad| {
                    problems.push(format!(
                        "phoneprov.conf [{}]: Asterisk refused '{}': everyone is denied this \
                         profile's files until it is fixed",
                        lossy(&p.name),
                        bad.0
                    ));
                    bad.0
                })
            });
            ProfilePolicy {
                name: p.name.clone(),
                access,
                acl,
            }
        })
        .collect();
    let policy = Policy {
        profiles,
        limits: config.settings.limits,
    };
    {
        let mut rt = runtime();
        if rt.is_none() {
            *rt = Some(Runtime {
                key: NonceKey::new(random_key()),
                serial: 0,
                nonces: NonceTable::new(NONCES),
                misses: MissTable::new(ADDRESSES),
            });
        }
    }
    let old = POLICY
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .replace(Arc::new(policy));
    // The old ACLs are freed (an Asterisk call) with no lock held.
    drop(old);
    for p in problems {
        log::error!("{}", p);
    }
}

/// Unload: frees the ACLs and forgets nonces and counts.
pub fn clear() {
    let old = POLICY
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    drop(old);
    let rt = runtime().take();
    drop(rt);
}

fn policy() -> Option<Arc<Policy>> {
    POLICY
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The connection's two ends, for events and logs, asked of Asterisk only when one is
/// needed (an access list, a refusal, an event) and then once.
struct Peer<'a> {
    req: &'a Request<'a>,
    ends: OnceCell<(Option<Endpoint>, Option<Endpoint>)>,
    tls: bool,
}

impl<'a> Peer<'a> {
    fn of(req: &'a Request<'a>) -> Peer<'a> {
        Peer {
            req,
            ends: OnceCell::new(),
            tls: req.is_tls(),
        }
    }

    /// The remote end and the local one.
    fn ends(&self) -> (Option<Endpoint>, Option<Endpoint>) {
        *self.ends.get_or_init(|| {
            let req = self.req;
            let remote = req.remote().map(|(ip, port)| Endpoint { ip, port });
            let local = req.local_ip().map(|ip| Endpoint {
                ip: ip.to_canonical(),
                port: req.local_port(),
            });
            (remote, local)
        })
    }

    fn ip(&self) -> Option<IpAddr> {
        self.ends().0.map(|e| e.ip)
    }

    fn event(&self, event: Event, account: &[u8], detail: &[u8]) {
        let (remote, local) = self.ends();
        let session = remote
            .map(|e| format!("{}:{}", e.ip, e.port))
            .unwrap_or_default();
        security::report(event, account, &session, detail, local, remote, self.tls);
    }

    fn who(&self) -> String {
        self.ip().map(|ip| ip.to_string()).unwrap_or("?".into())
    }
}

/// Before anything else: a banned client address gets 429. True when answered.
pub fn refused_early(req: &Request) -> bool {
    let Some(policy) = policy() else {
        return false;
    };
    if policy.limits.miss_limit == 0 {
        return false;
    }
    let Some((ip, _)) = req.remote() else {
        return false;
    };
    let retry = runtime()
        .as_ref()
        .and_then(|rt| rt.misses.banned(ip, now()));
    let Some(retry) = retry else {
        return false;
    };
    let headers = format!("Retry-After: {retry}\r\nContent-type: text/plain\r\n");
    req.send(
        429,
        "Too Many Requests",
        headers.as_bytes(),
        b"Too many failed requests from this address.\n",
        false,
    );
    true
}

/// Counts a miss (404, failed authentication, 410) against the client's address.
pub fn miss(req: &Request) {
    let Some(policy) = policy() else {
        return;
    };
    if policy.limits.miss_limit == 0 {
        return;
    }
    let Some((ip, _)) = req.remote() else {
        return;
    };
    let banned = runtime()
        .as_mut()
        .is_some_and(|rt| rt.misses.miss(ip, now(), &policy.limits));
    if banned {
        log::notice!(
            "phoneprov: {ip} made more than {} failed requests in {} s; refused for {} s",
            policy.limits.miss_limit,
            policy.limits.miss_window,
            policy.limits.miss_ban
        );
    }
}

fn forbidden(req: &Request, why: &str) {
    req.error(403, "Forbidden", why);
}

/// Access lists and `require_tls` for a route found: what applies to every way of reaching
/// the route, enrollment tokens included. True when the request was answered (403).
pub fn refused_network(req: &Request, res: &Resolved<'_>) -> bool {
    let Some(policy) = policy() else {
        return false;
    };
    let Some(pp) = policy.profile(&res.profile.name) else {
        return false;
    };
    network_refused(req, &Peer::of(req), res.phone, pp)
}

/// [`refused_network`] for a profile's policy, with the client already looked up.
fn network_refused(req: &Request, peer: &Peer, phone: Option<&Phone>, pp: &ProfilePolicy) -> bool {
    // Looked up only for a refusal's event.
    let account = || -> &[u8] { phone.map_or(&[], |p| p.mac()) };
    if let Some(acl) = &pp.acl {
        let allowed = match (acl, peer.ip()) {
            (Ok(acl), Some(ip)) => acl.allows(ip),
            _ => false,
        };
        if !allowed {
            peer.event(Event::FailedAcl, account(), &pp.name);
            log::notice!(
                "phoneprov: {} denied by the access list of profile [{}]",
                peer.who(),
                lossy(&pp.name)
            );
            forbidden(req, "Access denied.");
            return true;
        }
    }
    let a = &pp.access;
    let dynamic = phone.is_some();
    if dynamic && a.require_tls && !peer.tls {
        peer.event(Event::ReqNotAllowed, account(), b"plain HTTP (require_tls)");
        forbidden(req, "This file is only served over HTTPS.");
        return true;
    }
    if let (Some(phone), true) = (phone, a.ua_mac_check) {
        let claimed = req.agent().and_then(|ua| ua.mac);
        let own = normalize_mac(&lossy(phone.mac()));
        if let Some(claimed) = claimed.filter(|c| Some(c) != own.as_ref()) {
            let why = format!("User-Agent names MAC {claimed} (ua_mac_check)");
            peer.event(Event::ReqNotAllowed, account(), why.as_bytes());
            log::notice!(
                "phoneprov: {} asked for /phoneprov/{} of {}, but its {why}",
                peer.who(),
                lossy(req.raw_uri),
                lossy(phone.mac())
            );
            forbidden(req, "This file belongs to another phone.");
            return true;
        }
    }
    false
}

/// Access lists, TLS and authentication for a route found. True when the request was
/// answered (refused or challenged); false: serve it.
pub fn refused(req: &Request, snap: &Snapshot, res: &Resolved<'_>) -> bool {
    admit(req, snap, &res.profile.name, res.phone) == Admission::Refused
}

/// [`refused`] for one of a phone's own files that is no route (an upload name): as
/// strict as its dynamic files.
pub fn refused_phone(req: &Request, snap: &Snapshot, phone: &Phone) -> bool {
    admit(req, snap, &phone.profile.name, Some(phone)) == Admission::Refused
}

/// How a request passed (or not) the access rules of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Refused or challenged: the request was answered.
    Refused,
    /// Let in with the credentials of the file's phone.
    Authenticated,
    /// Let in without credentials: the profile asks for none, or only logs (`auth_rollout`).
    Open,
}

/// [`refused_phone`], saying whether the client proved to be the phone.
pub fn admit_phone(req: &Request, snap: &Snapshot, phone: &Phone) -> Admission {
    admit(req, snap, &phone.profile.name, Some(phone))
}

/// Refusal and security events of a request, as [`network_refused`] and [`refused`] name
/// them, for a request that reached no route at all: `RequestNotAllowed`, with `why`.
pub fn report_not_allowed(req: &Request, account: &[u8], why: &str) {
    Peer::of(req).event(Event::ReqNotAllowed, account, why.as_bytes());
}

/// Access lists, TLS and authentication for a file of `profile` (`phone`: None for a static
/// file), with the events and logs of a refusal.
fn admit(req: &Request, snap: &Snapshot, profile: &[u8], phone: Option<&Phone>) -> Admission {
    let Some(policy) = policy() else {
        return Admission::Open;
    };
    let Some(pp) = policy.profile(profile) else {
        return Admission::Open;
    };
    let peer = Peer::of(req);
    if network_refused(req, &peer, phone, pp) {
        return Admission::Refused;
    }
    let a = &pp.access;
    let dynamic = phone.is_some();
    if a.auth == AuthScheme::None || !(dynamic || a.auth_static) {
        return Admission::Open;
    }
    let account: &[u8] = phone.map_or(&[], |p| p.mac());
    if a.auth == AuthScheme::Basic && !peer.tls && !a.auth_basic_plain {
        peer.event(Event::ReqNotAllowed, account, b"Basic auth over plain HTTP");
        if a.auth_rollout {
            log::notice!(
                "phoneprov rollout: would refuse {} (Basic authentication needs HTTPS)",
                peer.who()
            );
            return Admission::Open;
        }
        forbidden(req, "Basic authentication is only accepted over HTTPS.");
        return Admission::Refused;
    }
    let verdict = check(req, snap, profile, phone, a);
    match verdict {
        Verdict::Ok(session) => {
            // Once per Digest nonce (a phone's session; it may fetch many files on one
            // connection), for every Basic request: building the event costs Asterisk more
            // than checking the answer.
            if let Some(user) = session {
                peer.event(Event::SuccessfulAuth, &user, b"");
            }
            Admission::Authenticated
        }
        Verdict::Challenge { stale } => {
            if a.auth_rollout {
                log::notice!(
                    "phoneprov rollout: {} fetched /phoneprov/{} without credentials; it \
                     would have been challenged",
                    peer.who(),
                    lossy(req.raw_uri)
                );
                return Admission::Open;
            }
            challenge(req, &peer, a, stale, account);
            Admission::Refused
        }
        Verdict::Fail(event, user, why) => {
            peer.event(event, &user, why.as_bytes());
            let message = format!(
                "phoneprov: {} failed authentication for /phoneprov/{} as '{}': {why}",
                peer.who(),
                lossy(req.raw_uri),
                lossy(&user)
            );
            if a.auth_rollout {
                log::notice!("phoneprov rollout: would refuse: {message}");
                return Admission::Open;
            }
            log::notice!("{}", message);
            miss(req);
            challenge(req, &peer, a, false, account);
            Admission::Refused
        }
    }
}

enum Verdict {
    /// Accepted; the user when this starts an authenticated session (see `refused`).
    Ok(Option<Vec<u8>>),
    Challenge {
        stale: bool,
    },
    Fail(Event, Vec<u8>, &'static str),
}

/// A phone's credentials: HTTP_USERNAME/HTTP_SECRET, else its first line's USERNAME/SECRET.
fn credentials(phone: &Phone) -> (&[u8], Option<&[u8]>) {
    let v = phone.vars();
    let user = v
        .find(vars::HTTP_USERNAME)
        .or_else(|| v.find(vars::USERNAME))
        .unwrap_or(b"");
    let secret = v.find(vars::HTTP_SECRET).or_else(|| v.find(vars::SECRET));
    (user, secret)
}

fn check(
    req: &Request,
    snap: &Snapshot,
    profile: &[u8],
    phone: Option<&Phone>,
    a: &Access,
) -> Verdict {
    let Some(header) = req.header("Authorization") else {
        return Verdict::Challenge { stale: false };
    };
    let Some(creds) = parse_authorization(header) else {
        return Verdict::Fail(
            Event::ChalRespFailed,
            Vec::new(),
            "malformed Authorization header",
        );
    };
    let user = creds.username();
    let fail = |event: Event, why: &'static str| Verdict::Fail(event, user.to_vec(), why);
    let scheme_ok = matches!(
        (&creds, a.auth),
        (Credentials::Basic { .. }, AuthScheme::Basic)
            | (Credentials::Digest(_), AuthScheme::Digest)
    );
    if !scheme_ok {
        return fail(Event::ChalRespFailed, "wrong authentication scheme");
    }
    // The phone whose credentials open this file: the phone itself, or for a static file
    // any phone of the profile.
    let secret = match phone {
        Some(phone) => {
            let (u, s) = credentials(phone);
            (u == user).then_some(s).flatten()
        }
        None => snap
            .phones
            .iter()
            .filter(|p| p.profile.name == profile)
            .map(credentials)
            .find(|(u, _)| *u == user)
            .and_then(|(_, s)| s),
    };
    let Some(secret) = secret else {
        return fail(Event::InvalAcctId, "unknown user for this file");
    };
    match creds {
        Credentials::Basic { ref password, .. } => {
            if same(password, secret) {
                Verdict::Ok(Some(user.to_vec()))
            } else {
                fail(Event::InvalPassword, "wrong password")
            }
        }
        Credentials::Digest(ref d) => {
            let path = d.uri.split(|&b| b == b'?').next().unwrap_or(b"");
            let uri_ok = path
                .strip_prefix(http_prefix().as_bytes())
                .and_then(|p| p.strip_prefix(b"/phoneprov/"))
                .is_some_and(|p| p == req.raw_uri);
            if d.realm != a.auth_realm || !uri_ok {
                return fail(Event::ChalRespFailed, "realm or uri mismatch");
            }
            let checked = runtime()
                .as_ref()
                .map(|rt| rt.nonces.check(&d.nonce, now(), a.auth_nonce_ttl));
            let Some(NonceCheck::Valid { serial }) = checked else {
                return Verdict::Challenge { stale: true };
            };
            // The three digests run outside the lock: under it, every authenticated request
            // of every connection would queue behind the others'.
            if !digest_matches(d, secret, req.method_name()) {
                return fail(Event::ChalRespFailed, "wrong digest response");
            }
            let counted = runtime()
                .as_mut()
                .map(|rt| rt.nonces.use_count(serial, d.nc));
            match counted {
                Some(NcCheck::Accepted { first }) => Verdict::Ok(first.then(|| user.to_vec())),
                // Unloaded meanwhile, or a nonce forgotten: a fresh one.
                None | Some(NcCheck::Unknown) => Verdict::Challenge { stale: true },
                Some(NcCheck::Replayed) => fail(Event::ChalRespFailed, "replayed nonce count"),
            }
        }
    }
}

fn challenge(req: &Request, peer: &Peer, a: &Access, stale: bool, account: &[u8]) {
    let mut headers = b"Content-type: text/plain\r\n".to_vec();
    let mut detail = Vec::new();
    match a.auth {
        AuthScheme::Digest => {
            let nonce = {
                let mut rt = runtime();
                rt.as_mut().map(|rt| {
                    rt.serial += 1;
                    let nonce = rt.key.nonce(now(), rt.serial);
                    rt.nonces.issued(&nonce);
                    nonce
                })
            };
            let nonce = nonce.unwrap_or_default();
            // SHA-256 first: RFC 7616 asks servers to list the preferred algorithm first.
            for alg in [Algorithm::Sha256, Algorithm::Md5] {
                headers.extend(digest_challenge(&a.auth_realm, &nonce, alg, stale));
            }
            detail.extend_from_slice(nonce.as_bytes());
        }
        _ => headers.extend(basic_challenge(&a.auth_realm)),
    }
    peer.event(Event::ChalSent, account, &detail);
    req.send(
        401,
        "Unauthorized",
        &headers,
        b"Authentication required.\n",
        false,
    );
}
