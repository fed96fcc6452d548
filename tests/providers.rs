//! Providers that reload (unregister, then register again) while phones fetch their files:
//! the pjsip provider's reload must not make its phones vanish, and a provider that goes
//! away for good has its phones removed promptly.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::load::{Load, Target};
use common::{Asterisk, Builder, Impl, PJSIP_MODULES};

const PHONES: usize = 40;

/// A pjsip configuration with `PHONES` endpoints, each with its auth and phoneprov object.
fn pjsip_conf() -> String {
    let mut c = String::from("[udp]\ntype = transport\nprotocol = udp\nbind = @SIP_ADDR@:5060\n\n");
    for i in 0..PHONES {
        let _ = write!(
            c,
            "[auth{i}]\ntype = auth\nauth_type = userpass\nusername = u{i}\npassword = p{i}\n\n\
             [ep{i}]\ntype = endpoint\ncontext = phones\nauth = auth{i}\ntransport = udp\n\n\
             [pp{i}]\ntype = phoneprov\nendpoint = ep{i}\nMAC = {i:012x}\nPROFILE = pol\n\n"
        );
    }
    c
}

fn start() -> Asterisk {
    let mut b = Builder::new(Impl::Rust);
    for m in PJSIP_MODULES {
        b = b.module(m);
    }
    b.conf(
        "phoneprov.conf",
        "[general]\nserveraddr = 192.0.2.1\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => t.cfg\n",
    )
    .conf("pjsip.conf", pjsip_conf())
    .module("res_pjsip_phoneprov_provider")
    .file("t.cfg", "${USERNAME}:${SECRET}\n")
    .start()
}

fn targets(ast: &Asterisk) -> Vec<Target> {
    (0..PHONES)
        .map(|i| Target {
            addr: ast.addr(),
            path: format!("/phoneprov/{i:012x}.cfg"),
            body: Some(format!("u{i}:p{i}\n")),
        })
        .collect()
}

#[test]
fn provider_reloads_under_load_lose_no_phone() {
    let ast = start();
    assert_eq!(ast.get("/phoneprov/000000000007.cfg").text(), "u7:p7\n");
    let load = Load::start(targets(&ast), 8, Duration::from_secs(40));
    let start = Instant::now();
    let mut reloads = 0;
    while start.elapsed() < Duration::from_secs(6) || reloads < 6 {
        if reloads % 2 == 0 {
            ast.cli("module reload res_pjsip_phoneprov_provider.so");
        } else {
            ast.cli("pjsip reload");
        }
        reloads += 1;
    }
    let st = load.stop();
    eprintln!("{reloads} provider and pjsip reloads under 8 clients: {st:?}");
    assert_eq!(st.failures(), 0, "{reloads} reloads: {st:?}");
    assert!(st.ok > 100, "{st:?}");
    assert!(ast.log_has("Reloading module 'res_pjsip_phoneprov_provider.so'"));
}

#[test]
fn a_provider_that_goes_away_has_its_phones_removed_within_a_second() {
    let ast = start();
    assert_eq!(ast.get("/phoneprov/000000000003.cfg").status, 200);
    let out = ast.cli("module unload res_pjsip_phoneprov_provider.so");
    let unloaded = Instant::now();
    assert!(out.contains("Unloaded"), "{out}");
    let gone = loop {
        let status = ast.get("/phoneprov/000000000003.cfg").status;
        if status == 404 {
            break unloaded.elapsed();
        }
        assert_eq!(status, 200, "before removal the phone is served whole");
        assert!(unloaded.elapsed() < Duration::from_secs(5), "never removed");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(gone < Duration::from_secs(1), "removed after {gone:?}");
    // And it comes back with the provider.
    ast.cli("module load res_pjsip_phoneprov_provider.so");
    assert_eq!(ast.get("/phoneprov/000000000003.cfg").text(), "u3:p3\n");
}
