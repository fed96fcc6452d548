//! The built-in users provider (`sipusers`): phones from `phoneprov_users.conf` or
//! `users.conf`, turned into the variable lists every provider hands to the core.

use crate::args::is_true;
use crate::bytes::lossy;
use crate::conf::ConfigFile;
use crate::host::Level;
use crate::profile::{Diag, Settings};
use crate::vars::{self, IntoText, Text, Vars};

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

/// The variables every user gets unless it sets them itself. `server` is the address from
/// `serveraddr` or `serveriface`, already resolved; without one, SERVER is left to each
/// request.
pub fn defaults(settings: &Settings, server: Option<&[u8]>, users: &ConfigFile) -> Vars {
    let mut d = Vars::new();
    if let Some(server) = server {
        d.push(vars::SERVER, server);
    }
    d.push(vars::SERVER_PORT, settings.serverport.as_slice());
    if let Some(profile) = &settings.default_profile {
        d.push(vars::PROFILE, profile.as_slice());
    }
    if let Some(general) = users.category("general") {
        for (k, v) in &general.vars {
            if k.eq_ignore_ascii_case(b"vmexten") {
                d.push(vars::VOICEMAIL_EXTEN, v.clone());
            } else if k.eq_ignore_ascii_case(b"localextenlength") {
                d.push(vars::EXTENSION_LENGTH, v.clone());
            }
        }
    }
    d
}

/// Every auto-provisioned user of the file, as a variable list with the defaults applied.
/// A user without `username` is named after its section.
pub fn load(users: &ConfigFile, defaults: &Vars, diags: &mut Vec<Diag>) -> Vec<Vars> {
    let mut out = Vec::new();
    // One copy of each name for all users; values are the file's own strings.
    let names: Vec<(&str, Text)> = USER_KEYS.iter().map(|(k, n)| (*k, n.into_text())).collect();
    for cat in &users.categories {
        if cat.is("general") || cat.is("authentication") {
            continue;
        }
        if !cat.get("autoprov").is_some_and(is_true) {
            continue;
        }
        let mut v = Vars::new();
        for (key, name) in &names {
            match cat.get_text(key) {
                Some(value) => v.push(name.clone(), value.clone()),
                None if &**name == vars::USERNAME.as_bytes() => {
                    v.push(name.clone(), cat.name.as_slice())
                }
                None => {}
            }
        }
        if !v.contains(vars::MAC) {
            diags.push(Diag::new(
                Level::Warning,
                format!(
                    "{} [{}]: autoprov set, but no macaddress - skipping.",
                    users.name,
                    lossy(&cat.name)
                ),
            ));
            continue;
        }
        for (k, val) in defaults.pairs() {
            v.push_default(k, val);
        }
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::Category;

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
