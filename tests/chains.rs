//! What each family's phone asks for while it boots, in order, replayed against the sample
//! set (asterisk-conf/) with its own User-Agent and credentials, and users whose names and
//! secrets hold `< > & " '`: every file it asks for is served well-formed, or missing where
//! the vendor documents a miss and a fallback. Files the served bodies name (Polycom's
//! CONFIG_FILES, Yealink's phonebook, the URL a phone is told to come back to) are followed.

mod common;

use common::samples::{self, fetch_as, mac, name, profile_index, secret, user};
use common::xml::strings;
use common::Asterisk;
use phoneprov_core::render::xmlcheck;

/// How a served body is checked.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    /// Well-formed XML.
    Xml,
    /// Yealink's `key = value` lines, `#` comments.
    Yealink,
}

use Format::{Xml, Yealink};

/// What a phone gets for one request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Served, in this format.
    Served(Format),
    /// Served, and carrying the phone's accounts: its lines' names and secrets come back.
    Account(Format),
    /// 404: the vendor documents the miss, and what the phone does next.
    Missing,
}

use Expect::{Account, Missing, Served};

/// A booting phone: its User-Agent and what it asks for, in order.
struct Boot {
    agent: String,
    steps: Vec<(String, Expect)>,
}

fn boot(agent: impl Into<String>, steps: &[(&str, Expect)]) -> Boot {
    Boot {
        agent: agent.into(),
        steps: steps.iter().map(|(u, e)| (u.to_string(), *e)).collect(),
    }
}

/// `00:11:22:33:44:55` from `001122334455`.
fn colons(mac: &str) -> String {
    mac.as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).expect("hex"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The body's text values (XML: entities resolved) or lines.
fn values(format: Format, body: &str) -> Vec<String> {
    match format {
        Xml => strings(body),
        Yealink => body.lines().map(str::to_owned).collect(),
    }
}

/// Whether a served body is what its format says.
fn check_body(uri: &str, format: Format, body: &str) {
    match format {
        Xml => {
            xmlcheck::check(body).unwrap_or_else(|e| panic!("{uri}: {e:?}\n{body}"));
        }
        Yealink => {
            let mut lines = body.lines();
            assert_eq!(lines.next(), Some("#!version:1.0.0.1"), "{uri}: {body}");
            for l in lines.filter(|l| !l.is_empty() && !l.starts_with('#')) {
                let (key, _) = l
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("{uri}: not key = value: {l}"));
                assert!(
                    key.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'),
                    "{uri}: key {key}"
                );
            }
        }
    }
}

/// Replays `boot` for phone `phone` of `profile`: statuses, formats, accounts. Returns the
/// bodies served, by URI, for the caller to follow what they name.
fn replay(ast: &Asterisk, profile: &str, phone: usize, boot: &Boot) -> Vec<(String, String)> {
    let p = profile_index(profile);
    let mut served = Vec::new();
    for (uri, expect) in &boot.steps {
        let r = fetch_as(ast, uri, &boot.agent);
        let want = if *expect == Missing { 404 } else { 200 };
        assert_eq!(r.status, want, "{profile} asks for {uri}: {}", r.text());
        let format = match expect {
            Missing => continue,
            Served(f) | Account(f) => *f,
        };
        let body = r.text();
        let ctype = r.header("Content-Type").unwrap_or_default();
        match format {
            Xml => assert!(ctype.contains("xml"), "{uri}: {ctype}"),
            Yealink => assert_eq!(ctype, "text/plain", "{uri}"),
        }
        check_body(uri, format, &body);
        if let Account(_) = expect {
            let got = values(format, &body);
            let lines = if phone == 0 && !samples::ONE_ACCOUNT.contains(&profile) {
                2
            } else {
                1
            };
            for line in 1..=lines {
                let i = user(p, phone, line);
                for want in [name(i), secret(i)] {
                    assert!(
                        got.iter().any(|v| v.contains(&want)),
                        "{uri}: {want} missing\n{body}"
                    );
                }
            }
        }
        served.push((uri.clone(), body));
    }
    served
}

fn body_of<'a>(served: &'a [(String, String)], uri: &str) -> &'a str {
    &served
        .iter()
        .find(|(u, _)| u == uri)
        .unwrap_or_else(|| panic!("{uri} was not served"))
        .1
}

/// The value of `attr="..."` in an XML body.
fn attribute<'a>(body: &'a str, attr: &str) -> &'a str {
    let at = body.find(&format!("{attr}=\"")).expect(attr) + attr.len() + 2;
    &body[at..at + body[at..].find('"').expect("closing quote")]
}

