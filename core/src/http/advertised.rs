//! The URL a phone reaches this server at, as http.conf says, for URLs printed where no
//! request tells (the CLI's enrollment URLs): https on the TLS port when Asterisk's HTTP
//! server has TLS, else http on `bindport`. A URL that carries credentials must not go out
//! in clear when it need not.

use crate::config::conf::ConfigFile;
use crate::model::server::uri_host;
use crate::util::args::is_true;
use crate::util::bytes::lossy;

/// Asterisk's defaults (http.c): 8088 for HTTP, 8089 for HTTPS.
const HTTP_PORT: &str = "8088";
const TLS_PORT: &str = "8089";

/// `scheme://host:port` for `server` (an address or name, as SERVER holds it), and whether
/// it is https.
pub fn base(http_conf: Option<&ConfigFile>, server: &[u8]) -> (String, bool) {
    let get = |key: &str| {
        http_conf
            .and_then(|f| f.get("general", key))
            .map(|v| lossy(v).trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let host = uri_host(&lossy(server));
    if get("tlsenable").is_some_and(|v| is_true(v.as_bytes())) {
        // tlsbindaddr is ADDR[:PORT]; an IPv6 address with a port is bracketed.
        let port = get("tlsbindaddr")
            .and_then(|a| {
                let (addr, port) = a.rsplit_once(':')?;
                let bare_v6 = addr.contains(':') && !addr.ends_with(']');
                (!bare_v6 && !port.is_empty()).then(|| port.to_owned())
            })
            .unwrap_or_else(|| TLS_PORT.to_owned());
        return (format!("https://{host}:{port}"), true);
    }
    let port = get("bindport").unwrap_or_else(|| HTTP_PORT.to_owned());
    (format!("http://{host}:{port}"), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conf::Category;

    fn http(pairs: &[(&str, &str)]) -> ConfigFile {
        ConfigFile {
            name: "http.conf".into(),
            categories: vec![Category::new("general", pairs)],
        }
    }

    #[test]
    fn plain_http_on_bindport_or_its_default() {
        assert_eq!(
            base(None, b"10.0.0.5"),
            ("http://10.0.0.5:8088".to_owned(), false)
        );
        let conf = http(&[("enabled", "yes"), ("bindport", "8080")]);
        assert_eq!(
            base(Some(&conf), b"pbx.example.com"),
            ("http://pbx.example.com:8080".to_owned(), false)
        );
    }

    #[test]
    fn tls_wins_on_its_own_port() {
        let conf = http(&[
            ("bindport", "8088"),
            ("tlsenable", "yes"),
            ("tlsbindaddr", "0.0.0.0:8443"),
        ]);
        assert_eq!(
            base(Some(&conf), b"10.0.0.5"),
            ("https://10.0.0.5:8443".to_owned(), true)
        );
        let conf = http(&[("tlsenable", "yes"), ("tlsbindaddr", "[::]:9443")]);
        assert_eq!(
            base(Some(&conf), b"2001:db8::5").0,
            "https://[2001:db8::5]:9443"
        );
        // No port, or a bare IPv6 address: Asterisk's default TLS port.
        for addr in ["0.0.0.0", "::", ""] {
            let conf = http(&[("tlsenable", "yes"), ("tlsbindaddr", addr)]);
            assert_eq!(base(Some(&conf), b"h").0, "https://h:8089", "{addr}");
        }
        let conf = http(&[("tlsenable", "no"), ("tlsbindaddr", "0.0.0.0:8443")]);
        assert!(!base(Some(&conf), b"h").1);
    }
}
