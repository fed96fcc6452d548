//! The built-in users provider (`sipusers`): phones from `phoneprov_users.conf` or
//! `users.conf`, turned into the variable lists every provider hands to the core.

use std::sync::Arc;

use crate::config::conf::{Category, CategoryRef, ConfigFile};
use crate::config::profile::Settings;
use crate::config::vars::{self, IntoText, PackBuilder, Pair, Text, Vars};
use crate::host::Diag;
use crate::host::Level;
use crate::util::args::is_true;
use crate::util::bytes::lossy;

pub const PROVIDER_NAME: &str = "sipusers";

/// Users-file keys and the variables they become, in the standard variables' order.
const USER_KEYS: [(&str, &str); 14] = [
    ("macaddress", vars::MAC),
    ("profile", vars::PROFILE),
    ("username", vars::USERNAME),
    ("fullname", "DISPLAY_NAME"),
    ("secret", "SECRET"),
    ("label", "LABEL"),
    ("cid_number", "CALLERID"),
    ("timezone", vars::TIMEZONE),
    ("linenumber", vars::LINE),
    ("linekeys", vars::LINEKEYS),
    ("vmexten", vars::VOICEMAIL_EXTEN),
    ("localextenlength", vars::EXTENSION_LENGTH),
    // Credentials for fetching the phone's files (phoneprov.conf `auth`).
    ("http_username", vars::HTTP_USERNAME),
    ("http_secret", vars::HTTP_SECRET),
];

/// `autoprov`'s place after [`USER_KEYS`] among the keys a section is read for.
const AUTOPROV: usize = USER_KEYS.len();

/// The keys a section is read for: [`USER_KEYS`], then `autoprov`.
fn section_keys() -> impl Iterator<Item = &'static [u8]> {
    USER_KEYS
        .iter()
        .map(|(k, _)| k.as_bytes())
        .chain([&b"autoprov"[..]])
}

/// The variables every user gets unless it sets them itself. `server` is the address from
/// `serveraddr` or `serveriface`, already resolved; without one, SERVER is left to each
/// request.
pub fn defaults(settings: &Settings, server: Option<&[u8]>, users: &ConfigFile) -> Vars {
    let general = users.category("general");
    let pairs = general.map(Category::pairs).unwrap_or_default();
    let general = general.map(|g| CategoryRef {
        name: &g.name,
        vars: &pairs,
    });
    defaults_from(settings, server, general)
}

/// [`defaults`], given the users file's `[general]`.
pub fn defaults_from(
    settings: &Settings,
    server: Option<&[u8]>,
    general: Option<CategoryRef>,
) -> Vars {
    let mut d = Vars::new();
    if let Some(server) = server {
        d.push(vars::SERVER, server);
    }
    d.push(vars::SERVER_PORT, settings.serverport.as_slice());
    if let Some(profile) = &settings.default_profile {
        d.push(vars::PROFILE, profile.as_slice());
    }
    for (k, v) in general.iter().flat_map(|g| g.vars) {
        if k.eq_ignore_ascii_case(b"vmexten") {
            d.push(vars::VOICEMAIL_EXTEN, *v);
        } else if k.eq_ignore_ascii_case(b"localextenlength") {
            d.push(vars::EXTENSION_LENGTH, *v);
        }
    }
    d
}

/// Reads the users of one file, section by section.
pub struct UserReader<'d> {
    file: &'d str,
    /// The variable of each of [`USER_KEYS`]: the names of the users' pack.
    names: Box<[Text]>,
    /// `defaults` as one list every user shares (see [`Vars::push_defaults`]).
    shared_defaults: Arc<[Pair]>,
    /// By length, the keys of that length and their numbers (see [`section_keys`]): a
    /// variable is compared with a few keys, not with all.
    keys_by_len: Vec<Vec<(&'static [u8], usize)>>,
}

