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
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::acl::Acl;
use crate::ffi::host::with_http_prefix;
use crate::ffi::http::Request;
use crate::ffi::log;
use crate::ffi::security::{Endpoint, Event};
use crate::module::serve::answer::{self, endpoints, Answer, Reply, Report};
use phoneprov_core::access::auth::{
    basic_challenge, digest_challenge, digest_matches, digest_matches_ha1, parse_authorization,
    same, Algorithm, Credentials, NcCheck, NonceCheck, NonceKey, NonceTable,
};
use phoneprov_core::access::options::{Access as Rules, AuthScheme, Limits};
use phoneprov_core::access::ratelimit::MissTable;
use phoneprov_core::config::profile::Config;
use phoneprov_core::http::useragent::normalize_mac;
use phoneprov_core::model::snapshot::{Phone, Resolved, Snapshot};
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::{lock, read, write};

/// Nonces remembered (issued and not yet forgotten) and client addresses counted.
const NONCES: usize = 16_384;
const ADDRESSES: usize = 8_192;

struct ProfilePolicy {
    name: Vec<u8>,
    access: Rules,
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

/// The access rules of the configuration served, and what requests change: issued nonces
/// and misses per address.
pub struct Access {
    policy: RwLock<Arc<Policy>>,
    runtime: Mutex<Runtime>,
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

impl Access {
    /// No rules yet (see [`Access::configure`]); a fresh key for this load's nonces.
    pub fn new() -> Access {
        Access {
            policy: RwLock::new(Arc::new(Policy::default())),
            runtime: Mutex::new(Runtime {
                key: NonceKey::new(random_key()),
                serial: 0,
                nonces: NonceTable::new(NONCES),
                misses: MissTable::new(ADDRESSES),
            }),
        }
    }

    /// Builds the policy of a configuration (load and reload) and publishes it.
    pub fn configure(&self, config: &Config) {
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
        let old = std::mem::replace(&mut *write(&self.policy), Arc::new(policy));
        // The old ACLs are freed (an Asterisk call) with no lock held.
        drop(old);
        for p in problems {
            log::error!("{}", p);
        }
    }

    fn policy(&self) -> Arc<Policy> {
        read(&self.policy).clone()
    }
}

/// The connection's two ends, for access lists and logs, asked of Asterisk only when one
/// is needed (an access list, a refusal's log) and then once.
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

    fn ip(&self) -> Option<IpAddr> {
        self.ends
            .get_or_init(|| endpoints(self.req))
            .0
            .map(|e| e.ip)
    }

    fn who(&self) -> String {
        self.ip().map(|ip| ip.to_string()).unwrap_or("?".into())
    }
}

/// A refusal: `answer`, with the security event that says why.
fn refusal(
    answer: Answer<'static>,
    event: Event,
    account: &[u8],
    detail: impl Into<Vec<u8>>,
) -> Reply<'static> {
    Reply::from(answer).report(event, account, detail)
}

/// A refusal or a challenge, as the `Err` of [`Access::admit_route`]: boxed, since a
/// reply is large and admissions are the common case.
pub type Refused = Box<Reply<'static>>;

/// How a request passed the access rules of a file; a refusal is the `Err` of
/// [`Access::admit_route`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Let in with the credentials of the file's phone.
    Authenticated,
    /// Let in without credentials: the profile asks for none, or only logs (`auth_rollout`).
    Open,
}

enum Verdict {
    /// Accepted; the user when this starts an authenticated session (see `admit`).
    Ok(Option<Vec<u8>>),
    Challenge {
        stale: bool,
    },
    Fail(Event, Vec<u8>, &'static str),
}

impl Access {
    /// Before anything else: a banned client address gets 429.
    pub fn refused_early(&self, req: &Request) -> Option<Reply<'static>> {
        let policy = self.policy();
        if policy.limits.miss_limit == 0 {
            return None;
        }
        let (ip, _) = req.remote()?;
        let retry = lock(&self.runtime).misses.banned(ip, now())?;
        let head = format!("Retry-After: {retry}\r\nContent-type: text/plain\r\n");
        Some(Reply::from(Answer::body(
            429,
            "Too Many Requests",
            head.into_bytes(),
            &b"Too many failed requests from this address.\n"[..],
        )))
    }

