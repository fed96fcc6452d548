//! Keeping secrets out of what the CLI prints: which variables hold secrets, and masking
//! their values wherever they appear in a rendered body.

use std::collections::{BTreeSet, HashSet};

use crate::render::xml;

/// What a secret value is replaced with.
pub const MASK: &[u8] = b"********";

/// Whether a variable's value is a secret: its name contains SECRET or PASS (any case).
pub fn is_secret(name: &[u8]) -> bool {
    let n = name.to_ascii_uppercase();
    [&b"SECRET"[..], b"PASS"]
        .iter()
        .any(|w| n.windows(w.len()).any(|x| x == *w))
}

/// The secret values to mask: each non-empty value given, and its XML-escaped form (the
/// form `PP_XML` writes).
#[derive(Default)]
pub struct Secrets {
    values: HashSet<Vec<u8>>,
    /// The lengths of `values`, longest first.
    lengths: BTreeSet<std::cmp::Reverse<usize>>,
}

impl Secrets {
    pub fn add(&mut self, value: &[u8]) {
        if value.is_empty() {
            return;
        }
        for v in [value.to_vec(), xml::escape(value)] {
            self.lengths.insert(std::cmp::Reverse(v.len()));
            self.values.insert(v);
        }
    }

    /// `body` with every occurrence of a secret replaced by [`MASK`], leftmost first and
    /// the longest at each position. Costs one hash lookup per distinct secret length per
    /// byte, whatever the number of secrets (a directory of 10,000 phones).
    pub fn mask(&self, body: &[u8]) -> Vec<u8> {
        if self.values.is_empty() {
            return body.to_vec();
        }
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        'next: while i < body.len() {
            for &std::cmp::Reverse(len) in &self.lengths {
                if let Some(candidate) = body.get(i..i + len) {
                    if self.values.contains(candidate) {
                        out.extend_from_slice(MASK);
                        i += len;
                        continue 'next;
                    }
                }
            }
            out.push(body[i]);
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        assert!(is_secret(b"SECRET"));
        assert!(is_secret(b"http_secret"));
        assert!(is_secret(b"VM_PASSWORD"));
        assert!(!is_secret(b"USERNAME"));
    }

    #[test]
    fn values_are_masked_everywhere_longest_first() {
        let mut s = Secrets::default();
        s.add(b"ab&cd");
        s.add(b"ab");
        s.add(b"");
        let body = b"x=ab&cd y=ab&amp;cd z=abc w=a";
        assert_eq!(
            s.mask(body),
            b"x=******** y=******** z=********c w=a".to_vec()
        );
        assert_eq!(Secrets::default().mask(b"ab"), b"ab".to_vec());
    }
}
