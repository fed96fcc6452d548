//! Files phones send back with PUT, and serving them back to the phone: a profile's
//! `uploads` patterns name them (see `phoneprov_core::http::uploads`), `upload_max` bounds them.
//!
//! A file is written to a hidden temporary file in the phone's own directory, synced, then
//! renamed over the stored name: a reader (or a phone booting) sees the previous version or
//! the new one, whole, and of several uploads of one name at once the last rename wins.
//! Temporary names carry this run's own prefix: those of an earlier run (Asterisk crashed
//! during an upload) are removed when the directory is next counted, once ten minutes old
//! (on shared storage another node's uploads in progress carry another prefix too).
//! A name that is a route is never an upload: a PUT of it is refused, and a GET serves the
//! route even if a file of that name is stored. A GET of an upload name serves the stored
//! file when there is one.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::host::uploads_dir;
use crate::ffi::http::Request;
use crate::ffi::log;
use crate::ffi::security::Event;
use crate::module::serve::answer::{Answer, Body, Bytes, Reply};
use crate::module::serve::realtime::{Lookup, RealtimePhone};
use crate::module::telemetry::metrics::Kind;
use crate::module::Module;
use phoneprov_core::config::profile::{choose_mime, content_type};
use phoneprov_core::http::body::{self, BodyError, Framing};
use phoneprov_core::http::uploads::{is_safe_component, matches, stored_name, DEFAULT_MAX};
use phoneprov_core::model::snapshot::{Phone, Snapshot};
use phoneprov_core::realtime::options::{MAC_LEN, MAX_MAC_LEN};
use phoneprov_core::util::bytes::lossy;
use phoneprov_core::util::clean::Clean;

/// Files a phone's directory may hold: a pattern with `*` must not let a phone (or whoever
/// knows its MAC) fill the disk with names. Each upload of a new name counts before it
/// writes, so uploads of new names at once may pass it by as many as run together.
pub const MAX_FILES: usize = 64;

/// What every temporary file starts with.
const TEMP_MARK: &str = ".upload-";

/// This load's temporary names.
pub struct Uploads {
    /// `.upload-PID-TIME-`, the time this load of the module started. A temporary file
    /// without it, unchanged for ten minutes, belongs to no upload running now: another
    /// process (Asterisk crashed, or
    /// was killed, during an upload) or an earlier load of the module (unload waits for
    /// requests to finish).
    prefix: String,
    /// Distinct temporary names for uploads running at once.
    serial: AtomicU64,
}

impl Default for Uploads {
    fn default() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Uploads {
            prefix: format!("{TEMP_MARK}{}-{nanos:x}-", std::process::id()),
            serial: AtomicU64::new(0),
        }
    }
}

/// The phone's directory below the uploads directory: its MAC in lower case, as phones
/// write it in file names (a safe name: patterns of a phone whose MAC is not are refused
/// when the snapshot is built).
pub(crate) fn phone_dir(phone: &Phone) -> PathBuf {
    uploads_dir().join(lossy(&phone.mac().to_ascii_lowercase()).as_ref())
}

fn who(req: &Request) -> String {
    req.client_address().unwrap_or_else(|| "?".into())
}