    /// Counts a miss (404, failed authentication, 410) against the client's address.
    pub fn miss(&self, req: &Request) {
        let policy = self.policy();
        if policy.limits.miss_limit == 0 {
            return;
        }
        let Some((ip, _)) = req.remote() else {
            return;
        };
        let banned = lock(&self.runtime).misses.miss(ip, now(), &policy.limits);
        if banned {
            log::notice!(
                "phoneprov: {ip} made more than {} failed requests in {} s; refused for {} s",
                policy.limits.miss_limit,
                policy.limits.miss_window,
                policy.limits.miss_ban
            );
        }
    }

    /// Access lists and `require_tls` for a route found: what applies to every way of
    /// reaching the route, enrollment tokens included.
    pub fn refused_network(&self, req: &Request, res: &Resolved<'_>) -> Option<Reply<'static>> {
        let policy = self.policy();
        let pp = policy.profile(&res.profile.name)?;
        network_refused(req, &Peer::of(req), res.phone, pp)
    }

    /// [`Access::refused_network`] for a phone that is no route (a phone of the realtime
    /// database).
    pub fn refused_network_phone(&self, req: &Request, phone: &Phone) -> Option<Reply<'static>> {
        let policy = self.policy();
        let pp = policy.profile(&phone.profile.name)?;
        network_refused(req, &Peer::of(req), Some(phone), pp)
    }

    /// Access lists, TLS and authentication for a route found; Err: the refusal or the
    /// challenge to answer with.
    pub fn admit_route(
        &self,
        req: &Request,
        snap: &Snapshot,
        res: &Resolved<'_>,
    ) -> Result<Admission, Refused> {
        self.admit(req, snap, &res.profile.name, res.phone)
    }

    /// [`Access::admit_route`] for one of a phone's own files that is no route (an upload
    /// name, a phone of the realtime database): as strict as its dynamic files.
    pub fn admit_phone(
        &self,
        req: &Request,
        snap: &Snapshot,
        phone: &Phone,
    ) -> Result<Admission, Refused> {
        self.admit(req, snap, &phone.profile.name, Some(phone))
    }

