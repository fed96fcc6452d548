//! When the metrics callback is registered with res_prometheus.
//!
//! res_prometheus is not a dependency (a dependency that fails to open, bound as it is to
//! res_pjsip, would stop the loading of others with it), so this module follows it:
//! - a registration made while res_prometheus is only opened, before its load_module made
//!   its list of callbacks, is wiped by that load_module: the first registration waits for
//!   Asterisk to be fully booted (when it loads at boot) or is made at once (when this
//!   module is loaded by hand later);
//! - its unload frees the list, its next load makes an empty one: the loader's Unload and
//!   Load events (in order, on the manager topic) say so, however quickly one follows the
//!   other; a reload of res_prometheus keeps the list and needs nothing;
//! - registering appends, even what is there already, and the scrape would then list every
//!   series twice, and unregistering removes one entry: a second entry would be left behind
//!   at unload and called after this library is unmapped.
//!
//! So every registration is made by one thread, which takes ours out before putting it in:
//! one entry at most, whatever order the causes arrive in. The other threads (the stasis
//! subscription's, the loader's at load, reload and unload) only queue a cue and wake it.
//! No lock is held while the thread calls into Asterisk, and the thread never waits for
//! the loader's module list: Asterisk holds that lock while it calls this module's unload,
//! which joins the thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::ffi::host::{
    fully_booted, module_events_subscribe, module_events_unsubscribe, prometheus_register,
    prometheus_unregister, PrometheusEvent,
};
use crate::ffi::log;
use crate::ffi::thread::{self, Thread};
use phoneprov_core::util::lock::lock;

/// What the offering thread is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cue {
    /// Register if Asterisk is fully booted and ours is not registered yet (load).
    Look,
    /// What the glue's subscription reported.
    Event(PrometheusEvent),
    /// Register again, whatever the thread believes (a reload without the subscription:
    /// the administrator's way to say res_prometheus changed).
    Again,
    /// Take ours back and end.
    Stop,
}

#[derive(Default)]
struct Queue {
    cues: Mutex<VecDeque<Cue>>,
    wake: Condvar,
}

impl Queue {
    fn push(&self, cue: Cue) {
        lock(&self.cues).push_back(cue);
        self.wake.notify_one();
    }

    /// The next cue; None when `wait` (if any) passed without one.
    fn pop(&self, wait: Option<Duration>) -> Option<Cue> {
        let mut cues = lock(&self.cues);
        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            if let Some(cue) = cues.pop_front() {
                return Some(cue);
            }
            cues = match deadline {
                None => self
                    .wake
                    .wait(cues)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(at) => {
                    let left = at.checked_duration_since(Instant::now())?;
                    self.wake
                        .wait_timeout(cues, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// How often the thread looks again while the manager topic is not there yet (the module
/// preloaded: the loader runs preloads before the core makes it) or Asterisk has not
/// booted without the subscription to tell it. Short: at 100 ms a preloaded module often
/// subscribed only after the boot, and the first scrapes (2 to 5 of them, 10 ms apart)
/// missed the series; at 10 ms the first one has them. Only during the boot's first
/// moments, and a look is one lookup of the topic.
const LOOK_EVERY: Duration = Duration::from_millis(10);

/// The thread: owns the subscription and knows whether ours is in res_prometheus's
/// current list.
fn run(queue: &Queue, watching: &AtomicBool) {
    let mut registered = false;
    let mut subscribed = false;
    let mut warned = false;
    loop {
        let settled = subscribed || fully_booted();
        let cue = queue.pop((!settled).then_some(LOOK_EVERY));
        match cue {
            Some(Cue::Stop) => break,
            // Its list went with it: nothing of ours left to take out.
            Some(Cue::Event(PrometheusEvent::Unloaded)) => registered = false,
            Some(Cue::Event(PrometheusEvent::Loaded) | Cue::Again) => registered = false,
            Some(Cue::Look | Cue::Event(PrometheusEvent::Booted)) | None => {}
        }
        if !subscribed {
            // Subscribed before the boot flag is read below: a boot that completes in
            // between is seen by one or the other (both only mean one registration).
            subscribed = module_events_subscribe();
            watching.store(subscribed, Ordering::Release);
            if !subscribed && fully_booted() && !warned {
                warned = true;
                log::warning!(
                    "Cannot follow res_prometheus being loaded and unloaded: after that, \
                     'module reload res_phoneprov.so' offers the metrics again."
                );
            }
        }
        if !registered && fully_booted() {
            // Out first: an entry left from before (a load of res_prometheus reported after
            // we had registered into its new list) is never doubled.
            prometheus_unregister();
            registered = prometheus_register();
        }
    }
    // The subscription only queues, so ending it waits for nothing of ours.
    module_events_unsubscribe();
    watching.store(false, Ordering::Release);
    // Taken back before this library can be unmapped: res_prometheus keeps no pointer to
    // it. Its unregister waits for a scrape in progress (both take its scrape lock).
    prometheus_unregister();
}

/// The offering thread and its queue, from load to unload.
#[derive(Default)]
pub struct Offer {
    queue: Arc<Queue>,
    thread: Mutex<Option<Thread>>,
    /// Whether the glue follows res_prometheus's events (else a reload registers again).
    watching: Arc<AtomicBool>,
}

impl Offer {
    /// Starts following res_prometheus (at load).
    pub fn start(&self) {
        let queue = self.queue.clone();
        let watching = self.watching.clone();
        let Some(running) = thread::spawn(move || run(&queue, &watching)) else {
            log::warning!(
                "No thread to offer the metrics to res_prometheus: they are not offered."
            );
            return;
        };
        *lock(&self.thread) = Some(running);
        self.queue.push(Cue::Look);
    }

    /// Something the glue's subscription reported.
    pub fn event(&self, event: PrometheusEvent) {
        self.queue.push(Cue::Event(event));
    }

    /// At reload: registers again when the events cannot be followed.
    pub fn again(&self) {
        let cue = if self.watching.load(Ordering::Acquire) {
            Cue::Look
        } else {
            Cue::Again
        };
        self.queue.push(cue);
    }

    /// Stops following and takes the metrics back from res_prometheus (at unload, before
    /// the library can be unmapped); returns once no thread runs this module's code for it.
    pub fn stop(&self) {
        let running = lock(&self.thread).take();
        if let Some(running) = running {
            self.queue.push(Cue::Stop);
            running.join();
        }
    }
}
impl Drop for Offer {
    /// The thread runs this library's code: ended before it can be unmapped (a load that
    /// failed after starting it; unload has stopped it already).
    fn drop(&mut self) {
        self.stop();
    }
}
