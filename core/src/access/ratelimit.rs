//! Rate limits against guessing: misses (404s, failed authentication, 410s) counted per
//! client in a window; a client with more than the limit is refused for a while. A client
//! is an IPv4 address, or an IPv6 address's prefix (`miss_prefix6`, a /64 by default: one
//! host there owns 2^64 addresses).
//!
//! The table has a fixed capacity. When it is full, the unbanned client seen first is
//! forgotten; a ban is never forgotten before it ends, so misses from other addresses
//! cannot lift it. When every entry is a ban in force, a new client's miss is not counted
//! (the table refuses it rather than grow): reaching that takes as many banned clients as
//! the table holds.
//!
//! Tables keyed by client addresses use std's `RandomState`, seeded per table: the keys
//! come from requests.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};

use crate::access::options::{unmap, Limits};

/// The client `addr` is counted as: IPv4 as it is, IPv6 cut to its first `prefix6` bits.
pub fn client(addr: IpAddr, prefix6: u8) -> IpAddr {
    match unmap(addr) {
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix6.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
        v4 => v4,
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    window_start: u64,
    misses: u32,
    banned_until: u64,
}

/// What a miss did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    Counted,
    /// This miss banned the client.
    Banned,
    /// Not counted: the table is full of bans in force.
    TableFull,
}

pub struct MissTable {
    capacity: usize,
    entries: HashMap<IpAddr, Entry, RandomState>,
    /// Clients by when they were first counted (bans moved to the back when passed over).
    order: VecDeque<IpAddr>,
}

