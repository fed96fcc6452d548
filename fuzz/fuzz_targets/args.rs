//! Asterisk-style argument splitting and the dialplan functions' argument handling, on
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::render::funcs::{each_user_template, two_args};
use phoneprov_core::util::args::separate_args;

fuzz_target!(|data: (&[u8], u8, bool, u8)| {
    let (text, delim, remove, max) = data;
    let max = usize::from(max % 8);
    let args = separate_args(text, delim, remove, max);
    assert!(args.len() <= max);
    if !remove {
        // Nothing is dropped: the arguments and delimiters between them make up the input.
        let total: usize = args.iter().map(Vec::len).sum::<usize>() + args.len().saturating_sub(1);
        assert!(total <= text.len());
    }
    let (a, b) = two_args(text);
    let _ = each_user_template(&a);
    assert!(b.len() <= text.len());
});