    /// Access lists, TLS and authentication for a file of `profile` (`phone`: None for a
    /// static file), with the logs of a refusal.
    fn admit(
        &self,
        req: &Request,
        snap: &Snapshot,
        profile: &[u8],
        phone: Option<&Phone>,
    ) -> Result<Admission, Refused> {
        let policy = self.policy();
        let Some(pp) = policy.profile(profile) else {
            return Ok(Admission::Open);
        };
        let peer = Peer::of(req);
        if let Some(refused) = network_refused(req, &peer, phone, pp) {
            return Err(Box::new(refused));
        }
        let a = &pp.access;
        let dynamic = phone.is_some();
        if a.auth == AuthScheme::None || !(dynamic || a.auth_static) {
            return Ok(Admission::Open);
        }
        let account: &[u8] = phone.map_or(&[], |p| p.mac());
        if a.auth == AuthScheme::Basic && !peer.tls && !a.auth_basic_plain {
            let why = &b"Basic auth over plain HTTP"[..];
            if a.auth_rollout {
                answer::report(req, &Report::new(Event::ReqNotAllowed, account, why));
                log::notice!(
                    "phoneprov rollout: would refuse {} (Basic authentication needs HTTPS)",
                    peer.who()
                );
                return Ok(Admission::Open);
            }
            return Err(Box::new(refusal(
                Answer::forbidden("Basic authentication is only accepted over HTTPS."),
                Event::ReqNotAllowed,
                account,
                why,
            )));
        }
        match self.check(req, snap, profile, phone, a) {
            Verdict::Ok(session) => {
                // Once per Digest nonce (a phone's session; it may fetch many files on one
                // connection), for every Basic request: building the event costs Asterisk
                // more than checking the answer.
                if let Some(user) = session {
                    answer::report(req, &Report::new(Event::SuccessfulAuth, &user, b""));
                }
                Ok(Admission::Authenticated)
            }
            Verdict::Challenge { stale } => {
                if a.auth_rollout {
                    log::notice!(
                        "phoneprov rollout: {} fetched /phoneprov/{} without credentials; it \
                         would have been challenged",
                        peer.who(),
                        lossy(req.raw_uri)
                    );
                    return Ok(Admission::Open);
                }
                Err(Box::new(self.challenge(a, stale, account)))
            }
            Verdict::Fail(event, user, why) => {
                let message = format!(
                    "phoneprov: {} failed authentication for /phoneprov/{} as '{}': {why}",
                    peer.who(),
                    lossy(req.raw_uri),
                    lossy(&user)
                );
                if a.auth_rollout {
                    answer::report(req, &Report::new(event, &user, why.as_bytes()));
                    log::notice!("phoneprov rollout: would refuse: {message}");
                    return Ok(Admission::Open);
                }
                log::notice!("{}", message);
                // The failure's event, then the new challenge's (the challenge is the answer).
                answer::report(req, &Report::new(event, &user, why.as_bytes()));
                Err(Box::new(self.challenge(a, false, account).miss()))
            }
        }
    }

    fn check(
        &self,
        req: &Request,
        snap: &Snapshot,
        profile: &[u8],
        phone: Option<&Phone>,
        a: &Rules,
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
        // The phone whose credentials open this file: the phone itself, or for a static
        // file the first phone of the profile with that user name. It must have a secret,
        // which a phone with a Digest key has (its secret is then looked up only if needed).
        let owner = match phone {
            Some(phone) => (phone.http_user() == user).then_some(phone),
            None => snap
                .phones
                .iter()
                .filter(|p| p.profile.name == profile)
                .find(|p| p.http_user() == user),
        };
        let unknown = || fail(Event::InvalAcctId, "unknown user for this file");
        let Some(owner) = owner.filter(|p| p.digest().is_some() || p.http_secret().is_some())
        else {
            return unknown();
        };
        match creds {
            Credentials::Basic { ref password, .. } => {
                let Some(secret) = owner.http_secret() else {
                    return unknown();
                };
                if same(password, secret) {
                    Verdict::Ok(Some(user.to_vec()))
                } else {
                    fail(Event::InvalPassword, "wrong password")
                }
            }
            Credentials::Digest(ref d) => {
                let path = d.uri.split(|&b| b == b'?').next().unwrap_or(b"");
                let uri_ok = with_http_prefix(|prefix| {
                    path.strip_prefix(prefix.as_bytes())
                        .and_then(|p| p.strip_prefix(b"/phoneprov/"))
                        .is_some_and(|p| p == req.raw_uri)
                });
                if d.realm != a.auth_realm || !uri_ok {
                    return fail(Event::ChalRespFailed, "realm or uri mismatch");
                }
                // The digests run before the nonce is looked at, outside the lock: under it,
                // every authenticated request of every connection would queue behind the
                // others'. The phone's HA1 was made of this user name and, unless the rules
                // changed since its snapshot was built, of this realm.
                let matches = match owner.digest() {
                    Some(key) if *key.realm == *d.realm => {
                        digest_matches_ha1(d, &key.ha1, req.method_name())
                    }
                    _ => match owner.http_secret() {
                        Some(secret) => digest_matches(d, secret, req.method_name()),
                        None => return unknown(),
                    },
                };
                // The nonce is checked, then its count used, under one lock; a nonce not
                // valid is answered with a fresh challenge whatever the response.
                let now = now();
                let counted = {
                    let mut rt = lock(&self.runtime);
                    match rt.nonces.check(&d.nonce, now, a.auth_nonce_ttl) {
                        NonceCheck::Valid { serial } if matches => {
                            Some(rt.nonces.use_count(serial, d.nc))
                        }
                        NonceCheck::Valid { .. } => None,
                        _ => return Verdict::Challenge { stale: true },
                    }
                };
                match counted {
                    None => fail(Event::ChalRespFailed, "wrong digest response"),
                    Some(NcCheck::Accepted { first }) => Verdict::Ok(first.then(|| user.to_vec())),
                    // A nonce forgotten meanwhile: a fresh one.
                    Some(NcCheck::Unknown) => Verdict::Challenge { stale: true },
                    Some(NcCheck::Replayed) => fail(Event::ChalRespFailed, "replayed nonce count"),
                }
            }
        }
    }

