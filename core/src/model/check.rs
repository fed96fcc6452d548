//! `phoneprov check` over a built snapshot: the files each profile's phones will ask for, by
//! their family's catalogue (`config::family`), that no route serves.

use std::sync::Arc;

use crate::config::family::{file_name, Family};
use crate::model::snapshot::{Snapshot, Target};
use crate::util::bytes::lossy;

/// What `phoneprov check` says about families: for each profile with a family (or only
/// the profile of phone `mac`), the files its first phone (or phone `mac`) will ask for
/// that nothing serves, one line each.
/// `render` gives what a dynamic URI serves (None when it cannot be rendered), for the files
/// a phone's own file names.
pub fn check(
    snap: &Snapshot,
    mac: Option<&[u8]>,
    render: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
) -> Vec<String> {
    let statics: Vec<&[u8]> = snap
        .routes()
        .filter(|r| matches!(r.target, Target::Static { .. }))
        .map(|r| r.uri)
        .collect();
    let mut out = Vec::new();
    for profile in &snap.config.profiles {
        let Some(family) = profile.family else {
            continue;
        };
        let phone = snap
            .phones
            .iter()
            .position(|p| Arc::ptr_eq(&p.profile, profile) && mac.map_or(true, |m| m == p.mac()));
        let Some(phone) = phone else { continue };
        let mut served = statics.clone();
        served.extend(snap.routes().filter_map(|r| match r.target {
            Target::Dynamic { phone: p, .. } if p == phone => Some(r.uri),
            _ => None,
        }));
        let mac = &snap.phones[phone].mac();
        for m in missing(family, &profile.models, mac, &served, render) {
            out.push(format!(
                "{} (profile [{}], family {}): nothing serves it; phone {} asks for it ({})",
                lossy(&m.uri),
                lossy(&profile.name),
                family.id,
                lossy(mac),
                m.what
            ));
        }
    }
    out
}

/// A file a phone will ask for that nothing serves.
#[derive(Debug, PartialEq, Eq)]
pub struct Missing {
    /// The URI below `/phoneprov/` the phone asks for.
    pub uri: Vec<u8>,
    pub what: String,
}

