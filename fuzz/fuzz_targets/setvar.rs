//! `setvar => NAME=VALUE` parsing, on bytes as configurations hold them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::config::profile::parse_setvar;

fuzz_target!(|data: &[u8]| {
    if let Some((name, value)) = parse_setvar(data) {
        assert!(!name.is_empty() && !value.is_empty());
        // Asterisk strips what C's isspace() calls space: ASCII only, as strip() does.
        assert_eq!(phoneprov_core::util::args::strip(&name), name);
        assert_eq!(phoneprov_core::util::args::strip(&value), value);
    }
});
