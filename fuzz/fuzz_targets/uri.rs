//! Request URI decoding and the containment check of configured file names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::uri::{decode, is_contained};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = decode(data) {
        assert!(!s.contains('\0'));
        if !data.iter().any(|b| matches!(b, b'%' | b'+')) {
            if let Ok(plain) = std::str::from_utf8(data) {
                assert_eq!(s, plain);
            }
        }
        if is_contained(&s) {
            assert!(!s.split('/').any(|c| c == ".."));
        }
    }
});
