//! `If-None-Match` against a static file's entity tag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::http::httpdate::etag_matches;

/// An entity tag from fuzz input: `"opaque"` with etagc characters only, optionally weak.
/// Commas are left out although RFC 9110 allows them: the tags we send never hold one, and
/// a list cannot be split unambiguously around them.
fn tag(opaque: &str, weak: bool) -> String {
    let opaque: String = opaque
        .chars()
        .filter(|&c| c == '!' || (('#'..='~').contains(&c) && c != ','))
        .collect();
    format!("{}\"{opaque}\"", if weak { "W/" } else { "" })
}

fn opaque(t: &str) -> &str {
    t.trim_start_matches("W/")
}

fuzz_target!(|data: (&str, &str, bool, Vec<(&str, bool)>, u8, bool)| {
    let (header, own, weak, others, at, spaced) = data;
    // Anything a client sends is answered without a panic.
    let _ = etag_matches(header, own);

    let own = tag(own, false);
    assert!(etag_matches("*", &own));
    assert!(etag_matches(" * ", &own));
    let sep = if spaced { ", " } else { "," };
    let others: Vec<String> = others
        .into_iter()
        .map(|(o, w)| tag(o, w))
        .filter(|o| opaque(o) != own)
        .collect();
    // A list of other tags only does not match (weak comparison: W/ does not count).
    if !others.is_empty() {
        assert!(
            !etag_matches(&others.join(sep), &own),
            "{others:?} vs {own}"
        );
    }
    // The tag anywhere in the list, weak or strong, matches.
    let mut list = others;
    let at = usize::from(at) % (list.len() + 1);
    list.insert(
        at,
        if weak {
            format!("W/{own}")
        } else {
            own.clone()
        },
    );
    assert!(etag_matches(&list.join(sep), &own), "{list:?} vs {own}");
});
