//! Request URI decoding and the containment check of configured file names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::http::uri::{decode, is_contained};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = decode(data) {
        assert!(!s.contains(&0));
        if !data.iter().any(|b| matches!(b, b'%' | b'+')) {
            // Nothing to decode: the bytes come back as they were, UTF-8 or not.
            assert_eq!(s, data);
        }
        if is_contained(&s) {
            assert!(!s.split(|&b| b == b'/').any(|c| c == b".."));
        }
    }
});
