//! The whole sample set of asterisk-conf/ in real Asterisk, with users whose names and
//! secrets hold every character XML cares about and non-ASCII letters: every route of every
//! profile answers, every XML body is well-formed, and the values come back intact.

mod common;

use std::collections::BTreeSet;

use common::samples::{fetch, mac, name, profile_index, secret, user, ONE_ACCOUNT, PROFILES};
use common::xml::strings;
use phoneprov_core::render::xmlcheck;

#[test]
fn every_route_of_the_sample_set_is_served_and_well_formed() {
    let ast = common::samples::start();
    // A clean boot of the sample set: nothing rendered before the functions it uses exist,
    // so no error and no false warning of ours (the test's bare Asterisk has its own, about
    // the configuration files it lacks).
    let boot = ast.log();
    let ours = ["phoneprov", "PP_", ".rs:", "not registered"];
    let alarms: Vec<&str> = boot
        .lines()
        .filter(|l| l.contains("ERROR[") || l.contains("WARNING["))
        .filter(|l| ours.iter().any(|o| l.contains(o)))
        .collect();
    assert!(alarms.is_empty(), "{}", alarms.join("\n"));

    // Every profile names its family, and serves every file its phones ask for by name.
    let check = ast.cli("phoneprov check");
    assert!(
        check.ends_with(
            " 0 with problems; 0 static files missing; 0 files their family asks for not \
             served.\n"
        ),
        "{check}"
    );

    let mut uris = BTreeSet::new();
    for line in ast.cli("phoneprov show routes").lines() {
        if line.starts_with("Provider ") || line.starts_with("Profile ") {
            continue;
        }
        let uri = if line.starts_with("sipusers ") {
            line.get(42..82)
        } else {
            line.get(21..61)
        };
        if let Some(uri) = uri.map(str::trim_end).filter(|u| !u.is_empty()) {
            uris.insert(uri.to_owned());
        }
    }
    // Twelve profiles, two phones each, and at least one file per phone.
    assert!(uris.len() >= 2 * PROFILES.len() + 8, "{uris:?}");

    // Snom: one busy-lamp key per other phone and a night-service key, each an XML
    // definition embedded escaped (it parses as part of the settings file; tests/snom_keys.rs
    // checks the definitions themselves).
    // Phones' files ask for credentials; with them they are served.
    let snom_uri = format!("snom/{}.xml", mac(profile_index("snom"), 0).to_uppercase());
    assert_eq!(ast.get(&format!("/phoneprov/{snom_uri}")).status, 401);
    let snom = fetch(&ast, &snom_uri).text();
    let keys = strings(&snom);
    let blf = keys
        .iter()
        .filter(|k| k.starts_with("xml <general type=\"BusyLampField\""))
        .count();
    assert_eq!(blf, 2 * PROFILES.len() - 1, "{snom}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("xml <general type=\"NightService\"/>")),
        "{snom}"
    );

    let mut seen_names = BTreeSet::new();
    let mut seen_secrets = BTreeSet::new();
    for uri in &uris {
        let r = fetch(&ast, uri);
        assert_eq!(r.status, 200, "{uri}");
        // Byte-stable: phones (Yealink) compare a file's MD5 with the last one's and apply
        // only changes, so nothing in a body may vary between fetches.
        let again = fetch(&ast, uri);
        assert_eq!(
            (again.status, &again.body),
            (200, &r.body),
            "{uri} changed between fetches"
        );
        let body = r.text();
        let ctype = r.header("Content-Type").unwrap_or("").to_owned();
        let decoded: Vec<String> = if ctype.contains("xml") || ctype.contains("svg") {
            xmlcheck::check(&body).unwrap_or_else(|e| panic!("{uri}: {e:?}\n{body}"));
            strings(&body)
        } else {
            body.lines().map(str::to_owned).collect()
        };
        for i in 0..PROFILES.len() * 10 {
            if decoded.iter().any(|s| s.contains(&name(i))) {
                seen_names.insert(i);
            }
            if decoded.iter().any(|s| s.contains(&secret(i))) {
                seen_secrets.insert(i);
            }
        }
    }
    // Every user's name and secret reached some phone intact, but the second lines of
    // profiles that provision one account per phone.
    let mut users: BTreeSet<usize> = (0..PROFILES.len())
        .flat_map(|p| [user(p, 0, 1), user(p, 0, 2), user(p, 1, 1)])
        .collect();
    for one in ONE_ACCOUNT {
        users.remove(&user(profile_index(one), 0, 2));
    }
    assert_eq!(seen_names, users, "names that came back intact");
    assert_eq!(seen_secrets, users, "secrets that came back intact");
}
