//! The served state: phones (one per MAC, with their lines) and the route table, built
//! whole from a parsed configuration and every provider's extensions. It is never changed
//! after it is built; a reload builds a new one.

use std::sync::Arc;

use hashbrown::HashTable;

use crate::access::auth::Ha1;
use crate::access::options::AuthScheme;
use crate::config::profile::{Config, FileEntry, Profile};
use crate::config::vars::{self, Interner, Pair, SharedParts, Text, Vars};
use crate::host::{Host, Level, TzInfo};
use crate::http::uploads;
use crate::model::routes::{Dropped, Routes};
pub use crate::model::routes::{Route, Target};
use crate::render::template::{render, render_with};
use crate::util::bytes::{is_c_space, lossy};
use crate::util::fxhash::{hash_bytes, FxHashMap};

/// One extension of a phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The line number, from `LINE`.
    pub index: i32,
    pub vars: Vars,
}

#[derive(Clone, Debug)]
pub struct Phone {
    pub provider: Arc<str>,
    pub profile: Arc<Profile>,
    lines: Lines,
    /// The profile's `uploads` patterns rendered for this phone (the usable ones). A boxed
    /// slice, not a Vec: its 8 bytes less pay for `digest` in every phone.
    pub uploads: Box<[Text]>,
    /// Only for a phone of a profile with `auth = digest` that has a secret: a pointer in
    /// every other phone, the key itself only where Digest applies.
    digest: Option<Box<DigestKey>>,
}

/// What a Digest check needs of a phone's credentials: its HA1 and the realm it was made
/// with (a request whose rules name another realm, during a reload, computes its own).
/// The realm is shared by the profile's phones, behind a thin pointer: 56 bytes in all, one
/// malloc chunk of 64.
#[derive(Clone, Debug)]
pub struct DigestKey {
    pub realm: Arc<Vec<u8>>,
    pub ha1: Ha1,
}

/// A phone's lines: one in nearly every fleet, kept inline so that a build allocates
/// nothing per phone (one allocation each for 100,000 phones cost 2.5 ms, and ten times
/// that while the users file's configuration is being freed on another thread).
#[derive(Clone, Debug)]
enum Lines {
    One(Line),
    Many(Vec<Line>),
}

impl Phone {
    /// Ordered by line number; never empty.
    pub fn lines(&self) -> &[Line] {
        match &self.lines {
            Lines::One(line) => std::slice::from_ref(line),
            Lines::Many(lines) => lines,
        }
    }

    /// Adds `line` in its place by number; gives it back if the phone has that number.
    fn add_line(&mut self, line: Line) -> Result<(), Line> {
        let pos = match self.lines().binary_search_by_key(&line.index, |l| l.index) {
            Ok(_) => return Err(line),
            Err(pos) => pos,
        };
        let mut lines = match std::mem::replace(&mut self.lines, Lines::Many(Vec::new())) {
            Lines::One(first) => vec![first],
            Lines::Many(lines) => lines,
        };
        lines.insert(pos, line);
        self.lines = Lines::Many(lines);
        Ok(())
    }

    /// The variables templates are rendered with: those of the first line.
    pub fn vars(&self) -> &Vars {
        &self.lines()[0].vars
    }

    /// Its MAC, as its lines give it (a phone is made of lines that have one).
    pub fn mac(&self) -> &[u8] {
        self.vars().find(vars::MAC).unwrap_or_default()
    }

    /// The user name that opens its files: HTTP_USERNAME, else its first line's USERNAME.
    pub fn http_user(&self) -> &[u8] {
        let v = self.vars();
        v.find(vars::HTTP_USERNAME)
            .or_else(|| v.find(vars::USERNAME))
            .unwrap_or(b"")
    }

    /// The secret that goes with [`Phone::http_user`]: HTTP_SECRET, else SECRET. An empty
    /// value is no secret (`secret =` written without one must not make the empty password
    /// open the phone's files), and an empty HTTP_SECRET does not hide a SECRET.
    pub fn http_secret(&self) -> Option<&[u8]> {
        let v = self.vars();
        let given = |name| v.find(name).filter(|s: &&[u8]| !s.trim_ascii().is_empty());
        given(vars::HTTP_SECRET).or_else(|| given(vars::SECRET))
    }

    /// Its Digest key, when its profile asks for Digest and it has a secret.
    pub fn digest(&self) -> Option<&DigestKey> {
        self.digest.as_deref()
    }
}

impl Line {
    /// Its extension, USERNAME (a line is made of an extension that has one).
    pub fn name(&self) -> &[u8] {
        self.vars.find(vars::USERNAME).unwrap_or_default()
    }
}

/// What a route resolves to.
pub struct Resolved<'a> {
    pub route: Route<'a>,
    pub profile: &'a Profile,
    pub file: &'a FileEntry,
    /// None for a static file.
    pub phone: Option<&'a Phone>,
}

/// An extension as a provider hands it over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub provider: Arc<str>,
    pub vars: Vars,
}

#[derive(Debug, Default)]
pub struct Snapshot {
    /// Set by whoever publishes it, so caches can tell snapshots apart.
    pub generation: u64,
    pub config: Arc<Config>,
    pub phones: Vec<Phone>,
    routes: Routes,
    /// Phone numbers by their MAC's hash.
    by_mac: HashTable<u32>,
    /// Upload patterns by their literal prefix (see [`crate::http::uploads`]): (phone, pattern).
    uploads: FxHashMap<Text, Vec<(usize, usize)>>,
    /// The lengths of those prefixes, longest first: a name is looked up once per length.
    upload_prefix_lens: Vec<usize>,
}

/// An upload pattern a request name matches.
pub struct UploadTarget<'a> {
    pub phone: &'a Phone,
    /// The pattern as rendered for the phone.
    pub pattern: &'a [u8],
}

/// C's `sscanf("%d")`: optional blanks and sign, then digits; 0 when there are none.
pub fn leading_int(s: &[u8]) -> i32 {
    let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
    let t = &s[start..];
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = digits
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            (n * 10 + i64::from(d - b'0')).min(i64::from(i32::MAX) + 1)
        });
    let n = if neg { -n } else { n };
    n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// The time zone variables of `tz`, interned.
