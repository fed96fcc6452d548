//! The served state: phones (one per MAC, with their lines) and the route table, built
//! whole from a parsed configuration and every provider's extensions. It is never changed
//! after it is built; a reload builds a new one.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use crate::bytes::{is_c_space, lossy};
use crate::fxhash::FxHashMap;
use crate::host::{Host, Level, TzInfo};
use crate::profile::{Config, FileEntry, Profile};
use crate::template::{render, render_with};
use crate::uploads;
use crate::vars::{self, Interner, Pair, SharedParts, Text, Vars};

/// One extension of a phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub name: Text,
    /// The line number, from `LINE`.
    pub index: i32,
    pub vars: Vars,
}

#[derive(Clone, Debug)]
pub struct Phone {
    pub mac: Text,
    pub provider: Arc<str>,
    pub profile: Arc<Profile>,
    /// Ordered by line number; never empty.
    pub lines: Vec<Line>,
    /// The profile's `uploads` patterns rendered for this phone (the usable ones).
    pub uploads: Vec<Text>,
}

impl Phone {
    /// The variables templates are rendered with: those of the first line.
    pub fn vars(&self) -> &Vars {
        &self.lines[0].vars
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Static { profile: usize, file: usize },
    Dynamic { phone: usize, file: usize },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub uri: Text,
    pub target: Target,
}

/// What a route resolves to.
pub struct Resolved<'a> {
    pub route: &'a Route,
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
    pub routes: Vec<Route>,
    by_uri: FxHashMap<Text, usize>,
    by_mac: FxHashMap<Text, usize>,
    /// Upload patterns by their literal prefix (see [`crate::uploads`]): (phone, pattern).
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
    tz_cache: FxHashMap<Option<Text>, Vec<Pair>>,
    /// One copy of each distinct set of a line's additions (see [`Vars::share_own`]).
    tails: SharedParts,
    /// Reused for each phone: where a URI is rendered before it is copied into its own
    /// string, and the phone's URIs.
    scratch: (Vec<u8>, Vec<Text>),
    /// Reused for each line: its additions (see [`Builder::line`]).
    additions: Vec<Pair>,
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

impl Builder<'_> {
    fn log(&self, level: Level, message: String) {
        self.host.log(level, &message);
    }

