//! `phoneprov.conf`: the `[general]` settings and the profiles (every other section).
//! Names, file names, URIs and values are bytes, as the configuration holds them.

use std::sync::Arc;

use crate::access::options::{AccessOptions, AuthScheme, Limits};
use crate::config::conf::{Category, ConfigFile};
use crate::config::family::{self, Family};
use crate::config::tftp::{parse_mode, TftpMode, TftpParse, TftpServer};
use crate::host::{Diag, Level};
use crate::http::uploads::{parse_patterns, parse_size, DEFAULT_MAX};
use crate::http::uri::is_contained;
use crate::realtime::options::{RealtimeOptions, RealtimeParse};
use crate::realtime::shared::SharedOptions;
use crate::render::template::Template;
use crate::util::args::is_true;
use crate::util::args::{separate_args, strip};
use crate::util::bytes::lossy;

/// A file a profile serves. For a static file `uri` is its name and `template` its path
/// below `AST_DATA_DIR/phoneprov/`; for a dynamic file `uri` is the URI template rendered
/// per phone and `template` the template file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub uri: Vec<u8>,
    pub template: Vec<u8>,
    pub mime_type: Vec<u8>,
    /// `Content-type: <mime_type>` and its CRLF, the header line of every answer of this
    /// file, made once here rather than on each of the fleet's fetches.
    pub content_type: Arc<[u8]>,
    /// `uri`, parsed for rendering (dynamic files).
    pub uri_template: Template,
}

/// The header line that names `mime` as an answer's type.
pub fn content_type(mime: &[u8]) -> Arc<[u8]> {
    [b"Content-type: ", mime, b"\r\n"].concat().into()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Vec<u8>,
    pub mime_type: Vec<u8>,
    pub staticdir: Vec<u8>,
    /// Names and values; values are rendered with each line's variables.
    pub setvars: Vec<(Vec<u8>, Template)>,
    pub static_files: Vec<FileEntry>,
    pub dynamic_files: Vec<FileEntry>,
    /// `enroll_file`: the URI pattern (rendered per phone, like a dynamic URI) of the file
    /// an enrollment token serves.
    pub enroll_file: Option<Template>,
    /// `resync_event`: the SIP event `phoneprov resync` notifies the profile's phones with
    /// (None: `check-sync`).
    pub resync_event: Option<Vec<u8>>,
    /// Access lists, authentication and TLS options the profile sets itself.
    pub access: AccessOptions,
    /// `family`: which phones the profile is for, so that `phoneprov check` can tell the
    /// files they will ask for and nothing serves.
    pub family: Option<&'static Family>,
    /// `models`: the family's models in use (their common files are checked).
    pub models: Vec<Vec<u8>>,
    /// `uploads`: names phones may PUT (rendered per phone; `*` is a wildcard).
    pub uploads: Vec<Template>,
    /// `upload_max`: the largest upload in bytes (None: `[general]`'s, else the default).
    pub upload_max: Option<u64>,
    /// `upload_quota`: the bytes a phone may keep stored in all (None: `[general]`'s, else
    /// [`QUOTA_UPLOADS`] times `upload_max`).
    pub upload_quota: Option<u64>,
    /// `uploads_unauthenticated = yes`: the operator's word that `uploads` may stay on with
    /// `auth = none` and no access list (otherwise refused, see [`refuse_open_uploads`]).
    pub uploads_unauthenticated: bool,
    /// `tftp`: what it serves over TFTP.
    pub tftp: TftpMode,
}

/// The default `upload_quota`, in uploads of `upload_max` bytes.
pub const QUOTA_UPLOADS: u64 = 8;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub serveraddr: Option<Vec<u8>>,
    pub serveriface: Option<Vec<u8>>,
    pub serverport: Vec<u8>,
    pub default_profile: Option<Vec<u8>>,
    /// Access options of `[general]`: what profiles that do not set them use.
    pub access: AccessOptions,
    pub limits: Limits,
    /// `upload_max` of `[general]`.
    pub upload_max: Option<u64>,
    /// `upload_quota` of `[general]`.
    pub upload_quota: Option<u64>,
    /// Dynamic lookup mode, when `users_realtime` is set.
    pub realtime: Option<RealtimeOptions>,
    /// `http_backlog`: the accept backlog the HTTP server's listening socket is raised to
    /// (0: left as Asterisk made it).
    pub http_backlog: u32,
    /// `tokens_realtime`, `audit_realtime`: state shared by the nodes of a cluster.
    pub shared: SharedOptions,
    /// The TFTP server, when `tftp = yes`.
    pub tftp: Option<TftpServer>,
}