fn tz_vars(tz: &TzInfo, i: &mut Interner) -> Vec<Pair> {
    let mut v = vec![(i.intern("TZOFFSET"), i.intern(tz.offset.to_string()))];
    if let Some((start, end)) = tz.dst {
        v.push((i.intern("DST_ENABLE"), i.intern("1")));
        let names = [
            ("DST_START_MONTH", start[0]),
            ("DST_START_MDAY", start[1]),
            ("DST_START_HOUR", start[2]),
            ("DST_END_MONTH", end[0]),
            ("DST_END_MDAY", end[1]),
            ("DST_END_HOUR", end[2]),
        ];
        for (name, value) in names {
            v.push((i.intern(name), i.intern(value.to_string())));
        }
    }
    v
}

struct Builder<'h> {
    host: &'h dyn Host,
    interner: Interner,
    /// Each zone's variables, asked of the host once.
    tz_cache: FxHashMap<Vec<u8>, Vec<Pair>>,
    /// The variables of no zone (no TIMEZONE), asked of the host once.
    tz_none: Option<Vec<Pair>>,
    /// One copy of each distinct set of a line's additions (see [`Vars::share_own`]).
    tails: SharedParts,
    /// Reused for each phone: its URIs, before they are copied into the route table.
    uris: Rendered,
    /// LINE=1 and LINEKEYS=1, interned once rather than for every line.
    first_line: [Pair; 2],
    snap: Snapshot,
    /// Upload patterns already warned about, by what was wrong, profile and pattern: one
    /// warning of each kind per pattern, not one per phone (and one kind never silences
    /// another).
    bad_uploads: std::collections::HashSet<(UploadWarning, Vec<u8>, usize)>,
}

/// What an upload pattern was warned about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum UploadWarning {
    /// Not accepted: see [`uploads::pattern_problem`].
    Unusable,
    /// Takes one of the phone's own routes.
    TakesRoute,
    /// Not accepted: its names could be stored in the files of an earlier pattern.
    SharesFiles,
}

impl<'h> Builder<'h> {
    fn new(host: &'h dyn Host, config: Arc<Config>) -> Self {
        let mut interner = Interner::default();
        let one = interner.intern("1");
        let first_line = [vars::LINE, vars::LINEKEYS].map(|n| (interner.intern(n), one.clone()));
        Builder {
            host,
            interner,
            first_line,
            tz_cache: FxHashMap::default(),
            tz_none: None,
            tails: SharedParts::default(),
            uris: Rendered::default(),
            snap: Snapshot {
                config,
                ..Snapshot::default()
            },
            bad_uploads: Default::default(),
        }
    }

    fn log(&self, level: Level, message: String) {
        self.host.log(level, &message);
    }

    /// Asks the host for the time zone variables of `zone`, once per zone.
    fn cache_tz(&mut self, zone: Option<&[u8]>) {
        let (host, interner) = (self.host, &mut self.interner);
        let mut made = |zone| tz_vars(&host.tz(zone), interner);
        match zone {
            None => {
                self.tz_none.get_or_insert_with(|| made(None));
            }
            Some(z) if !self.tz_cache.contains_key(z) => {
                let tz = made(Some(z));
                self.tz_cache.insert(z.to_vec(), tz);
            }
            Some(_) => {}
        }
    }

    /// Adds a route; whether an earlier one serves its URI is seen once all are added (see
    /// [`Builder::index_routes`]).
    fn add_route(&mut self, uri: &[u8], target: Target) {
        if self.snap.routes.push(uri, target).is_err() {
            let full = Dropped {
                uri: uri.to_vec(),
                target,
                kept: None,
            };
            self.report_dropped([full]);
        }
    }

    /// Indexes the routes, warning about each dropped.
    fn index_routes(&mut self) {
        let dropped = self.snap.routes.index();
        self.report_dropped(dropped);
    }

    /// Warns about routes not served: an earlier one serves their URI, or the table is full.
    fn report_dropped(&self, dropped: impl IntoIterator<Item = Dropped>) {
        for d in dropped {
            let (uri, origin) = (lossy(&d.uri), origin(&self.snap, d.target));
            let message = match d.kept {
                Some(kept) => format!(
                    "URI '{uri}' of {origin} is already served for {}; keeping the first",
                    describe(&self.snap, kept)
                ),
                None => format!("URI '{uri}' of {origin}: the route table is full - not served"),
            };
            self.log(Level::Warning, message);
        }
    }

    /// A line's variables: the provider's, then LINE and LINEKEYS defaults, time zone facts,
    /// and the profile's `setvar`s rendered with what the line has so far.
    fn line(&mut self, given: &Vars, profile: &Profile) -> Line {
        let mut v = given.clone();
        let zone = given.find(vars::TIMEZONE);
        self.cache_tz(zone);
        let tz = match zone {
            None => self.tz_none.as_deref().unwrap_or_default(),
            Some(z) => &self.tz_cache[z],
        };
        let (index, line_1) = match v.find(vars::LINE) {
            Some(l) => (leading_int(l), None),
            None => (1, Some(&self.first_line[0])),
        };
        let linekeys_1 = (!v.contains(vars::LINEKEYS)).then_some(&self.first_line[1]);
        // Most lines add what the line before them added: they then take the part made for
        // it, without copying the additions (see Vars::share_additions).
        let additions = line_1.into_iter().chain(linekeys_1).chain(tz);
        if profile.setvars.is_empty() {
            v.share_additions(additions, &mut self.tails);
            return Line { index, vars: v };
        }
        // Setvars are rendered with what the line has so far.
        v.extend(additions.cloned());
        for (sv_name, sv_value) in &profile.setvars {
            if !v.contains(sv_name) {
                let value = render(self.host, sv_value, &v);
                let i = &mut self.interner;
                // A value without variables is the same for every line: share it.
                let value = match sv_value.names().next() {
                    None => i.intern(&value),
                    Some(_) => Text::from(value),
                };
                v.push(i.intern(sv_name), value);
            }
        }
        v.share_additions(std::iter::empty(), &mut self.tails);
        Line { index, vars: v }
    }

