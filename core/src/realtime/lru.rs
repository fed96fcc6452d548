//! A bounded map that forgets the least recently used entry when it is full: the cache of
//! phones looked up in a realtime database. Every operation is O(1): entries live in a slab
//! linked in order of use, so a full cache of 10,000 phones costs a miss no scan.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::Hash;

const NIL: usize = usize::MAX;

struct Slot<K, V> {
    key: K,
    value: V,
    /// Towards the most recently used end.
    newer: usize,
    /// Towards the least recently used end.
    older: usize,
}

pub struct Lru<K, V> {
    /// Keyed by a hasher seeded per cache (std's `RandomState`), not Fx: the keys are MACs
    /// requests name, and a client that can choose keys colliding under a fixed hash could
    /// make every lookup of the cache a scan.
    index: HashMap<K, usize, RandomState>,
    slots: Vec<Slot<K, V>>,
    newest: usize,
    oldest: usize,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// Holds at most `capacity` entries; 0 holds none.
    pub fn new(capacity: usize) -> Self {
        Lru {
            index: HashMap::default(),
            slots: Vec::new(),
            newest: NIL,
            oldest: NIL,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The value of `key`, which becomes the most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let i = *self.index.get(key)?;
        self.unlink(i);
        self.push_newest(i);
        Some(&self.slots[i].value)
    }

    /// Sets `key` to `value` as the most recently used entry; when the cache is full, the
    /// least recently used entry makes room.
    pub fn insert(&mut self, key: K, value: V) {
        if let Some(&i) = self.index.get(&key) {
            self.slots[i].value = value;
            self.unlink(i);
            self.push_newest(i);
            return;
        }
        if self.capacity == 0 {
            return;
        }
        if self.slots.len() == self.capacity {
            let oldest = self.oldest;
            self.remove_slot(oldest);
        }
        let i = self.slots.len();
        self.index.insert(key.clone(), i);
        self.slots.push(Slot {
            key,
            value,
            newer: NIL,
            older: NIL,
        });
        self.push_newest(i);
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = *self.index.get(key)?;
        Some(self.remove_slot(i))
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.newest = NIL;
        self.oldest = NIL;
    }

    fn unlink(&mut self, i: usize) {
        let (newer, older) = (self.slots[i].newer, self.slots[i].older);
        match newer {
            NIL => self.newest = older,
            n => self.slots[n].older = older,
        }
        match older {
            NIL => self.oldest = newer,
            o => self.slots[o].newer = newer,
        }
    }

    fn push_newest(&mut self, i: usize) {
        self.slots[i].older = self.newest;
        self.slots[i].newer = NIL;
        match self.newest {
            NIL => self.oldest = i,
            n => self.slots[n].newer = i,
        }
        self.newest = i;
    }

    /// Removes slot `i`, moving the last slot into its place so the slab stays dense.
    fn remove_slot(&mut self, i: usize) -> V {
        self.unlink(i);
        let last = self.slots.len() - 1;
        if i != last {
            self.unlink(last);
            self.slots.swap(i, last);
            // The moved entry takes the removed one's place in the order of use as well as
            // in the slab: relink it where `last` was, now that it sits at `i`.
            self.relink_moved(i);
            *self.index.get_mut(&self.slots[i].key).expect("indexed") = i;
        }
        let slot = self.slots.pop().expect("not empty");
        self.index.remove(&slot.key);
        slot.value
    }

    /// Puts the entry at `i` (just moved there, unlinked) back at its old position, which
    /// its `newer`/`older` fields still describe.
    fn relink_moved(&mut self, i: usize) {
        let (newer, older) = (self.slots[i].newer, self.slots[i].older);
        match newer {
            NIL => self.newest = i,
            n => self.slots[n].older = i,
        }
        match older {
            NIL => self.oldest = i,
            o => self.slots[o].newer = i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order<V>(l: &Lru<u32, V>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = l.newest;
        while i != NIL {
            out.push(l.slots[i].key);
            i = l.slots[i].older;
        }
        out
    }

    #[test]
    fn forgets_the_least_recently_used() {
        let mut l = Lru::new(3);
        for k in 1..=3 {
            l.insert(k, k * 10);
        }
        assert_eq!(l.get(&1), Some(&10));
        l.insert(4, 40);
        assert_eq!(l.get(&2), None, "2 was the least recently used");
        assert_eq!(order(&l), vec![4, 1, 3]);
        l.insert(3, 33);
        assert_eq!(order(&l), vec![3, 4, 1]);
        assert_eq!(l.len(), 3);
        assert_eq!(l.get(&3), Some(&33));
    }

    #[test]
    fn removal_keeps_order_and_index() {
        let mut l = Lru::new(5);
        for k in 1..=5 {
            l.insert(k, k);
        }
        // Removing from the middle moves the last slot (5, the newest) into the hole.
        assert_eq!(l.remove(&2), Some(2));
        assert_eq!(order(&l), vec![5, 4, 3, 1]);
        for k in [1, 3, 4, 5] {
            assert_eq!(l.get(&k), Some(&k));
        }
        assert_eq!(order(&l), vec![5, 4, 3, 1]);
        assert_eq!(l.remove(&1), Some(1));
        assert_eq!(l.remove(&5), Some(5));
        assert_eq!(order(&l), vec![4, 3]);
        assert_eq!(l.remove(&9), None);
        l.clear();
        assert!(l.is_empty());
        assert_eq!(order(&l), Vec::<u32>::new());
    }

    #[test]
    fn zero_capacity_holds_nothing() {
        let mut l = Lru::new(0);
        l.insert(1, 1);
        assert_eq!(l.get(&1), None);
        assert_eq!(l.capacity(), 0);
    }

    /// Against a plain model: a Vec in order of use.
    #[test]
    fn matches_a_simple_model() {
        let mut l = Lru::new(7);
        let mut model: Vec<(u32, u32)> = Vec::new();
        let mut seed = 12345u32;
        for step in 0..5000u32 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let key = (seed >> 16) % 13;
            match (seed >> 8) % 3 {
                0 => {
                    l.insert(key, step);
                    model.retain(|(k, _)| *k != key);
                    model.insert(0, (key, step));
                    model.truncate(7);
                }
                1 => {
                    let want = model.iter().position(|(k, _)| *k == key).map(|p| {
                        let e = model.remove(p);
                        model.insert(0, e);
                        e.1
                    });
                    assert_eq!(l.get(&key).copied(), want);
                }
                _ => {
                    let want = model
                        .iter()
                        .position(|(k, _)| *k == key)
                        .map(|p| model.remove(p).1);
                    assert_eq!(l.remove(&key), want);
                }
            }
            let keys: Vec<u32> = model.iter().map(|(k, _)| *k).collect();
            assert_eq!(order(&l), keys, "step {step}");
        }
    }
}