/// The text of the first `<element ...>text</element>` of an XML body, entities resolved.
fn element(body: &str, element: &str) -> String {
    let start = body.find(&format!("<{element}")).expect(element);
    let text = &body[start + body[start..].find('>').expect(">") + 1..];
    let text = &text[..text.find('<').expect("end tag")];
    text.replace("&amp;", "&")
}

/// XML text with the entities the samples write resolved.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The provisioning credentials the phone `phone` of `profile` is challenged for: its first
/// line's user name and secret (the sample users set no http_username / http_secret).
fn http_credentials(profile: &str, phone: usize) -> (String, String) {
    let i = user(profile_index(profile), phone, 1);
    (format!("u{i}"), secret(i))
}

/// A Yealink file that makes the phone keep this server and its provisioning credentials.
fn assert_keeps_credentials(body: &str, (user, pass): (String, String)) {
    let value = |key: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("static.auto_provision.server.{key} = ")))
            .unwrap_or_else(|| panic!("no {key} line\n{body}"))
            .to_owned()
    };
    assert_eq!(below_phoneprov(&value("url")), "", "{body}");
    assert_eq!(value("username"), user, "{body}");
    assert_eq!(value("password"), pass, "{body}");
}

/// What a URL the phone is told names below `/phoneprov/`.
fn below_phoneprov(url: &str) -> &str {
    &url[url.find("/phoneprov/").expect("a /phoneprov/ URL") + "/phoneprov/".len()..]
}

