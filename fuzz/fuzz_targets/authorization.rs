//! The `Authorization` header parser and the Digest check, on any client input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::auth::{digest_matches, parse_authorization, Credentials, NonceKey};

fuzz_target!(|data: (&[u8], &[u8], &str, &str)| {
    let (header, password, user, pass) = data;
    // Anything a client sends is answered without a panic, in bounded work.
    if let Some(Credentials::Digest(d)) = parse_authorization(header) {
        let _ = digest_matches(&d, password, b"GET");
        let _ = NonceKey::new([1; 32]).check(&d.nonce, 1_000, 300);
    }
    let _ = NonceKey::new([1; 32]).check(header, 1_000, 300);
    // A Basic header built from a user without ':' gives the same user and password back.
    if !user.contains(':') {
        let token = base64(format!("{user}:{pass}").as_bytes());
        let parsed = parse_authorization(format!("Basic {token}").as_bytes());
        assert_eq!(
            parsed,
            Some(Credentials::Basic {
                username: user.as_bytes().to_vec(),
                password: pass.as_bytes().to_vec()
            })
        );
    }
});

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
