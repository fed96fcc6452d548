//! The last few records per key, bounded per key and in total (the oldest go first), for
//! the audit of fetches: memory stays bounded whatever the number of keys.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::hash::Hash;

use crate::util::fxhash::FxHashMap;

pub struct Recent<K, T> {
    per_key: usize,
    total: usize,
    /// Each key's records, oldest first, with their sequence numbers.
    /// Fx, not SipHash: one lookup per fetch served, keyed by MACs of the configuration.
    by_key: FxHashMap<K, VecDeque<(u64, T)>>,
    /// Every record added, oldest first. An entry whose record already left its key's list
    /// (more than `per_key`) is skipped when it reaches the front.
    order: VecDeque<(u64, K)>,
    next: u64,
}

/// What an addition pushed out: the caller drops it, after releasing any lock it holds
/// (freeing records is the slow part of an addition).
pub struct Evicted<K, T> {
    _records: [Option<T>; 2],
    _keys: [Option<K>; 2],
}

impl<K: Hash + Eq + Clone, T> Recent<K, T> {
    pub fn new(per_key: usize, total: usize) -> Self {
        Recent {
            per_key,
            total,
            by_key: FxHashMap::default(),
            order: VecDeque::new(),
            next: 0,
        }
    }

    pub fn add(&mut self, key: K, record: T) {
        drop(self.add_with(&key, K::clone, record));
    }

    /// Adds `record` under `key`, made with `make` only when no record has that key (a
    /// key already kept is shared).
    pub fn add_with<Q>(&mut self, key: &Q, make: impl FnOnce(&Q) -> K, record: T) -> Evicted<K, T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut records = [None, None];
        let mut keys = [None, None];
        let seq = self.next;
        self.next += 1;
        let kept = match self.by_key.get_key_value(key) {
            Some((k, _)) => k.clone(),
            None => {
                let k = make(key);
                self.by_key.insert(k.clone(), VecDeque::new());
                k
            }
        };
        let list = self.by_key.get_mut(key).expect("found or inserted above");
        list.push_back((seq, record));
        if list.len() > self.per_key {
            records[0] = list.pop_front().map(|(_, r)| r);
        }
        self.order.push_back((seq, kept));
        // One entry leaves per addition once full: none was added without another.
        while self.order.len() > self.total {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if let Some(list) = self.by_key.get_mut::<K>(&key) {
                if list.front().is_some_and(|(s, _)| *s == seq) {
                    records[1] = list.pop_front().map(|(_, r)| r);
                }
                if list.is_empty() {
                    keys[1] = self.by_key.remove_entry::<K>(&key).map(|(k, _)| k);
                }
            }
            keys[0] = Some(key);
        }
        Evicted {
            _records: records,
            _keys: keys,
        }
    }

    /// The key's records, oldest first.
    pub fn get<Q>(&self, key: &Q) -> impl Iterator<Item = &T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_key.get(key).into_iter().flatten().map(|(_, r)| r)
    }

    /// The key's newest record.
    pub fn last<Q>(&self, key: &Q) -> Option<&T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_key.get(key)?.back().map(|(_, r)| r)
    }

    /// How many records are kept in all.
    pub fn len(&self) -> usize {
        self.by_key.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_key_and_in_total() {
        let mut r = Recent::new(3, 5);
        for i in 0..10 {
            r.add("a", i);
        }
        assert_eq!(r.get(&"a").copied().collect::<Vec<_>>(), [7, 8, 9]);
        r.add("b", 100);
        r.add("c", 200);
        // 5 entries in the order: a's last three are still there, b and c added.
        assert_eq!(r.len(), 5);
        r.add("d", 300);
        assert_eq!(r.get(&"a").copied().collect::<Vec<_>>(), [8, 9]);
        for i in 0..1000 {
            r.add("e", i);
        }
        assert!(r.len() <= 5);
        assert!(r.order.len() <= 5);
        assert!(r.get(&"a").next().is_none());
        assert_eq!(r.last(&"e"), Some(&999));
        assert!(!r.by_key.contains_key("a"));
    }

    #[test]
    fn keys_are_made_once_and_shared() {
        use std::sync::Arc;
        let mut r: Recent<Arc<[u8]>, u32> = Recent::new(2, 4);
        let mut made = 0;
        for i in 0..6 {
            let key: &[u8] = if i % 2 == 0 { b"a" } else { b"b" };
            let _ = r.add_with(
                key,
                |k| {
                    made += 1;
                    Arc::from(k)
                },
                i,
            );
        }
        assert_eq!(made, 2);
        assert_eq!(r.get(&b"a"[..]).copied().collect::<Vec<_>>(), [2, 4]);
        assert_eq!(r.last(&b"b"[..]), Some(&5));
        // Full: one more for a new key pushes the oldest record out.
        let _ = r.add_with(&b"c"[..], |k: &[u8]| Arc::from(k), 6);
        assert_eq!(r.len(), 4);
        let a_left = Arc::strong_count(r.by_key.get_key_value(&b"a"[..]).unwrap().0);
        // The map's key and one per record of the order: shared, not copied.
        assert_eq!(
            a_left,
            1 + r.order.iter().filter(|(_, k)| &**k == b"a").count()
        );
    }
}
