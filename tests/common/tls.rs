//! TLS on a test's Asterisk HTTP server: a self-signed certificate made with openssl, and
//! http.conf rewritten to serve HTTPS beside HTTP.

use std::process::Command;
use std::time::Duration;

use super::Asterisk;

/// Turns on HTTPS (a fresh self-signed certificate for 127.0.0.1) beside the instance's
/// HTTP, and waits until it answers; the TLS port.
pub fn enable(ast: &Asterisk) -> u16 {
    let cert = ast.dir.join("etc/pp.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
        ])
        .arg("/CN=127.0.0.1")
        .arg("-keyout")
        .arg(&cert)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let tls_port = super::free_port();
    let inner = format!(
        "/tmp/{}/etc/pp.pem",
        ast.dir.file_name().expect("name").to_string_lossy()
    );
    ast.write_conf(
        "http.conf",
        format!(
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {}\ntlsenable = yes\n\
             tlsbindaddr = 127.0.0.1:{tls_port}\ntlscertfile = {inner}\ntlsprivatekey = {inner}\n",
            ast.port
        ),
    );
    ast.cli("module reload http");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_ok() {
            return tls_port;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("HTTPS did not come up on port {tls_port}");
}
