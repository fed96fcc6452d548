//! A real Linphone client (linphonec of Debian trixie's linphone-cli, liblinphone 5.3) enrolls
//! with a single-use token URL (`[misc] config-uri`, no credentials), applies the account our
//! module serves (which names its steady URL as the next `config-uri`), and registers to the
//! same Asterisk's PJSIP with the served credentials; restarted after the password changed, it
//! fetches its steady URL with the old credentials (their grace: `auth_grace`) and registers
//! with the new password.
//!
//! Skipped, saying why, only when the trixie root cannot be made (scripts/linphone-root.sh).

mod common;

use std::time::{Duration, Instant};

use common::linphone::{self, ini_value, Linphone, Seen, Tap};
use common::{project_dir, Asterisk, Builder, Impl, PJSIP_MODULES};

/// The profile's access options: the steady URL asks for digest auth, which the restarted
/// client answers with the credentials of the file it applied (see tests/common/linphone.rs
/// for how liblinphone picks them); the enrollment URL needs none (the token is the
/// credential). The realm is PJSIP's (`asterisk` by default): once registered, liblinphone
/// keeps only the HA1 of the SIP realm instead of the password (its rc then holds `ha1=` and
/// `realm=asterisk`), so a challenge in any other realm could not be answered.
const PROFILE_AUTH: &str = "auth = digest\nauth_realm = asterisk\n";

fn digest() -> bool {
    PROFILE_AUTH.contains("digest")
}

/// 12 random bytes as hex: the account's "MAC", the unguessable part of its URL, and secrets.
fn token() -> String {
    let mut b = [0u8; 12];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").expect("urandom"),
        &mut b,
    )
    .expect("random bytes");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn users(mac: &str, secret: &str) -> String {
    format!(
        "[6050]\nautoprov = yes\nmacaddress = {mac}\nprofile = linphone\n\
         fullname = Grace Linphone\nsecret = {secret}\n"
    )
}

/// One UDP transport on this instance's own loopback address, and an endpoint that may
/// register one contact with the same secret as the users file.
fn pjsip(secret: &str) -> String {
    format!(
        "[udp]\ntype = transport\nprotocol = udp\nbind = @SIP_ADDR@:5060\n\n\
         [6050]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\n\n\
         [6050-auth]\ntype = auth\nauth_type = userpass\nusername = 6050\npassword = {secret}\n\n\
         [6050]\ntype = endpoint\ncontext = phones\ndisallow = all\nallow = ulaw,alaw\n\
         transport = udp\nauth = 6050-auth\naors = 6050\n"
    )
}

fn start(mac: &str, secret: &str) -> Asterisk {
    // The shipped Linphone template, as `make install` installs it.
    let template =
        std::fs::read(project_dir().join("asterisk-conf/phoneprov/linphone/account.linphonerc"))
            .expect("sample Linphone template");
    let mut b = Builder::new(Impl::Rust);
    for m in PJSIP_MODULES {
        b = b.module(m);
    }
    b.module("res_pjsip_authenticator_digest")
        .module("res_pjsip_endpoint_identifier_user")
        .module("res_pjsip_registrar")
        .conf("pjsip.conf", pjsip(secret))
        // SERVER in the template is where the phone registers: the instance's SIP address.
        .conf(
            "phoneprov.conf",
            format!(
                "[general]\nserveraddr = @SIP_ADDR@\ndefault_profile = linphone\n\n\
                 [linphone]\nmime_type => application/xml\n\
                 linphone/${{MAC}}.xml => linphone/account.linphonerc\n\
                 enroll_file = linphone/${{MAC}}.xml\n\
                 setvar => LINPHONE_TRANSPORT=udp\n{PROFILE_AUTH}"
            ),
        )
        .conf("phoneprov_users.conf", users(mac, secret))
        .file("linphone/account.linphonerc", template)
        .start()
}

