//! Phone detection from the User-Agent: PP_UA_* in templates, and `ua_mac_check`.

mod common;

use common::{Asterisk, Builder, Impl};

fn start() -> Asterisk {
    Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\nserveraddr = 127.0.0.1\n\n\
             [p]\nua_mac_check = yes\n${MAC}.cfg => t.cfg\n\n\
             [open]\n${MAC}.cfg => t.cfg\n",
        )
        .conf(
            "users.conf",
            "[a]\nautoprov = yes\nmacaddress = 0015654aa937\n\n\
             [b]\nautoprov = yes\nmacaddress = 000413922d24\nprofile = open\n",
        )
        .file(
            "t.cfg",
            "${PP_UA_VENDOR}|${PP_UA_MODEL}|${PP_UA_FIRMWARE}|${PP_UA_MAC}|${MAC}\n",
        )
        .start()
}

fn fetch(ast: &Asterisk, mac: &str, ua: &str) -> (u16, String) {
    let r = ast.request(
        "GET",
        &format!("/phoneprov/{mac}.cfg"),
        &format!("User-Agent: {ua}\r\n"),
    );
    (r.status, r.text())
}

#[test]
fn templates_see_the_phone_its_user_agent_describes() {
    let ast = start();
    let cases = [
        (
            "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
            "Polycom|VVX_400|4.1.4.7430||",
        ),
        (
            "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37",
            "Yealink|T46G|28.72.0.1|0015654aa937|",
        ),
        ("curl/8.5.0", "||||"),
    ];
    for (ua, want) in cases {
        let (status, body) = fetch(&ast, "0015654aa937", ua);
        assert_eq!(status, 200, "{ua}");
        assert_eq!(body, format!("{want}0015654aa937\n"), "{ua}");
    }
    let linphone = ast.request(
        "GET",
        "/phoneprov/0015654aa937.cfg",
        "User-Agent: belle-sip/5.3.0\r\nX-Linphone-Provisioning: 1\r\n",
    );
    assert!(
        linphone.text().starts_with("Linphone|"),
        "{}",
        linphone.text()
    );
    // The audit keeps what the agent said.
    let shown = ast.cli("phoneprov show phone 0015654aa937");
    assert!(
        shown.contains("\"curl/8.5.0\"\n") && shown.contains("(Yealink T46G 28.72.0.1)"),
        "{shown}"
    );
    // No request, no User-Agent: the CLI renders them empty.
    let cli = ast.cli("phoneprov render 0015654aa937.cfg");
    assert!(cli.contains("||||0015654aa937"), "{cli}");
}

#[test]
fn ua_mac_check_refuses_another_phones_file() {
    let ast = start();
    let snom = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 1.1.5-IS 000413922D24 SXM:0)";
    // The Snom asks for the Yealink's file: its User-Agent names its own MAC.
    let (status, body) = fetch(&ast, "0015654aa937", snom);
    assert_eq!(status, 403, "{body}");
    assert!(ast.log_has("User-Agent names MAC 000413922d24 (ua_mac_check)"));
    // Its own file (a profile without the check) and the Yealink's own request pass.
    assert_eq!(fetch(&ast, "000413922d24", snom).0, 200);
    let yealink = "Yealink SIP-T46G 28.72.0.1 00:15:65:4A:A9:37";
    assert_eq!(fetch(&ast, "0015654aa937", yealink).0, 200);
    // Without the check, any agent may fetch (the profile [open]).
    let (status, _) = fetch(
        &ast,
        "000413922d24",
        "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37",
    );
    assert_eq!(status, 200);
}

/// Completion through each command's own table row (one CLI handler serves them all).
#[test]
fn cli_commands_complete_their_own_words() {
    let ast = start();
    let matches = |line: &str| ast.cli(&format!("_command matchesarray \"{line}\" \"\""));
    let phone = matches("phoneprov show phone ");
    assert!(
        phone.contains("0015654aa937") && phone.contains("000413922d24"),
        "{phone}"
    );
    let resync = matches("phoneprov resync ");
    assert!(
        resync.contains("all") && resync.contains("profile"),
        "{resync}"
    );
    let render = matches("phoneprov render 0015654aa937.cfg ");
    assert!(
        render.contains("secrets") && !render.contains("profile"),
        "{render}"
    );
    let usage = ast.cli("phoneprov show phone");
    assert!(
        usage.contains("Usage: phoneprov show phone <mac>"),
        "{usage}"
    );
}