    /// `origin` describes the route for a message; it is only made when one is needed.
    fn add_route(&mut self, uri: Text, target: Target, origin: impl FnOnce() -> String) {
        let next = self.snap.routes.len();
        // One probe of a table of 100,000 routes: each costs a cache miss.
        let existing = match self.snap.by_uri.entry(uri.clone()) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                e.insert(next);
                self.snap.routes.push(Route { uri, target });
                return;
            }
        };
        let first = describe(&self.snap, self.snap.routes[existing].target);
        self.log(
            Level::Warning,
            format!(
                "URI '{}' of {} is already served for {first}; keeping the first",
                lossy(&uri),
                origin()
            ),
        );
    }

    /// A line's variables: the provider's, then LINE and LINEKEYS defaults, time zone facts,
    /// and the profile's `setvar`s rendered with what the line has so far.
    fn line(&mut self, name: &Text, given: &Vars, profile: &Profile) -> Line {
        let mut v = given.clone();
        // The line's additions, gathered apart: most lines add what the line before them
        // added, and then have no list of their own to make (see Vars::share_additions).
        let mut add = std::mem::take(&mut self.additions);
        add.clear();
        let i = &mut self.interner;
        let index = match v.find(vars::LINE) {
            Some(l) => leading_int(l),
            None => {
                add.push((i.intern(vars::LINE), i.intern("1")));
                1
            }
        };
        if !v.contains(vars::LINEKEYS) {
            add.push((i.intern(vars::LINEKEYS), i.intern("1")));
        }
        let zone = given.find_text(vars::TIMEZONE).cloned();
        let (host, interner) = (self.host, &mut self.interner);
        let tz = self
            .tz_cache
            .entry(zone)
            .or_insert_with_key(|z| tz_vars(&host.tz(z.as_deref()), interner));
        add.extend(tz.iter().cloned());
        if !profile.setvars.is_empty() {
            // Setvars are rendered with what the line has so far.
            v.reserve(add.len() + profile.setvars.len());
            v.append(&mut add);
        }
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
        v.share_additions(&mut add, &mut self.tails);
        self.additions = add;
        Line {
            name: name.clone(),
            index,
            vars: v,
        }
    }

    fn add_extension(&mut self, ext: &Extension) {
        let Some(username) = ext.vars.find_text(vars::USERNAME) else {
            self.log(
                Level::Error,
                format!("{}: an extension has no USERNAME - skipping.", ext.provider),
            );
            return;
        };
        let user = lossy(username);
        let Some(mac) = ext.vars.find_text(vars::MAC) else {
            self.log(
                Level::Error,
                format!(
                    "{}: extension '{user}' has no MAC - skipping.",
                    ext.provider
                ),
            );
            return;
        };
        let Some(profile_name) = ext.vars.find(vars::PROFILE) else {
            self.log(
                Level::Error,
                format!("No profile could be found for user '{user}' - skipping."),
            );
            return;
        };
        let Some(profile) = self.snap.config.profile(profile_name).cloned() else {
            self.log(
                Level::Error,
                format!(
                    "Could not look up profile '{}' for user '{user}' - skipping.",
                    lossy(profile_name)
                ),
            );
            return;
        };
        // For messages only: made when one is logged.
        let mac_text = || lossy(mac).into_owned();
        if let Some(&idx) = self.snap.by_mac.get(&**mac) {
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
            let line = self.line(username, &ext.vars, &phone_profile);
            let lines = &mut self.snap.phones[idx].lines;
            match lines.binary_search_by_key(&line.index, |l| l.index) {
                Ok(_) => self.log(
                    Level::Warning,
                    format!(
                        "Duplicate linenumber={} for {}: extension '{user}' skipped",
                        line.index,
                        mac_text()
                    ),
                ),
                Err(pos) => lines.insert(pos, line),
            }
            return;
        }
        let line = self.line(username, &ext.vars, &profile);
        let phone_idx = self.snap.phones.len();
        let (mut buf, mut uris) = std::mem::take(&mut self.scratch);
        uris.clear();
        uris.extend(profile.dynamic_files.iter().map(|f| {
            buf.clear();
            render_with(self.host, &f.uri_template, &line.vars, &mut buf);
            Text::from(&buf[..])
        }));
        let uploads = self.uploads(&profile, &line.vars, mac, phone_idx, &uris);
        self.snap.by_mac.insert(mac.clone(), phone_idx);
        self.snap.phones.push(Phone {
            mac: mac.clone(),
            provider: ext.provider.clone(),
            profile: profile.clone(),
            lines: vec![line],
            uploads,
        });
        for (file, uri) in uris.drain(..).enumerate() {
            let origin = || {
                let uri = lossy(&profile.dynamic_files[file].uri);
                format!("phone {} ({uri})", mac_text())
            };
            if uri.is_empty() {
                self.log(
                    Level::Warning,
                    format!(
                        "{}: the URI is empty after substitution - not served",
                        origin()
                    ),
                );
                continue;
            }
            self.add_route(
                uri,
                Target::Dynamic {
                    phone: phone_idx,
                    file,
                },
                origin,
            );
        }
        self.scratch = (buf, uris);
    }
}