/// Waits for `what` to hold, up to `limit`; panics with `context()` when it never does.
fn wait_for(
    limit: Duration,
    what: &str,
    mut ok: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn logs(phone: &Linphone, ast: &Asterisk) -> String {
    format!("{}\n{}", phone.log_tail(), ast.log_tail())
}

fn provisioning_requests(tap: &Tap, path: &str) -> Vec<Seen> {
    tap.seen()
        .into_iter()
        .filter(|s| s.head.starts_with(&format!("GET {path} ")))
        .collect()
}

/// The contact 6050 registered, as `pjsip show contacts` lists it.
fn contact(ast: &Asterisk) -> Option<String> {
    ast.cli("pjsip show contacts")
        .lines()
        .find(|l| l.contains("Contact:") && l.contains("6050/sip:6050@"))
        .map(|l| l.trim().to_owned())
}

#[test]
fn linphone_provisions_from_our_module_and_registers() {
    let root = match linphone::root() {
        Ok(r) => r,
        // In CI the root must exist (the registries are reachable there): a skip would hide
        // a broken install step. Elsewhere (no network) the test says why and skips.
        Err(why) if std::env::var_os("CI").is_some() => panic!("no Linphone client: {why}"),
        Err(why) => {
            eprintln!("SKIPPED: no Linphone client: {why}");
            return;
        }
    };
    let started = Instant::now();
    let mac = token();
    let secret = token();
    let ast = start(&mac, &secret);
    let tap = Tap::start(ast.addr());
    let path = format!("/phoneprov/linphone/{mac}.xml");
    let url = format!("http://{}{path}", tap.addr);
    let out = ast.cli(&format!("phoneprov token {mac}"));
    let enroll = out[out
        .find("/phoneprov/enroll/")
        .unwrap_or_else(|| panic!("{out}"))..]
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();

    // A fresh client that knows only a single-use enrollment URL and holds no credentials
    // (under digest auth it could not answer a challenge: the token is the credential).
    // Random SIP ports: the instance's 5060 and other clients' must not collide.
    let rc = format!(
        "[sip]\nsip_port=-1\nsip_tcp_port=-1\n\n[misc]\nconfig-uri=http://{}{enroll}\n",
        tap.addr
    );
    let mut phone = Linphone::start(&root, &rc);

    // (a) The request reached Asterisk as liblinphone's provisioning request, and was served.
    wait_for(
        Duration::from_secs(20),
        "the enrollment request answered 200",
        || {
            provisioning_requests(&tap, &enroll)
                .iter()
                .any(|s| s.status == Some(200))
        },
        || format!("{:?}\n{}", tap.seen(), logs(&phone, &ast)),
    );
    let first = provisioning_requests(&tap, &enroll);
    assert!(
        first
            .iter()
            .all(|s| s.header("X-Linphone-Provisioning") == Some("1")),
        "{first:?}"
    );

    // (b) liblinphone applied our file: account, identity and credentials in its rc.
    let sip = format!("{}:5060", ast.sip_addr);
    wait_for(
        Duration::from_secs(20),
        "the served account in the client's rc",
        || ini_value(&phone.rc(), "auth_info_0", "passwd").as_deref() == Some(secret.as_str()),
        || format!("{}\n{}", phone.rc(), logs(&phone, &ast)),
    );
    let rc = phone.rc();
    assert_eq!(
        ini_value(&rc, "proxy_0", "reg_proxy"),
        Some(format!("<sip:{sip};transport=udp>")),
        "{rc}"
    );
    assert_eq!(
        ini_value(&rc, "proxy_0", "reg_identity"),
        Some(format!("\"Grace Linphone\" <sip:6050@{}>", ast.sip_addr)),
        "{rc}"
    );
    assert_eq!(
        ini_value(&rc, "auth_info_0", "username").as_deref(),
        Some("6050")
    );
    assert_eq!(
        ini_value(&rc, "misc", "config-uri"),
        Some(url.clone()),
        "the served steady URL, for the next start"
    );
    // The token is spent.
    assert_eq!(ast.get(&enroll).status, 410);

    // (c) It registers with the served credentials: PJSIP lists its contact.
    wait_for(
        Duration::from_secs(30),
        "contact 6050 in `pjsip show contacts`",
        || contact(&ast).is_some(),
        || format!("{}\n{}", ast.cli("pjsip show contacts"), logs(&phone, &ast)),
    );
    // Asterisk lists the contact before its 200 reaches the client: the client's own view
    // follows a moment later.
    let status = || {
        phone
            .csh(&["generic", "status register"])
            .unwrap_or_default()
    };
    wait_for(
        Duration::from_secs(10),
        "linphonec's `status register` naming the served identity",
        || {
            let s = status();
            s.contains("registered, identity=") && s.contains("<sip:6050@")
        },
        || format!("{}\n{}", status(), logs(&phone, &ast)),
    );
    eprintln!("registered: {}", contact(&ast).unwrap_or_default());

    // The password changes on the server side. Restarted, the client fetches its steady URL
    // (under digest auth: answering with the credentials it was served, the old ones, which
    // its grace still accepts: auth_grace), applies the new password and registers with it:
    // the old one would be refused.
    let new_secret = token();
    assert_ne!(new_secret, secret);
    ast.write_conf("phoneprov_users.conf", users(&mac, &new_secret));
    ast.write_conf(
        "pjsip.conf",
        pjsip(&new_secret).replace("@SIP_ADDR@", &ast.sip_addr),
    );
    ast.cli("module reload res_phoneprov.so");
    ast.cli("pjsip reload");
    phone.stop();
    // linphonec unregisters when it quits.
    wait_for(
        Duration::from_secs(10),
        "contact removed after linphonecsh exit",
        || contact(&ast).is_none(),
        || ast.cli("pjsip show contacts"),
    );
    let before = provisioning_requests(&tap, &path).len();
    phone.restart();
    wait_for(
        Duration::from_secs(20),
        "a second provisioning request answered 200",
        || {
            provisioning_requests(&tap, &path)[before..]
                .iter()
                .any(|s| s.status == Some(200))
        },
        || format!("{:?}\n{}", tap.seen(), logs(&phone, &ast)),
    );
    let second = provisioning_requests(&tap, &path)[before..].to_vec();
    if digest() {
        assert_eq!(second[0].status, Some(401), "{second:?}");
        let auth = second
            .iter()
            .find_map(|s| s.header("Authorization"))
            .unwrap_or_default();
        assert!(auth.starts_with("Digest "), "{second:?}");
        assert!(auth.contains("username=\"6050\""), "{auth}");
    } else {
        assert_eq!(second.len(), 1, "{second:?}");
    }
    wait_for(
        Duration::from_secs(20),
        "the new password in the client's rc",
        || ini_value(&phone.rc(), "auth_info_0", "passwd").as_deref() == Some(new_secret.as_str()),
        || format!("{}\n{}", phone.rc(), logs(&phone, &ast)),
    );
    wait_for(
        Duration::from_secs(30),
        "contact 6050 again, with the new password",
        || contact(&ast).is_some(),
        || format!("{}\n{}", ast.cli("pjsip show contacts"), logs(&phone, &ast)),
    );
    phone.stop();
    eprintln!("Linphone test took {:?}", started.elapsed());
}
