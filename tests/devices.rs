//! Real devices: XML-safe values, Linphone provisioning XML with a QR code, and the CLI that
//! checks what phones will get.

mod common;

use common::xml::strings;
use common::{Asterisk, Builder, Impl};
use phoneprov_core::render::{qr, xmlcheck};

/// Names and secrets with every character XML cares about, and non-ASCII letters.
const USERS: &str = "\
[6001]
autoprov = yes
macaddress = 0004f2000001
fullname = Jane <User> & Co \"Q\" 'A'
secret = ab&cd<>\"'
label = Zoë Łukasz
[6002]
autoprov = yes
macaddress = 0004f2000002
fullname = Bob & Sons
secret = plain
";

const PHONEPROV: &str = "\
[general]
default_profile = snom

[snom]
mime_type => application/xml
${MAC}.xml => settings.xml
${MAC}-keys.xml => keys.xml

[linphone]
mime_type => application/xml
${MAC}-linphone.xml => account.linphonerc
${MAC}-qr.svg => qr.svg,image/svg+xml
";

const SETTINGS: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings>\n\
<user_realname idx=\"1\" perm=\"\">${PP_XML(${DISPLAY_NAME})}</user_realname>\n\
<user_pass idx=\"1\" perm=\"\">${PP_XML(${SECRET})}</user_pass>\n\
<user_idle_text idx=\"1\" perm=\"\">${PP_XML(${LABEL})}</user_idle_text>\n\
</phone-settings></settings>\n";

const KEYS: &str = "<functionKeys>${PP_EACH_USER(<fkey idx='%{PP_PHONE_INDEX}' context='active' \
label='%{PP_XML(%{DISPLAY_NAME})}' perm=''>blf sip:%{PP_XML(%{USERNAME})}@%{SERVER}</fkey>,${MAC})}\
</functionKeys>\n";

const ACCOUNT: &str = "\
[sip]
default_proxy=0
[proxy_0]
reg_proxy=<sip:${SERVER}:${SERVER_PORT};transport=udp>
reg_identity=\"${DISPLAY_NAME}\" <sip:${USERNAME}@${SERVER}>
reg_sendregister=1
[auth_info_0]
username=${USERNAME}
passwd=${SECRET}
domain=${SERVER}
";

fn start() -> Asterisk {
    Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .conf(
            "phoneprov_users.conf",
            format!(
                "{USERS}[6003]\nautoprov = yes\nmacaddress = 00000000000a\nprofile = linphone\n\
                 fullname = Lin <Phone> & \"Co\"\nsecret = s&3<\n"
            ),
        )
        .conf("extensions.conf", "[globals]\n")
        .file("settings.xml", SETTINGS)
        .file("keys.xml", KEYS)
        .file("account.linphonerc", ACCOUNT)
        .file("qr.svg", "${PP_QRCODE(${PP_BASE_URL}${MAC}-linphone.xml)}")
        .start()
}