impl MissTable {
    pub fn new(capacity: usize) -> Self {
        MissTable {
            capacity: capacity.max(1),
            entries: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seconds until a banned client may ask again; None when it is not banned.
    pub fn banned(&self, addr: IpAddr, now: u64, limits: &Limits) -> Option<u64> {
        let e = self.entries.get(&client(addr, limits.miss_prefix6))?;
        (e.banned_until > now).then(|| e.banned_until - now)
    }

    /// Room for one more client: the unbanned client counted first is forgotten (a ban in
    /// force is moved to the back instead). False when every entry is a ban in force.
    fn make_room(&mut self, now: u64) -> bool {
        let mut passed = 0;
        while self.order.len() >= self.capacity {
            if passed >= self.order.len() {
                return false;
            }
            let Some(old) = self.order.pop_front() else {
                return false;
            };
            match self.entries.get(&old) {
                Some(e) if e.banned_until > now => {
                    self.order.push_back(old);
                    passed += 1;
                }
                _ => {
                    self.entries.remove(&old);
                }
            }
        }
        true
    }

    /// Counts a miss of `addr`'s client.
    pub fn miss(&mut self, addr: IpAddr, now: u64, limits: &Limits) -> Miss {
        if limits.miss_limit == 0 {
            return Miss::Counted;
        }
        let key = client(addr, limits.miss_prefix6);
        if !self.entries.contains_key(&key) {
            if !self.make_room(now) {
                return Miss::TableFull;
            }
            self.order.push_back(key);
            self.entries.insert(
                key,
                Entry {
                    window_start: now,
                    misses: 0,
                    banned_until: 0,
                },
            );
        }
        let Some(e) = self.entries.get_mut(&key) else {
            return Miss::Counted;
        };
        if e.banned_until > now {
            return Miss::Counted;
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
            return Miss::Banned;
        }
        Miss::Counted
    }
}

/// At most one event of a kind per client per window: the first is reported, the others
/// counted, and the count is handed to the next one reported (to be summarised). Bounded:
/// the client seen first is forgotten first (it is then reported again: bounded too).
pub struct Throttle {
    capacity: usize,
    window: u64,
    /// Per client: when its window started, and the events held back in it.
    entries: HashMap<IpAddr, (u64, u64), RandomState>,
    order: VecDeque<IpAddr>,
}

impl Throttle {
    pub fn new(capacity: usize, window: u64) -> Self {
        Throttle {
            capacity: capacity.max(1),
            window: window.max(1),
            entries: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// Some(n) when an event of `client` is to be reported now, n being how many were held
    /// back in its previous window; None when it is held back (and counted).
    pub fn report(&mut self, client: IpAddr, now: u64) -> Option<u64> {
        if let Some((start, held)) = self.entries.get_mut(&client) {
            if now.saturating_sub(*start) < self.window {
                *held += 1;
                return None;
            }
            let summary = *held;
            (*start, *held) = (now, 0);
            return Some(summary);
        }
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
        self.order.push_back(client);
        self.entries.insert(client, (now, 0));
        Some(0)
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ban_after_the_limit_then_recovery() {
        let l = limits(3, 10, 30);
        let mut t = MissTable::new(8);
        let a = ip("10.0.0.1");
        for _ in 0..3 {
            assert_eq!(t.miss(a, 100, &l), Miss::Counted);
        }
        assert_eq!(t.banned(a, 100, &l), None);
        assert_eq!(t.miss(a, 101, &l), Miss::Banned);
        assert_eq!(t.banned(a, 101, &l), Some(30));
        assert_eq!(t.banned(a, 131, &l), None);
        assert_eq!(t.miss(a, 131, &l), Miss::Counted);
    }

    #[test]
    fn misses_outside_the_window_start_over() {
        let l = limits(2, 10, 30);
        let mut t = MissTable::new(8);
        let a = ip("::1");
        assert_eq!(t.miss(a, 0, &l), Miss::Counted);
        assert_eq!(t.miss(a, 5, &l), Miss::Counted);
        assert_eq!(t.miss(a, 10, &l), Miss::Counted);
        assert_eq!(t.miss(a, 11, &l), Miss::Counted);
        assert_eq!(t.miss(a, 12, &l), Miss::Banned);
    }

    #[test]
    fn bounded_whatever_the_number_of_addresses() {
        let l = limits(1, 10, 30);
        let mut t = MissTable::new(100);
        for i in 0..10_000u32 {
            t.miss(IpAddr::from(i.to_be_bytes()), 1, &l);
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.miss(ip("1.2.3.4"), 1, &Limits::default()), Miss::Counted);
    }

    /// Misses from ever more other addresses never lift a ban: the unbanned are forgotten
    /// first, and a table full of bans counts no new client rather than forget one.
    #[test]
    fn bans_outlast_other_addresses_misses() {
        let l = limits(1, 60, 300);
        let mut t = MissTable::new(4);
        let attacker = ip("192.0.2.1");
        t.miss(attacker, 1, &l);
        assert_eq!(t.miss(attacker, 1, &l), Miss::Banned);
        for i in 0..10_000u32 {
            t.miss(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), 2, &l);
        }
        assert_eq!(t.banned(attacker, 3, &l), Some(298));
        assert_eq!(t.len(), 4);
        // Three more bans fill the table: a fresh address is then not counted.
        for i in 0..3u32 {
            let a = IpAddr::from((0x0a00_1000 + i).to_be_bytes());
            t.miss(a, 4, &l);
            assert_eq!(t.miss(a, 4, &l), Miss::Banned);
        }
        assert_eq!(t.miss(ip("198.51.100.1"), 5, &l), Miss::TableFull);
        assert_eq!(t.banned(attacker, 5, &l), Some(296));
        // Once the bans end, their room is taken again.
        assert_eq!(t.miss(ip("198.51.100.1"), 400, &l), Miss::Counted);
        assert_eq!(t.banned(attacker, 400, &l), None);
    }

    #[test]
    fn ipv6_clients_are_counted_by_prefix() {
        let l = limits(2, 60, 300);
        let mut t = MissTable::new(8);
        for host in 1..=3 {
            t.miss(ip(&format!("2001:db8:1:2::{host}")), 1, &l);
        }
        assert!(t.banned(ip("2001:db8:1:2:ffff::9"), 1, &l).is_some());
        assert!(t.banned(ip("2001:db8:1:3::1"), 1, &l).is_none());
        assert_eq!(client(ip("2001:db8:1:2:3:4:5:6"), 48), ip("2001:db8:1::"));
        assert_eq!(client(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(client(ip("::ffff:10.0.0.1"), 64), ip("10.0.0.1"));
    }

    #[test]
    fn one_event_per_client_and_window_then_a_summary() {
        let mut t = Throttle::new(2, 60);
        let a = ip("10.0.0.1");
        assert_eq!(t.report(a, 100), Some(0));
        for _ in 0..500 {
            assert_eq!(t.report(a, 130), None);
        }
        assert_eq!(t.report(a, 160), Some(500));
        assert_eq!(t.report(a, 161), None);
        // Bounded: a third client forgets the first seen.
        t.report(ip("10.0.0.2"), 161);
        t.report(ip("10.0.0.3"), 161);
        assert_eq!(t.entries.len(), 2);
        assert_eq!(t.report(a, 162), Some(0));
    }
}
