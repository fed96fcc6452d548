//! Who may fetch a profile's files: access lists, TLS, HTTP authentication and rate limits,
//! with a security event for every refusal and failure.
//!
//! The policy (each profile's ACL, built through Asterisk's ACL API, and its options) is
//! built when the configuration is read, and belongs to that configuration: a request
//! applies the policy of the configuration its snapshot was built from (the same `Arc`),
//! never a newer or older one. A reload builds the new policy first and keeps the previous
//! ones while snapshots of their configurations may still be served, so the policy and the
//! snapshot change together, in the one swap that publishes the snapshot. A file whose
//! profile has no policy is refused, never served open.
//! What changes per request (nonce counts of right answers, misses and challenges per
//! client) lives in [`Runtime`], bounded, under a lock never held while calling into
//! Asterisk; nonces themselves are checked by their tag and take no room.

use std::cell::OnceCell;
use std::io::Read;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::acl::Acl;
use crate::ffi::config;
use crate::ffi::host::with_http_prefix;
use crate::ffi::http::Request;
use crate::ffi::log;
use crate::ffi::security::{Endpoint, Event};
use crate::module::serve::answer::{self, endpoints, Answer, Reply, Report};
use crate::module::state::grace::Grace;
use phoneprov_core::access::auth::{
    basic_challenge, digest_challenge, digest_matches, digest_matches_ha1, parse_authorization,
    same, Algorithm, Credentials, NcCheck, NonceCheck, NonceCounts, NonceKey,
};
use phoneprov_core::access::families::{ipv4_only, listens_on_ipv6};
use phoneprov_core::access::options::{unmap, Access as Rules, AuthScheme, Ignore, Limits};
use phoneprov_core::access::ratelimit::{client, Miss, MissTable, Throttle};
use phoneprov_core::access::scan::ScanReports;
use phoneprov_core::config::profile::Config;
use phoneprov_core::http::useragent::normalize_mac;
use phoneprov_core::model::snapshot::{Phone, Resolved, Snapshot};
use phoneprov_core::util::args::is_true;
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::clean::Clean;
use phoneprov_core::util::lock::{lock, read, write};

/// Nonce counts remembered (per nonce and user that authenticated) and clients counted.
const NONCES: usize = 16_384;
const ADDRESSES: usize = 8_192;
/// Clients whose challenges are being held back (see [`Throttle`]), and the window: at most
/// one `ChallengeSent` event per client per minute, however many challenges it asks for.
const CHALLENGE_CLIENTS: usize = 4_096;
const CHALLENGE_WINDOW: u64 = 60;
/// Policies kept, newest first: the current configuration's and those of the last
/// reloads, whose snapshots requests in flight may still hold. A request whose snapshot's
/// policy was let go (three reloads during one request) is refused, not served open.
const POLICIES_KEPT: usize = 3;

struct ProfilePolicy {
    name: Vec<u8>,
    access: Rules,
    /// None: no access list. Err: a rule Asterisk refused; everyone is denied until fixed.
    acl: Option<Result<Acl, String>>,
}

impl ProfilePolicy {
    /// Whether its access list (if any) admits a client at `ip`; one whose address is not
    /// known is admitted only where there is no list.
    fn admits(&self, ip: Option<IpAddr>) -> bool {
        match (&self.acl, ip) {
            (None, _) => true,
            (Some(Ok(acl)), Some(ip)) => acl.allows(ip),
            _ => false,
        }
    }
}

#[derive(Default)]
struct Policy {
    /// The configuration it was built from: snapshots built from the same `Arc` use it.
    config: Option<Arc<Config>>,
    profiles: Vec<ProfilePolicy>,
    limits: Limits,
    /// The named ACLs of `miss_ignore`: clients they permit are never banned.
    ignore_acls: Vec<Acl>,
}

impl Policy {
    /// Whether `ip` is never banned (`miss_ignore`).
    fn spared(&self, ip: IpAddr) -> bool {
        // An IPv4 client of a dual-stack listener is matched as the IPv4 address it is.
        let ip = unmap(ip);
        self.limits.miss_ignore.iter().any(|i| i.contains(ip))
            || self.ignore_acls.iter().any(|acl| acl.allows(ip))
    }
}

struct Runtime {
    counts: NonceCounts,
    misses: MissTable,
    challenges: Throttle,
    /// When the miss table was last said to be full of bans (once a minute at most).
    full_warned: u64,
}