    /// A 401 with a fresh challenge, and its event.
    fn challenge(&self, a: &Rules, stale: bool, account: &[u8]) -> Reply<'static> {
        let mut head = b"Content-type: text/plain\r\n".to_vec();
        let mut detail = Vec::new();
        match a.auth {
            AuthScheme::Digest => {
                let nonce = {
                    let mut rt = lock(&self.runtime);
                    rt.serial += 1;
                    let nonce = rt.key.nonce(now(), rt.serial);
                    rt.nonces.issued(&nonce);
                    nonce
                };
                // SHA-256 first: RFC 7616 asks servers to list the preferred algorithm first.
                for alg in [Algorithm::Sha256, Algorithm::Md5] {
                    head.extend(digest_challenge(&a.auth_realm, &nonce, alg, stale));
                }
                detail.extend_from_slice(nonce.as_bytes());
            }
            _ => head.extend(basic_challenge(&a.auth_realm)),
        }
        refusal(
            Answer::body(
                401,
                "Unauthorized",
                head,
                &b"Authentication required.\n"[..],
            ),
            Event::ChalSent,
            account,
            detail,
        )
    }
}

/// [`Access::refused_network`] for a profile's policy, with the client already looked up.
fn network_refused(
    req: &Request,
    peer: &Peer,
    phone: Option<&Phone>,
    pp: &ProfilePolicy,
) -> Option<Reply<'static>> {
    let account: &[u8] = phone.map_or(&[], |p| p.mac());
    if let Some(acl) = &pp.acl {
        let allowed = match (acl, peer.ip()) {
            (Ok(acl), Some(ip)) => acl.allows(ip),
            _ => false,
        };
        if !allowed {
            log::notice!(
                "phoneprov: {} denied by the access list of profile [{}]",
                peer.who(),
                lossy(&pp.name)
            );
            return Some(refusal(
                Answer::forbidden("Access denied."),
                Event::FailedAcl,
                account,
                pp.name.clone(),
            ));
        }
    }
    let a = &pp.access;
    if phone.is_some() && a.require_tls && !peer.tls {
        return Some(refusal(
            Answer::forbidden("This file is only served over HTTPS."),
            Event::ReqNotAllowed,
            account,
            &b"plain HTTP (require_tls)"[..],
        ));
    }
    if let (Some(phone), true) = (phone, a.ua_mac_check) {
        let claimed = req.agent().and_then(|ua| ua.mac);
        let own = normalize_mac(&lossy(phone.mac()));
        if let Some(claimed) = claimed.filter(|c| Some(c) != own.as_ref()) {
            let why = format!("User-Agent names MAC {claimed} (ua_mac_check)");
            log::notice!(
                "phoneprov: {} asked for /phoneprov/{} of {}, but its {why}",
                peer.who(),
                lossy(req.raw_uri),
                lossy(phone.mac())
            );
            return Some(refusal(
                Answer::forbidden("This file belongs to another phone."),
                Event::ReqNotAllowed,
                account,
                why,
            ));
        }
    }
    None
}