    fn add_extension(&mut self, ext: &Extension) {
        let Some(username) = ext.vars.find(vars::USERNAME) else {
            self.log(
                Level::Error,
                format!("{}: an extension has no USERNAME - skipping.", ext.provider),
            );
            return;
        };
        // For messages only: made when one is logged.
        let user = || lossy(username);
        let Some(mac) = ext.vars.find(vars::MAC) else {
            self.log(
                Level::Error,
                format!(
                    "{}: extension '{}' has no MAC - skipping.",
                    ext.provider,
                    user()
                ),
            );
            return;
        };
        let Some(profile_name) = ext.vars.find(vars::PROFILE) else {
            self.log(
                Level::Error,
                format!(
                    "No profile could be found for user '{}' - skipping.",
                    user()
                ),
            );
            return;
        };
        let Some(profile) = self.snap.config.profile(profile_name).cloned() else {
            self.log(
                Level::Error,
                format!(
                    "Could not look up profile '{}' for user '{}' - skipping.",
                    lossy(profile_name),
                    user()
                ),
            );
            return;
        };
        // For messages only: made when one is logged.
        let mac_text = || lossy(mac).into_owned();
        let mac_hash = hash_bytes(mac);
        if let Some(idx) = self.snap.phone_at(mac_hash, mac) {
            let owner = self.snap.phones[idx].provider.clone();
            if owner != ext.provider {
                self.log(
                    Level::Error,
                    format!(
                        "MAC address '{}' of provider '{}' was already added by \
                         provider '{owner}' - skipping",
                        mac_text(),
                        ext.provider
                    ),
                );
                return;
            }
            // Setvars come from the profile the phone was created with.
            let phone_profile = self.snap.phones[idx].profile.clone();
            let line = self.line(&ext.vars, &phone_profile);
            if let Err(line) = self.snap.phones[idx].add_line(line) {
                self.log(
                    Level::Warning,
                    format!(
                        "Duplicate linenumber={} for {}: extension '{}' skipped",
                        line.index,
                        mac_text(),
                        user()
                    ),
                );
            }
            return;
        }
        let line = self.line(&ext.vars, &profile);
        let phone_idx = self.snap.phones.len();
        let mut uris = std::mem::take(&mut self.uris);
        uris.bytes.clear();
        uris.ends.clear();
        for f in &profile.dynamic_files {
            render_with(self.host, &f.uri_template, &line.vars, &mut uris.bytes);
            uris.ends.push(uris.bytes.len());
        }
        let uploads = self.uploads(&profile, &line.vars, mac, phone_idx, &uris);
        self.snap.add_phone(
            mac_hash,
            Phone {
                provider: ext.provider.clone(),
                profile: profile.clone(),
                lines: Lines::One(line),
                uploads,
                digest: None,
            },
        );
        for (file, uri) in uris.iter().enumerate() {
            let target = Target::Dynamic {
                phone: phone_idx,
                file,
            };
            if uri.is_empty() {
                let message = format!(
                    "{}: the URI is empty after substitution - not served",
                    origin(&self.snap, target)
                );
                self.log(Level::Warning, message);
                continue;
            }
            self.add_route(uri, target);
        }
        self.uris = uris;
    }
}

/// A phone's URIs, rendered one after the other.
#[derive(Default)]
struct Rendered {
    bytes: Vec<u8>,
    /// Where each ends in `bytes`.
    ends: Vec<usize>,
}

impl Rendered {
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let uri = &self.bytes[start..end];
            start = end;
            uri
        })
    }
}

/// A profile's authentication scheme and, for `auth = digest`, its realm.
type SchemeAndRealm = (AuthScheme, Option<Arc<Vec<u8>>>);

/// Each profile's [`SchemeAndRealm`], by name: the profile's access options over
/// `[general]`'s, as the access rules resolve them.
fn auth_schemes(config: &Config) -> FxHashMap<&[u8], SchemeAndRealm> {
    config
        .profiles
        .iter()
        .map(|p| {
            let rules = p.access.resolve(&config.settings.access);
            let realm = (rules.auth == AuthScheme::Digest).then(|| Arc::new(rules.auth_realm));
            (&p.name[..], (rules.auth, realm))
        })
        .collect()
}

/// Phones named one by one in the warning about phones without a secret, per profile: a
/// fleet provisioned without secrets is told so in a few lines, not one per phone.
const NAMED_WITHOUT_SECRET: usize = 5;

/// The phones of profiles that ask for authentication but have no secret (none, or an
/// empty one): nobody can open their protected files. One line per profile, naming up to
/// [`NAMED_WITHOUT_SECRET`] phones; for the load's WARNING and `phoneprov check`.
pub fn without_secret<'a>(
    config: &Config,
    phones: impl IntoIterator<Item = &'a Phone>,
) -> Vec<String> {
    let schemes = auth_schemes(config);
    let mut found: Vec<(&[u8], Vec<&[u8]>)> = Vec::new();
    for phone in phones {
        let Some((scheme, _)) = schemes.get(&phone.profile.name[..]) else {
            continue;
        };
        if *scheme == AuthScheme::None || phone.http_secret().is_some() {
            continue;
        }
        match found
            .iter_mut()
            .find(|(p, _)| *p == &phone.profile.name[..])
        {
            Some((_, macs)) => macs.push(phone.mac()),
            None => found.push((&phone.profile.name, vec![phone.mac()])),
        }
    }
    found
        .into_iter()
        .map(|(profile, macs)| {
            let named: Vec<String> = macs
                .iter()
                .take(NAMED_WITHOUT_SECRET)
                .map(|m| lossy(m).into_owned())
                .collect();
            let more = match macs.len().saturating_sub(NAMED_WITHOUT_SECRET) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            format!(
                "profile [{}] asks for authentication, but phone {}{more} has no secret \
                 (secret/http_secret empty or missing): nobody can fetch its protected files",
                lossy(profile),
                named.join(", ")
            )
        })
        .collect()
}