impl<'d> UserReader<'d> {
    pub fn new(file: &'d str, defaults: &Vars) -> Self {
        let names = USER_KEYS.iter().map(|(_, n)| n.into_text()).collect();
        let defaults: Vec<Pair> = defaults
            .iter()
            .map(|(k, v)| (k.into_text(), v.into_text()))
            .collect();
        let mut keys_by_len = Vec::new();
        for (i, key) in section_keys().enumerate() {
            if keys_by_len.len() <= key.len() {
                keys_by_len.resize(key.len() + 1, Vec::new());
            }
            keys_by_len[key.len()].push((key, i));
        }
        UserReader {
            file,
            names,
            shared_defaults: defaults.into(),
            keys_by_len,
        }
    }

    /// Which key a section's variable sets (see [`section_keys`]).
    fn key_of(&self, name: &[u8]) -> Option<usize> {
        let first = name.first()?.to_ascii_lowercase();
        let keys = self.keys_by_len.get(name.len())?;
        keys.iter()
            .find(|(key, _)| key[0] == first && key.eq_ignore_ascii_case(name))
            .map(|&(_, i)| i)
    }

    /// The user of an auto-provisioned section, as a variable list with the defaults
    /// applied; a user without `username` is named after its section.
    pub fn read(&self, cat: CategoryRef<'_>, diags: &mut Vec<Diag>) -> Option<Vars> {
        let mut packed = PackBuilder::default();
        self.pack(cat, &mut packed, diags);
        self.unpack(packed).pop()
    }

    /// [`UserReader::read`], adding the user's values to `packed`; false when the section
    /// is not a user.
    pub fn pack(
        &self,
        cat: CategoryRef<'_>,
        packed: &mut PackBuilder,
        diags: &mut Vec<Diag>,
    ) -> bool {
        if cat.is("general") || cat.is("authentication") {
            return false;
        }
        // One pass over the section's variables, the last value of a key kept (as
        // CategoryRef::get gives it), rather than one pass per key.
        let mut found = [None; AUTOPROV + 1];
        for &(key, value) in cat.vars {
            if let Some(i) = self.key_of(key) {
                found[i] = Some(value);
            }
        }
        if !found[AUTOPROV].is_some_and(is_true) {
            return false;
        }
        let mut has_mac = false;
        for (i, (_, name)) in USER_KEYS.iter().enumerate() {
            let value = match found[i] {
                Some(value) => value,
                None if *name == vars::USERNAME => cat.name,
                None => continue,
            };
            has_mac |= *name == vars::MAC;
            if !packed.push(i as u32, value) {
                return self.skip(packed, cat, "too many users to hold", diags);
            }
        }
        if !has_mac {
            return self.skip(packed, cat, "autoprov set, but no macaddress", diags);
        }
        if !packed.end_list() {
            return self.skip(packed, cat, "too many users to hold", diags);
        }
        true
    }

    fn skip(
        &self,
        packed: &mut PackBuilder,
        cat: CategoryRef<'_>,
        why: &str,
        diags: &mut Vec<Diag>,
    ) -> bool {
        packed.drop_list();
        diags.push(Diag::new(
            Level::Warning,
            format!("{} [{}]: {why} - skipping.", self.file, lossy(cat.name)),
        ));
        false
    }

    /// The packed users as variable lists, with the defaults applied.
    pub fn unpack(&self, packed: PackBuilder) -> Vec<Vars> {
        let pack = packed.finish(self.names.clone());
        pack.lists_with_defaults(&self.shared_defaults).collect()
    }
}

