//! Static realtime with a database that does not answer when the module loads (or at a
//! reload): `phoneprov.conf` or the users file could not be read, and nothing would be
//! served until someone reloads. Instead a thread of the module's own looks again, after
//! 1 s, then 2, 4... up to [`MAX_WAIT`]: first with a quiet check of the database (the
//! realtime driver's requirement check of each mapped file), and only when it answers with
//! a reload of the module. One WARNING when it starts, one NOTICE when the reload has read
//! everything; nothing in between.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::ffi::config::{is_realtime_mapped, realtime_probe};
use crate::ffi::log;
use crate::ffi::thread::{self, Thread};
use phoneprov_core::util::lock::lock;

/// The longest wait between two tries.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// The files a load reads that can be mapped to realtime.
const FILES: [&str; 3] = ["phoneprov.conf", "phoneprov_users.conf", "users.conf"];

#[derive(Default)]
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    /// A thread runs (set by `arm`, cleared by the thread as it ends): one at a time.
    armed: AtomicBool,
}

/// The retrying thread, from the first failed read to the reload that reads everything.
#[derive(Default)]
pub struct Recovery {
    shared: Arc<Shared>,
    thread: Mutex<Option<Thread>>,
    /// Whether the last read of phoneprov.conf failed for want of its database.
    pub config_down: AtomicBool,
}

impl Recovery {
    /// Retries until `reload` (a reload of the module) says everything was read; nothing
    /// when it retries already.
    pub fn arm(&self, reload: fn() -> bool) {
        if self.shared.armed.swap(true, Ordering::AcqRel) {
            return;
        }
        // The thread of an earlier outage has ended (it cleared `armed`): joined. No lock
        // is held while joining, logging or spawning (calls into Asterisk).
        let finished = lock(&self.thread).take();
        if let Some(finished) = finished {
            finished.join();
        }
        // A stop of an unload that was then refused is over.
        *lock(&self.shared.stop) = false;
        log::warning!(
            "The database behind phoneprov.conf or the users file does not answer: retrying \
             on its own (after 1 s, then less often, up to every {} s) until it does.",
            MAX_WAIT.as_secs()
        );
        let shared = self.shared.clone();
        let spawned = thread::spawn(move || run(&shared, reload));
        if spawned.is_none() {
            self.shared.armed.store(false, Ordering::Release);
        }
        *lock(&self.thread) = spawned;
    }
}

fn run(shared: &Shared, reload: fn() -> bool) {
    let mut wait = Duration::from_secs(1);
    loop {
        {
            let stop = lock(&shared.stop);
            let (stop, _) = shared
                .wake
                .wait_timeout_while(stop, wait, |stop| !*stop)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *stop {
                break;
            }
        }
        wait = (wait * 2).min(MAX_WAIT);
        let answers = FILES
            .iter()
            .filter(|f| is_realtime_mapped(f))
            .all(|f| realtime_probe(f.as_bytes()));
        if answers && reload() {
            log::notice!("The database answers again: phoneprov.conf and the phones were read.");
            break;
        }
    }
    shared.armed.store(false, Ordering::Release);
}

impl Recovery {
    /// Ends the retries (at unload, before the module is released: a reload under way
    /// holds the module, which must not then be dropped on this thread).
    pub fn stop(&self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_one();
        let running = lock(&self.thread).take();
        if let Some(running) = running {
            running.join();
        }
    }
}

impl Drop for Recovery {
    /// The thread runs this library's code: ended before it can be unmapped.
    fn drop(&mut self) {
        self.stop();
    }
}