/// Asterisk listens with a backlog of 10: a building's phones connecting at once overflow
/// it, and those whose handshake is dropped wait for TCP to retry (a second or more). The
/// kernel caps it at net.core.somaxconn.
pub const DEFAULT_HTTP_BACKLOG: u32 = 512;

/// A parsed `phoneprov.conf`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub settings: Settings,
    pub profiles: Vec<Arc<Profile>>,
}

/// The MIME type of a file: its own, else the profile's `mime_type` as set so far, else
/// `text/plain`. (The C module meant to look at the extension in between, but its lookup
/// never fires; keeping it out keeps the answers the same.)
pub fn choose_mime(explicit: Option<&[u8]>, profile_default: &[u8]) -> Vec<u8> {
    [explicit.unwrap_or(b""), profile_default]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or(b"text/plain")
        .to_vec()
}

/// Whether a MIME type can go into a response header: no control characters (a CR or LF
/// would end the header and let the configuration write others).
pub fn header_safe(value: &[u8]) -> bool {
    !value.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
}

/// `NAME=VALUE` of a `setvar`, both trimmed; None when either is empty.
pub fn parse_setvar(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let args = separate_args(value, b'=', true, 2);
    let name = strip(args.first()?);
    let val = strip(args.get(1)?);
    if name.is_empty() || val.is_empty() {
        return None;
    }
    Some((name.to_vec(), val.to_vec()))
}

#[track_caller]
fn bad_size(where_: &str, key: &str, value: &[u8]) -> Diag {
    Diag::ignored(
        where_,
        key.as_bytes(),
        value,
        "a size (bytes, or with K or M)",
    )
}

/// `uploads` on a profile anyone may fetch from (`auth = none`, no access list, after
/// `[general]`'s): whoever knows a MAC could store `<mac>-phone.cfg`, which a Polycom applies
/// at boot (its SIP server rewritten). Its uploads are not loaded, with an ERROR naming the
/// option that allows them, unless `uploads_unauthenticated = yes` says it is meant.
pub fn refuse_open_uploads(file: &str, p: &mut Profile, general: &AccessOptions) -> Option<Diag> {
    if p.uploads.is_empty() || p.uploads_unauthenticated {
        return None;
    }
    let access = p.access.resolve(general);
    if access.auth != AuthScheme::None || !access.acl.is_empty() {
        return None;
    }
    p.uploads.clear();
    Some(Diag::new(
        Level::Error,
        format!(
            "{file} [{}]: uploads not loaded: with auth = none and no acl/permit/deny, anyone \
             who knows a MAC could store that phone's files. Set auth or an access list, or \
             uploads_unauthenticated = yes to allow it",
            lossy(&p.name)
        ),
    ))
}

