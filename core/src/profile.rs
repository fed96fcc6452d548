//! `phoneprov.conf`: the `[general]` settings and the profiles (every other section).

use std::panic::Location;
use std::sync::Arc;

use crate::args::{separate_args, strip};
use crate::conf::{Category, ConfigFile};
use crate::host::Level;
use crate::template::Template;
use crate::uri::is_contained;

/// A file a profile serves. For a static file `uri` is its name and `template` its path
/// below `AST_DATA_DIR/phoneprov/`; for a dynamic file `uri` is the URI template rendered
/// per phone and `template` the template file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub uri: String,
    pub template: String,
    pub mime_type: String,
    /// `uri`, parsed for rendering (dynamic files).
    pub uri_template: Template,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub mime_type: String,
    pub staticdir: String,
    /// Names and values; values are rendered with each line's variables.
    pub setvars: Vec<(String, Template)>,
    pub static_files: Vec<FileEntry>,
    pub dynamic_files: Vec<FileEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub serveraddr: Option<String>,
    pub serveriface: Option<String>,
    pub serverport: String,
    pub default_profile: Option<String>,
}

/// A parsed `phoneprov.conf`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub settings: Settings,
    pub profiles: Vec<Arc<Profile>>,
}

/// A message about the configuration, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub level: Level,
    pub message: String,
    /// The line of the core that found the problem, for the log line.
    pub origin: &'static Location<'static>,
}

impl Diag {
    #[track_caller]
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Diag {
            level,
            message: message.into(),
            origin: Location::caller(),
        }
    }
}

/// The MIME type of a file: its own, else the profile's `mime_type` as set so far, else
/// `text/plain`. (The C module meant to look at the extension in between, but its lookup
/// never fires; keeping it out keeps the answers the same.)
pub fn choose_mime(explicit: Option<&str>, profile_default: &str) -> String {
    [explicit.unwrap_or(""), profile_default]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or("text/plain")
        .to_owned()
}

/// `NAME=VALUE` of a `setvar`, both trimmed; None when either is empty.
pub fn parse_setvar(value: &str) -> Option<(String, String)> {
    let args = separate_args(value, '=', true, 2);
    let name = strip(args.first()?);
    let val = strip(args.get(1)?);
    if name.is_empty() || val.is_empty() {
        return None;
    }
    Some((name.to_owned(), val.to_owned()))
}

