//! Enrollment tokens: `phoneprov token MAC [TTL]` makes a single-use URL
//! `/phoneprov/enroll/<token>` that serves the phone's file named by its profile's
//! `enroll_file` (a URI pattern rendered per phone) until it is used or expires; then 410.
//!
//! Tokens live in astdb (family `phoneprov/tokens`), so they survive a reload and a restart;
//! there the key is a SHA-1 of the token, the value `expires;used;MAC`. With `[general]
//! tokens_realtime = FAMILY` they live in that realtime family instead (columns `hash`,
//! `mac`, `expires`, `used`), shared by every node on the database: a token made on one node
//! works on any, and is spent by one conditional update (`used` from 0 to 1), so exactly one
//! request over all nodes is served. Only the hash of a token is ever stored.

use std::fs::File;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::astdb::{self, sha1_hex};
use crate::ffi::config;
use crate::ffi::host::{self, http_prefix};
use crate::ffi::http::{Method, Request};
use crate::ffi::log;
use crate::ffi::realtime;
use crate::module::serve::answer::{Answer, Reply};
use crate::module::serve::dynamic::{self, Who};
use crate::module::serve::realtime::{Lookup, RealtimePhone};
use crate::module::state::registry::Registry;
use crate::module::Module;
use phoneprov_core::config::vars;
use phoneprov_core::http::advertised;
use phoneprov_core::http::httpdate;
use phoneprov_core::model::snapshot::{Phone, Resolved, Snapshot};
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::lock::lock;

const FAMILY: &str = "phoneprov/tokens";
/// How long a token is valid when no TTL is given: a day.
pub const DEFAULT_TTL: u64 = 86_400;
/// Random bytes per token (128 bits), written as 32 hex digits.
const TOKEN_BYTES: usize = 16;
/// Tokens expired for longer than this are deleted when a new one is made.
const KEEP_EXPIRED: i64 = 7 * 86_400;

struct Record {
    expires: i64,
    used: bool,
    mac: Vec<u8>,
}

impl Record {
    fn parse(v: &[u8]) -> Option<Record> {
        let mut parts = v.splitn(3, |&b| b == b';');
        let expires = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        let used = parts.next()? == b"1";
        Some(Record {
            expires,
            used,
            mac: parts.next()?.to_vec(),
        })
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut v = format!("{};{};", self.expires, u8::from(self.used)).into_bytes();
        v.extend_from_slice(&self.mac);
        v
    }
}

/// Hashes of tokens being redeemed or redeemed by this load of the module: two requests
/// with the same token at once cannot both pass. Never held while calling into Asterisk.
#[derive(Default)]
pub struct Claims(Mutex<Vec<String>>);

impl Claims {
    /// Claims `hash`; false when it was claimed already.
    fn claim(&self, hash: &str) -> bool {
        let mut claimed = lock(&self.0);
        let had = claimed.iter().any(|h| h == hash);
        if !had {
            claimed.push(hash.to_owned());
        }
        !had
    }

    fn unclaim(&self, hash: &str) {
        lock(&self.0).retain(|h| h != hash);
    }
}

/// Where the tokens are kept: this node's astdb, or a realtime family all nodes share.
enum Store<'a> {
    Astdb,
    Realtime(&'a str),
}

/// The database of the realtime family did not answer.
struct Down;

/// Why a token could not be marked used: the realtime family's database did not answer, or
/// astdb refused the write.
enum Unspent {
    Down,
    Refused,
}

