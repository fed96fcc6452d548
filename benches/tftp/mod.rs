//! The TFTP rows of `make bench`: ours against tftpd-hpa (Debian's `in.tftpd`, started here on
//! a loopback port, serving copies of the same files), fetched by the same client (the
//! tests' own, lockstep, blksize 1428 for the firmware), in turns, median of the rounds.
//!
//! - a 4 MB firmware file: MB/s of whole fetches, one client;
//! - 1,000 per-phone files fetched by 8 concurrent clients: files/s. Ours renders each from
//!   its template per request; tftpd-hpa serves the rendered copies (what a shop running a
//!   tftpd beside Asterisk would keep in sync).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::tftp::Client;
use crate::common::{free_port, Asterisk, Builder, Impl};

pub const FIRMWARE_ROW: &str = "TFTP: 4 MB firmware, one client, blksize 1428 (MB/s)";
pub const PHONES_ROW: &str = "TFTP: 1,000 per-phone files, 8 clients (files/s)";
const FIRMWARE_BYTES: usize = 4 << 20;
const FETCHES: usize = 3;
const PHONES: usize = 1_000;
const CLIENTS: usize = 8;

/// tftpd-hpa on a loopback port, serving `dir`; killed when dropped.
struct TftpdHpa {
    child: Child,
    addr: SocketAddr,
}

impl TftpdHpa {
    fn start(dir: &Path) -> TftpdHpa {
        let port = free_port();
        let child = Command::new("/usr/sbin/in.tftpd")
            .args(["-L", "-s", "-u", "root", "-a"])
            .arg(format!("127.0.0.1:{port}"))
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("in.tftpd (scripts/tftp-tools.sh installs tftpd-hpa)");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let server = TftpdHpa { child, addr };
        // Ready once it answers (a request sent before it listens is lost).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let probe = Client::new("127.0.0.1", addr);
            probe.request(false, b"ready", "octet", &[]);
            if probe.receive_within(Duration::from_millis(200)).is_some() {
                return server;
            }
            assert!(Instant::now() < deadline, "in.tftpd did not answer");
        }
    }
}

impl Drop for TftpdHpa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn conf(port: u16) -> String {
    format!(
        "[general]\nserveraddr = 127.0.0.1\ndefault_profile = snom\ntftp = yes\n\
         tftp_bindaddr = 127.0.0.1\ntftp_port = {port}\n\n\
         [snom]\ntftp = all\nstatic_file => fw.bin\n${{MAC}}.xml => snom.xml\n"
    )
}

fn macs() -> Vec<String> {
    (0..PHONES).map(|i| format!("0004f2{i:06x}")).collect()
}

/// MB/s of `FETCHES` whole fetches of the firmware.
fn firmware_rate(addr: SocketAddr) -> f64 {
    let started = Instant::now();
    for _ in 0..FETCHES {
        let body = Client::new("127.0.0.1", addr)
            .fetch("fw.bin", &[("blksize", "1428")])
            .expect("the firmware");
        assert_eq!(body.len(), FIRMWARE_BYTES);
    }
    (FETCHES * FIRMWARE_BYTES) as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// Files/s of every phone's file fetched once, by `CLIENTS` clients at once.
fn phones_rate(addr: SocketAddr, macs: &[String]) -> f64 {
    let started = Instant::now();
    std::thread::scope(|s| {
        for part in macs.chunks(macs.len().div_ceil(CLIENTS)) {
            s.spawn(move || {
                for mac in part {
                    let body = Client::new("127.0.0.1", addr)
                        .fetch(&format!("{mac}.xml"), &[])
                        .expect("a phone's file");
                    assert!(!body.is_empty());
                }
            });
        }
    });
    macs.len() as f64 / started.elapsed().as_secs_f64()
}

/// The two rows' figures, tftpd-hpa's first: (firmware, phones), a round each.
pub fn measure(
    rounds: usize,
    snom_template: &str,
    users: &str,
    firmware: Vec<u8>,
) -> [(Vec<f64>, Vec<f64>); 2] {
    let port = free_port();
    let ast: Asterisk = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", conf(port))
        .conf("users.conf", users)
        .file("snom.xml", snom_template)
        .file("fw.bin", firmware.clone())
        .start();
    let ours: SocketAddr = ([127, 0, 0, 1], port).into();
    // tftpd-hpa's directory: the firmware and the files ours renders, as rendered.
    let dir = std::env::temp_dir().join(format!("pp-bench-tftpd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tftpd dir");
    std::fs::write(dir.join("fw.bin"), &firmware).expect("firmware copy");
    std::fs::write(dir.join("ready"), "").expect("ready");
    let macs = macs();
    for mac in &macs {
        let r = ast.get(&format!("/phoneprov/{mac}.xml"));
        assert_eq!(r.status, 200, "{mac}");
        std::fs::write(dir.join(format!("{mac}.xml")), &r.body).expect("rendered copy");
    }
    let hpa = TftpdHpa::start(&dir);
    // The same bytes from both.
    let sample = format!("{}.xml", macs[7]);
    assert_eq!(
        Client::new("127.0.0.1", ours).fetch(&sample, &[]),
        Client::new("127.0.0.1", hpa.addr).fetch(&sample, &[])
    );
    let mut rows: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    for round in 0..rounds {
        println!("tftp: round {} of {rounds}", round + 1);
        rows[0].0.push(firmware_rate(hpa.addr));
        rows[0].1.push(firmware_rate(ours));
        rows[1].0.push(phones_rate(hpa.addr, &macs));
        rows[1].1.push(phones_rate(ours, &macs));
    }
    drop(hpa);
    let _ = std::fs::remove_dir_all(&dir);
    rows
}