/// A refusal of an upload, with the `RequestNotAllowed` event that says why.
fn not_allowed(answer: Answer<'static>, account: &[u8], why: &str) -> Reply<'static> {
    Reply::from(answer).report(
        Event::ReqNotAllowed,
        Clean::new(account),
        Clean::new(why.as_bytes()),
    )
}

/// Answers a PUT of `uri` (decoded, below /phoneprov/).
pub fn put<'a>(
    m: &Module,
    req: &Request,
    uri: &'a [u8],
    snap: Option<&'a Arc<Snapshot>>,
) -> Reply<'a> {
    let framing = body::framing(
        req.header("Content-Length"),
        req.header("Transfer-Encoding"),
    );
    let expect_continue = req
        .header("Expect")
        .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"100-continue"));
    // Refused before the body is read: Asterisk reads a small announced body itself and
    // keeps the connection; any other (waiting for 100 Continue, chunked, large) is left
    // unread and the connection closed.
    let general_max = snap.map_or(DEFAULT_MAX, |s| s.config.upload_max(None));
    if expect_continue || !matches!(framing, Some(Framing::Length(n)) if n <= general_max) {
        req.close_if_body_unread();
    }
    let Some(framing) = framing else {
        return not_allowed(
            Answer::page(400, "Bad Request", "Invalid Content-Length."),
            b"",
            "PUT with an invalid Content-Length",
        );
    };
    // A route is never replaced, even when a pattern takes its name (a warning at load).
    let target = snap
        .filter(|s| s.resolve(uri).is_none())
        .and_then(|s| s.upload_target(uri).map(|t| (s, t)));
    if let Some((snap, target)) = target {
        return store_for(m, req, snap, target.phone, uri, framing, expect_continue);
    }
    // Dynamic lookup mode: a phone of the database.
    match snap.and_then(|s| database_phone(m, s, uri).map(|found| (s, found))) {
        Some((snap, Ok(found))) => {
            store_for(m, req, snap, &found.phone, uri, framing, expect_continue)
        }
        Some((_, Err(Unavailable))) => {
            req.close_if_body_unread();
            Reply::from(Answer::unavailable()).kind(Kind::Upload)
        }
        None => refuse_unknown(m, req, snap.map(|s| &**s), uri),
    }
}

/// The database did not answer.
pub struct Unavailable;

/// The phone of the realtime database (dynamic lookup mode) whose upload patterns take
/// `uri`, and which has no file of its own there; None when there is none. A pattern's text
/// before its first `*` holds the phone's MAC, so the candidates are the runs of 12 (a
/// phone's MAC) to 64 (a softphone account's key) hexadecimal digits in the URI (the first
/// two), each looked up as a request's MAC is.
pub fn database_phone(
    m: &Module,
    snap: &Snapshot,
    uri: &[u8],
) -> Option<Result<Arc<RealtimePhone>, Unavailable>> {
    snap.config.settings.realtime.as_ref()?;
    let runs = uri
        .split(|b| !b.is_ascii_hexdigit())
        .filter(|run| (MAC_LEN..=MAX_MAC_LEN).contains(&run.len()))
        .take(2);
    for mac in runs {
        match m.realtime.by_mac(&m.users, snap, mac) {
            Lookup::Found(found)
                if found.file_at(uri).is_none()
                    && found.phone.uploads.iter().any(|p| matches(p, uri)) =>
            {
                return Some(Ok(found));
            }
            Lookup::Found(_) | Lookup::NotFound => {}
            Lookup::Unavailable => return Some(Err(Unavailable)),
        }
    }
    None
}

