//! The route table: every URI of a snapshot in one buffer, indexed by a table of route
//! numbers. 200,000 URIs as strings of their own cost 200,000 allocations at each reload
//! (and as many frees when the snapshot goes), and a map keyed by them follows a pointer
//! out of the table for every comparison.

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::fxhash::hash_bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Static { profile: usize, file: usize },
    Dynamic { phone: usize, file: usize },
}

/// A target in 8 bytes rather than 24 (a third of the memory a reload writes for each
/// route): the kind in the top bit of the first number.
#[derive(Clone, Copy, Debug)]
struct Packed(u32, u32);

const DYNAMIC: u32 = 1 << 31;

impl Packed {
    fn of(target: Target) -> Option<Packed> {
        let (kind, a, b) = match target {
            Target::Static { profile, file } => (0, profile, file),
            Target::Dynamic { phone, file } => (DYNAMIC, phone, file),
        };
        let (a, b) = (u32::try_from(a).ok()?, u32::try_from(b).ok()?);
        (a < DYNAMIC).then_some(Packed(kind | a, b))
    }

    fn target(self) -> Target {
        let (a, b) = ((self.0 & !DYNAMIC) as usize, self.1 as usize);
        match self.0 & DYNAMIC {
            0 => Target::Static {
                profile: a,
                file: b,
            },
            _ => Target::Dynamic { phone: a, file: b },
        }
    }
}

/// A route dropped by [`Routes::index`]: an earlier one serves its URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub uri: Vec<u8>,
    pub target: Target,
    /// The target of the route kept.
    pub kept: Target,
}

/// Two billion routes, phones or bytes of URIs: no configuration comes near.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// A route as the table gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    pub uri: &'a [u8],
    pub target: Target,
}

/// Routes are added first, then indexed all at once ([`Routes::index`]): inserting into a
/// table of 200,000 entries between building phones costs a cache miss each time (the
/// phones' data pushes the table out of the cache), about three times what the same
/// inserts cost one after the other.
#[derive(Debug, Default)]
pub struct Routes {
    /// The URIs, one after the other.
    bytes: Vec<u8>,
    /// Where each route's URI ends in `bytes` (it starts where the one before ends).
    ends: Vec<u32>,
    targets: Vec<Packed>,
    /// Route numbers, by their URI's hash.
    index: HashTable<u32>,
}

impl Routes {
    /// Room for `routes` more routes of about `uri_len` bytes each.
    pub fn reserve(&mut self, routes: usize, uri_len: usize) {
        self.bytes.reserve(routes * uri_len);
        self.ends.reserve(routes);
        self.targets.reserve(routes);
    }

    /// Adds a route, not served until [`Routes::index`] has indexed it.
    pub fn push(&mut self, uri: &[u8], target: Target) -> Result<(), Full> {
        let end = self.bytes.len().checked_add(uri.len());
        let end = end.and_then(|end| u32::try_from(end).ok()).ok_or(Full)?;
        let packed = Packed::of(target).ok_or(Full)?;
        if self.ends.len() >= DYNAMIC as usize {
            return Err(Full);
        }
        self.bytes.extend_from_slice(uri);
        self.ends.push(end);
        self.targets.push(packed);
        Ok(())
    }

    /// Indexes every route, dropping each whose URI an earlier one has (the others keep
    /// their order); what was dropped, in order. Leaves no room for growth.
    pub fn index(&mut self) -> Vec<Duplicate> {
        self.index = HashTable::with_capacity(self.ends.len());
        let mut dropped = Vec::new();
        let (bytes, ends) = (&self.bytes, &self.ends);
        for number in 0..ends.len() as u32 {
            let uri = span(bytes, ends, number);
            let entry = self.index.entry(
                hash_bytes(uri),
                |&i| span(bytes, ends, i) == uri,
                |&i| hash_bytes(span(bytes, ends, i)),
            );
            match entry {
                Entry::Occupied(e) => dropped.push((number, *e.get())),
                Entry::Vacant(v) => {
                    v.insert(number);
                }
            }
        }
        if dropped.is_empty() {
            self.bytes.shrink_to_fit();
            self.ends.shrink_to_fit();
            self.targets.shrink_to_fit();
            return Vec::new();
        }
        let report = dropped
            .iter()
            .map(|&(number, kept)| Duplicate {
                uri: span(bytes, ends, number).to_vec(),
                target: self.targets[number as usize].target(),
                kept: self.targets[kept as usize].target(),
            })
            .collect();
        let old = std::mem::take(self);
        let mut skip = dropped
            .iter()
            .map(|&(number, _)| number as usize)
            .peekable();
        for (i, route) in old.iter().enumerate() {
            if skip.next_if_eq(&i).is_none() {
                // Fits: it did before.
                let _ = self.push(route.uri, route.target);
            }
        }
        self.index();
        report
    }

    /// The number of the route serving `uri`.
    pub fn find(&self, uri: &[u8]) -> Option<usize> {
        let (bytes, ends) = (&self.bytes, &self.ends);
        self.index
            .find(hash_bytes(uri), |&i| span(bytes, ends, i) == uri)
            .map(|&i| i as usize)
    }

    pub fn get(&self, number: usize) -> Route<'_> {
        Route {
            uri: span(&self.bytes, &self.ends, number as u32),
            target: self.targets[number].target(),
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The routes in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Route<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// The URI of route `i`.
fn span<'a>(bytes: &'a [u8], ends: &[u32], i: u32) -> &'a [u8] {
    let i = i as usize;
    let start = match i {
        0 => 0,
        _ => ends[i - 1] as usize,
    };
    &bytes[start..ends[i] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_found_by_their_exact_bytes() {
        let mut r = Routes::default();
        let t = |phone| Target::Dynamic { phone, file: 0 };
        r.reserve(2, 8);
        for (uri, phone) in [(&b"a.cfg"[..], 0), (b"", 1), (b"A.cfg", 2), (b"a.cfg", 3)] {
            assert_eq!(r.push(uri, t(phone)), Ok(()));
        }
        let too_far = Target::Static {
            profile: 1 << 31,
            file: 0,
        };
        assert_eq!(r.push(b"b.cfg", too_far), Err(Full));
        for i in 0..1000 {
            assert_eq!(r.push(format!("{i:012x}.cfg").as_bytes(), t(i + 4)), Ok(()));
        }
        r.push(b"000000000001.cfg", t(9999)).unwrap();
        let dup = |uri: &[u8], target, kept| Duplicate {
            uri: uri.to_vec(),
            target,
            kept,
        };
        let dropped = r.index();
        assert_eq!(
            dropped,
            [
                dup(b"a.cfg", t(3), t(0)),
                dup(b"000000000001.cfg", t(9999), t(5))
            ]
        );
        assert_eq!(r.len(), 1003);
        assert_eq!(r.find(b"a.cfg"), Some(0));
        assert_eq!(r.find(b""), Some(1));
        assert_eq!(r.find(b"A.cfg"), Some(2));
        assert_eq!(r.find(b"a.cf"), None);
        assert_eq!(r.find(b"000000000001.cfg"), Some(4));
        assert_eq!(r.get(3 + 255).uri, b"0000000000ff.cfg");
        assert_eq!(r.get(3 + 255).target, t(255 + 4));
        let uris: Vec<&[u8]> = r.iter().take(4).map(|r| r.uri).collect();
        assert_eq!(uris, [&b"a.cfg"[..], b"", b"A.cfg", b"000000000000.cfg"]);
    }
}