impl Builder<'_> {
    /// Gives each phone of a Digest profile its key, once all its lines are known (a line
    /// added later may come first and bring other credentials).
    fn digest_keys(&mut self) {
        let config = self.snap.config.clone();
        let schemes = auth_schemes(&config);
        for phone in &mut self.snap.phones {
            let Some((_, Some(realm))) = schemes.get(&phone.profile.name[..]) else {
                continue;
            };
            if let Some(secret) = phone.http_secret() {
                let ha1 = Ha1::new(phone.http_user(), realm, secret);
                phone.digest = Some(Box::new(DigestKey {
                    realm: realm.clone(),
                    ha1,
                }));
            }
        }
    }

    /// Whether the warning `kind` about the profile's upload pattern `i` is still to be
    /// given (it is then counted as given).
    fn first_warning(&mut self, kind: UploadWarning, profile: &Profile, i: usize) -> bool {
        self.bad_uploads.insert((kind, profile.name.clone(), i))
    }

    /// The profile's upload patterns rendered for a new phone, each indexed by its literal
    /// prefix; an unusable one is left out with a warning (once per profile and pattern).
    /// A pattern that matches one of the phone's own URIs (`uris`) is kept, with a warning:
    /// its other names are taken, but a route is never an upload (requests look routes up
    /// first), so that name is refused. A pattern whose names could be stored in the files
    /// of an earlier one ([`uploads::may_share_files`]) is left out with a warning.
    fn uploads(
        &mut self,
        profile: &Profile,
        vars: &Vars,
        mac: &[u8],
        phone: usize,
        uris: &Rendered,
    ) -> Box<[Text]> {
        // Sized for every pattern, the usual case, so that boxing it does not copy it.
        let mut out: Vec<Text> = Vec::with_capacity(profile.uploads.len());
        // The profile's index of each pattern in `out`.
        let mut kept = Vec::new();
        for (i, pattern) in profile.uploads.iter().enumerate() {
            let rendered = render(self.host, pattern, vars);
            if let Some(why) = uploads::pattern_problem(&rendered, mac) {
                if self.first_warning(UploadWarning::Unusable, profile, i) {
                    self.log(
                        Level::Warning,
                        format!(
                            "phoneprov.conf [{}]: uploads pattern '{}' gives '{}' for phone {}; \
                             {why} - not accepted",
                            lossy(&profile.name),
                            lossy(pattern.text()),
                            lossy(&rendered),
                            lossy(mac)
                        ),
                    );
                }
                continue;
            }
            let earlier = out
                .iter()
                .position(|p| uploads::may_share_files(p, &rendered));
            if let Some(earlier) = earlier {
                if self.first_warning(UploadWarning::SharesFiles, profile, i) {
                    let first: usize = kept[earlier];
                    self.log(
                        Level::Warning,
                        format!(
                            "phoneprov.conf [{}]: uploads pattern '{}' gives '{}' for phone {}; \
                             its names would be stored in the same files as those of '{}' \
                             (only the last component of a name is kept) - not accepted",
                            lossy(&profile.name),
                            lossy(pattern.text()),
                            lossy(&rendered),
                            lossy(mac),
                            lossy(profile.uploads[first].text())
                        ),
                    );
                }
                continue;
            }
            let shadowed = uris.iter().find(|u| uploads::matches(&rendered, u));
            if let Some(uri) = shadowed {
                if self.first_warning(UploadWarning::TakesRoute, profile, i) {
                    self.log(
                        Level::Warning,
                        format!(
                            "phoneprov.conf [{}]: uploads pattern '{}' takes the phone's own \
                             file '{}', which is served from its template: a PUT of it is \
                             refused (403) and nothing uploaded is served in its place",
                            lossy(&profile.name),
                            lossy(pattern.text()),
                            lossy(uri)
                        ),
                    );
                }
            }
            let prefix = Text::from(uploads::literal_prefix(&rendered));
            if !self.snap.upload_prefix_lens.contains(&prefix.len()) {
                self.snap.upload_prefix_lens.push(prefix.len());
            }
            let entry = self.snap.uploads.entry(prefix).or_default();
            entry.push((phone, out.len()));
            out.push(Text::from(rendered));
            kept.push(i);
        }
        out.into_boxed_slice()
    }
}

fn describe(snap: &Snapshot, target: Target) -> String {
    match target {
        Target::Static { profile, file } => {
            let p = &snap.config.profiles[profile];
            format!(
                "static file {} of profile [{}]",
                lossy(&p.static_files[file].template),
                lossy(&p.name)
            )
        }
        Target::Dynamic { phone, .. } => format!("phone {}", lossy(snap.phones[phone].mac())),
    }
}

/// The MAC table's hash of phone number `i` of `phones`, for growing or shrinking it.
fn rehash_mac(phones: &[Phone]) -> impl Fn(&u32) -> u64 + '_ {
    |&i| hash_bytes(phones[i as usize].mac())
}

/// What a route is for, for a message: [`describe`], and a dynamic file's URI as
/// configured.
fn origin(snap: &Snapshot, target: Target) -> String {
    let what = describe(snap, target);
    match target {
        Target::Static { .. } => what,
        Target::Dynamic { phone, file } => {
            let uri = &snap.phones[phone].profile.dynamic_files[file].uri;
            format!("{what} ({})", lossy(uri))
        }
    }
}

