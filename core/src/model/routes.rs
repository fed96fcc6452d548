//! The route table: every URI of a snapshot in one buffer, indexed by a table of route
//! numbers. 200,000 URIs as strings of their own cost 200,000 allocations at each reload
//! (and as many frees when the snapshot goes), and a map keyed by them follows a pointer
//! out of the table for every comparison.

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::util::fxhash::hash_bytes;

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

/// A route not added to a table: an earlier one serves its URI, or the table is full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub uri: Vec<u8>,
    pub target: Target,
    /// The target of the route that serves the URI; None when the table was full (two
    /// billion routes, phones or bytes of URIs: no configuration comes near).
    pub kept: Option<Target>,
}

/// Two billion routes, phones or bytes of URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// A route as the table gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    pub uri: &'a [u8],
    pub target: Target,
}

/// Routes are pushed as they are made, then indexed all at once ([`Routes::index`]):
/// inserted between building phones, each insert missed the cache (the phones' data
/// pushes the table out of it), three times what the same inserts cost in a row.
#[derive(Debug, Default)]
pub struct Routes {
    /// The URIs, one after the other.
    bytes: Vec<u8>,
    /// Where each route's URI ends in `bytes` (it starts where the one before ends).
    ends: Vec<u32>,
    targets: Vec<Packed>,
    /// Route numbers, by their URI's hash (of indexed tables).
    index: HashTable<u32>,
}

impl Routes {
    /// Room for `routes` more routes of about `uri_len` bytes each.
    pub fn reserve(&mut self, routes: usize, uri_len: usize) {
        self.bytes.reserve(routes * uri_len);
        self.ends.reserve(routes);
        self.targets.reserve(routes);
    }

    /// Adds a route without indexing it (see [`Routes::index`]).
    pub fn push(&mut self, uri: &[u8], target: Target) -> Result<(), Full> {
        let (end, packed) = self.fits(uri, target).ok_or(Full)?;
        self.append(uri, end, packed);
        Ok(())
    }

    /// Appends a route that [`Routes::fits`].
    fn append(&mut self, uri: &[u8], end: u32, packed: Packed) {
        self.bytes.extend_from_slice(uri);
        self.ends.push(end);
        self.targets.push(packed);
    }

    /// Where the route's URI would end, and its target packed; None when it does not fit.
    fn fits(&self, uri: &[u8], target: Target) -> Option<(u32, Packed)> {
        let end = self.bytes.len().checked_add(uri.len())?;
        let end = u32::try_from(end).ok()?;
        (self.ends.len() < DYNAMIC as usize).then_some(())?;
        Some((end, Packed::of(target)?))
    }

    /// Adds and indexes `route`, unless an earlier route serves its URI (or the table is
    /// full): it is then added to `dropped`.
    fn add(&mut self, route: Route<'_>, dropped: &mut Vec<Dropped>) {
        let fits = self.fits(route.uri, route.target);
        let number = self.ends.len() as u32;
        let kept = match entry_for(&mut self.index, &self.bytes, &self.ends, route.uri) {
            Entry::Occupied(e) => Some(self.targets[*e.get() as usize].target()),
            Entry::Vacant(v) => match fits {
                Some((end, packed)) => {
                    // fits: fewer than 2^31 routes.
                    v.insert(number);
                    self.append(route.uri, end, packed);
                    return;
                }
                None => None,
            },
        };
        dropped.push(Dropped {
            uri: route.uri.to_vec(),
            target: route.target,
            kept,
        });
    }

    /// Indexes the routes pushed, dropping each whose URI an earlier one has (the others
    /// keep their order); what was dropped, in order. Leaves no room for growth: the table
    /// is only read once built.
    pub fn index(&mut self) -> Vec<Dropped> {
        self.index = HashTable::with_capacity(self.len());
        let (bytes, ends) = (&self.bytes, &self.ends);
        let mut unique = true;
        for number in 0..ends.len() as u32 {
            match entry_for(&mut self.index, bytes, ends, span(bytes, ends, number)) {
                Entry::Occupied(_) => {
                    unique = false;
                    break;
                }
                Entry::Vacant(v) => {
                    v.insert(number);
                }
            }
        }
        let mut dropped = Vec::new();
        if !unique {
            // A URI served twice (rare): the routes are added again one by one.
            let pushed = std::mem::take(self);
            self.index = HashTable::with_capacity(pushed.len());
            for route in pushed.iter() {
                self.add(route, &mut dropped);
            }
        }
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.targets.shrink_to_fit();
        dropped
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

/// The entry of `index` for `uri`, the routes' URIs being in `bytes` up to `ends`.
fn entry_for<'t>(
    index: &'t mut HashTable<u32>,
    bytes: &[u8],
    ends: &[u32],
    uri: &[u8],
) -> Entry<'t, u32> {
    index.entry(
        hash_bytes(uri),
        |&i| span(bytes, ends, i) == uri,
        |&i| hash_bytes(span(bytes, ends, i)),
    )
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
        let dup = |uri: &[u8], target, kept| Dropped {
            uri: uri.to_vec(),
            target,
            kept: Some(kept),
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