/// The access rules of the configurations served, and what requests change: nonce counts,
/// misses and challenges per client.
pub struct Access {
    /// Newest first, at most [`POLICIES_KEPT`]; never empty.
    policies: RwLock<Vec<Arc<Policy>>>,
    /// Tags this load's nonces: a nonce is checked by its tag, with no table.
    key: NonceKey,
    serial: AtomicU64,
    runtime: Mutex<Runtime>,
    /// Phones' previous credentials, while they still open their files.
    grace: Arc<Grace>,
    /// When each address last had a scan event (see `scan_reported`).
    scans: Mutex<ScanReports>,
}

/// How the access lists of all profiles treat a client, known before anything that depends
/// on the URI (a route, a database query, a PUT's target) is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// No access list refuses it.
    Open,
    /// Some profile's list refuses it, another's admits it: a name nothing serves is
    /// answered with the same 403 as a file of a profile that refuses it, so that its
    /// answers tell no MAC (or token) of those profiles from an unknown one.
    Restricted,
    /// Every profile's list refuses it: 403 before the URI is looked at.
    Denied,
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
    pub fn new(grace: Arc<Grace>) -> Access {
        Access {
            grace,
            policies: RwLock::new(vec![Arc::new(Policy::default())]),
            key: NonceKey::new(random_key()),
            serial: AtomicU64::new(0),
            runtime: Mutex::new(Runtime {
                counts: NonceCounts::new(NONCES),
                misses: MissTable::new(ADDRESSES),
                challenges: Throttle::new(CHALLENGE_CLIENTS, CHALLENGE_WINDOW),
                full_warned: 0,
            }),
            scans: Mutex::new(ScanReports::default()),
        }
    }

    /// Builds the policy of a configuration (load and reload), before any snapshot of it is
    /// published: requests pick it when their snapshot is of `config`.
    pub fn configure(&self, config: &Arc<Config>) {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let profiles: Vec<ProfilePolicy> = config
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
        let ipv6 = http_ipv6_listener();
        for p in profiles
            .iter()
            .filter(|p: &&ProfilePolicy| ipv4_only(&p.access.acl))
        {
            if let Some(bind) = &ipv6 {
                warnings.push(format!(
                    "phoneprov.conf [{}]: its access list has IPv4 rules only, but Asterisk's \
                     HTTP server listens on IPv6 ({bind}): Asterisk's rules skip addresses of \
                     another family and admit by default, so every IPv6 client is let in. Add \
                     'deny = ::/0' (or IPv6 rules) to the list",
                    lossy(&p.name)
                ));
            }
        }
        let limits = config.settings.limits.clone();
        let ignore_acls = limits
            .miss_ignore
            .iter()
            .filter_map(|i| match i {
                Ignore::Acl(name) => match Acl::build([("acl", &name[..])]) {
                    Ok(acl) => Some(acl),
                    Err(bad) => {
                        problems.push(format!(
                            "phoneprov.conf [general]: miss_ignore: Asterisk refused ACL '{}'; \
                             it spares nobody",
                            bad.0
                        ));
                        None
                    }
                },
                Ignore::Net(..) => None,
            })
            .collect();
        let policy = Policy {
            config: Some(config.clone()),
            profiles,
            limits,
            ignore_acls,
        };
        let old = {
            let mut policies = write(&self.policies);
            policies.insert(0, Arc::new(policy));
            let keep = POLICIES_KEPT.min(policies.len());
            policies.split_off(keep)
        };
        // The old ACLs are freed (an Asterisk call) with no lock held.
        drop(old);
        for p in problems {
            log::error!("{}", p);
        }
        for p in warnings {
            log::warning!("{}", p);
        }
    }

    /// The newest policy: its rate limits apply to every request.
    fn policy(&self) -> Arc<Policy> {
        read(&self.policies)[0].clone()
    }

    /// The policy of the configuration `snap` was built from; None when it was let go.
    fn policy_of(&self, snap: &Snapshot) -> Option<Arc<Policy>> {
        read(&self.policies)
            .iter()
            .find(|p| {
                p.config
                    .as_ref()
                    .is_some_and(|c| Arc::ptr_eq(c, &snap.config))
            })
            .cloned()
    }

    /// The policy of `profile` in the configuration of `snap`, or the refusal that answers
    /// a file without one (fail closed: a reload in progress, or a realtime phone cached
    /// with a profile the configuration no longer has).
    fn profile_policy(
        &self,
        snap: &Snapshot,
        profile: &[u8],
        account: &[u8],
    ) -> Result<(Arc<Policy>, usize), Refused> {
        let found = self.policy_of(snap).and_then(|policy| {
            let at = policy.profiles.iter().position(|p| p.name == profile)?;
            Some((policy, at))
        });
        found.ok_or_else(|| {
            log::notice!(
                "phoneprov: no access policy for profile [{}] (reloading?); request refused",
                lossy(profile)
            );
            Box::new(refusal(
                Answer::body(
                    503,
                    "Service Unavailable",
                    b"Retry-After: 1\r\nContent-type: text/plain\r\n".to_vec(),
                    &b"The provisioning configuration is being reloaded; try again.\n"[..],
                ),
                Event::ReqNotAllowed,
                account,
                &b"no access policy for the file's profile"[..],
            ))
        })
    }
}

