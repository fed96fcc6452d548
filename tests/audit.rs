//! Issue 9, items 7 and 6: functions that reveal secrets run only inside our own rendering,
//! and every dynamic fetch is audited (CLI and AMI), with no secret in any output.

mod common;

use common::ami::{self, Ami};
use std::time::Duration;

use common::{Asterisk, Builder, Impl};

const PHONEPROV: &str = "[general]\ndefault_profile = pol\n\n[pol]\n\
                         ${MAC}.cfg => phone.cfg\nstatic_file = dir.xml\n";
const USERS: &str = "[6001]\nusername = 6001\nautoprov = yes\nmacaddress = 0004f2000001\n\
                     secret = TopSecret1\n\n\
                     [6002]\nusername = 6002\nautoprov = yes\nmacaddress = 0004f2000002\n\
                     secret = TopSecret2\n";
const PHONE_CFG: &str =
    "me=${USERNAME}:${SECRET}\nothers=${PP_EACH_USER(%{MAC}=%{SECRET};,${MAC})}\n";

/// An Asterisk with two phones and AMI for a user allowed only `reporting`.
fn start() -> (Asterisk, u16) {
    start_with("reporting")
}

/// An instance whose AMI user holds `perm`.
fn start_with(perm: &str) -> (Asterisk, u16) {
    let port = common::free_port();
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .conf("users.conf", USERS)
        .conf("manager.conf", ami::manager_conf(port, perm))
        .file("phone.cfg", PHONE_CFG)
        .file("dir.xml", "x")
        .start();
    (ast, port)
}

const EACH_USER: &str = "PP_EACH_USER(%{MAC}=%{SECRET}|,)";
const EACH_EXTENSION: &str = "PP_EACH_EXTENSION(0004f2000001,phone.cfg)";

#[test]
fn ami_getvar_cannot_read_secrets() {
    let (ast, port) = start();
    let mut ami = Ami::login(&ast, port);
    for function in [EACH_USER, EACH_EXTENSION] {
        let r = ami.action("Getvar", &[("Variable", function)]);
        let text = format!("{r:?}");
        assert!(!text.contains("TopSecret"), "Getvar {function}: {text}");
        let name = &function[..function.find('(').expect("a function")];
        assert!(
            ast.log_has(&format!(
                "{name}: refused outside res_phoneprov's own rendering"
            )),
            "no error logged for {name}:\n{}",
            ast.log()
        );
    }
    // What the module renders itself still works.
    let body = ast.get("/phoneprov/0004f2000001.cfg").text();
    assert_eq!(
        body,
        "me=6001:TopSecret1\nothers=0004f2000002=TopSecret2;\n"
    );
}

#[test]
fn dialplan_and_cli_evaluation_cannot_read_secrets() {
    let (ast, _) = start();
    let out = ast.cli(&format!("dialplan eval function {EACH_USER}"));
    assert!(!out.contains("TopSecret"), "{out}");
    assert!(ast.log_has("PP_EACH_USER: refused outside"));
    // The CLI's own rendering is ours: it works (secrets masked unless asked for).
    let out = ast.cli("phoneprov render 0004f2000001.cfg secrets");
    assert!(out.contains("others=0004f2000002=TopSecret2;"), "{out}");
}

#[test]
fn render_masks_secrets_unless_asked() {
    let (ast, _) = start();
    let out = ast.cli("phoneprov render 0004f2000001.cfg");
    assert_eq!(out, "me=6001:********\nothers=0004f2000002=********;\n");
    let out = ast.cli("phoneprov render 0004f2000001.cfg secrets");
    assert!(out.contains("me=6001:TopSecret1"), "{out}");
    assert!(!ast.cli("phoneprov check").contains("TopSecret"));
}

#[test]
fn fetches_are_listed_by_the_cli() {
    let (ast, _) = start();
    assert!(ast.cli("phoneprov show phones").contains("never"));
    for i in 0..12 {
        let r = ast.request(
            "GET",
            "/phoneprov/0004f2000001.cfg",
            &format!("User-Agent: TestPhone/{i}\r\n"),
        );
        assert_eq!(r.status, 200);
    }
    let phones = ast.cli("phoneprov show phones");
    let line = phones
        .lines()
        .find(|l| l.starts_with("0004f2000001"))
        .unwrap_or_else(|| panic!("{phones}"));
    assert!(line.contains("pol"), "{line}");
    assert!(line.contains(" 1  "), "one line: {line}");
    assert!(line.contains("200  127.0.0.1 plain"), "{line}");
    assert!(line.contains("\"TestPhone/11\""), "{line}");
    let other = phones
        .lines()
        .find(|l| l.starts_with("0004f2000002"))
        .unwrap_or_else(|| panic!("{phones}"));
    assert!(other.ends_with("never"), "{other}");

    let phone = ast.cli("phoneprov show phone 0004f2000001");
    assert!(phone.contains("Last fetches (10):"), "{phone}");
    // Newest first; the two oldest are gone.
    let uas: Vec<&str> = phone
        .lines()
        .filter_map(|l| l.split("\"TestPhone/").nth(1))
        .collect();
    assert_eq!(uas.first(), Some(&"11\""), "{phone}");
    assert_eq!(uas.len(), 10, "{phone}");
    assert!(!phone.contains("TestPhone/1\""), "{phone}");
    assert!(!phone.contains("TopSecret"), "{phone}");
    assert!(!phones.contains("TopSecret"), "{phones}");
}

