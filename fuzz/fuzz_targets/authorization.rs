//! The `Authorization` header parser and the Digest check, on any client input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::access::auth::{
    base64_encode, digest_matches, parse_authorization, Credentials, NonceKey, NonceTable,
};

fn nonces() -> NonceTable {
    let mut t = NonceTable::new(4);
    t.issued(&NonceKey::new([1; 32]).nonce(900, 1));
    t
}

fuzz_target!(|data: (&[u8], &[u8], &str, &str)| {
    let (header, password, user, pass) = data;
    // Anything a client sends is answered without a panic, in bounded work.
    if let Some(Credentials::Digest(d)) = parse_authorization(header) {
        let _ = digest_matches(&d, password, b"GET");
        let _ = nonces().check(&d.nonce, 1_000, 300);
    }
    let _ = nonces().check(header, 1_000, 300);
    // A Basic header built from a user without ':' gives the same user and password back.
    if !user.contains(':') {
        let token = base64_encode(format!("{user}:{pass}").as_bytes());
        let header = format!("Basic {token}");
        let parsed = parse_authorization(header.as_bytes());
        assert_eq!(
            parsed,
            Some(Credentials::Basic {
                username: user.as_bytes().to_vec(),
                password: pass.as_bytes().to_vec()
            })
        );
    }
});