fn parse_profile(file: &str, cat: &Category, diags: &mut Vec<Diag>) -> Profile {
    let mut p = Profile {
        name: cat.name.clone(),
        ..Profile::default()
    };
    let section = lossy(&cat.name);
    for (key, value) in &cat.vars {
        if key.eq_ignore_ascii_case(b"mime_type") {
            if header_safe(value) {
                p.mime_type = value.to_vec();
            } else {
                diags.push(Diag::new(
                    Level::Error,
                    format!("{file} [{section}]: mime_type holds control characters - ignored"),
                ));
            }
        } else if key.eq_ignore_ascii_case(b"setvar") {
            match parse_setvar(value) {
                Some((name, value)) => p.setvars.push((name, Template::parse(value))),
                None => diags.push(Diag::new(
                    Level::Warning,
                    format!(
                        "{file} [{section}]: ignoring setvar '{}': expected NAME=VALUE",
                        lossy(value)
                    ),
                )),
            }
        } else if key.eq_ignore_ascii_case(b"resync_event") {
            if value.is_empty() || value.iter().any(|&b| b < 0x20 || b == 0x7f) {
                diags.push(Diag::new(
                    Level::Warning,
                    format!("{file} [{section}]: ignoring an empty or multi-line resync_event"),
                ));
            } else {
                p.resync_event = Some(value.to_vec());
            }
        } else if key.eq_ignore_ascii_case(b"enroll_file") {
            p.enroll_file = Some(Template::parse(value.to_vec()));
        } else if key.eq_ignore_ascii_case(b"uploads") {
            p.uploads
                .extend(parse_patterns(value).into_iter().map(Template::parse));
        } else if key.eq_ignore_ascii_case(b"upload_max") {
            match parse_size(value) {
                Some(n) => p.upload_max = Some(n),
                None => diags.push(bad_size(
                    &format!("{file} [{section}]"),
                    "upload_max",
                    value,
                )),
            }
        } else if key.eq_ignore_ascii_case(b"upload_quota") {
            match parse_size(value) {
                Some(n) => p.upload_quota = Some(n),
                None => diags.push(bad_size(
                    &format!("{file} [{section}]"),
                    "upload_quota",
                    value,
                )),
            }
        } else if key.eq_ignore_ascii_case(b"uploads_unauthenticated") {
            p.uploads_unauthenticated = is_true(value);
        } else if key.eq_ignore_ascii_case(b"tftp") {
            match parse_mode(value) {
                Some(mode) => p.tftp = mode,
                None => diags.push(Diag::new(
                    Level::Error,
                    format!(
                        "{file} [{section}]: tftp = '{}' is not no, static or all - ignored",
                        lossy(value)
                    ),
                )),
            }
        } else if key.eq_ignore_ascii_case(b"staticdir") {
            p.staticdir = value.to_vec();
        } else if key.eq_ignore_ascii_case(b"family") {
            p.family = family::lookup(strip(value));
            if p.family.is_none() {
                diags.push(Diag::new(
                    Level::Warning,
                    format!(
                        "{file} [{section}]: unknown family '{}' - ignored (known: {})",
                        lossy(value),
                        family::ids()
                    ),
                ));
            }
        } else if key.eq_ignore_ascii_case(b"models") {
            p.models.extend(
                value
                    .split(|&b| b == b',')
                    .map(strip)
                    .filter(|m| !m.is_empty())
                    .map(<[u8]>::to_vec),
            );
        } else if p
            .access
            .take(&format!("{file} [{section}]"), key, value, diags)
        {
        } else {
            let args = separate_args(value, b',', true, 2);
            let name = args.first().map(Vec::as_slice).unwrap_or(b"");
            if name.is_empty() {
                diags.push(Diag::new(
                    Level::Warning,
                    format!(
                        "{file} [{section}]: ignoring '{}' with no file name",
                        lossy(key)
                    ),
                ));
                continue;
            }
            let mime_type = choose_mime(args.get(1).map(Vec::as_slice), &p.mime_type);
            if !header_safe(&mime_type) {
                diags.push(Diag::new(
                    Level::Error,
                    format!(
                        "{file} [{section}]: the MIME type of '{}' holds control characters - \
                         not served",
                        lossy(name)
                    ),
                ));
                continue;
            }
            let is_static = key.eq_ignore_ascii_case(b"static_file");
            let entry = if is_static {
                FileEntry {
                    uri: name.to_vec(),
                    template: [&p.staticdir[..], name].concat(),
                    content_type: content_type(&mime_type),
                    mime_type,
                    uri_template: Template::parse(""),
                }
            } else {
                FileEntry {
                    uri: key.clone(),
                    template: name.to_vec(),
                    content_type: content_type(&mime_type),
                    mime_type,
                    uri_template: Template::parse(key.as_slice()),
                }
            };
            if !is_contained(&entry.template) {
                diags.push(Diag::new(
                    Level::Error,
                    format!(
                        "{file} [{section}]: '{}' is not below AST_DATA_DIR/phoneprov - not served",
                        lossy(&entry.template)
                    ),
                ));
                continue;
            }
            if is_static {
                p.static_files.push(entry);
            } else {
                p.dynamic_files.push(entry);
            }
        }
    }
    check_models(file, &section, &p, diags);
    p
}