impl Snapshot {
    /// Builds the whole state: static routes of every profile, then every extension in the
    /// order given (providers in registration order).
    pub fn build<'a>(
        config: Arc<Config>,
        extensions: impl IntoIterator<Item = &'a Extension>,
        host: &dyn Host,
    ) -> Snapshot {
        let mut b = Builder::new(host, config.clone());
        // Sized once for what is coming (growing tables of 100,000 entries rehashes them
        // again and again); a phone with several lines leaves room, given back below.
        let extensions: Vec<&Extension> = extensions.into_iter().collect();
        let files = config
            .profiles
            .iter()
            .map(|p| p.dynamic_files.len())
            .max()
            .unwrap_or(0);
        b.snap.reserve_phones(extensions.len());
        b.snap.routes.reserve(extensions.len() * files, 24);
        for (pi, profile) in config.profiles.iter().enumerate() {
            for (fi, f) in profile.static_files.iter().enumerate() {
                let target = Target::Static {
                    profile: pi,
                    file: fi,
                };
                b.add_route(&f.uri, target);
            }
        }
        for ext in extensions {
            b.add_extension(ext);
        }
        b.index_routes();
        b.digest_keys();
        // Built once, then only read: no room for growth.
        let snap = &mut b.snap;
        snap.phones.shrink_to_fit();
        let phones = &snap.phones;
        snap.by_mac.shrink_to_fit(rehash_mac(phones));
        b.snap.upload_prefix_lens.sort_unstable_by(|a, b| b.cmp(a));
        b.snap
    }

    /// One phone alone, built as [`Snapshot::build`] builds each (`extensions` are its
    /// lines), with the URI of each of its dynamic files that has one: `(uri, file index)`.
    /// None when no extension could be used (the reasons are logged).
    pub fn build_phone(
        config: Arc<Config>,
        extensions: &[Extension],
        host: &dyn Host,
    ) -> Option<(Phone, Vec<(Text, usize)>)> {
        let mut b = Builder::new(host, config);
        for ext in extensions {
            b.add_extension(ext);
        }
        b.index_routes();
        b.digest_keys();
        let phone = b.snap.phones.drain(..).next()?;
        let uris = b
            .snap
            .routes
            .iter()
            .filter_map(|r| match r.target {
                Target::Dynamic { phone: 0, file } => Some((Text::from(r.uri), file)),
                _ => None,
            })
            .collect();
        Some((phone, uris))
    }

    pub fn resolve(&self, uri: &[u8]) -> Option<Resolved<'_>> {
        let route = self.routes.get(self.routes.find(uri)?);
        Some(match route.target {
            Target::Static { profile, file } => {
                let profile = &self.config.profiles[profile];
                Resolved {
                    route,
                    profile,
                    file: &profile.static_files[file],
                    phone: None,
                }
            }
            Target::Dynamic { phone, file } => {
                let phone = &self.phones[phone];
                Resolved {
                    route,
                    profile: &phone.profile,
                    file: &phone.profile.dynamic_files[file],
                    phone: Some(phone),
                }
            }
        })
    }

    /// The phone and upload pattern a request name matches, if one does. Only the prefixes
    /// of the lengths patterns have are looked up: a few hash lookups, whatever the number
    /// of phones.
    pub fn upload_target(&self, name: &[u8]) -> Option<UploadTarget<'_>> {
        for &len in &self.upload_prefix_lens {
            let Some(candidates) = name.get(..len).and_then(|p| self.uploads.get(p)) else {
                continue;
            };
            for &(phone, pattern) in candidates {
                let phone = &self.phones[phone];
                let pattern = &phone.uploads[pattern];
                if uploads::matches(pattern, name) {
                    return Some(UploadTarget { phone, pattern });
                }
            }
        }
        None
    }

    /// Whether any phone accepts uploads (requests skip the lookup otherwise).
    pub fn has_uploads(&self) -> bool {
        !self.uploads.is_empty()
    }

    /// The phone with exactly this MAC.
    pub fn phone(&self, mac: &[u8]) -> Option<&Phone> {
        self.phone_index(mac).map(|i| &self.phones[i])
    }

    fn phone_index(&self, mac: &[u8]) -> Option<usize> {
        self.phone_at(hash_bytes(mac), mac)
    }

    /// [`Snapshot::phone_index`], given the MAC's hash.
    fn phone_at(&self, hash: u64, mac: &[u8]) -> Option<usize> {
        let phones = &self.phones;
        self.by_mac
            .find(hash, |&i| phones[i as usize].mac() == mac)
            .map(|&i| i as usize)
    }

    fn reserve_phones(&mut self, n: usize) {
        self.phones.reserve(n);
        let phones = &self.phones;
        self.by_mac.reserve(n, rehash_mac(phones));
    }

    /// Adds the phone, whose MAC (of this hash) no other has.
    fn add_phone(&mut self, hash: u64, phone: Phone) {
        let number = u32::try_from(self.phones.len()).expect("fewer than 2^32 phones");
        self.phones.push(phone);
        let phones = &self.phones;
        self.by_mac.insert_unique(hash, number, rehash_mac(phones));
    }

    /// The routes, in the order they were added.
    pub fn routes(&self) -> impl ExactSizeIterator<Item = Route<'_>> + '_ {
        self.routes.iter()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::conf::{Category, ConfigFile};
    use crate::host::fake::FakeHost;

    pub fn config() -> Arc<Config> {
        let file = ConfigFile {
            name: "phoneprov.conf".into(),
            categories: vec![
                Category::new("general", &[("default_profile", "pol")]),
                Category::new(
                    "pol",
                    &[
                        ("static_file", "fw.bin"),
                        ("${MAC}.cfg", "phone.cfg"),
                        ("setvar", "GREETING=hello ${USERNAME}"),
                    ],
                ),
                Category::new(
                    "other",
                    &[("static_file", "fw.bin"), ("x/${USERNAME}.xml", "x.xml")],
                ),
            ],
        };
        Arc::new(Config::parse(&file).0)
    }

    pub fn ext(provider: &str, pairs: &[(&str, &str)]) -> Extension {
        Extension {
            provider: provider.into(),
            vars: pairs.iter().copied().collect(),
        }
    }

    #[test]
    fn upload_names_find_their_phone() {
        let file = ConfigFile {
            name: "phoneprov.conf".into(),
            categories: vec![
                Category::new(
                    "general",
                    &[("default_profile", "pol"), ("upload_max", "2K")],
                ),
                Category::new(
                    "pol",
                    &[
                        ("${MAC}.cfg", "phone.cfg"),
                        (
                            "uploads",
                            "${MAC}-phone.cfg, logs/${MAC}-*.log, *.log, ${USERNAME}.cfg, \
                             ${MAC}.c*",
                        ),
                        ("upload_max", "100"),
                        ("uploads_unauthenticated", "yes"),
                    ],
                ),
                Category::new("quiet", &[("${MAC}.cfg", "phone.cfg")]),
            ],
        };
        let (config, diags) = Config::parse(&file);
        assert!(diags.is_empty(), "{diags:?}");
        let config = Arc::new(config);
        assert_eq!(config.upload_max(Some(&config.profiles[0])), 100);
        assert_eq!(config.upload_max(Some(&config.profiles[1])), 2048);
        assert_eq!(config.upload_max(None), 2048);
        let host = FakeHost::default();
        let exts = [
            ext(
                "p",
                &[("USERNAME", "a"), ("MAC", "aa01"), ("PROFILE", "pol")],
            ),
            ext(
                "p",
                &[("USERNAME", "b"), ("MAC", "aa0"), ("PROFILE", "pol")],
            ),
            ext(
                "p",
                &[("USERNAME", "c"), ("MAC", "cc03"), ("PROFILE", "quiet")],
            ),
        ];
        let snap = Snapshot::build(config, &exts, &host);
        assert!(snap.has_uploads());
        let who = |name: &[u8]| {
            snap.upload_target(name).map(|t| {
                (
                    lossy(t.phone.mac()).into_owned(),
                    lossy(t.pattern).into_owned(),
                )
            })
        };
        assert_eq!(
            who(b"aa01-phone.cfg"),
            Some(("aa01".into(), "aa01-phone.cfg".into()))
        );
        assert_eq!(
            who(b"aa0-phone.cfg"),
            Some(("aa0".into(), "aa0-phone.cfg".into()))
        );
        assert_eq!(
            who(b"logs/aa01-app.log"),
            Some(("aa01".into(), "logs/aa01-*.log".into()))
        );
        // aa0's pattern logs/aa0-*.log does not take aa01's files: '1-app' is no '-'.
        assert_eq!(who(b"logs/aa0-app.log").unwrap().0, "aa0");
        for none in [
            &b"aa01.cf/g"[..],
            b"cc03-phone.cfg",
            b"x.log",
            b"logs/aa01-a/b.log",
            b"logs/aa01-../../x.log",
            b"aa01-phone.cfg/x",
            b"a.cfg",
        ] {
            assert!(who(none).is_none(), "{}", lossy(none));
        }
        // Patterns without the MAC before their first '*': one warning each, not per phone.
        let logs = host.logs.borrow();
        let warned: Vec<_> = logs
            .iter()
            .filter(|(_, m)| m.contains("uploads pattern"))
            .collect();
        assert_eq!(warned.len(), 3, "{warned:?}");
        assert!(warned[0].1.contains("'*.log'"), "{warned:?}");
        assert!(
            warned[1].1.contains("'${USERNAME}.cfg' gives 'a.cfg'"),
            "{warned:?}"
        );
        // A pattern that takes one of the phone's own files: kept, with a warning.
        assert!(
            warned[2]
                .1
                .contains("'${MAC}.c*' takes the phone's own file 'aa01.cfg'"),
            "{warned:?}"
        );
        assert_eq!(who(b"aa01.cfg").unwrap().1, "aa01.c*");
    }

    /// Each kind of warning about a pattern is given once, whatever the other kinds: a
    /// pattern that takes one phone's route and cannot be used for another phone gets both.
    #[test]
    fn upload_warnings_of_each_kind_are_given() {
        let file = ConfigFile {
            name: "phoneprov.conf".into(),
            categories: vec![
                Category::new("general", &[("default_profile", "pol")]),
                Category::new(
                    "pol",
                    &[
                        ("${MAC}.cfg", "phone.cfg"),
                        ("uploads", "${MAC}.c*"),
                        ("uploads_unauthenticated", "yes"),
                    ],
                ),
            ],
        };
        let config = Arc::new(Config::parse(&file).0);
        let host = FakeHost::default();
        let exts = [
            ext(
                "p",
                &[("USERNAME", "a"), ("MAC", "aa01"), ("PROFILE", "pol")],
            ),
            ext(
                "p",
                &[("USERNAME", "b"), ("MAC", "a b"), ("PROFILE", "pol")],
            ),
            ext(
                "p",
                &[("USERNAME", "c"), ("MAC", "aa03"), ("PROFILE", "pol")],
            ),
            ext(
                "p",
                &[("USERNAME", "d"), ("MAC", "c d"), ("PROFILE", "pol")],
            ),
        ];
        Snapshot::build(config, &exts, &host);
        let logs = host.logs.borrow();
        let warned: Vec<_> = logs
            .iter()
            .filter(|(_, m)| m.contains("uploads pattern"))
            .map(|(_, m)| m.as_str())
            .collect();
        assert_eq!(warned.len(), 2, "{warned:?}");
        assert!(
            warned[0].contains("takes the phone's own file 'aa01.cfg'"),
            "{warned:?}"
        );
        assert!(
            warned[1].contains("gives 'a b.c*' for phone a b"),
            "{warned:?}"
        );
    }

    /// Only the last component of a name is kept: of two patterns whose names could be
    /// stored in one file, the first is kept, the other left out (one warning).
    #[test]
    fn patterns_sharing_files_keep_the_first() {
        let file = ConfigFile {
            name: "phoneprov.conf".into(),
            categories: vec![
                Category::new("general", &[("default_profile", "pol")]),
                Category::new(
                    "pol",
                    &[
                        (
                            "uploads",
                            "logs/${MAC}-*.log, ${MAC}-*.log, ${MAC}-phone.cfg, old/${MAC}-phone.cfg",
                        ),
                        ("uploads_unauthenticated", "yes"),
                    ],
                ),
            ],
        };
        let config = Arc::new(Config::parse(&file).0);
        let host = FakeHost::default();
        let exts = [
            ext(
                "p",
                &[("USERNAME", "a"), ("MAC", "aa01"), ("PROFILE", "pol")],
            ),
            ext(
                "p",
                &[("USERNAME", "b"), ("MAC", "aa02"), ("PROFILE", "pol")],
            ),
        ];
        let snap = Snapshot::build(config, &exts, &host);
        let pattern = |name: &[u8]| snap.upload_target(name).map(|t| t.pattern.to_vec());
        assert_eq!(
            pattern(b"logs/aa01-app.log").as_deref(),
            Some(&b"logs/aa01-*.log"[..])
        );
        assert_eq!(pattern(b"aa01-app.log"), None);
        assert_eq!(
            pattern(b"aa02-phone.cfg").as_deref(),
            Some(&b"aa02-phone.cfg"[..])
        );
        assert_eq!(pattern(b"old/aa02-phone.cfg"), None);
        let logs = host.logs.borrow();
        let warned: Vec<_> = logs.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(warned.len(), 2, "{warned:?}");
        assert!(
            warned[0].contains(
                "'${MAC}-*.log' gives 'aa01-*.log' for phone aa01; its names would be stored \
                 in the same files as those of 'logs/${MAC}-*.log'"
            ),
            "{warned:?}"
        );
        assert!(
            warned[1].contains("'old/${MAC}-phone.cfg'")
                && warned[1].contains("'${MAC}-phone.cfg'"),
            "{warned:?}"
        );
    }

    /// Phones of a profile with `auth = digest` get the HA1 of their credentials and the
    /// realm the rules resolve to, made once all their lines are known; other phones none.
    #[test]
    fn digest_keys_only_where_digest_applies() {
        let file = ConfigFile {
            name: "phoneprov.conf".into(),
            categories: vec![
                Category::new(
                    "general",
                    &[("default_profile", "open"), ("auth_realm", "pbx")],
                ),
                Category::new("open", &[("${MAC}.cfg", "phone.cfg")]),
                Category::new("locked", &[("${MAC}.xml", "phone.cfg"), ("auth", "digest")]),
                Category::new(
                    "own",
                    &[
                        ("${MAC}.txt", "phone.cfg"),
                        ("auth", "digest"),
                        ("auth_realm", "office"),
                    ],
                ),
            ],
        };
        let config = Arc::new(Config::parse(&file).0);
        let host = FakeHost::default();
        let exts = [
            ext(
                "p",
                &[
                    ("USERNAME", "a"),
                    ("MAC", "m1"),
                    ("PROFILE", "open"),
                    ("SECRET", "s1"),
                ],
            ),
            // Line 2 comes first; line 1, added after it, gives the credentials.
            ext(
                "p",
                &[
                    ("USERNAME", "b2"),
                    ("MAC", "m2"),
                    ("PROFILE", "locked"),
                    ("SECRET", "s22"),
                    ("LINE", "2"),
                ],
            ),
            ext(
                "p",
                &[
                    ("USERNAME", "b"),
                    ("MAC", "m2"),
                    ("PROFILE", "locked"),
                    ("SECRET", "s2"),
                    ("LINE", "1"),
                ],
            ),
            ext(
                "p",
                &[
                    ("USERNAME", "c"),
                    ("MAC", "m3"),
                    ("PROFILE", "own"),
                    ("SECRET", "s3"),
                    ("HTTP_USERNAME", "hc"),
                    ("HTTP_SECRET", "hs3"),
                ],
            ),
            ext(
                "p",
                &[("USERNAME", "d"), ("MAC", "m4"), ("PROFILE", "locked")],
            ),
        ];
        let snap = Snapshot::build(config.clone(), &exts, &host);
        let phone = |mac: &[u8]| snap.phone(mac).unwrap();
        assert!(phone(b"m1").digest().is_none());
        assert!(phone(b"m4").digest().is_none(), "no secret, no key");
        let key = phone(b"m2").digest().unwrap();
        assert_eq!(*key.realm, b"pbx");
        assert_eq!(key.ha1, Ha1::new(b"b", b"pbx", b"s2"));
        assert_eq!(
            (phone(b"m2").http_user(), phone(b"m2").http_secret()),
            (&b"b"[..], Some(&b"s2"[..]))
        );
        let key = phone(b"m3").digest().unwrap();
        assert_eq!(*key.realm, b"office");
        assert_eq!(key.ha1, Ha1::new(b"hc", b"office", b"hs3"));
        // A phone built alone gets its key as in a snapshot.
        let (alone, _) = Snapshot::build_phone(config, &exts[1..3], &host).unwrap();
        assert_eq!(alone.digest().unwrap().ha1, Ha1::new(b"b", b"pbx", b"s2"));
    }

    /// An empty secret is none: no key, no Basic password, and a WARNING line naming the
    /// phone and its profile when the profile asks for authentication; an empty
    /// HTTP_SECRET leaves SECRET in force.
    #[test]
    fn an_empty_secret_is_no_credential() {
        let file = ConfigFile {
            name: "phoneprov.conf".into(),
            categories: vec![
                Category::new("general", &[("default_profile", "open")]),
                Category::new("open", &[("${MAC}.cfg", "phone.cfg")]),
                Category::new("locked", &[("${MAC}.xml", "phone.cfg"), ("auth", "digest")]),
                Category::new("basic", &[("${MAC}.b", "phone.cfg"), ("auth", "basic")]),
            ],
        };
        let config = Arc::new(Config::parse(&file).0);
        let host = FakeHost::default();
        fn phone(mac: &str, profile: &str, more: &[(&str, &str)]) -> Extension {
            let mut v = vec![("USERNAME", "u"), ("PROFILE", profile), ("MAC", mac)];
            v.extend_from_slice(more);
            ext("p", &v)
        }
        let exts = [
            phone("e1", "locked", &[("SECRET", "")]),
            phone("e2", "locked", &[("SECRET", "  ")]),
            phone("e3", "basic", &[("SECRET", "")]),
            phone("e4", "locked", &[("SECRET", "s4"), ("HTTP_SECRET", "")]),
            phone("e5", "open", &[("SECRET", "")]),
            phone(
                "e6",
                "locked",
                &[("HTTP_USERNAME", "h"), ("HTTP_SECRET", "")],
            ),
        ];
        let snap = Snapshot::build(config.clone(), &exts, &host);
        let p = |mac: &[u8]| snap.phone(mac).unwrap();
        for mac in [&b"e1"[..], b"e2", b"e3", b"e5", b"e6"] {
            assert_eq!(p(mac).http_secret(), None, "{}", lossy(mac));
            assert!(p(mac).digest().is_none(), "{}", lossy(mac));
        }
        assert_eq!(p(b"e4").http_secret(), Some(&b"s4"[..]));
        assert_eq!(
            p(b"e4").digest().unwrap().ha1,
            Ha1::new(b"u", b"phoneprov", b"s4")
        );
        let lines = without_secret(&config, &snap.phones);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("profile [locked]"), "{lines:?}");
        assert!(
            lines[0].contains("phone e1, e2, e6 has no secret"),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("profile [basic]") && lines[1].contains("e3"));
        // A large fleet is named in a few phones and a count.
        let many: Vec<Extension> = (0..8)
            .map(|i| phone(&format!("f{i}"), "locked", &[]))
            .collect();
        let snap = Snapshot::build(config.clone(), &many, &host);
        let lines = without_secret(&config, &snap.phones);
        assert!(
            lines[0].contains("f0, f1, f2, f3, f4 and 3 more"),
            "{lines:?}"
        );
    }

    #[test]
    fn digest_key_is_one_small_chunk() {
        assert_eq!(std::mem::size_of::<DigestKey>(), 56);
    }

    #[test]
    fn leading_int_is_scanf() {
        assert_eq!(leading_int(b" 12abc"), 12);
        assert_eq!(leading_int(b"-3"), -3);
        assert_eq!(leading_int(b"x"), 0);
        assert_eq!(leading_int(b"\x0b7"), 7);
        assert_eq!(leading_int(b"99999999999"), i32::MAX);
    }

    #[test]
    fn lines_are_ordered_and_duplicates_rejected() {
        let host = FakeHost::default();
        let exts = [
            ext(
                "p",
                &[
                    ("USERNAME", "b"),
                    ("MAC", "m1"),
                    ("PROFILE", "pol"),
                    ("LINE", "3"),
                ],
            ),
            ext(
                "p",
                &[
                    ("USERNAME", "a"),
                    ("MAC", "m1"),
                    ("PROFILE", "pol"),
                    ("LINE", "1"),
                ],
            ),
            ext(
                "p",
                &[
                    ("USERNAME", "c"),
                    ("MAC", "m1"),
                    ("PROFILE", "pol"),
                    ("LINE", "2"),
                ],
            ),
            ext(
                "p",
                &[
                    ("USERNAME", "d"),
                    ("MAC", "m1"),
                    ("PROFILE", "pol"),
                    ("LINE", "2"),
                ],
            ),
            ext(
                "p",
                &[
                    ("USERNAME", "e"),
                    ("MAC", "m1"),
                    ("PROFILE", "pol"),
                    ("LINE", "0"),
                ],
            ),
        ];
        let s = Snapshot::build(config(), &exts, &host);
        let names: Vec<_> = s.phones[0].lines().iter().map(|l| l.name()).collect();
        assert_eq!(names, [b"e", b"a", b"c", b"b"]);
        let logs = host.logs.borrow();
        let dups: Vec<_> = logs.iter().filter(|l| l.1.contains("Duplicate")).collect();
        assert_eq!(dups.len(), 1);
        assert!(dups[0].1.contains("Duplicate linenumber=2 for m1"));
        // The URI was rendered with the line the phone was created with.
        assert!(s.resolve(b"m1.cfg").is_some());
    }

    #[test]
    fn a_phone_alone_is_built_as_in_a_snapshot() {
        let host = FakeHost::default();
        let exts = [
            ext(
                "rt",
                &[
                    ("USERNAME", "b"),
                    ("MAC", "m1"),
                    ("PROFILE", "pol"),
                    ("LINE", "2"),
                ],
            ),
            ext(
                "rt",
                &[("USERNAME", "a"), ("MAC", "m1"), ("PROFILE", "pol")],
            ),
        ];
        let (phone, uris) = Snapshot::build_phone(config(), &exts, &host).unwrap();
        let whole = Snapshot::build(config(), &exts, &host);
        assert_eq!(phone.lines(), whole.phones[0].lines());
        assert_eq!(uris, vec![(Text::from(&b"m1.cfg"[..]), 0)]);
        let unknown = [ext(
            "rt",
            &[("USERNAME", "x"), ("MAC", "m2"), ("PROFILE", "nope")],
        )];
        assert!(Snapshot::build_phone(config(), &unknown, &host).is_none());
    }

    #[test]
    fn variables_defaults_tz_and_setvars() {
        let host = FakeHost::default();
        let exts = [ext(
            "p",
            &[
                ("USERNAME", "jane"),
                ("MAC", "m1"),
                ("PROFILE", "pol"),
                ("TIMEZONE", "Europe/Paris"),
            ],
        )];
        let s = Snapshot::build(config(), &exts, &host);
        let v = s.phones[0].vars();
        let get = |n: &str| v.find(n).map(|b| std::str::from_utf8(b).unwrap());
        assert_eq!(get("LINE"), Some("1"));
        assert_eq!(get("LINEKEYS"), Some("1"));
        assert_eq!(get("TZOFFSET"), Some("3600"));
        assert_eq!(get("DST_START_MONTH"), Some("3"));
        assert_eq!(get("DST_END_HOUR"), Some("3"));
        assert_eq!(get("GREETING"), Some("hello jane"));
        // A user's own variable wins over the profile's setvar.
        let exts = [ext(
            "p",
            &[
                ("USERNAME", "j"),
                ("MAC", "m1"),
                ("PROFILE", "pol"),
                ("GREETING", "mine"),
            ],
        )];
        let s = Snapshot::build(config(), &exts, &host);
        assert_eq!(s.phones[0].vars().find("GREETING"), Some(&b"mine"[..]));
        assert_eq!(s.phones[0].vars().find("DST_ENABLE"), None);
    }

    #[test]
    fn bytes_that_differ_make_distinct_routes() {
        let host = FakeHost::default();
        let latin1 = |user: &[u8], mac: &str| Extension {
            provider: "p".into(),
            vars: [
                (&b"USERNAME"[..], user),
                (b"MAC", mac.as_bytes()),
                (b"PROFILE", b"other"),
            ]
            .into_iter()
            .collect(),
        };
        let exts = [latin1(b"j\xfc", "m1"), latin1(b"j\xe9", "m2")];
        let s = Snapshot::build(config(), &exts, &host);
        let logs = host.logs.borrow();
        assert!(!logs.iter().any(|l| l.1.contains("x/j")), "{logs:?}");
        assert_eq!(
            s.resolve(b"x/j\xfc.xml").unwrap().phone.unwrap().mac(),
            b"m1"
        );
        assert_eq!(
            s.resolve(b"x/j\xe9.xml").unwrap().phone.unwrap().mac(),
            b"m2"
        );
        assert!(s.resolve("x/j\u{fffd}.xml".as_bytes()).is_none());
    }

    #[test]
    fn routes_static_dynamic_conflicts() {
        let host = FakeHost::default();
        let exts = [
            ext("p", &[("USERNAME", "a"), ("MAC", "m1"), ("PROFILE", "pol")]),
            ext("q", &[("USERNAME", "b"), ("MAC", "m1"), ("PROFILE", "pol")]),
            ext(
                "p",
                &[("USERNAME", "c"), ("MAC", "m2"), ("PROFILE", "nope")],
            ),
            ext("p", &[("USERNAME", "d"), ("MAC", "m3")]),
            ext(
                "p",
                &[("USERNAME", "a"), ("MAC", "m4"), ("PROFILE", "other")],
            ),
            ext(
                "p",
                &[("USERNAME", "a"), ("MAC", "m5"), ("PROFILE", "other")],
            ),
        ];
        let s = Snapshot::build(config(), &exts, &host);
        let fw = s.resolve(b"fw.bin").expect("static route");
        assert!(fw.phone.is_none());
        assert_eq!(fw.profile.name, b"pol");
        let r = s.resolve(b"m1.cfg").expect("dynamic route");
        assert_eq!(r.phone.unwrap().mac(), b"m1");
        assert_eq!(r.file.template, b"phone.cfg");
        assert_eq!(s.resolve(b"x/a.xml").unwrap().phone.unwrap().mac(), b"m4");
        assert!(s.resolve(b"m2.cfg").is_none());
        assert_eq!(s.phones.len(), 3);
        let logs: Vec<String> = host.logs.borrow().iter().map(|l| l.1.clone()).collect();
        assert_eq!(logs.len(), 5, "{logs:?}");
        assert!(logs[0].contains("already added by provider 'p'"));
        assert!(logs[1].contains("'nope'"));
        assert!(logs[2].contains("No profile"));
        // URIs served twice are told once every route is known, in the routes' order.
        assert_eq!(
            logs[3],
            "URI 'fw.bin' of static file fw.bin of profile [other] is already served for \
             static file fw.bin of profile [pol]; keeping the first"
        );
        assert_eq!(
            logs[4],
            "URI 'x/a.xml' of phone m5 (x/${USERNAME}.xml) is already served for phone m4; \
             keeping the first"
        );
    }
}
