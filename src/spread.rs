//! Spreading shared state over threads: a small number per thread, and per-thread copies of
//! values that are made once and then only read. Calls on different threads that would
//! update one reference count or one counter update different ones instead, so the cache
//! line holding it does not move between cores on every call.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// This thread's number: threads get 0, 1, 2 ... in the order they first ask.
pub fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|n| *n)
}

/// How many copies a [`PerThread`] keeps at most.
const COPIES: usize = 8;

/// Up to `COPIES` copies of a value, each made on first use by a thread whose number picks
/// it; a caller gets a counted reference to its thread's copy.
pub struct PerThread<T> {
    copies: [OnceLock<Arc<CachePadded<T>>>; COPIES],
}

impl<T> Default for PerThread<T> {
    fn default() -> PerThread<T> {
        PerThread { copies: std::array::from_fn(|_| OnceLock::new()) }
    }
}

impl<T> PerThread<T> {
    /// This thread's copy, made by `make` if it is not there yet; `None` when `make` fails.
    pub fn get(&self, make: impl FnOnce() -> Option<T>) -> Option<Arc<CachePadded<T>>> {
        let cell = &self.copies[thread_number() % COPIES];
        if let Some(v) = cell.get() {
            return Some(v.clone());
        }
        // A racing thread may store its own first: either is good, the stored one is used.
        // Each copy, with the reference count every use updates, has cache lines of its own:
        // copies allocated one after another must not share a line between threads.
        let _ = cell.set(Arc::new(CachePadded::new(make()?)));
        cell.get().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_get_their_own_copies() {
        let p = PerThread::<usize>::default();
        let made = AtomicUsize::new(0);
        let make = || Some(made.fetch_add(1, Ordering::Relaxed));
        let a = p.get(make).unwrap();
        assert!(Arc::ptr_eq(&a, &p.get(|| None).unwrap()), "a thread keeps its copy");
        let (n, b) = std::thread::scope(|s| s.spawn(|| (thread_number(), p.get(make).unwrap())).join().unwrap());
        assert_ne!(n, thread_number());
        let same_copy = n % COPIES == thread_number() % COPIES;
        assert_eq!(Arc::ptr_eq(&a, &b), same_copy);
        assert_eq!(made.load(Ordering::Relaxed), if same_copy { 1 } else { 2 });
        assert!(PerThread::<usize>::default().get(|| None).is_none());
    }
}