/// `models` must name models of the profile's family that have a file of their own.
fn check_models(file: &str, section: &str, p: &Profile, diags: &mut Vec<Diag>) {
    for m in &p.models {
        let problem = match p.family {
            None => "models without a known family".to_owned(),
            Some(f) if f.models.is_empty() => format!("family {} has no model files", f.id),
            Some(f) if f.model_file(m).is_none() => {
                format!("not a {} model (known: {})", f.id, f.model_names())
            }
            Some(_) => continue,
        };
        diags.push(Diag::new(
            Level::Warning,
            format!(
                "{file} [{section}]: ignoring model '{}': {problem}",
                lossy(m)
            ),
        ));
    }
}

/// Lowers a profile's `tftp` to what TFTP, which has no authentication and no encryption,
/// can serve under its access rules, with an ERROR saying why.
fn tftp_fits(file: &str, profile: &mut Profile, settings: &Settings, diags: &mut Vec<Diag>) {
    if profile.tftp == TftpMode::No {
        return;
    }
    let rules = profile.access.resolve(&settings.access);
    let (mode, why) = if rules.require_tls {
        (TftpMode::No, "the profile requires TLS (require_tls)")
    } else if rules.auth != AuthScheme::None && rules.auth_static {
        (
            TftpMode::No,
            "the profile asks for authentication on every file (auth_static)",
        )
    } else if rules.auth != AuthScheme::None && profile.tftp == TftpMode::All {
        // The phones' files, SIP passwords included, would go to anyone who knows a MAC.
        (
            TftpMode::Static,
            "the profile asks for authentication (auth) on its phones' files",
        )
    } else {
        return;
    };
    let serving = match mode {
        TftpMode::Static => "serving its static files only (tftp = static)",
        _ => "not served over TFTP",
    };
    diags.push(Diag::new(
        Level::Error,
        format!(
            "{file} [{}]: tftp refused: {why}, which TFTP cannot carry; {serving}",
            lossy(&profile.name)
        ),
    ));
    profile.tftp = mode;
}

/// How many missing files a warning names before it only counts the rest.
const MISSING_NAMED: usize = 3;

