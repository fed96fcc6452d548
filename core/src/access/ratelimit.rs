//! Rate limits against guessing: misses (404s, failed authentication, 410s) counted per
//! client address in a window; an address with more than the limit is refused for a while.
//! The table has a fixed capacity: when full, the address seen first is forgotten.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::access::options::Limits;

#[derive(Clone, Copy, Debug)]
struct Entry {
    window_start: u64,
    misses: u32,
    banned_until: u64,
}

pub struct MissTable {
    capacity: usize,
    entries: HashMap<IpAddr, Entry>,
    order: VecDeque<IpAddr>,
}

impl MissTable {
    pub fn new(capacity: usize) -> Self {
        MissTable {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seconds until a banned address may ask again; None when it is not banned.
    pub fn banned(&self, addr: IpAddr, now: u64) -> Option<u64> {
        let e = self.entries.get(&addr)?;
        (e.banned_until > now).then(|| e.banned_until - now)
    }

    /// Counts a miss; true when this miss bans the address.
    pub fn miss(&mut self, addr: IpAddr, now: u64, limits: &Limits) -> bool {
        if limits.miss_limit == 0 {
            return false;
        }
        if !self.entries.contains_key(&addr) {
            while self.order.len() >= self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
            self.order.push_back(addr);
            self.entries.insert(
                addr,
                Entry {
                    window_start: now,
                    misses: 0,
                    banned_until: 0,
                },
            );
        }
        let Some(e) = self.entries.get_mut(&addr) else {
            return false;
        };
        if e.banned_until > now {
            return false;
        }
        if now.saturating_sub(e.window_start) >= limits.miss_window {
            e.window_start = now;
            e.misses = 0;
        }
        e.misses = e.misses.saturating_add(1);
        if e.misses > limits.miss_limit {
            e.banned_until = now.saturating_add(limits.miss_ban);
            e.misses = 0;
            e.window_start = e.banned_until;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(limit: u32, window: u64, ban: u64) -> Limits {
        let mut d = Vec::new();
        let mut l = Limits::default();
        l.take(b"miss_limit", limit.to_string().as_bytes(), &mut d);
        l.take(b"miss_window", window.to_string().as_bytes(), &mut d);
        l.take(b"miss_ban", ban.to_string().as_bytes(), &mut d);
        l.finish(true)
    }

    #[test]
    fn ban_after_the_limit_then_recovery() {
        let l = limits(3, 10, 30);
        let mut t = MissTable::new(8);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(!t.miss(a, 100, &l));
        }
        assert_eq!(t.banned(a, 100), None);
        assert!(t.miss(a, 101, &l));
        assert_eq!(t.banned(a, 101), Some(30));
        assert_eq!(t.banned(a, 131), None);
        assert!(!t.miss(a, 131, &l));
    }

    #[test]
    fn misses_outside_the_window_start_over() {
        let l = limits(2, 10, 30);
        let mut t = MissTable::new(8);
        let a: IpAddr = "::1".parse().unwrap();
        assert!(!t.miss(a, 0, &l));
        assert!(!t.miss(a, 5, &l));
        assert!(!t.miss(a, 10, &l));
        assert!(!t.miss(a, 11, &l));
        assert!(t.miss(a, 12, &l));
    }

    #[test]
    fn bounded_whatever_the_number_of_addresses() {
        let l = limits(1, 10, 30);
        let mut t = MissTable::new(100);
        for i in 0..10_000u32 {
            t.miss(IpAddr::from(i.to_be_bytes()), 1, &l);
        }
        assert_eq!(t.len(), 100);
        assert!(!t.miss("1.2.3.4".parse().unwrap(), 1, &Limits::default()));
    }
}
