//! Our own HTTP Digest client (RFC 7616, qop=auth), for tests that fetch files a profile
//! protects with `auth = digest`.

use phoneprov_core::access::auth::Algorithm;

use super::{Asterisk, Response};

/// `name="value"` or `name=value` from a challenge.
pub fn param(challenge: &str, name: &str) -> Option<String> {
    let at = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[at..];
    Some(if let Some(q) = rest.strip_prefix('"') {
        q[..q.find('"')?].to_owned()
    } else {
        rest.split([',', ' ']).next()?.to_owned()
    })
}

pub fn challenges(r: &Response) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("WWW-Authenticate"))
        .map(|(_, v)| v.clone())
        .collect()
}

/// Our own Digest client: the Authorization header answering `challenge`.
pub fn digest_header(challenge: &str, user: &str, pw: &str, uri: &str, nc: u32) -> String {
    digest_header_for("GET", challenge, user, pw, uri, nc)
}

/// [`digest_header`] for another method than GET.
pub fn digest_header_for(
    method: &str,
    challenge: &str,
    user: &str,
    pw: &str,
    uri: &str,
    nc: u32,
) -> String {
    let alg = match param(challenge, "algorithm").as_deref() {
        Some("SHA-256") => Algorithm::Sha256,
        _ => Algorithm::Md5,
    };
    let realm = param(challenge, "realm").expect("realm");
    let nonce = param(challenge, "nonce").expect("nonce");
    let (nc, cnonce) = (format!("{nc:08x}"), "0a4f113b");
    let ha1 = alg.hex(&[user.as_bytes(), realm.as_bytes(), pw.as_bytes()]);
    let ha2 = alg.hex(&[method.as_bytes(), uri.as_bytes()]);
    let response = alg.hex(&[
        ha1.as_bytes(),
        nonce.as_bytes(),
        nc.as_bytes(),
        cnonce.as_bytes(),
        b"auth",
        ha2.as_bytes(),
    ]);
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"{uri}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"{cnonce}\", \
         response=\"{response}\"\r\n",
        alg.name()
    )
}

/// GET `path`; when challenged, once more answering the MD5 challenge as `user`/`pw`.
pub fn get(ast: &Asterisk, path: &str, user: &str, pw: &str) -> Response {
    get_with(ast, path, user, pw, "")
}

/// [`get`] with more request headers (`Name: value\r\n` each) on both requests.
pub fn get_with(ast: &Asterisk, path: &str, user: &str, pw: &str, headers: &str) -> Response {
    let first = ast.request("GET", path, headers);
    if first.status != 401 {
        return first;
    }
    let challenge = challenges(&first)
        .into_iter()
        .find(|c| c.contains("algorithm=MD5"))
        .unwrap_or_else(|| panic!("no MD5 challenge for {path}: {:?}", first.headers));
    let answer = digest_header(&challenge, user, pw, path, 1);
    ast.request("GET", path, &format!("{headers}{answer}"))
}