impl Config {
    /// Reads a `phoneprov.conf`. Problems that only cost one line are returned as
    /// diagnostics; the caller decides with [`Config::fatal_problem`] whether to use it.
    pub fn parse(file: &ConfigFile) -> (Config, Vec<Diag>) {
        let mut diags = Vec::new();
        let general = file.category("general");
        let get = |k: &str| general.and_then(|g| g.get(k)).map(<[u8]>::to_vec);
        let settings = Settings {
            serveraddr: get("serveraddr"),
            serveriface: get("serveriface"),
            serverport: get("serverport")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| b"5060".to_vec()),
            default_profile: get("default_profile"),
            http_backlog: DEFAULT_HTTP_BACKLOG,
            ..Settings::default()
        };
        let mut settings = settings;
        let mut limits_set = false;
        let mut realtime = RealtimeParse::default();
        let mut tftp = TftpParse::default();
        let where_ = format!("{} [general]", file.name);
        for (key, value) in general.map(|g| &g.vars[..]).unwrap_or(&[]) {
            if key.eq_ignore_ascii_case(b"upload_max") {
                match parse_size(value) {
                    Some(n) => settings.upload_max = Some(n),
                    None => diags.push(bad_size(&where_, "upload_max", value)),
                }
            } else if key.eq_ignore_ascii_case(b"upload_quota") {
                match parse_size(value) {
                    Some(n) => settings.upload_quota = Some(n),
                    None => diags.push(bad_size(&where_, "upload_quota", value)),
                }
            } else if key.eq_ignore_ascii_case(b"http_backlog") {
                match std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                {
                    Some(n) if n <= u32::from(u16::MAX) => settings.http_backlog = n,
                    _ => diags.push(Diag::new(
                        Level::Error,
                        format!(
                            "{where_}: http_backlog = '{}' is not a number from 0 to 65535 - \
                             using {DEFAULT_HTTP_BACKLOG}",
                            lossy(value)
                        ),
                    )),
                }
            } else if !settings.access.take(&where_, key, value, &mut diags)
                && !realtime.take(&where_, key, value, &mut diags)
                && !settings.shared.take(&where_, key, value, &mut diags)
                && !tftp.take(&where_, key, value, &mut diags)
                && settings.limits.take(key, value, &mut diags)
            {
                limits_set |= Limits::switches_on(key);
            }
        }
        settings.limits = settings.limits.finish(limits_set);
        settings.realtime = realtime.finish(&where_, &mut diags);
        settings.tftp = tftp.finish();
        let mut profiles: Vec<Arc<Profile>> = Vec::new();
        for cat in &file.categories {
            if cat.is("general") {
                continue;
            }
            let mut profile = parse_profile(&file.name, cat, &mut diags);
            diags.extend(refuse_open_uploads(
                &file.name,
                &mut profile,
                &settings.access,
            ));
            tftp_fits(&file.name, &mut profile, &settings, &mut diags);
            if profiles.iter().any(|p| p.name == profile.name) {
                diags.push(Diag::new(
                    Level::Warning,
                    format!(
                        "{}: profile [{}] is defined twice; the first one is used",
                        file.name,
                        lossy(&profile.name)
                    ),
                ));
                continue;
            }
            profiles.push(Arc::new(profile));
        }
        (Config { settings, profiles }, diags)
    }

    /// Why this configuration cannot be served, if it cannot.
    pub fn fatal_problem(&self) -> Option<String> {
        if self.profiles.is_empty() {
            return Some("There are no provisioning profiles in phoneprov.conf.".into());
        }
        match &self.settings.default_profile {
            None => Some("phoneprov.conf: [general] has no default_profile.".into()),
            Some(d) if self.profile(d).is_none() => Some(format!(
                "phoneprov.conf: default_profile '{}' is not a profile in the file.",
                lossy(d)
            )),
            Some(_) => None,
        }
    }

    /// The files of a profile that `exists` does not find, each once over all profiles:
    /// (profile, kind, file).
    pub fn missing_files(&self, exists: impl Fn(&[u8]) -> bool) -> Vec<(&Profile, &str, &[u8])> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for p in &self.profiles {
            let files = p.static_files.iter().map(|f| ("static file", f));
            let templates = p.dynamic_files.iter().map(|f| ("template", f));
            for (kind, f) in files.chain(templates) {
                if seen.insert(&f.template) && !exists(&f.template) {
                    out.push((&**p, kind, &f.template[..]));
                }
            }
        }
        out
    }

    /// One warning per profile with missing files: how many, and the first few names (a
    /// stock phoneprov.conf names dozens of firmware files nobody installed).
    pub fn missing_files_summary(&self, exists: impl Fn(&[u8]) -> bool) -> Vec<Diag> {
        let missing = self.missing_files(exists);
        let mut out = Vec::new();
        for p in &self.profiles {
            let mine: Vec<_> = missing
                .iter()
                .filter(|(mp, _, _)| std::ptr::eq(*mp, &**p))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut names: Vec<String> = mine
                .iter()
                .take(MISSING_NAMED)
                .map(|(_, kind, f)| format!("{kind} '{}'", lossy(f)))
                .collect();
            if mine.len() > MISSING_NAMED {
                names.push(format!("{} more", mine.len() - MISSING_NAMED));
            }
            let (count, verb) = match mine.len() {
                1 => ("1 file".to_owned(), "does"),
                n => (format!("{n} files"), "do"),
            };
            out.push(Diag::new(
                Level::Warning,
                format!(
                    "phoneprov.conf [{}]: {count} {verb} not exist (yet): {}; requests for them \
                     answer 500 until they do ('phoneprov check' lists them all)",
                    lossy(&p.name),
                    names.join(", ")
                ),
            ));
        }
        out
    }

    pub fn profile(&self, name: &[u8]) -> Option<&Arc<Profile>> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The largest upload a phone of `profile` may send: its `upload_max`, else
    /// `[general]`'s, else [`DEFAULT_MAX`].
    pub fn upload_max(&self, profile: Option<&Profile>) -> u64 {
        profile
            .and_then(|p| p.upload_max)
            .or(self.settings.upload_max)
            .unwrap_or(DEFAULT_MAX)
    }

    /// The bytes a phone of `profile` may keep stored in all: its `upload_quota`, else
    /// `[general]`'s, else [`QUOTA_UPLOADS`] times its `upload_max`.
    pub fn upload_quota(&self, profile: Option<&Profile>) -> u64 {
        profile
            .and_then(|p| p.upload_quota)
            .or(self.settings.upload_quota)
            .unwrap_or_else(|| QUOTA_UPLOADS.saturating_mul(self.upload_max(profile)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(cats: Vec<Category>) -> ConfigFile {
        ConfigFile {
            name: "phoneprov.conf".into(),
            categories: cats,
        }
    }

    #[test]
    fn uploads_without_auth_or_acl_are_refused_unless_allowed() {
        let upload = &[("uploads", "${MAC}-phone.cfg")][..];
        let (c, diags) = Config::parse(&conf(vec![
            Category::new("general", &[("default_profile", "open")]),
            Category::new("open", upload),
            Category::new("meant", &[upload[0], ("uploads_unauthenticated", "yes")]),
            Category::new("digest", &[upload[0], ("auth", "digest")]),
            Category::new("fenced", &[upload[0], ("permit", "10.0.0.0/8")]),
        ]));
        let uploads = |name: &str| c.profile(name.as_bytes()).unwrap().uploads.len();
        assert_eq!(
            [
                uploads("open"),
                uploads("meant"),
                uploads("digest"),
                uploads("fenced")
            ],
            [0, 1, 1, 1]
        );
        let errors: Vec<_> = diags.iter().filter(|d| d.level == Level::Error).collect();
        assert_eq!(errors.len(), 1, "{diags:?}");
        assert!(errors[0].message.contains("[open]"));
        assert!(errors[0].message.contains("uploads_unauthenticated = yes"));
        // [general]'s access list covers a profile without its own.
        let (c, diags) = Config::parse(&conf(vec![
            Category::new(
                "general",
                &[("default_profile", "open"), ("deny", "0.0.0.0/0")],
            ),
            Category::new("open", upload),
        ]));
        assert_eq!(c.profile(b"open").unwrap().uploads.len(), 1, "{diags:?}");
    }

    #[test]
    fn upload_quota_defaults_to_eight_uploads() {
        let (c, _) = Config::parse(&conf(vec![
            Category::new("general", &[("default_profile", "a"), ("upload_max", "4K")]),
            Category::new("a", &[]),
            Category::new("b", &[("upload_max", "1K")]),
            Category::new("c", &[("upload_quota", "10K")]),
        ]));
        let quota = |name: &str| c.upload_quota(c.profile(name.as_bytes()).map(|p| &**p));
        assert_eq!([quota("a"), quota("b"), quota("c")], [32768, 8192, 10240]);
    }

    #[test]
    fn mime_order() {
        assert_eq!(choose_mime(Some(b"a/b"), b"c/d"), b"a/b");
        assert_eq!(choose_mime(Some(b""), b"c/d"), b"c/d");
        assert_eq!(choose_mime(None, b""), b"text/plain");
        assert!(header_safe(b"text/xml; charset=ISO-8859-1\t\xe9"));
        assert!(!header_safe(b"text/xml\r\nSet-Cookie: x"));
        assert!(!header_safe(b"a\x7f"));
    }

    #[test]
    fn http_backlog_defaults_and_bad_values_are_refused() {
        let backlog = |v: Option<&str>| {
            let general: Vec<(&str, &str)> = [("default_profile", "p")]
                .into_iter()
                .chain(v.map(|v| ("http_backlog", v)))
                .collect();
            let (c, diags) = Config::parse(&conf(vec![Category::new("general", &general)]));
            (c.settings.http_backlog, diags.len())
        };
        assert_eq!(backlog(None), (DEFAULT_HTTP_BACKLOG, 0));
        assert_eq!(backlog(Some(" 2048 ")), (2048, 0));
        assert_eq!(backlog(Some("0")), (0, 0));
        assert_eq!(backlog(Some("65536")), (DEFAULT_HTTP_BACKLOG, 1));
        assert_eq!(backlog(Some("lots")), (DEFAULT_HTTP_BACKLOG, 1));
    }

    #[test]
    fn setvar_parsing() {
        let sv = |s: &str| {
            parse_setvar(s.as_bytes())
                .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
        };
        assert_eq!(sv(" A = x=y "), Some(("A".into(), "x=y".into())));
        assert_eq!(sv("A="), None);
        assert_eq!(sv("=v"), None);
        assert_eq!(sv("  = v"), None);
        assert_eq!(sv("novalue"), None);
        assert_eq!(
            parse_setvar(b"N\xfc=J\xfcrgen"),
            Some((b"N\xfc".to_vec(), b"J\xfcrgen".to_vec()))
        );
        // Found by the setvar fuzz target: only ASCII white space is stripped, as Asterisk's
        // ast_strip does, so a thin space is a name.
        assert_eq!(
            sv("\u{2009}=\u{18}"),
            Some(("\u{2009}".into(), "\u{18}".into()))
        );
        assert_eq!(
            sv("X=${USERNAME}"),
            Some(("X".into(), "${USERNAME}".into()))
        );
    }

    #[test]
    fn profiles_in_order_with_rules_applied_as_read() {
        let (c, diags) = Config::parse(&conf(vec![
            Category::new(
                "general",
                &[("default_profile", "pol"), ("serveraddr", "10.0.0.1")],
            ),
            Category::new(
                "pol",
                &[
                    ("static_file", "early.bin"),
                    ("staticdir", "configs/"),
                    ("mime_type", "text/xml"),
                    ("static_file", "sip.ld,application/octet-stream"),
                    ("static_file", "sip.cfg"),
                    ("${MAC}.cfg", "000000000000.cfg"),
                    ("${MAC}-phone.cfg", "phone.cfg, text/foo"),
                    ("setvar", "broken"),
                    ("setvar", "A=B"),
                ],
            ),
        ]));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(c.settings.serveraddr.as_deref(), Some(&b"10.0.0.1"[..]));
        assert_eq!(c.settings.serverport, b"5060");
        assert!(c.fatal_problem().is_none());
        let p = &c.profiles[0];
        let statics: Vec<_> = p
            .static_files
            .iter()
            .map(|f| (&f.uri[..], &f.template[..], &f.mime_type[..]))
            .collect();
        assert_eq!(
            statics,
            [
                (&b"early.bin"[..], &b"early.bin"[..], &b"text/plain"[..]),
                (b"sip.ld", b"configs/sip.ld", b"application/octet-stream"),
                (b"sip.cfg", b"configs/sip.cfg", b"text/xml"),
            ]
        );
        assert_eq!(p.dynamic_files[0].uri, b"${MAC}.cfg");
        assert_eq!(p.dynamic_files[0].template, b"000000000000.cfg");
        assert_eq!(p.dynamic_files[1].mime_type, b" text/foo");
        assert_eq!(p.setvars, [(b"A".to_vec(), Template::parse("B"))]);
    }

    #[test]
    fn paths_outside_the_data_directory_are_refused() {
        let (c, diags) = Config::parse(&conf(vec![Category::new(
            "p",
            &[
                ("static_file", "../../etc/passwd"),
                ("staticdir", "../etc/"),
                ("static_file", "passwd"),
                ("${MAC}.cfg", "../secret.cfg"),
                ("ok.cfg", "fine.cfg"),
            ],
        )]));
        assert_eq!(diags.len(), 3, "{diags:?}");
        assert!(c.profiles[0].static_files.is_empty());
        assert_eq!(c.profiles[0].dynamic_files.len(), 1);
        let missing = c.missing_files_summary(|f| f != b"fine.cfg");
        assert_eq!(missing.len(), 1);
        assert!(missing[0]
            .message
            .contains("1 file does not exist (yet): template 'fine.cfg'"));
        assert!(c.missing_files(|_| true).is_empty());
    }

    #[test]
    fn missing_files_are_summarized_per_profile() {
        let files: Vec<(String, String)> = (0..40)
            .map(|i| ("static_file".to_owned(), format!("fw{i}.ld")))
            .collect();
        let pairs: Vec<(&str, &str)> = files
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (c, _) = Config::parse(&conf(vec![
            Category::new("p", &pairs),
            Category::new("q", &[("static_file", "fw0.ld"), ("x.cfg", "x.tpl")]),
            Category::new("r", &[("y.cfg", "y.tpl")]),
        ]));
        let d = c.missing_files_summary(|f| f == b"fw1.ld" || f == b"y.tpl");
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].message.starts_with(
            "phoneprov.conf [p]: 39 files do not exist (yet): static file 'fw0.ld', static file \
             'fw2.ld', static file 'fw3.ld', 36 more;"
            ),
            "{}",
            d[0].message
        );
        assert!(d[1]
            .message
            .contains("[q]: 1 file does not exist (yet): template 'x.tpl';"));
        assert!(d[0].origin.file().ends_with("profile.rs"));
    }

    #[test]
    fn control_characters_in_mime_types_are_refused() {
        let (c, diags) = Config::parse(&conf(vec![Category::new(
            "p",
            &[
                ("mime_type", "text/xml\r\nX-Evil: 1"),
                ("static_file", "a.bin"),
                ("static_file", "b.bin,text/plain\nX: y"),
                ("c.cfg", "c.tpl,text/plain; charset=ISO-8859-1"),
            ],
        )]));
        assert_eq!(diags.len(), 2, "{diags:?}");
        let p = &c.profiles[0];
        assert_eq!(p.static_files.len(), 1);
        assert_eq!(p.static_files[0].mime_type, b"text/plain");
        assert_eq!(
            p.dynamic_files[0].mime_type,
            b"text/plain; charset=ISO-8859-1"
        );
    }

    #[test]
    fn family_and_models() {
        let (c, diags) = Config::parse(&conf(vec![
            Category::new(
                "y",
                &[
                    ("models", "T46S, t23g,,CP925"),
                    ("family", " Yealink "),
                    ("models", "W52P"),
                ],
            ),
            Category::new("n", &[("family", "nokia"), ("models", "3310")]),
            Category::new("p", &[("family", "polycom"), ("models", "VVX400")]),
        ]));
        let y = &c.profiles[0];
        assert_eq!(y.family.map(|f| f.id), Some("yealink"));
        assert_eq!(y.models, [&b"T46S"[..], b"t23g", b"CP925", b"W52P"]);
        assert!(y.dynamic_files.is_empty(), "family and models are options");
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0]
            .contains("[y]: ignoring model 'W52P': not a yealink model (known: T19P_E2,"));
        assert!(
            messages[1].contains("[n]: unknown family 'nokia' - ignored (known: polycom, snom,")
        );
        assert!(messages[2].contains("[n]: ignoring model '3310': models without a known family"));
        assert!(
            messages[3].contains("[p]: ignoring model 'VVX400': family polycom has no model files")
        );
        assert!(c.profiles[1].family.is_none());
    }

    #[test]
    fn fatal_problems() {
        let (c, _) = Config::parse(&conf(vec![Category::new("general", &[])]));
        assert!(c
            .fatal_problem()
            .unwrap()
            .contains("no provisioning profiles"));
        let (c, _) = Config::parse(&conf(vec![Category::new("p", &[])]));
        assert!(c.fatal_problem().unwrap().contains("default_profile"));
        let (c, _) = Config::parse(&conf(vec![
            Category::new("general", &[("default_profile", "q")]),
            Category::new("p", &[]),
        ]));
        assert!(c.fatal_problem().unwrap().contains("'q'"));
    }
}