/// Stores a PUT of `uri`, one of `phone`'s upload names.
fn store_for<'a>(
    m: &Module,
    req: &Request,
    snap: &Snapshot,
    phone: &Phone,
    uri: &'a [u8],
    framing: Framing,
    expect_continue: bool,
) -> Reply<'a> {
    if let Err(refused) = m.access.admit_phone(req, snap, phone) {
        return refused.kind(Kind::Upload);
    }
    let agent = req.agent();
    let refuse = |status: u16, title: &'static str, text: &'static str, why: &str| {
        log::notice!(
            "phoneprov: upload of /phoneprov/{} by {} for {} refused ({status}): {why}",
            req.uri_text(),
            who(req),
            lossy(phone.mac())
        );
        not_allowed(
            Answer::page(status, title, text),
            phone.mac(),
            &format!("upload refused: {why}"),
        )
        .kind(Kind::Upload)
        .audit_upload(phone.mac().to_vec(), uri, 0, agent.clone())
    };
    let Some(name) = stored_name(uri) else {
        return refuse(
            403,
            "Forbidden",
            "This name cannot be stored.",
            "no file name",
        );
    };
    let limit = snap.config.upload_max(Some(&phone.profile));
    if let Framing::Length(n) = framing {
        if n > limit {
            req.close_if_body_unread();
            let why = format!("{n} bytes announced, upload_max is {limit}");
            return refuse(413, "Payload Too Large", "The file is too large.", &why);
        }
    }
    let dir = phone_dir(phone);
    let final_path = dir.join(lossy(name).as_ref());
    let existed = final_path.symlink_metadata().is_ok();
    if let Err(e) = DirBuilder::new().recursive(true).mode(0o750).create(&dir) {
        log::warning!("phoneprov: cannot create {}: {e}", dir.display());
        return Reply::from(Answer::internal_error()).kind(Kind::Upload);
    }
    let (files, others) = m.uploads.stored(&dir, &final_path);
    if !existed && files >= MAX_FILES {
        let why = format!("{} already holds {MAX_FILES} files", dir.display());
        return refuse(507, "Insufficient Storage", "Too many files.", &why);
    }
    // The phone's quota counts what it keeps besides the file this upload replaces.
    let quota = snap.config.upload_quota(Some(&phone.profile));
    let room = quota.saturating_sub(others);
    let over_quota = |sent: &str| {
        let why = format!("{sent}, {others} bytes already stored, upload_quota is {quota}");
        refuse(
            507,
            "Insufficient Storage",
            "The phone's upload quota is used up.",
            &why,
        )
    };
    if let Framing::Length(n) = framing {
        if n > room {
            req.close_if_body_unread();
            return over_quota(&format!("{n} bytes announced"));
        }
    }
    if expect_continue && !req.send_continue() {
        req.body_finished(false);
        return Reply::none();
    }
    let failure = match m
        .uploads
        .store(req, &dir, &final_path, framing, limit.min(room))
    {
        Ok(size) => {
            let (status, title) = if existed {
                (200, "OK")
            } else {
                (201, "Created")
            };
            log::notice!(
                "phoneprov: {} uploaded /phoneprov/{} for {}: {size} bytes stored in {}",
                who(req),
                req.uri_text(),
                lossy(phone.mac()),
                final_path.display()
            );
            let text = format!("Stored {size} bytes.\n");
            return Reply::from(Answer::body(
                status,
                title,
                &b"Content-type: text/plain\r\n"[..],
                text.into_bytes(),
            ))
            .kind(Kind::Upload)
            .audit_upload(phone.mac().to_vec(), uri, size, agent);
        }
        Err(e) => e,
    };
    match failure {
        BodyError::TooLarge if room < limit => over_quota(&format!("more than {room} bytes sent")),
        BodyError::TooLarge => refuse(
            413,
            "Payload Too Large",
            "The file is too large.",
            &format!("more than upload_max ({limit} bytes) sent"),
        ),
        BodyError::Truncated => refuse(
            400,
            "Bad Request",
            "The body ended early.",
            "the body ended before its announced end",
        ),
        BodyError::Malformed => refuse(
            400,
            "Bad Request",
            "Malformed chunked body.",
            "malformed chunked body",
        ),
        BodyError::Write(e) => {
            log::warning!("phoneprov: cannot store {}: {e}", final_path.display());
            Reply::from(Answer::internal_error())
                .kind(Kind::Upload)
                .audit_upload(phone.mac().to_vec(), uri, 0, agent)
        }
    }
}

/// A PUT no phone's pattern accepts: 403 when the name is a file served here (it cannot be
/// overwritten), else 404 (counted as a miss, as for GET). The 403 comes only after the
/// file's own access lists and authentication, as a GET of it would: before them it told
/// anyone which names (which MACs) are served.
fn refuse_unknown(
    m: &Module,
    req: &Request,
    snap: Option<&Snapshot>,
    uri: &[u8],
) -> Reply<'static> {
    let route = snap.and_then(|s| s.resolve(uri).map(|r| (s, r)));
    if let Some((snap, res)) = &route {
        if let Err(refused) = m.access.admit_route(req, snap, res) {
            return refused.kind(Kind::Upload);
        }
    }
    let route = route.map(|(_, r)| r);
    let account = route
        .as_ref()
        .and_then(|r| r.phone)
        .map(|p| p.mac().to_vec())
        .unwrap_or_default();
    log::notice!(
        "phoneprov: {} tried to upload /phoneprov/{}, which no phone may upload",
        who(req),
        req.uri_text()
    );
    let why = "upload of a name no phone may upload";
    if route.is_some() {
        not_allowed(
            Answer::forbidden("This file cannot be uploaded."),
            &account,
            why,
        )
    } else {
        not_allowed(Answer::not_found(), &account, why)
            .miss()
            .unknown()
    }
}

