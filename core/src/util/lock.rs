//! The one poisoning policy of the module's locks, said once for both crates: a lock whose
//! holder panicked is used as it is. Every entry point from Asterisk catches panics (the
//! module's `ffi::guard`), so a panic ends one request or command, not the thread; what the
//! locks guard are the registry, caches, bounded tables and bookkeeping of threads, whose
//! every change is a handful of plain operations on owned data, with no call into Asterisk
//! while held. The worst a panic between two of them leaves is an entry missing or a count
//! off by one, which serving on repairs; refusing every later request because of it would
//! turn one bug into an outage.

use std::sync::{
    Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
    TryLockError,
};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv`, giving `guard` up meanwhile.
pub fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// [`read`] without waiting: None while a writer holds the lock or waits for it.
pub fn try_read<T>(l: &RwLock<T>) -> Option<RwLockReadGuard<'_, T>> {
    match l.try_read() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}