/// Every auto-provisioned user of the file (see [`UserReader::read`]).
pub fn load(users: &ConfigFile, defaults: &Vars, diags: &mut Vec<Diag>) -> Vec<Vars> {
    let reader = UserReader::new(&users.name, defaults);
    let mut out = Vec::new();
    for cat in &users.categories {
        let pairs = cat.pairs();
        let cat = CategoryRef {
            name: &cat.name,
            vars: &pairs,
        };
        out.extend(reader.read(cat, diags));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conf::Category;

    fn users(cats: Vec<Category>) -> ConfigFile {
        ConfigFile {
            name: "users.conf".into(),
            categories: cats,
        }
    }

    #[test]
    fn users_become_variable_lists() {
        let f = users(vec![
            Category::new("general", &[("vmexten", "*97"), ("localextenlength", "4")]),
            Category::new(
                "authentication",
                &[("autoprov", "yes"), ("macaddress", "x")],
            ),
            Category::new(
                "6001",
                &[
                    ("fullname", "Jane"),
                    ("autoprov", "yes"),
                    ("macaddress", "000000000001"),
                    ("linenumber", "2"),
                ],
            ),
            Category::new("6002", &[("autoprov", "no"), ("macaddress", "2")]),
            Category::new("6003", &[("autoprov", "yes")]),
            Category::new(
                "6004",
                &[
                    ("autoprov", "true"),
                    ("macaddress", "4"),
                    ("username", "bob"),
                    ("profile", "snom"),
                    ("vmexten", "8500"),
                ],
            ),
        ]);
        let settings = Settings {
            serverport: b"5061".to_vec(),
            default_profile: Some(b"pol".to_vec()),
            ..Settings::default()
        };
        let d = defaults(&settings, Some(b"192.0.2.1"), &f);
        let mut diags = Vec::new();
        let got = load(&f, &d, &mut diags);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("[6003]"));
        assert_eq!(got.len(), 2);
        let first: Vec<_> = got[0]
            .iter()
            .map(|(k, v)| {
                (
                    std::str::from_utf8(k).unwrap(),
                    std::str::from_utf8(v).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            first,
            [
                ("MAC", "000000000001"),
                ("USERNAME", "6001"),
                ("DISPLAY_NAME", "Jane"),
                ("LINE", "2"),
                ("SERVER", "192.0.2.1"),
                ("SERVER_PORT", "5061"),
                ("PROFILE", "pol"),
                ("VOICEMAIL_EXTEN", "*97"),
                ("EXTENSION_LENGTH", "4"),
            ]
        );
        assert_eq!(got[1].find("USERNAME"), Some(&b"bob"[..]));
        assert_eq!(got[1].find("PROFILE"), Some(&b"snom"[..]));
        assert_eq!(got[1].find("VOICEMAIL_EXTEN"), Some(&b"8500"[..]));
        // The defaults it does not override, once each.
        assert_eq!(got[1].find("EXTENSION_LENGTH"), Some(&b"4"[..]));
        assert_eq!(got[1].len(), 7);
    }

    #[test]
    fn keys_ignore_case_and_the_last_value_wins() {
        let cat = Category::new(
            "7001",
            &[
                ("AutoProv", "no"),
                ("MACADDRESS", "1"),
                ("autoprov", "yes"),
                ("FullName", "A"),
                ("fullname", "B"),
                ("autoprovx", "no"),
            ],
        );
        let got = load(&users(vec![cat]), &Vars::new(), &mut Vec::new());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].find("MAC"), Some(&b"1"[..]));
        assert_eq!(got[0].find("DISPLAY_NAME"), Some(&b"B"[..]));
        assert_eq!(got[0].find("USERNAME"), Some(&b"7001"[..]));
    }

    #[test]
    fn iso_8859_1_values_and_section_names_pass_through() {
        let mut cat = Category::new("x", &[("autoprov", "yes"), ("macaddress", "1")]);
        cat.name = b"j\xfcrgen".to_vec();
        cat.vars.push((
            b"fullname".to_vec(),
            Text::from(&b"J\xfcrgen M\xfcller"[..]),
        ));
        let f = users(vec![cat]);
        let got = load(&f, &Vars::new(), &mut Vec::new());
        assert_eq!(got[0].find("USERNAME"), Some(&b"j\xfcrgen"[..]));
        assert_eq!(
            got[0].find("DISPLAY_NAME"),
            Some(&b"J\xfcrgen M\xfcller"[..])
        );
    }
}