fn parse_profile(file: &str, cat: &Category, diags: &mut Vec<Diag>) -> Profile {
    let mut p = Profile {
        name: cat.name.clone(),
        ..Profile::default()
    };
    for (key, value) in &cat.vars {
        if key.eq_ignore_ascii_case("mime_type") {
            p.mime_type = value.to_string();
        } else if key.eq_ignore_ascii_case("setvar") {
            match parse_setvar(value) {
                Some((name, value)) => p.setvars.push((name, Template::parse(&value))),
                None => diags.push(Diag::new(
                    Level::Warning,
                    format!(
                        "{file} [{}]: ignoring setvar '{value}': expected NAME=VALUE",
                        cat.name
                    ),
                )),
            }
        } else if key.eq_ignore_ascii_case("staticdir") {
            p.staticdir = value.to_string();
        } else {
            let args = separate_args(value, ',', true, 2);
            let name = args.first().map(String::as_str).unwrap_or("");
            if name.is_empty() {
                diags.push(Diag::new(
                    Level::Warning,
                    format!("{file} [{}]: ignoring '{key}' with no file name", cat.name),
                ));
                continue;
            }
            let mime_type = choose_mime(args.get(1).map(String::as_str), &p.mime_type);
            let is_static = key.eq_ignore_ascii_case("static_file");
            let entry = if is_static {
                FileEntry {
                    uri: name.to_owned(),
                    template: format!("{}{}", p.staticdir, name),
                    mime_type,
                    uri_template: Template::parse(""),
                }
            } else {
                FileEntry {
                    uri: key.clone(),
                    template: name.to_owned(),
                    mime_type,
                    uri_template: Template::parse(key),
                }
            };
            if !is_contained(&entry.template) {
                diags.push(Diag::new(
                    Level::Error,
                    format!(
                        "{file} [{}]: '{}' is not below AST_DATA_DIR/phoneprov - not served",
                        cat.name, entry.template
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
    p
}

impl Config {
    /// Reads a `phoneprov.conf`. Problems that only cost one line are returned as
    /// diagnostics; the caller decides with [`Config::fatal_problem`] whether to use it.
    pub fn parse(file: &ConfigFile) -> (Config, Vec<Diag>) {
        let mut diags = Vec::new();
        let general = file.category("general");
        let get = |k: &str| general.and_then(|g| g.get(k)).map(str::to_owned);
        let settings = Settings {
            serveraddr: get("serveraddr"),
            serveriface: get("serveriface"),
            serverport: get("serverport")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "5060".to_owned()),
            default_profile: get("default_profile"),
        };
        let mut profiles: Vec<Arc<Profile>> = Vec::new();
        for cat in &file.categories {
            if cat.name.eq_ignore_ascii_case("general") {
                continue;
            }
            let profile = parse_profile(&file.name, cat, &mut diags);
            if profiles.iter().any(|p| p.name == profile.name) {
                diags.push(Diag::new(
                    Level::Warning,
                    format!(
                        "{}: profile [{}] is defined twice; the first one is used",
                        file.name, profile.name
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
                "phoneprov.conf: default_profile '{d}' is not a profile in the file."
            )),
            Some(_) => None,
        }
    }

    /// Warnings for the files of every profile that `exists` does not find, once each.
    pub fn missing_files(&self, exists: impl Fn(&str) -> bool) -> Vec<Diag> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for p in &self.profiles {
            let files = p.static_files.iter().map(|f| ("static file", f));
            let templates = p.dynamic_files.iter().map(|f| ("template", f));
            for (kind, f) in files.chain(templates) {
                if seen.insert(&f.template) && !exists(&f.template) {
                    out.push(Diag::new(
                        Level::Warning,
                        format!(
                            "phoneprov.conf [{}]: {kind} '{}' does not exist (yet); requests for it \
                             answer 500 until it does",
                            p.name, f.template
                        ),
                    ));
                }
            }
        }
        out
    }

    pub fn profile(&self, name: &str) -> Option<&Arc<Profile>> {
        self.profiles.iter().find(|p| p.name == name)
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
    fn mime_order() {
        assert_eq!(choose_mime(Some("a/b"), "c/d"), "a/b");
        assert_eq!(choose_mime(Some(""), "c/d"), "c/d");
        assert_eq!(choose_mime(None, ""), "text/plain");
    }

    #[test]
    fn setvar_parsing() {
        assert_eq!(parse_setvar(" A = x=y "), Some(("A".into(), "x=y".into())));
        assert_eq!(parse_setvar("A="), None);
        assert_eq!(parse_setvar("=v"), None);
        assert_eq!(parse_setvar("  = v"), None);
        assert_eq!(parse_setvar("novalue"), None);
        // Found by the setvar fuzz target: only ASCII white space is stripped, as Asterisk's
        // ast_strip does, so a thin space is a name.
        assert_eq!(
            parse_setvar("\u{2009}=\u{18}"),
            Some(("\u{2009}".into(), "\u{18}".into()))
        );
        assert_eq!(
            parse_setvar("X=${USERNAME}"),
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
        assert_eq!(c.settings.serveraddr.as_deref(), Some("10.0.0.1"));
        assert_eq!(c.settings.serverport, "5060");
        assert!(c.fatal_problem().is_none());
        let p = &c.profiles[0];
        let statics: Vec<_> = p
            .static_files
            .iter()
            .map(|f| (f.uri.as_str(), f.template.as_str(), f.mime_type.as_str()))
            .collect();
        assert_eq!(
            statics,
            [
                ("early.bin", "early.bin", "text/plain"),
                ("sip.ld", "configs/sip.ld", "application/octet-stream"),
                ("sip.cfg", "configs/sip.cfg", "text/xml"),
            ]
        );
        assert_eq!(p.dynamic_files[0].uri, "${MAC}.cfg");
        assert_eq!(p.dynamic_files[0].template, "000000000000.cfg");
        assert_eq!(p.dynamic_files[1].mime_type, " text/foo");
        assert_eq!(p.setvars, [("A".to_string(), Template::parse("B"))]);
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
        let missing = c.missing_files(|f| f != "fine.cfg");
        assert_eq!(missing.len(), 1);
        assert!(missing[0].message.contains("'fine.cfg'"));
        assert!(c.missing_files(|_| true).is_empty());
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
