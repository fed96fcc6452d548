//! The last few records per key, bounded per key and in total (the oldest go first), for
//! the audit of fetches: memory stays bounded whatever the number of keys.

use std::collections::VecDeque;
use std::hash::Hash;

use crate::fxhash::FxHashMap;

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
        let seq = self.next;
        self.next += 1;
        let list = self.by_key.entry(key.clone()).or_default();
        list.push_back((seq, record));
        if list.len() > self.per_key {
            list.pop_front();
        }
        self.order.push_back((seq, key));
        while self.order.len() > self.total {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if let Some(list) = self.by_key.get_mut(&key) {
                if list.front().is_some_and(|(s, _)| *s == seq) {
                    list.pop_front();
                }
                if list.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// The key's records, oldest first.
    pub fn get(&self, key: &K) -> impl Iterator<Item = &T> {
        self.by_key.get(key).into_iter().flatten().map(|(_, r)| r)
    }

    /// The key's newest record.
    pub fn last(&self, key: &K) -> Option<&T> {
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
}