impl<'a> Store<'a> {
    fn of(snap: Option<&'a Snapshot>) -> Store<'a> {
        match snap.and_then(|s| s.config.settings.shared.tokens.as_deref()) {
            Some(family) => Store::Realtime(family),
            None => Store::Astdb,
        }
    }

    fn row(cat: &phoneprov_core::config::conf::Category) -> Option<Record> {
        Some(Record {
            expires: cat.get_int("expires")?,
            used: cat.get_int("used")? != 0,
            mac: cat.get("mac")?.to_vec(),
        })
    }

    fn all(&self) -> Vec<(String, Record)> {
        match self {
            Store::Astdb => astdb::entries(FAMILY)
                .into_iter()
                .filter_map(|(k, v)| Some((k, Record::parse(&v)?)))
                .collect(),
            Store::Realtime(family) => realtime::rows(family, &[("hash LIKE", b"%")])
                .map(|rows| {
                    rows.categories
                        .iter()
                        .filter_map(|c| Some((lossy(c.get("hash")?).into_owned(), Self::row(c)?)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Deletes tokens expired for longer than [`KEEP_EXPIRED`] (in a realtime family, only
    /// those rows are read).
    fn prune(&self, now: i64) {
        let cutoff = now - KEEP_EXPIRED;
        match self {
            Store::Astdb => {
                for (key, value) in astdb::entries(FAMILY) {
                    if !Record::parse(&value).is_some_and(|r| r.expires >= cutoff) {
                        astdb::del(FAMILY, &key);
                    }
                }
            }
            Store::Realtime(family) => {
                let cutoff = cutoff.to_string();
                let old = realtime::rows(family, &[("expires <", cutoff.as_bytes())]);
                for row in old.iter().flat_map(|rows| &rows.categories) {
                    if let Some(hash) = row.get("hash") {
                        realtime::destroy(family, "hash", hash);
                    }
                }
            }
        }
    }

    fn insert(&self, hash: &str, record: &Record) -> bool {
        match self {
            Store::Astdb => astdb::put(FAMILY, hash, &record.to_bytes()),
            Store::Realtime(family) => realtime::store(
                family,
                &[
                    ("hash", hash.as_bytes()),
                    ("mac", &record.mac),
                    ("expires", record.expires.to_string().as_bytes()),
                    ("used", b"0"),
                ],
            ),
        }
    }

    fn get(&self, hash: &str) -> Result<Option<Record>, Down> {
        match self {
            Store::Astdb => Ok(astdb::get(FAMILY, hash).and_then(|v| Record::parse(&v))),
            Store::Realtime(family) => match realtime::rows(family, &[("hash", hash.as_bytes())]) {
                Some(rows) => Ok(rows.categories.first().and_then(Self::row)),
                // No row, or no answer: only a database that answers says "no such token".
                None if config::realtime_probe(family.as_bytes()) => Ok(None),
                None => Err(Down),
            },
        }
    }

    /// Marks the token used; whether this call is the one that did (false: another
    /// request, on this node or another, spent it first).
    fn spend(&self, hash: &str, mut record: Record) -> Result<bool, Unspent> {
        match self {
            // This node's claim (see [`Claims`]) already made it the only one.
            Store::Astdb => {
                record.used = true;
                match astdb::put(FAMILY, hash, &record.to_bytes()) {
                    true => Ok(true),
                    false => Err(Unspent::Refused),
                }
            }
            Store::Realtime(family) => realtime::update_where(
                family,
                &[("hash", hash.as_bytes()), ("used", b"0")],
                &[("used", b"1")],
            )
            .map(|changed| changed == 1)
            .ok_or(Unspent::Down),
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The phone with this MAC: in memory, else (dynamic lookup mode) in the database.
fn find_phone<'s>(m: &Module, snap: &'s Snapshot, mac: &[u8]) -> Result<Who<'s>, String> {
    if let Some(phone) = snap.phone(mac) {
        return Ok(Who::Listed(phone));
    }
    match m.realtime.by_mac(&m.users, snap, mac) {
        Lookup::Found(found) => Ok(Who::Alone(found.phone.clone())),
        Lookup::NotFound => Err(format!("No phone with MAC '{}'.", lossy(mac))),
        Lookup::Unavailable => Err(format!(
            "No phone with MAC '{}' in memory, and the realtime database does not answer.",
            lossy(mac)
        )),
    }
}

/// Makes a token for `mac`, valid `ttl` seconds (default a day); its URL path, or why not.
pub fn create(m: &Module, mac: &[u8], ttl: Option<&[u8]>) -> Result<String, String> {
    let ttl = match ttl {
        None | Some(b"") => DEFAULT_TTL,
        Some(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|&t| t > 0)
            .ok_or_else(|| format!("'{}' is not a number of seconds", lossy(t)))?,
    };
    let snap = m.registry.current().ok_or("res_phoneprov serves nothing")?;
    let who = find_phone(m, &snap, mac)?;
    let phone = who.phone();
    if phone.profile.enroll_file.is_none() {
        return Err(format!(
            "Profile [{}] of phone '{}' has no enroll_file.",
            lossy(&phone.profile.name),
            lossy(mac)
        ));
    }
    let token = random_token()?;
    let now = now();
    let store = Store::of(Some(&snap));
    store.prune(now);
    let record = Record {
        expires: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
        used: false,
        mac: phone.mac().to_vec(),
    };
    if !store.insert(&sha1_hex(token.as_bytes()), &record) {
        return Err(match store {
            Store::Astdb => "Asterisk's database refused the token.".into(),
            Store::Realtime(family) => {
                format!("The realtime family '{family}' (tokens_realtime) refused the token.")
            }
        });
    }
    Ok(format!("{}/phoneprov/enroll/{token}", http_prefix()))
}

/// `scheme://host:port` of this server as the phone knows it, for URLs printed by the CLI
/// (which has no request to take a Host header from): the phone's SERVER (`serveraddr` or
/// `serveriface`) and http.conf's TLS port when TLS is on (true), else its `bindport`.
/// None when the phone's SERVER is per request.
pub fn base_url(m: &Module, mac: &[u8]) -> Option<(String, bool)> {
    let snap = m.registry.current()?;
    let who = find_phone(m, &snap, mac).ok()?;
    let server = who.phone().vars().find(vars::SERVER)?.to_vec();
    let http = config::load("http.conf").ok();
    Some(advertised::base(http.as_ref(), &server))
}

/// `phoneprov show tokens`: MAC, expiry and state of each token (never the token), from
/// where they are kept (with tokens_realtime, the whole cluster's).
pub fn list(registry: &Registry) -> Vec<u8> {
    let now = now();
    let snap = registry.current();
    let mut records: Vec<Record> = Store::of(snap.as_deref())
        .all()
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    records.sort_by_key(|r| r.expires);
    let mut out = format!("{:<24} {:<30} State\n", "MAC", "Expires").into_bytes();
    for r in &records {
        let state = match (r.used, r.expires <= now) {
            (true, _) => "used",
            (false, true) => "expired",
            (false, false) => "valid",
        };
        let start = out.len();
        out.extend_from_slice(&r.mac);
        out.resize(start.max(out.len()).max(start + 24), b' ');
        out.extend_from_slice(format!(" {:<30} {state}\n", httpdate::format(r.expires)).as_bytes());
    }
    out.extend_from_slice(format!("{} tokens\n", records.len()).as_bytes());
    out
}

/// A used or expired token; a miss for the rate limits, like a wrong guess.
fn gone() -> Reply<'static> {
    Reply::from(Answer::page(
        410,
        "Gone",
        "This enrollment link was used or has expired.",
    ))
    .miss()
    .unknown()
}

fn unknown() -> Reply<'static> {
    Reply::from(Answer::not_found()).miss().unknown()
}

/// Answers `/phoneprov/enroll/<token>`.
pub fn serve<'a>(
    m: &Module,
    req: &Request,
    snap: Option<&'a Arc<Snapshot>>,
    token: &[u8],
) -> Reply<'a> {
    if token.len() != 2 * TOKEN_BYTES || !token.iter().all(u8::is_ascii_hexdigit) {
        return unknown();
    }
    let hash = sha1_hex(&token.to_ascii_lowercase());
    if !m.tokens.claim(&hash) {
        return gone();
    }
    let store = Store::of(snap.map(|s| &**s));
    let record = match store.get(&hash) {
        Ok(Some(record)) => record,
        Ok(None) => {
            m.tokens.unclaim(&hash);
            return unknown();
        }
        Err(Down) => {
            m.tokens.unclaim(&hash);
            return Reply::from(Answer::unavailable());
        }
    };
    if record.used || record.expires <= now() {
        return gone();
    }
    // The phone's file the token serves, checked before the token is spent.
    let Some(snap) = snap else {
        m.tokens.unclaim(&hash);
        return unknown();
    };
    let target = match snap.phone(&record.mac) {
        Some(phone) => listed(snap, phone),
        // Dynamic lookup mode: a phone of the database.
        None => match m.realtime.by_mac(&m.users, snap, &record.mac) {
            Lookup::Found(found) => alone(found),
            Lookup::NotFound => None,
            Lookup::Unavailable => {
                m.tokens.unclaim(&hash);
                return Reply::from(Answer::unavailable());
            }
        },
    };
    let Some(target) = target else {
        m.tokens.unclaim(&hash);
        log::warning!(
            "Enrollment token for phone '{}': no such phone, or its profile's enroll_file \
             names none of its files; the token stays unused",
            lossy(&record.mac)
        );
        return unknown();
    };
    // The network rules of the phone's profile (access lists, require_tls) apply to its
    // enrollment URL too; the token only stands in for credentials. Refused, it stays unused.
    let refused = match &target {
        Target::Listed { res, .. } => m.access.refused_network(req, snap, res),
        Target::Alone { found, .. } => m.access.refused_network_phone(req, snap, &found.phone),
    };
    if let Some(refused) = refused {
        m.tokens.unclaim(&hash);
        return refused;
    }
    // HEAD only looks: a link checker, a proxy or a phone's pre-flight must not spend the
    // token its GET needs.
    if req.method == Method::Head {
        m.tokens.unclaim(&hash);
        return target.serve(m, req, snap);
    }
    let mac = record.mac.clone();
    match store.spend(&hash, record) {
        Ok(true) => target.serve(m, req, snap),
        // Spent meanwhile by another node: this node's claim stays, the token is gone.
        Ok(false) => gone(),
        Err(Unspent::Down) => {
            m.tokens.unclaim(&hash);
            Reply::from(Answer::unavailable())
        }
        Err(Unspent::Refused) => {
            // Served without being marked used in astdb, the token would come back after a
            // restart: the file is not served, and the token stays unused for a retry.
            m.tokens.unclaim(&hash);
            log::error!(
                "Enrollment token for phone '{}': Asterisk's database refused to mark it \
                 used; the file is not served",
                lossy(&mac)
            );
            Reply::from(Answer::internal_error())
        }
    }
}

/// The file a token serves: the phone's `enroll_file`, rendered for it.
enum Target<'s> {
    /// A phone in memory: one of the snapshot's routes.
    Listed {
        uri: Vec<u8>,
        res: Resolved<'s>,
        phone: &'s Phone,
    },
    /// A phone of the realtime database (dynamic lookup mode): one of its own files.
    Alone {
        uri: Vec<u8>,
        found: Arc<RealtimePhone>,
        file: usize,
    },
}

fn listed<'s>(snap: &'s Snapshot, phone: &'s Phone) -> Option<Target<'s>> {
    let pattern = phone.profile.enroll_file.as_ref()?;
    let uri = host::render(pattern.text(), phone.vars(), &[]);
    let res = snap.resolve(&uri)?;
    let served = res.phone.filter(|p| p.mac() == phone.mac())?;
    Some(Target::Listed {
        uri,
        res,
        phone: served,
    })
}

fn alone<'s>(found: Arc<RealtimePhone>) -> Option<Target<'s>> {
    let pattern = found.phone.profile.enroll_file.as_ref()?;
    let uri = host::render(pattern.text(), found.phone.vars(), &[]);
    let file = found.file_at(&uri)?;
    Some(Target::Alone { uri, found, file })
}

impl<'s> Target<'s> {
    /// The phone's file the token stands for.
    fn serve(self, m: &Module, req: &Request, snap: &'s Arc<Snapshot>) -> Reply<'s> {
        match self {
            Target::Listed { uri, res, phone } => {
                dynamic::serve(m, req, snap, Who::Listed(phone), res.file, uri)
            }
            Target::Alone { uri, found, file } => {
                let entry = &found.phone.profile.dynamic_files[file];
                dynamic::serve(m, req, snap, Who::Alone(found.phone.clone()), entry, uri)
            }
        }
    }
}