#[test]
fn every_family_boots_through_its_documented_requests() {
    let ast = samples::start();
    let m = |profile: &str, phone: usize| mac(profile_index(profile), phone);

    // Polycom UC: <mac>.cfg (the master); the application file it names (firmware: not
    // served, the phone keeps its own); each of CONFIG_FILES; its own overrides (none yet);
    // its contact directory.
    let pm = m("polycom", 0);
    let b = boot(
        "FileTransport PolycomVVX-VVX_400-UA/6.4.3.5156",
        &[(&format!("{pm}.cfg"), Served(Xml)), ("sip.ld", Missing)],
    );
    let served = replay(&ast, "polycom", 0, &b);
    let master = body_of(&served, &format!("{pm}.cfg"));
    assert_eq!(attribute(master, "APP_FILE_PATH"), "sip.ld");
    let config_files: Vec<String> = attribute(master, "CONFIG_FILES")
        .split(',')
        .map(|f| f.trim().to_owned())
        .collect();
    assert_eq!(config_files, [format!("{pm}-reg.cfg"), "sip.cfg".into()]);
    let mut then: Vec<(&str, Expect)> = config_files
        .iter()
        .map(|f| (f.as_str(), Served(Xml)))
        .collect();
    then[0].1 = Account(Xml);
    let overrides = [format!("{pm}-phone.cfg"), format!("{pm}-web.cfg")];
    let directory = format!("{pm}-directory.xml");
    then.extend([
        (overrides[0].as_str(), Missing),
        (overrides[1].as_str(), Missing),
        (directory.as_str(), Served(Xml)),
    ]);
    let served = replay(&ast, "polycom", 0, &boot(b.agent.clone(), &then));
    // Its own settings make it keep this server and its provisioning credentials.
    let reg = body_of(&served, &format!("{pm}-reg.cfg"));
    let (user, pass) = http_credentials("polycom", 0);
    assert_eq!(attribute(reg, "device.set"), "1");
    for (name, want) in [
        ("device.prov.user", user.as_str()),
        ("device.prov.password", pass.as_str()),
    ] {
        assert_eq!(attribute(reg, &format!("{name}.set")), "1", "{reg}");
        assert_eq!(unescape(attribute(reg, name)), want, "{reg}");
    }
    assert_eq!(attribute(reg, "device.prov.serverName.set"), "1");
    assert_eq!(
        below_phoneprov(&unescape(attribute(reg, "device.prov.serverName"))),
        ""
    );

    // A Polycom phone nobody configured: 000000000000.cfg instead, and what it names.
    let unknown = "0004f2ffffff";
    let served = replay(
        &ast,
        "polycom",
        0,
        &boot(
            "FileTransport PolycomVVX-VVX_400-UA/6.4.3.5156",
            &[
                (&format!("{unknown}.cfg"), Missing),
                ("000000000000.cfg", Served(Xml)),
                ("sip.cfg", Served(Xml)),
                (&format!("{unknown}-phone.cfg"), Missing),
                (&format!("{unknown}-directory.xml"), Missing),
                ("000000000000-directory.xml", Missing),
            ],
        ),
    );
    assert_eq!(
        attribute(body_of(&served, "000000000000.cfg"), "CONFIG_FILES"),
        "sip.cfg"
    );

    // Snom D-series: setting_server .../snom/{mac}.xml, filled in with its MAC in capitals;
    // the file sets it again, to the same file.
    let sm = m("snom", 0).to_uppercase();
    let snom_uri = format!("snom/{sm}.xml");
    let served = replay(
        &ast,
        "snom",
        0,
        &boot(
            format!("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 1.1.5-IS {sm})"),
            &[(&snom_uri, Account(Xml))],
        ),
    );
    let again = element(body_of(&served, &snom_uri), "setting_server").replace("{mac}", &sm);
    assert_eq!(below_phoneprov(&again), snom_uri);

    // Yealink T46S: its MAC boot file, the common boot file (neither here: it goes on
    // without), its model's common file, its own file, then the phonebook that file names.
    let ym = m("yealink", 0);
    let yealink = |model: &str, firmware: &str, common: &str| {
        boot(
            format!("Yealink SIP-{model} {firmware} {}", colons(&ym)),
            &[
                (&format!("{ym}.boot"), Missing),
                ("y000000000000.boot", Missing),
                (common, Served(Yealink)),
                (&format!("{ym}.cfg"), Account(Yealink)),
            ],
        )
    };
    let served = replay(
        &ast,
        "yealink",
        0,
        &yealink("T46S", "66.86.0.15", "y000000000066.cfg"),
    );
    let own = body_of(&served, &format!("{ym}.cfg"));
    assert_keeps_credentials(own, http_credentials("yealink", 0));
    let phonebook = own
        .lines()
        .find_map(|l| l.strip_prefix("remote_phonebook.data.1.url = "))
        .expect("a phonebook URL");
    replay(
        &ast,
        "yealink",
        0,
        &boot(
            format!("Yealink SIP-T46S 66.86.0.15 {}", colons(&ym)),
            &[(below_phoneprov(phonebook), Served(Xml))],
        ),
    );
    // The other models of the sample ask for their own common files.
    replay(
        &ast,
        "yealink",
        0,
        &yealink("T23G", "44.84.0.15", "y000000000044.cfg"),
    );
    replay(
        &ast,
        "yealink",
        0,
        &yealink("CP925", "148.86.0.5", "y000000000148.cfg"),
    );

    // Yealink DECT: the W60B as the desk phones; the W52P's firmware asks for its common
    // file and its own file only.
    let wm = m("yealink-dect", 0);
    let served = replay(
        &ast,
        "yealink-dect",
        0,
        &boot(
            format!("Yealink W60B 77.85.0.20 {}", colons(&wm)),
            &[
                (&format!("{wm}.boot"), Missing),
                ("y000000000000.boot", Missing),
                ("y000000000077.cfg", Served(Yealink)),
                (&format!("{wm}.cfg"), Account(Yealink)),
            ],
        ),
    );
    assert_keeps_credentials(
        body_of(&served, &format!("{wm}.cfg")),
        http_credentials("yealink-dect", 0),
    );
    replay(
        &ast,
        "yealink-dect",
        0,
        &boot(
            format!("Yealink W52P 25.81.0.10 {}", colons(&wm)),
            &[
                ("y000000000025.cfg", Served(Yealink)),
                (&format!("{wm}.cfg"), Account(Yealink)),
            ],
        ),
    );

    // Grandstream: the binary cfg<mac> (not made here), then cfg<mac>.xml, lower case.
    let gm = m("grandstream", 0);
    let grandstream = format!("Grandstream Model HW GXP2170 SW 1.0.11.3 DevId {gm}");
    replay(
        &ast,
        "grandstream",
        0,
        &boot(
            grandstream.clone(),
            &[
                (&format!("cfg{gm}"), Missing),
                (&format!("cfg{gm}.xml"), Account(Xml)),
            ],
        ),
    );
    // One nobody configured goes on to its model's file and to cfg.xml.
    replay(
        &ast,
        "grandstream",
        0,
        &boot(
            grandstream.replace(&gm, "000b82ffffff"),
            &[
                ("cfg000b82ffffff", Missing),
                ("cfg000b82ffffff.xml", Missing),
                ("cfggxp2170.xml", Missing),
                ("cfg.xml", Served(Xml)),
            ],
        ),
    );

    // Cisco SPA: the profile rule spa$MA.xml.
    let cm = m("spa", 0);
    replay(
        &ast,
        "spa",
        0,
        &boot(
            format!("Cisco/SPA508G-7.4.4 ({})", cm.to_uppercase()),
            &[(&format!("spa{cm}.xml"), Account(Xml))],
        ),
    );

    // Linphone: its config-uri, which the file names again.
    let lm = m("linphone", 0);
    let linphone_uri = format!("linphone/{lm}.xml");
    let served = replay(
        &ast,
        "linphone",
        0,
        &boot(
            "Linphone/5.2.5 (Android 14) LinphoneSDK/5.3.0",
            &[(&linphone_uri, Account(Xml))],
        ),
    );
    let body = body_of(&served, &linphone_uri);
    let uri = strings(body)
        .into_iter()
        .find(|s| s.contains("/phoneprov/linphone/"))
        .expect("config-uri");
    assert_eq!(below_phoneprov(&uri), linphone_uri);

    // Fanvil X-series: <mac>.cfg in the directory it was given.
    let fm = m("fanvil", 0);
    replay(
        &ast,
        "fanvil",
        0,
        &boot(
            format!("Fanvil X4U 2.12.16.17 {fm}"),
            &[(&format!("fanvil/{fm}.cfg"), Account(Xml))],
        ),
    );

    // Gigaset N870, given the directory: provisioning.xml (none), then <MAC>.xml.
    let gs = m("gigaset", 0).to_uppercase();
    replay(
        &ast,
        "gigaset",
        0,
        &boot(
            format!("Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;{gs}"),
            &[
                ("gigaset/provisioning.xml", Missing),
                (&format!("gigaset/{gs}.xml"), Account(Xml)),
            ],
        ),
    );

    // Htek UC926: its device code's file (none: a served one would end the chain), the
    // binary cfg<mac> (none), then cfg<mac>.xml.
    let hm = m("htek", 0);
    replay(
        &ast,
        "htek",
        0,
        &boot(
            format!("Htek UC926 2.0.4.6.41 {hm}"),
            &[
                ("htek/cfg0010.xml", Missing),
                (&format!("htek/cfg{hm}"), Missing),
                (&format!("htek/cfg{hm}.xml"), Account(Xml)),
            ],
        ),
    );

    // Cisco 8851 Multiplatform: the profile rule .../cisco/$MA.xml, which the file sets again.
    let mm = m("cisco-mpp", 0);
    let mpp_uri = format!("cisco/{mm}.xml");
    let served = replay(
        &ast,
        "cisco-mpp",
        0,
        &boot(
            format!("Cisco-CP-8851-3PCC/11.3.1 ({mm})"),
            &[(&mpp_uri, Account(Xml))],
        ),
    );
    let rule = element(body_of(&served, &mpp_uri), "Profile_Rule").replace("$MA", &mm);
    assert_eq!(below_phoneprov(&rule), mpp_uri);
    // The rule carries the phone's provisioning credentials, as its uid and pwd options.
    let body = body_of(&served, &mpp_uri);
    let start = body.find("<Profile_Rule").expect("Profile_Rule");
    let text = &body[start + body[start..].find('>').expect(">") + 1..];
    let text = unescape(&text[..text.find('<').expect("end tag")]);
    let (user, pass) = http_credentials("cisco-mpp", 0);
    let options = format!("[--uid \"{user}\" --pwd \"{pass}\"] ");
    assert!(text.starts_with(&options), "{text}");
    assert_eq!(below_phoneprov(&text[options.len()..]), "cisco/$MA.xml");

    // Snom M700: setting_server .../snom-dect/{mac}.xml, set again by the file.
    let dm = m("snom-dect", 0).to_uppercase();
    let dect_uri = format!("snom-dect/{dm}.xml");
    let served = replay(
        &ast,
        "snom-dect",
        0,
        &boot(
            format!("Mozilla/4.0 (compatible; Snom M700 05.20.0001 {dm})"),
            &[(&dect_uri, Account(Xml))],
        ),
    );
    let again = element(body_of(&served, &dect_uri), "setting_server").replace("{mac}", &dm);
    assert_eq!(below_phoneprov(&again), dect_uri);

    // The second phone of every profile boots as the first did: its own files, its own
    // accounts (one line each).
    for profile in samples::PROFILES {
        let mac = m(profile, 1);
        let own = match profile {
            "polycom" => format!("{mac}-reg.cfg"),
            "snom" => format!("snom/{}.xml", mac.to_uppercase()),
            "yealink" | "yealink-dect" => format!("{mac}.cfg"),
            "grandstream" => format!("cfg{mac}.xml"),
            "spa" => format!("spa{mac}.xml"),
            "linphone" => format!("linphone/{mac}.xml"),
            "fanvil" => format!("fanvil/{mac}.cfg"),
            "gigaset" => format!("gigaset/{}.xml", mac.to_uppercase()),
            "htek" => format!("htek/cfg{mac}.xml"),
            "cisco-mpp" => format!("cisco/{mac}.xml"),
            "snom-dect" => format!("snom-dect/{}.xml", mac.to_uppercase()),
            other => panic!("no boot sequence for {other}"),
        };
        let format = if profile.starts_with("yealink") {
            Yealink
        } else {
            Xml
        };
        replay(&ast, profile, 1, &boot("", &[(&own, Account(format))]));
    }
}
