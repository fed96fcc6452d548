//! `phoneprov resync` and the AMI action PhoneprovResync: a SIP user agent written here
//! registers to the test Asterisk over UDP and records the NOTIFY it is sent.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::ami::{self, Ami};
use common::{Asterisk, Builder, Impl};

/// Modules for registrations and NOTIFY, and the PJSIP_* functions that tell contacts.
const SIP_MODULES: [&str; 6] = [
    "res_pjsip_registrar",
    "res_pjsip_endpoint_identifier_user",
    "res_pjsip_notify",
    "res_pjsip_pubsub",
    "func_pjsip_endpoint",
    "func_pjsip_aor",
];

fn start(ami_port: u16) -> Asterisk {
    let mut b = Builder::new(Impl::Rust);
    for m in common::PJSIP_MODULES.iter().chain(&SIP_MODULES) {
        b = b.module(m);
    }
    b.conf(
        "pjsip.conf",
        "[udp]\ntype = transport\nprotocol = udp\nbind = @SIP_ADDR@:5060\n\n\
         [ep1]\ntype = endpoint\ncontext = default\naors = ep1\n\n\
         [ep1]\ntype = aor\nmax_contacts = 1\n\n\
         [ep2]\ntype = endpoint\ncontext = default\naors = ep2\n\n\
         [ep2]\ntype = aor\nmax_contacts = 1\n",
    )
    .conf(
        "phoneprov.conf",
        "[general]\nserveraddr = 127.0.0.1\ndefault_profile = plain\n\n\
         [snom]\nresync_event = check-sync\\;reboot=false\n${MAC}.xml => t.xml\n\n\
         [plain]\n${MAC}.cfg => t.xml\n",
    )
    .conf(
        "users.conf",
        "[ep1]\nautoprov = yes\nmacaddress = 000413000001\nprofile = snom\n\n\
         [ep2]\nautoprov = yes\nmacaddress = 000413000002\nprofile = snom\n\n\
         [nope]\nautoprov = yes\nmacaddress = 000413000003\nprofile = plain\n",
    )
    // res_pjsip_notify declines to load without its file (Debian ships one).
    .conf(
        "pjsip_notify.conf",
        "; events are given by phoneprov.conf's resync_event\n",
    )
    .conf("manager.conf", ami::manager_conf(ami_port, "system"))
    .file("t.xml", "<x/>")
    .start()
}

/// A user agent on a UDP port of its own.
struct Agent {
    sock: UdpSocket,
    server: String,
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

impl Agent {
    fn new(ast: &Asterisk) -> Agent {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("udp");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Agent {
            sock,
            server: format!("{}:5060", ast.sip_addr),
        }
    }

    fn local(&self) -> String {
        self.sock.local_addr().expect("addr").to_string()
    }

    /// The next SIP message within `wait`.
    fn receive(&self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        None
    }

    fn register(&self, user: &str) {
        let (me, server) = (self.local(), &self.server);
        let msg = format!(
            "REGISTER sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-reg-{user};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@{server}>;tag=reg{user}\r\n\
             To: <sip:{user}@{server}>\r\nCall-ID: reg-{user}@test\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:{user}@{me}>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
        );
        self.sock.send_to(msg.as_bytes(), server).expect("send");
        let answer = self
            .receive(Duration::from_secs(5))
            .expect("an answer to REGISTER");
        assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    }

    /// Waits for a NOTIFY, answers it 200 and returns its Event header.
    fn notified(&self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let Some(msg) = self.receive(Duration::from_millis(200)) else {
                continue;
            };
            if !msg.starts_with("NOTIFY ") {
                continue;
            }
            let mut ok = String::from("SIP/2.0 200 OK\r\n");
            for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
                if let Some(v) = header(&msg, name) {
                    ok += &format!("{name}: {v}\r\n");
                }
            }
            ok += "Content-Length: 0\r\n\r\n";
            self.sock
                .send_to(ok.as_bytes(), &self.server)
                .expect("send");
            return header(&msg, "Event").map(str::to_owned);
        }
        None
    }
}

#[test]
fn resync_notifies_registered_phones_and_reports_the_others() {
    let port = common::free_port();
    let ast = start(port);
    let agent = Agent::new(&ast);
    agent.register("ep1");

    let out = ast.cli("phoneprov resync profile snom");
    assert!(
        out.contains("000413000001  endpoint 'ep1': NOTIFY sent to 1 contact(s)"),
        "{out}"
    );
    assert!(
        out.contains("000413000002  endpoint 'ep2': not registered"),
        "{out}"
    );
    assert!(out.contains("1 notified, 1 not."), "{out}");
    assert_eq!(
        agent.notified(Duration::from_secs(5)).as_deref(),
        Some("check-sync;reboot=false")
    );

    // A phone whose line names no PJSIP endpoint is reported too; the default event.
    let out = ast.cli("phoneprov resync 000413000003");
    assert!(
        out.contains("endpoint 'nope': no PJSIP endpoint of that name"),
        "{out}"
    );
    assert!(ast
        .cli("phoneprov resync 0000")
        .contains("No phone with MAC '0000'."));

    // Through AMI: one line, and the NOTIFY again.
    let mut ami = Ami::login(&ast, port);
    let r = ami.action("PhoneprovResync", &[("MAC", "000413000001")]);
    assert_eq!(ami::get(&r, "Response"), Some("Success"), "{r:?}");
    assert!(
        ami::get(&r, "Message").is_some_and(|m| m.contains("NOTIFY sent to 1 contact(s)")),
        "{r:?}"
    );
    assert_eq!(
        agent.notified(Duration::from_secs(5)).as_deref(),
        Some("check-sync;reboot=false")
    );
    let r = ami.action("PhoneprovResync", &[]);
    assert_eq!(ami::get(&r, "Response"), Some("Error"), "{r:?}");
}
