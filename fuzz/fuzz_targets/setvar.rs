//! `setvar => NAME=VALUE` parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::profile::parse_setvar;

fuzz_target!(|data: &str| {
    if let Some((name, value)) = parse_setvar(data) {
        assert!(!name.is_empty() && !value.is_empty());
        assert_eq!(name.trim(), name);
        assert_eq!(value.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']), value);
    }
});