impl Builder<'_> {
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
        uris: &[Text],
    ) -> Vec<Text> {
        let mut out: Vec<Text> = Vec::new();
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
        out
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
        Target::Dynamic { phone, .. } => format!("phone {}", lossy(&snap.phones[phone].mac)),
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
        let mut b = Builder {
            host,
            interner: Interner::default(),
            tz_cache: FxHashMap::default(),
            tails: SharedParts::default(),
            scratch: Default::default(),
            additions: Vec::new(),
            snap: Snapshot {
                config: config.clone(),
                ..Snapshot::default()
            },
            bad_uploads: Default::default(),
        };
        for (pi, profile) in config.profiles.iter().enumerate() {
            for (fi, f) in profile.static_files.iter().enumerate() {
                b.add_route(
                    Text::from(&f.uri[..]),
                    Target::Static {
                        profile: pi,
                        file: fi,
                    },
                    || {
                        let (file, name) = (lossy(&f.template), lossy(&profile.name));
                        format!("static file {file} of profile [{name}]")
                    },
                );
            }
        }
        // Sized once for what is coming (growing tables of 100,000 entries rehashes them
        // again and again); a phone with several lines leaves room, given back below.
        let extensions: Vec<&Extension> = extensions.into_iter().collect();
        let files = config
            .profiles
            .iter()
            .map(|p| p.dynamic_files.len())
            .max()
            .unwrap_or(0);
        let snap = &mut b.snap;
        snap.phones.reserve(extensions.len());
        snap.by_mac.reserve(extensions.len());
        snap.routes.reserve(extensions.len() * files);
        snap.by_uri.reserve(extensions.len() * files);
        for ext in extensions {
            b.add_extension(ext);
        }
        // Built once, then only read: no room for growth.
        let snap = &mut b.snap;
        snap.phones.shrink_to_fit();
        snap.routes.shrink_to_fit();
        if snap.by_mac.len() < snap.by_mac.capacity() / 2 {
            snap.by_mac.shrink_to_fit();
        }
        if snap.by_uri.len() < snap.by_uri.capacity() / 2 {
            snap.by_uri.shrink_to_fit();
        }
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
        let mut b = Builder {
            host,
            interner: Interner::default(),
            tz_cache: FxHashMap::default(),
            tails: SharedParts::default(),
            scratch: Default::default(),
            additions: Vec::new(),
            bad_uploads: Default::default(),
            snap: Snapshot {
                config,
                ..Snapshot::default()
            },
        };
        for ext in extensions {
            b.add_extension(ext);
        }
        let phone = b.snap.phones.drain(..).next()?;
        let uris = b
            .snap
            .routes
            .drain(..)
            .filter_map(|r| match r.target {
                Target::Dynamic { phone: 0, file } => Some((r.uri, file)),
                _ => None,
            })
            .collect();
        Some((phone, uris))
    }

    pub fn resolve(&self, uri: &[u8]) -> Option<Resolved<'_>> {
        let route = &self.routes[*self.by_uri.get(uri)?];
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
        self.by_mac.get(mac).map(|&i| &self.phones[i])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::conf::{Category, ConfigFile};
    use std::cell::RefCell;

    /// Plain `${NAME}` substitution, enough to test the model.
    #[derive(Default)]
    pub struct FakeHost {
        pub logs: RefCell<Vec<(Level, String)>>,
    }

    impl Host for FakeHost {
        fn substitute(&self, template: &[u8], vars: &Vars) -> Vec<u8> {
            let mut out = Vec::new();
            let mut rest = template;
            while let Some(start) = crate::bytes::find(rest, b"${") {
                out.extend_from_slice(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.iter().position(|&b| b == b'}').expect("closed");
                out.extend_from_slice(vars.find(&after[..end]).unwrap_or(b""));
                rest = &after[end + 1..];
            }
            out.extend_from_slice(rest);
            out
        }
        fn tz(&self, zone: Option<&[u8]>) -> TzInfo {
            match zone {
                Some(b"Europe/Paris") => TzInfo {
                    offset: 3600,
                    dst: Some(([3, 29, 2], [10, 25, 3])),
                },
                _ => TzInfo::default(),
            }
        }
        fn log(&self, level: Level, message: &str) {
            self.logs.borrow_mut().push((level, message.to_owned()));
        }
    }

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
                    lossy(&t.phone.mac).into_owned(),
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
                    &[("${MAC}.cfg", "phone.cfg"), ("uploads", "${MAC}.c*")],
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
                    &[(
                        "uploads",
                        "logs/${MAC}-*.log, ${MAC}-*.log, ${MAC}-phone.cfg, old/${MAC}-phone.cfg",
                    )],
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
        let names: Vec<_> = s.phones[0].lines.iter().map(|l| &*l.name).collect();
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
        assert_eq!(phone.lines, whole.phones[0].lines);
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
            &*s.resolve(b"x/j\xfc.xml").unwrap().phone.unwrap().mac,
            b"m1"
        );
        assert_eq!(
            &*s.resolve(b"x/j\xe9.xml").unwrap().phone.unwrap().mac,
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
        assert_eq!(&*r.phone.unwrap().mac, b"m1");
        assert_eq!(r.file.template, b"phone.cfg");
        assert_eq!(&*s.resolve(b"x/a.xml").unwrap().phone.unwrap().mac, b"m4");
        assert!(s.resolve(b"m2.cfg").is_none());
        assert_eq!(s.phones.len(), 3);
        let logs: Vec<String> = host.logs.borrow().iter().map(|l| l.1.clone()).collect();
        assert_eq!(logs.len(), 5, "{logs:?}");
        assert!(logs[0].contains("fw.bin"));
        assert!(logs[1].contains("already added by provider 'p'"));
        assert!(logs[2].contains("'nope'"));
        assert!(logs[3].contains("No profile"));
        assert!(logs[4].contains("x/a.xml"));
    }
}
