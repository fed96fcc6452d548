//! HTTP dates: `If-Modified-Since` as clients send it, and `Last-Modified` as we write it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::http::httpdate::{format, parse};

/// 9999-12-31 23:59:59 GMT: IMF-fixdate has four digits for the year.
const LAST_SECOND: i64 = 253_402_300_799;

fuzz_target!(|data: (&str, i64)| {
    let (text, secs) = data;
    // A date we accept from a client stands for one instant: written out and read again,
    // it is the same one (so If-Modified-Since compares what the client meant).
    if let Some(t) = parse(text) {
        let again = format(t);
        assert_eq!(parse(&again), Some(t), "{text:?} -> {t} -> {again}");
        // And it is in the year the client wrote, give or take the one a leap second or
        // day 31 of a short month carries into: arithmetic that wrapped would land elsewhere.
        let year = |d: &str| d.split_whitespace().nth(3)?.parse::<i64>().ok();
        let (written, read) = (year(text), year(&again));
        assert!(
            matches!((written, read), (Some(w), Some(r)) if r.abs_diff(w) <= 1),
            "{text:?} read as {again}"
        );
    }
    // Every Last-Modified we send, a phone can send back and we read it as sent.
    let secs = secs.rem_euclid(LAST_SECOND + 1);
    let written = format(secs);
    assert_eq!(parse(&written), Some(secs), "{written}");
    assert_eq!(written.len(), 29, "{written}");
});