/// The files the family's phone `mac` asks for that are not among `served` (every URI the
/// server answers for that phone: its own dynamic files and every static file). `models`
/// are the profile's `models =` entries; unknown ones are left to the configuration's
/// warnings. `render` gives what the phone's own file serves (given its URI), for the files
/// it names.
pub fn missing(
    family: &Family,
    models: &[Vec<u8>],
    mac: &[u8],
    served: &[&[u8]],
    render: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
) -> Vec<Missing> {
    let Some(own) = family.asks.first() else {
        return Vec::new();
    };
    let own_name = file_name(own.name, mac);
    // The directory the phone was pointed at: where its own file is served.
    let found = served.iter().find_map(|uri| {
        let cut = uri.len().checked_sub(own_name.len())?;
        let at_boundary = cut == 0 || uri[cut - 1] == b'/';
        (at_boundary && uri[cut..] == own_name[..]).then_some((*uri, &uri[..cut]))
    });
    let Some((own_uri, dir)) = found else {
        return vec![Missing {
            uri: own_name,
            what: own.what.to_owned(),
        }];
    };
    let wanted = family.asks[1..]
        .iter()
        .map(|a| (file_name(a.name, mac), a.what.to_owned()))
        .chain(models.iter().filter_map(|m| {
            let f = family.model_file(m)?;
            Some((
                f.as_bytes().to_vec(),
                format!("the common file of {}", String::from_utf8_lossy(m)),
            ))
        }));
    let named: Vec<(Vec<u8>, String)> = match family.named.and_then(|n| Some((n, render(own_uri)?)))
    {
        Some((names, body)) => names(&body)
            .into_iter()
            .map(|n| (n, format!("named by {}", lossy(own_uri))))
            .collect(),
        None => Vec::new(),
    };
    let wanted = wanted.chain(named);
    let mut out = Vec::new();
    for (name, what) in wanted {
        let uri = [dir, &name[..]].concat();
        if !served.contains(&&uri[..]) && !out.iter().any(|m: &Missing| m.uri == uri) {
            out.push(Missing { uri, what });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::family::lookup;

    fn none(_: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn uris(list: &[&'static str]) -> Vec<&'static [u8]> {
        list.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn a_complete_profile_misses_nothing() {
        let polycom = lookup(b"polycom").unwrap();
        let served = uris(&["sip.cfg", "000000000000.cfg", "0004f2000001.cfg"]);
        assert!(missing(polycom, &[], b"0004F2000001", &served, &none).is_empty());
        let yealink = lookup(b"yealink").unwrap();
        let served = uris(&["y000000000066.cfg", "805ec0000020.cfg"]);
        assert!(missing(
            yealink,
            &[b"T46S".to_vec()],
            b"805ec0000020",
            &served,
            &none
        )
        .is_empty());
    }

    #[test]
    fn the_phones_own_file_missing_is_all_that_is_said() {
        let polycom = lookup(b"polycom").unwrap();
        // Served in upper case: the phone asks in lower case.
        let served = uris(&["0004F2000001.cfg"]);
        assert_eq!(
            missing(polycom, &[], b"0004F2000001", &served, &none),
            [Missing {
                uri: b"0004f2000001.cfg".to_vec(),
                what: "its master configuration".into()
            }]
        );
        // A longer name that merely ends like it is not the phone's file.
        let served = uris(&["x0004f2000001.cfg", "000000000000.cfg"]);
        assert_eq!(
            missing(polycom, &[], b"0004f2000001", &served, &none).len(),
            1
        );
    }

    #[test]
    fn other_files_are_looked_for_beside_the_phones_own() {
        let grandstream = lookup(b"grandstream").unwrap();
        // The phone was pointed at gs/: cfg.xml at the top does not help it.
        let served = uris(&["gs/cfg000b82000030.xml", "cfg.xml"]);
        assert_eq!(
            missing(grandstream, &[], b"000b82000030", &served, &none),
            [Missing {
                uri: b"gs/cfg.xml".to_vec(),
                what: "the configuration of phones without one of their own".into()
            }]
        );
        let served = uris(&["gs/cfg000b82000030.xml", "gs/cfg.xml"]);
        assert!(missing(grandstream, &[], b"000b82000030", &served, &none).is_empty());
    }

    #[test]
    fn each_model_in_use_needs_its_common_file_once() {
        let yealink = lookup(b"yealink").unwrap();
        let served = uris(&["805ec0000020.cfg", "y000000000066.cfg"]);
        let models: Vec<Vec<u8>> = ["T46S", "T23G", "t23g", "NOPE"]
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect();
        let m = missing(yealink, &models, b"805ec0000020", &served, &none);
        assert_eq!(
            m,
            [Missing {
                uri: b"y000000000044.cfg".to_vec(),
                what: "the common file of T23G".into()
            }]
        );
        // Without models, no common file is asked for by name.
        assert!(missing(yealink, &[], b"805ec0000020", &served[..1], &none).is_empty());
    }

    #[test]
    fn check_names_each_profiles_missing_files_once() {
        use crate::config::conf::{Category, ConfigFile};
        use crate::config::profile::Config;
        use crate::host::fake::FakeHost;
        use crate::model::snapshot::tests::ext;

        let file = ConfigFile {
            name: "phoneprov.conf".into(),
            categories: vec![
                Category::new("general", &[("default_profile", "y")]),
                Category::new(
                    "y",
                    &[
                        ("family", "yealink"),
                        ("models", "T46S, T23G"),
                        ("static_file", "y000000000066.cfg"),
                        ("${MAC}.cfg", "y.cfg"),
                    ],
                ),
                Category::new(
                    "g",
                    &[("family", "grandstream"), ("gs/cfg${MAC}.xml", "g.xml")],
                ),
                Category::new("p", &[("family", "polycom"), ("${MAC}.cfg", "p.cfg")]),
                Category::new("none", &[("${MAC}.txt", "n.txt")]),
            ],
        };
        let config = Arc::new(Config::parse(&file).0);
        let phone = |user: &str, mac: &str, profile: &str| {
            ext(
                "sipusers",
                &[("USERNAME", user), ("MAC", mac), ("PROFILE", profile)],
            )
        };
        let exts = [
            phone("a", "805ec0000020", "y"),
            phone("b", "805ec0000021", "y"),
            phone("c", "000b82000030", "g"),
            phone("d", "000000000001", "none"),
        ];
        let snap = Snapshot::build(config, &exts, &FakeHost::default());
        assert_eq!(
            check(&snap, None, &none),
            [
                "y000000000044.cfg (profile [y], family yealink): nothing serves it; phone \
                 805ec0000020 asks for it (the common file of T23G)",
                "gs/cfg.xml (profile [g], family grandstream): nothing serves it; phone \
                 000b82000030 asks for it (the configuration of phones without one of their own)",
            ]
        );
        let one = check(&snap, Some(b"805ec0000021"), &none);
        assert_eq!(one.len(), 1);
        assert!(one[0].contains("phone 805ec0000021 asks"), "{one:?}");
        assert!(check(&snap, Some(b"000000000001"), &none).is_empty());
        assert!(check(&snap, Some(b"nobody"), &none).is_empty());
    }

    #[test]
    fn files_the_phones_own_file_names_are_looked_for_beside_it() {
        let polycom = lookup(b"polycom").unwrap();
        let served = uris(&["p/0004f2000001.cfg", "p/000000000000.cfg", "p/sip.cfg"]);
        let master = |uri: &[u8]| -> Option<Vec<u8>> {
            assert_eq!(uri, b"p/0004f2000001.cfg");
            Some(br#"<APPLICATION CONFIG_FILES="0004f2000001-reg.cfg, sip.cfg"/>"#.to_vec())
        };
        assert_eq!(
            missing(polycom, &[], b"0004f2000001", &served, &master),
            [Missing {
                uri: b"p/0004f2000001-reg.cfg".to_vec(),
                what: "named by p/0004f2000001.cfg".into()
            }]
        );
        // Not rendered (a broken template is reported as such): nothing more is said.
        assert!(missing(polycom, &[], b"0004f2000001", &served, &none).is_empty());
    }

    #[test]
    fn a_family_without_fixed_names_asks_for_nothing() {
        let linphone = lookup(b"linphone").unwrap();
        assert!(missing(linphone, &[], b"token", &[], &none).is_empty());
    }
}
