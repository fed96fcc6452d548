//! Threads of the module's own, made by the glue (`ast_pthread_create`), for work nobody
//! should wait for. Not `std::thread`: spawning from Rust's std sets up the spawning
//! thread's thread-local handle, whose destructor, registered from this library on an
//! Asterisk thread that outlives the module, keeps the library mapped after unload.

use std::ffi::c_void;

use super::sys;

/// What a thread runs.
pub type Task = Box<dyn FnOnce() + Send>;

/// A running thread; join it before the module can be unloaded.
pub struct Thread(sys::pthread_t);

/// Runs `task` on a new thread; None when no thread can be made (`task` is then dropped
/// here).
pub fn spawn(task: impl FnOnce() + Send + 'static) -> Option<Thread> {
    let boxed: Box<Task> = Box::new(Box::new(task));
    let raw = Box::into_raw(boxed).cast::<c_void>();
    let mut id: sys::pthread_t = 0;
    // SAFETY: raw is a live Box<Task> whose ownership passes to the new thread (see
    // `take_task`); id is a valid out-pointer.
    if unsafe { sys::pp_thread_spawn(raw, &mut id) } == 0 {
        return Some(Thread(id));
    }
    // SAFETY: no thread was made, so raw is still ours: it came from Box::into_raw above.
    drop(unsafe { Box::from_raw(raw.cast::<Task>()) });
    None
}

impl Thread {
    /// Waits until the thread has ended.
    pub fn join(self) {
        // SAFETY: the id of a thread the glue made, joined exactly once (self is consumed);
        // its result is not asked for.
        unsafe { sys::pthread_join(self.0, std::ptr::null_mut()) };
    }
}

/// The task [`spawn`] handed to a new thread, for that thread to run.
///
/// # Safety
/// `raw` must be the pointer `spawn` gave `pp_thread_spawn`, used exactly once.
pub unsafe fn take_task(raw: *mut c_void) -> Task {
    // SAFETY: per this function's contract, raw is a Box<Task> nobody else owns.
    *unsafe { Box::from_raw(raw.cast::<Task>()) }
}
