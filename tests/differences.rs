//! The deliberate differences from the C module that docs/differences.md lists, each shown
//! against both modules: what ours does, and that the stock module really does otherwise.

mod common;

use common::{Asterisk, Builder, Impl};

const SIMPLE: &str = "[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => t.cfg\n";

fn both(build: impl Fn(Builder) -> Builder) -> (Asterisk, Asterisk) {
    (
        build(Builder::new(Impl::Rust)).start(),
        build(Builder::new(Impl::Stock)).start(),
    )
}

#[test]
fn a_section_value_overrides_its_template() {
    let (ours, stock) = both(|b| {
        b.conf("phoneprov.conf", SIMPLE)
            .conf(
                "users.conf",
                "[phones](!)\nautoprov = yes\nsecret = shared\n\n\
                 [6002](phones)\nusername = 6002\nmacaddress = 2\nsecret = own\n",
            )
            .file("t.cfg", "${SECRET}")
    });
    assert_eq!(ours.get("/phoneprov/2.cfg").text(), "own");
    assert_eq!(stock.get("/phoneprov/2.cfg").text(), "shared");
}

#[test]
fn functions_of_modules_loaded_later_work_from_boot() {
    let (ours, stock) = both(|b| {
        b.module("func_strings")
            .conf(
                "phoneprov.conf",
                "[general]\ndefault_profile = pol\n\n[pol]\n${TOLOWER(${MAC})}.cfg => t.cfg\n",
            )
            .conf(
                "users.conf",
                "[a]\nusername = a\nautoprov = yes\nmacaddress = 0004F2ABCDEF\n",
            )
            .file("t.cfg", "${USERNAME}")
    });
    assert_eq!(ours.get("/phoneprov/0004f2abcdef.cfg").text(), "a");
    assert_eq!(stock.get("/phoneprov/0004f2abcdef.cfg").status, 404);
    assert_eq!(stock.get("/phoneprov/.cfg").text(), "a");
}

#[test]
fn a_failed_reload_keeps_the_module_serving() {
    let (ours, stock) = both(|b| {
        b.conf("phoneprov.conf", SIMPLE)
            .conf(
                "users.conf",
                "[a]\nusername = a\nautoprov = yes\nmacaddress = 1\n",
            )
            .file("t.cfg", "${USERNAME}")
    });
    for ast in [&ours, &stock] {
        ast.remove_conf("phoneprov.conf");
        ast.cli("module reload res_phoneprov.so");
    }
    assert_eq!(ours.get("/phoneprov/1.cfg").text(), "a");
    assert!(ours.cli("module show like phoneprov").contains("Running"));
    assert_eq!(stock.get("/phoneprov/1.cfg").status, 404);
}

#[test]
fn a_user_without_username_is_named_after_its_section() {
    let (ours, stock) = both(|b| {
        b.conf("phoneprov.conf", SIMPLE)
            .conf("users.conf", "[6001]\nautoprov = yes\nmacaddress = 1\n")
            .file("t.cfg", "${USERNAME}")
    });
    assert_eq!(ours.get("/phoneprov/1.cfg").text(), "6001");
    assert_eq!(stock.get("/phoneprov/1.cfg").status, 404);
}

#[test]
fn users_added_after_load_are_picked_up_by_reload() {
    let (ours, stock) = both(|b| {
        b.conf("phoneprov.conf", SIMPLE)
            .file("t.cfg", "${USERNAME}")
    });
    for ast in [&ours, &stock] {
        assert_eq!(ast.get("/phoneprov/1.cfg").status, 404);
        ast.write_conf(
            "users.conf",
            "[a]\nusername = a\nautoprov = yes\nmacaddress = 1\n",
        );
        ast.cli("module reload res_phoneprov.so");
    }
    assert_eq!(ours.get("/phoneprov/1.cfg").text(), "a");
    assert_eq!(stock.get("/phoneprov/1.cfg").status, 404);
}

#[test]
fn a_uri_served_twice_is_logged_and_the_first_kept() {
    let conf = "[general]\ndefault_profile = a\n\n[a]\nstatic_file => fw.bin\n\
                [b]\nstaticdir => b/\nstatic_file => fw.bin\n";
    let (ours, stock) = both(|b| {
        b.conf("phoneprov.conf", conf)
            .file("fw.bin", "a")
            .file("b/fw.bin", "b")
    });
    let rows = |ast: &Asterisk| {
        ast.cli("phoneprov show routes")
            .lines()
            .filter(|l| l.contains("fw.bin"))
            .count()
    };
    assert_eq!(rows(&ours), 1);
    assert_eq!(rows(&stock), 2);
    assert_eq!(ours.get("/phoneprov/fw.bin").text(), "a");
    assert!(ours.log_has("URI 'fw.bin'"), "{}", ours.log());
}

#[test]
fn pp_each_user_lists_phones_in_configuration_order() {
    let mut users = String::new();
    for i in 0..20 {
        users += &format!("[u{i:02}]\nusername = u{i:02}\nautoprov = yes\nmacaddress = {i:012}\n");
    }
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", SIMPLE)
        .conf("users.conf", &users)
        .file("t.cfg", "${PP_EACH_USER(%{USERNAME} ,)}")
        .start();
    let expected: String = (0..20).map(|i| format!("u{i:02} ")).collect();
    assert_eq!(ast.get("/phoneprov/000000000000.cfg").text(), expected);
}

#[test]
fn a_mac_two_providers_claim_stays_with_the_first_across_reloads() {
    let pjsip = "[udp]\ntype = transport\nprotocol = udp\nbind = @SIP_ADDR@:5060\n\n\
                 [p1]\ntype = phoneprov\nMAC = 000000000001\nPROFILE = pol\nUSERNAME = pj\n";
    let (ours, stock) = both(|mut b| {
        for m in common::PJSIP_MODULES
            .iter()
            .chain(&["res_pjsip_phoneprov_provider"])
        {
            b = b.module(m);
        }
        b.conf("phoneprov.conf", SIMPLE)
            .conf("pjsip.conf", pjsip)
            .conf(
                "users.conf",
                "[a]\nusername = users\nautoprov = yes\nmacaddress = 000000000001\n",
            )
            .file("t.cfg", "${USERNAME}")
    });
    for ast in [&ours, &stock] {
        assert_eq!(ast.get("/phoneprov/000000000001.cfg").text(), "users");
        ast.cli("module reload res_phoneprov.so");
    }
    assert_eq!(ours.get("/phoneprov/000000000001.cfg").text(), "users");
    assert_eq!(stock.get("/phoneprov/000000000001.cfg").text(), "pj");
}