/// The IPv6 address Asterisk's HTTP server listens on (`bindaddr`, or `tlsbindaddr` with
/// `tlsenable`, from http.conf), as written there; None when it listens on IPv4 only.
fn http_ipv6_listener() -> Option<String> {
    let http = config::load("http.conf").ok()?;
    let general = http.category("general")?;
    let on = |key: &str| general.get(key).is_some_and(is_true);
    let plain = general.get("bindaddr").filter(|_| on("enabled"));
    let tls = general.get("tlsbindaddr").filter(|_| on("tlsenable"));
    let found = [("bindaddr", plain), ("tlsbindaddr", tls)]
        .into_iter()
        .find_map(|(key, value)| {
            let value = value.filter(|v| listens_on_ipv6(v))?;
            Some(format!("{key} = {}", lossy(value)))
        });
    found
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
fn refusal(answer: Answer<'static>, event: Event, account: &[u8], detail: &[u8]) -> Reply<'static> {
    Reply::from(answer).report(event, Clean::new(account), Clean::new(detail))
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
    Ok(Option<Clean>),
    Challenge {
        stale: bool,
    },
    /// Refused: the event, the user name the client gave (escaped: it goes into the event
    /// and the log line) and why.
    Fail(Event, Clean, &'static str),
}

impl Access {
    /// Before anything else: a banned client address gets 429.
    pub fn refused_early(&self, req: &Request) -> Option<Reply<'static>> {
        let (ip, _) = req.remote()?;
        let retry = self.ban_of(ip)?;
        let head = format!("Retry-After: {retry}\r\nContent-type: text/plain\r\n");
        Some(Reply::from(Answer::body(
            429,
            "Too Many Requests",
            head.into_bytes(),
            &b"Too many failed requests from this address.\n"[..],
        )))
    }

    /// What the access lists of all profiles say of this client (see [`Gate`]). Asterisk is
    /// asked only when some profile has a list.
    pub fn gate(&self, req: &Request) -> Gate {
        let policy = self.policy();
        if policy.profiles.iter().all(|p| p.acl.is_none()) {
            return Gate::Open;
        }
        gate_of(&policy, Peer::of(req).ip())
    }

    /// For a client known by its address alone (TFTP): whether it is banned by the rate
    /// limit.
    pub fn banned_address(&self, ip: IpAddr) -> bool {
        self.ban_of(ip).is_some()
    }

    /// The seconds left of `ip`'s ban, if it is banned.
    fn ban_of(&self, ip: IpAddr) -> Option<u64> {
        let policy = self.policy();
        if policy.limits.miss_limit == 0 {
            return None;
        }
        let retry = lock(&self.runtime)
            .misses
            .banned(ip, now(), &policy.limits)?;
        // A network spared by miss_ignore since the ban (a reload) is let in.
        (!policy.spared(ip)).then_some(retry)
    }

    /// For a client known by its address alone (TFTP): what the access lists say of it,
    /// those of every profile (`profile` None: denied when all of them refuse it) or of one
    /// profile of `snap`'s configuration. A profile without a policy is denied (fail closed).
    pub fn check_address(
        &self,
        snap: &Snapshot,
        profile: Option<&[u8]>,
        ip: IpAddr,
    ) -> AddressCheck {
        let Some(policy) = self.policy_of(snap) else {
            return AddressCheck::Denied;
        };
        let allowed = match profile {
            None => gate_of(&policy, Some(ip)) != Gate::Denied,
            Some(name) => policy
                .profiles
                .iter()
                .find(|p| p.name == name)
                .is_some_and(|pp| pp.admits(Some(ip))),
        };
        match allowed {
            true => AddressCheck::Allowed,
            false => AddressCheck::Denied,
        }
    }

    /// A security event for a client known by its addresses alone (TFTP, over UDP).
    pub fn report_address(
        &self,
        event: Event,
        account: &[u8],
        detail: &[u8],
        peer: std::net::SocketAddr,
        local: IpAddr,
    ) {
        let remote = Endpoint {
            ip: peer.ip(),
            port: peer.port(),
        };
        crate::ffi::security::report(
            event,
            &Clean::new(account),
            &format!("{}:{}", remote.ip, remote.port),
            &Clean::new(detail),
            Some(Endpoint { ip: local, port: 0 }),
            Some(remote),
            crate::ffi::security::Transport::Udp,
        );
    }
}

/// What a client's address is to the access lists, for TFTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressCheck {
    Allowed,
    Denied,
}

/// [`Access::gate`] of an address.
fn gate_of(policy: &Policy, ip: Option<IpAddr>) -> Gate {
    let (mut admitted, mut refused) = (false, false);
    for pp in &policy.profiles {
        let ok = pp.admits(ip);
        admitted |= ok;
        refused |= !ok;
    }
    match (admitted, refused) {
        (_, false) => Gate::Open,
        (true, true) => Gate::Restricted,
        (false, true) => Gate::Denied,
    }
}

impl Access {
    /// The 403 of a client the access lists refuse, given before (or instead of) what the
    /// URI names: the same answer as a file's own access list gives.
    pub fn gate_refusal(&self, req: &Request, gate: Gate) -> Reply<'static> {
        let which = match gate {
            Gate::Denied => "every profile",
            _ => "a profile",
        };
        log::notice!(
            "phoneprov: {} denied by the access list of {which} (/phoneprov/{})",
            Peer::of(req).who(),
            req.uri_text()
        );
        refusal(
            Answer::forbidden("Access denied."),
            Event::FailedAcl,
            b"",
            which.as_bytes(),
        )
    }

    /// Whether a scan event (`InvalidAccountID` for a name shaped like a phone's that no
    /// phone has) may be reported for this client now: at most one per address per
    /// `SCAN_INTERVAL` seconds.
    pub fn scan_reported(&self, req: &Request) -> bool {
        let Some((ip, _)) = req.remote() else {
            return false;
        };
        lock(&self.scans).allow(ip, now())
    }

    /// Counts a miss (404, failed authentication, 410) against the client's address.
    pub fn miss(&self, req: &Request) {
        if let Some((ip, _)) = req.remote() {
            self.miss_address(ip);
        }
    }

    /// [`Access::miss`] for a client known by its address alone (TFTP).
    pub fn miss_address(&self, ip: IpAddr) {
        let policy = self.policy();
        if policy.limits.miss_limit == 0 {
            return;
        }
        // Asked of Asterisk (a named ACL) before the lock is taken.
        if policy.spared(ip) {
            return;
        }
        let now = now();
        let outcome = {
            let mut rt = lock(&self.runtime);
            let outcome = rt.misses.miss(ip, now, &policy.limits);
            let warn = outcome == Miss::TableFull && now >= rt.full_warned + 60;
            if warn {
                rt.full_warned = now;
            }
            (outcome != Miss::TableFull || warn).then_some(outcome)
        };
        let who = client(ip, policy.limits.miss_prefix6);
        match outcome {
            Some(Miss::Banned) => log::notice!(
                "phoneprov: {who} made more than {} failed requests in {} s; refused for {} s",
                policy.limits.miss_limit,
                policy.limits.miss_window,
                policy.limits.miss_ban
            ),
            Some(Miss::TableFull) => log::warning!(
                "phoneprov: all {ADDRESSES} clients counted for misses are banned; misses of \
                 other clients are not counted until a ban ends"
            ),
            _ => {}
        }
    }

    /// Access lists and `require_tls` for a route found: what applies to every way of
    /// reaching the route, enrollment tokens included.
    pub fn refused_network(
        &self,
        req: &Request,
        snap: &Snapshot,
        res: &Resolved<'_>,
    ) -> Option<Reply<'static>> {
        let account: &[u8] = res.phone.map_or(&[], |p| p.mac());
        let (policy, at) = match self.profile_policy(snap, &res.profile.name, account) {
            Ok(found) => found,
            Err(refused) => return Some(*refused),
        };
        network_refused(req, &Peer::of(req), res.phone, &policy.profiles[at])
    }

    /// [`Access::refused_network`] for a phone that is no route (a phone of the realtime
    /// database).
    pub fn refused_network_phone(
        &self,
        req: &Request,
        snap: &Snapshot,
        phone: &Phone,
    ) -> Option<Reply<'static>> {
        // Fail closed, as for a route: a profile without a policy is refused.
        let (policy, at) = match self.profile_policy(snap, &phone.profile.name, phone.mac()) {
            Ok(found) => found,
            Err(refused) => return Some(*refused),
        };
        network_refused(req, &Peer::of(req), Some(phone), &policy.profiles[at])
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
        let account: &[u8] = phone.map_or(&[], |p| p.mac());
        let (policy, at) = self.profile_policy(snap, profile, account)?;
        let pp = &policy.profiles[at];
        let peer = Peer::of(req);
        if let Some(refused) = network_refused(req, &peer, phone, pp) {
            return Err(Box::new(refused));
        }
        let a = &pp.access;
        let dynamic = phone.is_some();
        if a.auth == AuthScheme::None || !(dynamic || a.auth_static) {
            return Ok(Admission::Open);
        }
        if a.auth == AuthScheme::Basic && !peer.tls && !a.auth_basic_plain {
            let why = &b"Basic auth over plain HTTP"[..];
            if a.auth_rollout {
                let report =
                    Report::new(Event::ReqNotAllowed, Clean::new(account), Clean::new(why));
                answer::report(req, &report);
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
                    let report = Report::new(Event::SuccessfulAuth, user, Clean::default());
                    answer::report(req, &report);
                }
                Ok(Admission::Authenticated)
            }
            Verdict::Challenge { stale } => {
                if a.auth_rollout {
                    log::notice!(
                        "phoneprov rollout: {} fetched /phoneprov/{} without credentials; it \
                         would have been challenged",
                        peer.who(),
                        req.uri_text()
                    );
                    return Ok(Admission::Open);
                }
                Err(Box::new(self.challenge(&peer, a, stale, account)))
            }
            Verdict::Fail(event, user, why) => {
                let message = format!(
                    "phoneprov: {} failed authentication for /phoneprov/{} as '{user}': {why}",
                    peer.who(),
                    req.uri_text(),
                );
                let report = Report::new(event, user, Clean::new(why.as_bytes()));
                if a.auth_rollout {
                    answer::report(req, &report);
                    log::notice!("phoneprov rollout: would refuse: {message}");
                    return Ok(Admission::Open);
                }
                log::notice!("{}", message);
                // The failure's event, then the new challenge's (the challenge is the answer).
                answer::report(req, &report);
                Err(Box::new(self.challenge(&peer, a, false, account).miss()))
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
                Clean::default(),
                "malformed Authorization header",
            );
        };
        let user = creds.username();
        // The one text of the header that reaches logs and events, escaped as it enters.
        let user_text = Clean::new(user);
        let fail = |event: Event, why: &'static str| Verdict::Fail(event, user_text.clone(), why);
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
        let owner = || {
            let owner = match phone {
                // Or by the user name of its previous credentials, while they open its files.
                Some(phone) => (phone.http_user() == user
                    || self.grace.opens(phone.mac(), |old| old.user == user))
                .then_some(phone),
                None => snap
                    .phones
                    .iter()
                    .filter(|p| p.profile.name == profile)
                    .find(|p| p.http_user() == user),
            };
            owner.filter(|p| p.digest().is_some() || p.http_secret().is_some())
        };
        // An unknown user is refused as a wrong answer is: a miss and a new challenge.
        let unknown = || fail(Event::InvalAcctId, "unknown user for this file");
        match creds {
            Credentials::Basic { ref password, .. } => {
                let Some(owner) = owner() else {
                    return unknown();
                };
                let Some(secret) = owner.http_secret() else {
                    return unknown();
                };
                if same(password, secret) {
                    self.grace.ended(owner.mac());
                    Verdict::Ok(Some(user_text.clone()))
                } else if self
                    .grace
                    .opens(owner.mac(), |old| old.opens_basic(user, password))
                {
                    Verdict::Ok(Some(user_text.clone()))
                } else {
                    fail(Event::InvalPassword, "wrong password")
                }
            }
            Credentials::Digest(ref d) => {
                // The nonce first, the same for every user name: one not ours or too old
                // gets a fresh challenge (stale) and counts no miss, whether or not the user
                // exists, so the answer tells nothing of user names.
                let serial = match self.key.check(&d.nonce, now(), a.auth_nonce_ttl) {
                    NonceCheck::Valid { serial } => serial,
                    NonceCheck::Expired | NonceCheck::Foreign => {
                        return Verdict::Challenge { stale: true }
                    }
                };
                let path = d.uri.split(|&b| b == b'?').next().unwrap_or(b"");
                let uri_ok = with_http_prefix(|prefix| {
                    path.strip_prefix(prefix.as_bytes())
                        .and_then(|p| p.strip_prefix(b"/phoneprov/"))
                        .is_some_and(|p| p == req.raw_uri)
                });
                if d.realm != a.auth_realm || !uri_ok {
                    return fail(Event::ChalRespFailed, "realm or uri mismatch");
                }
                // The phone's HA1 was made of this user name and, unless the rules changed
                // since its snapshot was built, of this realm. An unknown user costs the
                // digest of a wrong answer too, so its time tells nothing either.
                let method = req.method_name();
                let matches = match owner() {
                    Some(owner) => {
                        let current = match (owner.digest(), owner.http_secret()) {
                            (Some(key), _) if *key.realm == *d.realm => {
                                digest_matches_ha1(d, &key.ha1, method)
                            }
                            (_, Some(secret)) => digest_matches(d, secret, method),
                            _ => false,
                        };
                        // A phone that still holds its previous credentials (auth_grace);
                        // one that answers with its current ones holds those, its grace ends.
                        if current {
                            self.grace.ended(owner.mac());
                            true
                        } else {
                            self.grace
                                .opens(owner.mac(), |old| old.opens_digest(d, method))
                        }
                    }
                    None => {
                        let _ = digest_matches(d, b"no such user", method);
                        return unknown();
                    }
                };
                if !matches {
                    return fail(Event::ChalRespFailed, "wrong digest response");
                }
                // Only a right answer takes room in the table: the count of this nonce for
                // this user.
                let counted = lock(&self.runtime).counts.use_count(serial, user, d.nc);
                match counted {
                    NcCheck::Accepted { first } => Verdict::Ok(first.then(|| user_text.clone())),
                    // Its counts may have been forgotten: a fresh nonce.
                    NcCheck::Unknown => Verdict::Challenge { stale: true },
                    NcCheck::Replayed => fail(Event::ChalRespFailed, "replayed nonce count"),
                }
            }
        }
    }

    /// A 401 with a fresh challenge, and its event: one per client per minute, the others
    /// counted and summarised in one NOTICE when the next is reported (a flood of requests
    /// without credentials must not write one security line each).
    fn challenge(&self, peer: &Peer, a: &Rules, stale: bool, account: &[u8]) -> Reply<'static> {
        let mut head = b"Content-type: text/plain\r\n".to_vec();
        let mut detail = Vec::new();
        let now = now();
        match a.auth {
            AuthScheme::Digest => {
                let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
                let nonce = self.key.nonce(now, serial);
                // SHA-256 first: RFC 7616 asks servers to list the preferred algorithm first.
                for alg in [Algorithm::Sha256, Algorithm::Md5] {
                    head.extend(digest_challenge(&a.auth_realm, &nonce, alg, stale));
                }
                detail.extend_from_slice(nonce.as_bytes());
            }
            _ => head.extend(basic_challenge(&a.auth_realm)),
        }
        let answer = Answer::body(
            401,
            "Unauthorized",
            head,
            &b"Authentication required.\n"[..],
        );
        let Some(ip) = peer.ip() else {
            return refusal(answer, Event::ChalSent, account, &detail);
        };
        let who = client(ip, self.policy().limits.miss_prefix6);
        let reported = lock(&self.runtime).challenges.report(who, now);
        match reported {
            None => Reply::from(answer),
            Some(held) => {
                if held > 0 {
                    log::notice!(
                        "phoneprov: {held} more challenges sent to {who} in the last \
                         {CHALLENGE_WINDOW} s, not reported one by one"
                    );
                }
                refusal(answer, Event::ChalSent, account, &detail)
            }
        }
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
    // Only a list asks for the client's address (a call into Asterisk), per request.
    if pp.acl.is_some() && !pp.admits(peer.ip()) {
        log::notice!(
            "phoneprov: {} denied by the access list of profile [{}]",
            peer.who(),
            lossy(&pp.name)
        );
        return Some(refusal(
            Answer::forbidden("Access denied."),
            Event::FailedAcl,
            account,
            &pp.name,
        ));
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
                req.uri_text(),
                lossy(phone.mac())
            );
            return Some(refusal(
                Answer::forbidden("This file belongs to another phone."),
                Event::ReqNotAllowed,
                account,
                why.as_bytes(),
            ));
        }
    }
    None
}
