//! A fast, non-cryptographic hasher for the maps built at reload (URIs, MACs, interned
//! strings). Their keys come from the configuration and providers, never from requests (a
//! request only looks up), so hash flooding is not a concern; SipHash's cost is, with
//! 100,000 phones. A table whose keys a request can choose (the realtime cache, nonce
//! counts, rate limits) uses std's `RandomState`, seeded per table, instead.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// The multiply leaves its best bits at the top; hash tables index by the low bits.
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// A hash of `bytes` (their length included) mixed into every bit: a table indexed by
/// its low bits and tagged by its top ones spreads keys that differ in a few bytes. Words
/// are read in place, the last one overlapping the one before (no copy of a tail).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let mut h = FxHasher(bytes.len() as u64);
    if bytes.len() >= 8 {
        let mut at = 0;
        while at + 8 < bytes.len() {
            h.add(word(at));
            at += 8;
        }
        h.add(word(bytes.len() - 8));
    } else {
        let mut last = [0u8; 8];
        last[..bytes.len()].copy_from_slice(bytes);
        h.add(u64::from_le_bytes(last));
    }
    let h = (h.0 ^ (h.0 >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
pub type FxHashSet<K> = std::collections::HashSet<K, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_hashes_differ() {
        let mut m: FxHashMap<String, usize> = FxHashMap::default();
        for i in 0..1000 {
            m.insert(format!("0004f2{i:06x}.cfg"), i);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m["0004f2000100.cfg"], 256);
        let h = |s: &str| {
            let mut f = FxHasher::default();
            f.write(s.as_bytes());
            f.finish()
        };
        assert_ne!(h("a"), h("b"));
        assert_ne!(h("0004f2000001.cfg"), h("0004f2000002.cfg"));
        let lens: Vec<u64> = (0..20).map(|n| hash_bytes(&vec![0; n])).collect();
        let distinct: std::collections::HashSet<_> = lens.iter().collect();
        assert_eq!(distinct.len(), lens.len(), "lengths of zeros hash apart");
        assert_ne!(
            hash_bytes(b"0004f2000001.xml"),
            hash_bytes(b"0004f2000001.xmm")
        );
    }
}