/// A temporary file, removed when dropped unless it was renamed: also when a panic
/// unwinds through an upload.
struct Temp<'a> {
    path: &'a Path,
    kept: bool,
}

impl Drop for Temp<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(self.path);
        }
    }
}

impl Uploads {
    /// The stored files in `dir` (names an upload may have, not temporary files or whatever
    /// else an administrator put there): how many, and the bytes of those but `replaced`.
    /// Temporary files of earlier runs are removed.
    fn stored(&self, dir: &Path, replaced: &Path) -> (usize, u64) {
        let Ok(entries) = fs::read_dir(dir) else {
            return (0, 0);
        };
        let (mut count, mut bytes, mut removed) = (0, 0u64, 0);
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.as_bytes();
            if is_safe_component(name) {
                count += 1;
                if entry.path() != replaced {
                    let size = entry.metadata().map_or(0, |meta| meta.len());
                    bytes = bytes.saturating_add(size);
                }
            } else if name.starts_with(TEMP_MARK.as_bytes())
                && !name.starts_with(self.prefix.as_bytes())
                && abandoned(&entry)
                && fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        if removed > 0 {
            log::notice!(
                "phoneprov: removed {removed} temporary files of an earlier run from {}",
                dir.display()
            );
        }
        (count, bytes)
    }

    /// Writes the body to a temporary file in `dir`, then renames it to `path`; the bytes
    /// stored. The temporary file is removed on any failure.
    fn store(
        &self,
        req: &Request,
        dir: &Path,
        path: &Path,
        framing: Framing,
        limit: u64,
    ) -> Result<u64, BodyError> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!("{}{serial}", self.prefix));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(&temp);
        let mut file = match file {
            Ok(f) => f,
            Err(e) => {
                // The body stays unread: the connection closes with the answer.
                req.body_finished(false);
                return Err(BodyError::Write(e));
            }
        };
        let mut guard = Temp {
            path: &temp,
            kept: false,
        };
        let copied = {
            let mut out = io::BufWriter::with_capacity(64 * 1024, &mut file);
            let copied = body::copy(&mut req.body_reader(), framing, limit, &mut out);
            req.body_finished(copied.is_ok());
            copied.and_then(|size| out.flush().map(|()| size).map_err(BodyError::Write))
        };
        copied.and_then(|size| {
            // Synced before the rename: after a crash the name holds an old or a new file,
            // never a short one.
            file.sync_all().map_err(BodyError::Write)?;
            fs::rename(&temp, path).map_err(BodyError::Write)?;
            guard.kept = true;
            Ok(size)
        })
    }
}

/// Answers a GET or HEAD of one of `phone`'s upload names (no route), its access rules
/// passed, with the stored file; None when none is stored.
pub fn serve_stored<'a>(req: &Request, phone: &Phone, uri: &'a [u8]) -> Option<Reply<'a>> {
    let name = stored_name(uri)?;
    let file = open_regular(&phone_dir(phone).join(lossy(name).as_ref()))?;
    let mime = choose_mime(None, &phone.profile.mime_type);
    let answer = Answer {
        status: 200,
        title: "OK",
        head: [Bytes::Shared(content_type(&mime)), Bytes::Borrowed(b"")],
        body: Body::File(file),
        cacheable: false,
    };
    Some(
        Reply::from(answer)
            .kind(Kind::Dynamic)
            .audit(phone.mac().to_vec(), uri, req.agent()),
    )
}

/// How long another process's temporary file may go unchanged before it is taken for the
/// leftover of a crash: on shared storage (docs/scaling.md) the other nodes' uploads in
/// progress are there too, and must not be removed under them.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

fn abandoned(entry: &fs::DirEntry) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age >= ABANDONED_AFTER)
}

/// The file at `path` if it is a regular file (not a link someone placed there). An upload
/// renamed over it between the look and the open (this node's or, on shared storage,
/// another node's) makes the two differ without any link: looked at again, a few times.
fn open_regular(path: &Path) -> Option<File> {
    for _ in 0..4 {
        let link = path.symlink_metadata().ok()?;
        if !link.file_type().is_file() {
            return None;
        }
        let file = File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if meta.ino() == link.ino() && meta.dev() == link.dev() {
            return Some(file);
        }
    }
    None
}