/// Every text and attribute value of an XML body, entities resolved and trimmed.
fn texts(xml: &str) -> Vec<String> {
    strings(xml)
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

#[test]
fn values_are_xml_safe_and_round_trip() {
    let ast = start();
    let r = ast.get("/phoneprov/0004f2000001.xml");
    assert_eq!(r.status, 200);
    let body = r.text();
    xmlcheck::check(&body).unwrap_or_else(|e| panic!("{e:?}\n{body}"));
    let t = texts(&body);
    assert!(
        t.contains(&"Jane <User> & Co \"Q\" 'A'".to_owned()),
        "{t:?}"
    );
    assert!(t.contains(&"ab&cd<>\"'".to_owned()), "{t:?}");
    assert!(t.contains(&"Zoë Łukasz".to_owned()), "{t:?}");

    let keys = ast.get("/phoneprov/0004f2000001-keys.xml").text();
    xmlcheck::check(&keys).unwrap_or_else(|e| panic!("{e:?}\n{keys}"));
    assert!(keys.contains("label='Bob &amp; Sons'"), "{keys}");
    assert!(
        !keys.contains("Jane"),
        "the phone's own key is excluded: {keys}"
    );
}

#[test]
fn linphone_account_xml_and_qr_code() {
    let ast = start();
    let r = ast.get("/phoneprov/00000000000a-linphone.xml");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/xml"));
    let body = r.text();
    xmlcheck::check(&body).unwrap_or_else(|e| panic!("{e:?}\n{body}"));
    assert!(body.contains("<config xmlns=\"http://www.linphone.org/xsds/lpconfig.xsd\""));
    assert!(body.contains("<section name=\"proxy_0\">"), "{body}");
    assert!(body.contains("<section name=\"auth_info_0\">"), "{body}");
    assert!(
        body.contains("<entry name=\"username\" overwrite=\"true\">6003</entry>"),
        "{body}"
    );
    let t = texts(&body);
    assert!(t.contains(&"s&3<".to_owned()), "{t:?}");
    assert!(
        t.contains(&"\"Lin <Phone> & \"Co\"\" <sip:6003@127.0.0.1>".to_owned()),
        "{t:?}"
    );

    let svg = ast.get("/phoneprov/00000000000a-qr.svg");
    assert_eq!(svg.header("Content-Type"), Some("image/svg+xml"));
    let (side, dark) = qr::modules(&svg.text()).expect("an SVG QR code");
    let scale = 4;
    let px = side * scale;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(px, px, |x, y| {
        if dark[(y / scale) * side + x / scale] {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().expect("decodes");
    assert_eq!(
        content,
        format!(
            "http://127.0.0.1:{}/phoneprov/00000000000a-linphone.xml",
            ast.port
        )
    );
}

#[test]
fn cli_shows_renders_and_checks() {
    let ast = start();
    let show = ast.cli("phoneprov show phone 0004f2000001");
    assert!(
        show.contains("Phone 0004f2000001 (provider sipusers, profile snom)"),
        "{show}"
    );
    assert!(show.contains("********"), "{show}");
    assert!(!show.contains("ab&cd"), "{show}");
    assert!(show.contains("0004f2000001-keys.xml"), "{show}");
    let rendered = ast.cli("phoneprov render 0004f2000002.xml");
    assert!(rendered.contains("Bob &amp; Sons"), "{rendered}");
    let clean = ast.cli("phoneprov check");
    assert!(
        clean.contains("6 dynamic routes checked, 0 with problems; 0 static files missing."),
        "{clean}"
    );

    ast.write_file(
        "keys.xml",
        "<functionKeys>\n<fkey>${DISPLAY_NAME}</fkey>\n${NO_SUCH_FN(x)}",
    );
    let broken = ast.cli("phoneprov check 0004f2000002");
    assert!(
        broken.contains("0004f2000002-keys.xml (phone 0004f2000002):"),
        "{broken}"
    );
    assert!(
        broken.contains("keys.xml:3:1: unknown function NO_SUCH_FN()"),
        "{broken}"
    );
    assert!(broken.contains("not well-formed XML at line"), "{broken}");
    assert!(
        broken.contains("2 dynamic routes checked, 1 with problems;"),
        "{broken}"
    );
    assert!(ast
        .cli("phoneprov check 0004f2000001")
        .contains("1 with problems"));
}

/// `phoneprov check` names the files a profile's family asks for by name that nothing
/// serves, looked for beside the phone's own file; a configuration naming no family hears
/// nothing of it (cli_shows_renders_and_checks).
#[test]
fn check_names_the_files_a_family_asks_for() {
    let ast = Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = yealink\n\n\
             [yealink]\nfamily = yealink\nmodels = T46S, T23G, T99\n\
             static_file => y000000000066.cfg\n${MAC}.cfg => y.cfg\n\n\
             [gs]\nfamily = grandstream\nstatic_file => cfg.xml\n\
             gs/cfg${MAC}.xml => g.xml,application/xml\n\n\
             [polycom]\nfamily = polycom\n${MAC}.cfg => p.cfg\n\n\
             [vvx]\nfamily = polycom\nstatic_file => sip.cfg\nstatic_file => 000000000000.cfg\n\
             vvx/${MAC}.cfg => master.cfg\n",
        )
        .conf(
            "phoneprov_users.conf",
            "[6001]\nautoprov = yes\nmacaddress = 805ec0000020\n\n\
             [6002]\nautoprov = yes\nmacaddress = 805ec0000021\n\n\
             [6003]\nautoprov = yes\nmacaddress = 000b82000030\nprofile = gs\n\n\
             [6004]\nautoprov = yes\nmacaddress = 0004F2000040\nprofile = polycom\n\n\
             [6005]\nautoprov = yes\nmacaddress = 0004f2000050\nprofile = vvx\n",
        )
        .file("y.cfg", "#!version:1.0.0.1\n")
        .file("y000000000066.cfg", "#!version:1.0.0.1\n")
        .file("g.xml", "<gs_provision/>\n")
        .file("cfg.xml", "<gs_provision/>\n")
        .file("p.cfg", "<x/>\n")
        .file("sip.cfg", "<x/>\n")
        .file("000000000000.cfg", "<x/>\n")
        .file(
            "master.cfg",
            "<APPLICATION CONFIG_FILES=\"${MAC}-reg.cfg, sip.cfg\"/>\n",
        )
        .start();
    assert!(
        ast.log_has("ignoring model 'T99': not a yealink model (known: T19P_E2,"),
        "{}",
        ast.log()
    );
    let check = ast.cli("phoneprov check");
    let lines: Vec<&str> = check.lines().collect();
    assert_eq!(
        lines,
        [
            "y000000000044.cfg (profile [yealink], family yealink): nothing serves it; phone \
             805ec0000020 asks for it (the common file of T23G)",
            // Beside its own file, not at the top where cfg.xml is.
            "gs/cfg.xml (profile [gs], family grandstream): nothing serves it; phone \
             000b82000030 asks for it (the configuration of phones without one of their own)",
            // Served as 0004F2000040.cfg: the phone asks in lower case.
            "0004f2000040.cfg (profile [polycom], family polycom): nothing serves it; phone \
             0004F2000040 asks for it (its master configuration)",
            // Its master's CONFIG_FILES, beside the master; and 000000000000.cfg, which is
            // served, but at the top.
            "vvx/000000000000.cfg (profile [vvx], family polycom): nothing serves it; phone \
             0004f2000050 asks for it (the master configuration of phones without one of \
             their own)",
            "vvx/0004f2000050-reg.cfg (profile [vvx], family polycom): nothing serves it; phone \
             0004f2000050 asks for it (named by vvx/0004f2000050.cfg)",
            "vvx/sip.cfg (profile [vvx], family polycom): nothing serves it; phone \
             0004f2000050 asks for it (named by vvx/0004f2000050.cfg)",
            "5 dynamic routes checked, 0 with problems; 0 static files missing; 6 files their \
             family asks for not served.",
        ],
        "{check}"
    );
    let one = ast.cli("phoneprov check 805ec0000021");
    assert!(
        one.contains("y000000000044.cfg (profile [yealink], family yealink): nothing serves it; phone 805ec0000021"),
        "{one}"
    );
    assert!(
        one.ends_with("; 1 files their family asks for not served.\n"),
        "{one}"
    );
}