#[test]
fn each_fetch_raises_an_ami_event() {
    let (ast, port) = start_with("security");
    let mut ami = Ami::login(&ast, port);
    let r = ast.request(
        "GET",
        "/phoneprov/0004f2000002.cfg",
        "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n",
    );
    assert_eq!(r.status, 200);
    let e = ami
        .event("PhoneprovFetch", Duration::from_secs(10), |_| true)
        .expect("a PhoneprovFetch event");
    assert_eq!(ami::get(&e, "MAC"), Some("0004f2000002"), "{e:?}");
    assert_eq!(ami::get(&e, "URI"), Some("0004f2000002.cfg"), "{e:?}");
    assert_eq!(ami::get(&e, "ClientAddress"), Some("127.0.0.1"), "{e:?}");
    assert_eq!(
        ami::get(&e, "UserAgent"),
        Some("Yealink SIP-T46S 66.86.0.15"),
        "{e:?}"
    );
    assert_eq!(ami::get(&e, "Model"), Some("Yealink T46S"), "{e:?}");
    assert_eq!(ami::get(&e, "Firmware"), Some("66.86.0.15"), "{e:?}");
    assert_eq!(ami::get(&e, "Status"), Some("200"), "{e:?}");
    assert_eq!(ami::get(&e, "TLS"), Some("no"), "{e:?}");
    assert!(!format!("{e:?}").contains("TopSecret"));
    // Static files and unknown URIs are not audited.
    ast.get("/phoneprov/dir.xml");
    ast.get("/phoneprov/nothing.cfg");
    assert!(ami
        .event("PhoneprovFetch", Duration::from_secs(1), |_| true)
        .is_none());
}

/// A value with control characters cannot end its line early and forge keys: request text
/// is escaped where it enters the module (`\xNN`, docs/security.md), and the event's own
/// writer turns any control character left into `?`.
#[test]
fn event_values_lose_control_characters() {
    let (ast, port) = start_with("security");
    let mut ami = Ami::login(&ast, port);
    let r = ast.request(
        "GET",
        "/phoneprov/0004f2000002.cfg",
        "User-Agent: Yealink\tSIP-T46S\x7f 66.86.0.15\r\n",
    );
    assert_eq!(r.status, 200);
    let e = ami
        .event("PhoneprovFetch", Duration::from_secs(10), |_| true)
        .expect("a PhoneprovFetch event");
    assert_eq!(
        ami::get(&e, "UserAgent"),
        Some("Yealink\\x09SIP-T46S\\x7f 66.86.0.15"),
        "{e:?}"
    );
    assert_eq!(ami::get(&e, "URI"), Some("0004f2000002.cfg"), "{e:?}");
}

/// For a Linphone account the MAC is the token that names its URLs: the event is for the
/// `security` class, not for every `reporting` reader.
#[test]
fn reporting_readers_do_not_get_fetch_events() {
    let (ast, port) = start();
    let mut ami = Ami::login(&ast, port);
    assert_eq!(ast.get("/phoneprov/0004f2000002.cfg").status, 200);
    assert!(ami
        .event("PhoneprovFetch", Duration::from_secs(2), |_| true)
        .is_none());
}

/// `phoneprov show phones` names the phones of a profile in `auth_rollout` that have not
/// fetched since the rollout began: those that may not hold their credentials yet.
#[test]
fn show_phones_lists_phones_that_have_not_fetched_since_the_rollout_began() {
    let phoneprov = "[general]\ndefault_profile = pol\n\n[pol]\nauth = digest\n\
                     auth_rollout = yes\n${MAC}.cfg => t.cfg\n";
    let users = "[6001]\nautoprov = yes\nmacaddress = 0004f2000001\nsecret = s1\n\n\
                 [6002]\nautoprov = yes\nmacaddress = 0004f2000002\nsecret = s2\n";
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", phoneprov)
        .conf("users.conf", users)
        .file("t.cfg", "${USERNAME}")
        .start();
    assert_eq!(ast.get("/phoneprov/0004f2000001.cfg").status, 200);
    let phones = ast.cli("phoneprov show phones");
    let (_, rollout) = phones
        .split_once("Profile [pol]: auth_rollout since ")
        .unwrap_or_else(|| panic!("{phones}"));
    assert!(
        rollout.contains("1 phones have not fetched since"),
        "{phones}"
    );
    assert!(rollout.contains("  0004f2000002\n"), "{phones}");
    assert!(!rollout.contains("0004f2000001"), "{phones}");

    // The start survives a reload; once every phone fetched, the rollout can end.
    ast.cli("module reload res_phoneprov.so");
    assert_eq!(ast.get("/phoneprov/0004f2000002.cfg").status, 200);
    let phones = ast.cli("phoneprov show phones");
    assert!(
        phones.contains("every phone has fetched since; auth_rollout can be switched off"),
        "{phones}"
    );

    // Switched off: no rollout to speak of, and a later one starts afresh.
    ast.write_conf(
        "phoneprov.conf",
        phoneprov.replace("auth_rollout = yes\n", ""),
    );
    ast.cli("module reload res_phoneprov.so");
    assert!(!ast.cli("phoneprov show phones").contains("auth_rollout"));
    assert_eq!(
        ast.cli("database show phoneprov/rollout")
            .trim_end()
            .lines()
            .last(),
        Some("0 results found.")
    );
}
