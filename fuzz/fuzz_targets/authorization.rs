//! The `Authorization` header parser and the Digest check, on any client input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::access::auth::{
    base64_encode, digest_matches, parse_authorization, Credentials, NonceCounts, NonceKey,
};

fn key() -> NonceKey {
    NonceKey::new([1; 32])
}

fuzz_target!(|data: (&[u8], &[u8], &str, &str)| {
    let (header, password, user, pass) = data;
    // Anything a client sends is answered without a panic, in bounded work.
    if let Some(Credentials::Digest(d)) = parse_authorization(header) {
        let _ = digest_matches(&d, password, b"GET");
        let _ = key().check(&d.nonce, 1_000, 300);
        let _ = NonceCounts::new(4).use_count(1, &d.username, d.nc);
    }
    let _ = key().check(header, 1_000, 300);
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
