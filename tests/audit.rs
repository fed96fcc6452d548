//! Issue 9, items 7 and 6: functions that reveal secrets run only inside our own rendering,
//! and every dynamic fetch is audited (CLI and AMI), with no secret in any output.

mod common;

use common::ami::{self, Ami};
use common::{Asterisk, Builder, Impl};

const PHONEPROV: &str = "[general]\ndefault_profile = pol\n\n[pol]\n\
                         ${MAC}.cfg => phone.cfg\ndir.xml => dir.xml\n";
const USERS: &str = "[6001]\nusername = 6001\nautoprov = yes\nmacaddress = 0004f2000001\n\
                     secret = TopSecret1\n\n\
                     [6002]\nusername = 6002\nautoprov = yes\nmacaddress = 0004f2000002\n\
                     secret = TopSecret2\n";
const PHONE_CFG: &str =
    "me=${USERNAME}:${SECRET}\nothers=${PP_EACH_USER(%{MAC}=%{SECRET};,${MAC})}\n";

/// An Asterisk with two phones and AMI for a user allowed only `reporting`.
fn start() -> (Asterisk, u16) {
    let port = ami::free_port();
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .conf("users.conf", USERS)
        .conf("manager.conf", ami::manager_conf(port, "reporting"))
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
    // The CLI's own rendering is ours: it works.
    let out = ast.cli("phoneprov render 0004f2000001.cfg");
    assert!(out.contains("others=0004f2000002=TopSecret2;"), "{out}");
}
