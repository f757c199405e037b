//! Session objects in their own table, outside the module state's lock: making and
//! destroying one locks one of [`SHARDS`] shards, and each thread makes its objects in its
//! own shard, so that two threads generating keys do not wait for each other (or for
//! readers of the state). Each shard is a sharded lock as the state is: threads using one
//! key object at once only read their own copy of the lock word.
//!
//! A handle is `SESSION_OBJECT_BASE + (n << 4 | shard)`, `n` counting within the shard.
//! Lock order: the state before a shard, a shard before the session table's.

use crate::module::{SESSION_OBJECT_BASE, SessionObject};
use crossbeam_utils::CachePadded;
use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};
use cryptoki_sys::CK_OBJECT_HANDLE;
use rustc_hash::FxHashMap as HashMap;
use std::sync::PoisonError;

/// Shards of the table (a power of two, at most the handle's low bits allow).
pub const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    objects: HashMap<CK_OBJECT_HANDLE, SessionObject>,
    /// Handles made in this shard so far.
    made: u64,
}

/// The process's session objects, by handle.
pub struct SessionObjects {
    shards: Box<[CachePadded<ShardedLock<Shard>>]>,
}

impl Default for SessionObjects {
    fn default() -> SessionObjects {
        SessionObjects { shards: (0..SHARDS).map(|_| CachePadded::new(ShardedLock::default())).collect() }
    }
}

impl SessionObjects {
    /// The shard a session-object handle names; `None` for a token-object handle.
    fn index(handle: CK_OBJECT_HANDLE) -> Option<usize> {
        (handle >= SESSION_OBJECT_BASE).then_some((handle as usize) % SHARDS)
    }

    // A panic while a shard was held leaves its map whole (no step of ours can leave it
    // half-changed), so a poisoned lock is used as it is.
    fn read(&self, i: usize) -> ShardedLockReadGuard<'_, Shard> {
        self.shards[i].read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, i: usize) -> ShardedLockWriteGuard<'_, Shard> {
        self.shards[i].write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `f` with the object, lent under its shard's shared lock (`f` must not take
    /// a shard's lock or the state's); `None` for no such handle.
    pub fn with<T>(&self, handle: CK_OBJECT_HANDLE, f: impl FnOnce(&SessionObject) -> T) -> Option<T> {
        self.read(Self::index(handle)?).objects.get(&handle).map(f)
    }

    /// Adds `obj` in the calling thread's shard once `admit` (called under the shard's
    /// lock) agrees, and returns its new handle.
    pub fn insert<E>(&self, obj: SessionObject, admit: impl FnOnce() -> Result<(), E>) -> Result<CK_OBJECT_HANDLE, E> {
        let i = crate::spread::thread_number() % SHARDS;
        let mut shard = self.write(i);
        admit()?;
        let handle = SESSION_OBJECT_BASE + (shard.made << SHARDS.trailing_zeros() | i as u64) as CK_OBJECT_HANDLE;
        shard.made += 1;
        shard.objects.insert(handle, obj);
        Ok(handle)
    }

    /// Removes and returns the object.
    pub fn remove(&self, handle: CK_OBJECT_HANDLE) -> Option<SessionObject> {
        self.write(Self::index(handle)?).objects.remove(&handle)
    }

    /// Calls `f` with the object for a change, under its shard's exclusive lock.
    pub fn update<T>(&self, handle: CK_OBJECT_HANDLE, f: impl FnOnce(&mut SessionObject) -> T) -> Option<T> {
        self.write(Self::index(handle)?).objects.get_mut(&handle).map(f)
    }

    /// Keeps only the objects `keep` says yes to.
    pub fn retain(&self, mut keep: impl FnMut(&SessionObject) -> bool) {
        for i in 0..SHARDS {
            self.write(i).objects.retain(|_, o| keep(o));
        }
    }

    /// The handles of the objects `pick` says yes to, in ascending order.
    pub fn handles(&self, mut pick: impl FnMut(&SessionObject) -> bool) -> Vec<CK_OBJECT_HANDLE> {
        let mut v = Vec::new();
        for i in 0..SHARDS {
            v.extend(self.read(i).objects.iter().filter(|(_, o)| pick(o)).map(|(h, _)| *h));
        }
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Object;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn obj(owner: CK_OBJECT_HANDLE) -> SessionObject {
        SessionObject { token: 1, owner, obj: Arc::new(Object::default()) }
    }

    #[test]
    fn handles_are_unique_across_threads_and_find_their_objects() {
        let t = Arc::new(SessionObjects::default());
        let per_thread: Vec<Vec<CK_OBJECT_HANDLE>> = (0..6)
            .map(|n| {
                let t = t.clone();
                std::thread::spawn(move || {
                    (0..200).map(|_| t.insert(obj(n), || Ok::<(), ()>(())).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|j| j.join().unwrap())
            .collect();
        let all: HashSet<_> = per_thread.iter().flatten().copied().collect();
        assert_eq!(all.len(), 6 * 200);
        assert!(all.iter().all(|h| *h >= SESSION_OBJECT_BASE));
        for (n, hs) in per_thread.iter().enumerate() {
            for h in hs {
                assert_eq!(t.with(*h, |o| o.owner), Some(n as CK_OBJECT_HANDLE));
            }
        }
        assert_eq!(t.handles(|_| true).len(), 1200);
        t.retain(|o| o.owner != 0);
        assert_eq!(t.handles(|_| true).len(), 1000);
        assert!(per_thread[0].iter().all(|h| t.with(*h, |_| ()).is_none()));
        let h = per_thread[1][0];
        assert_eq!(t.update(h, |o| o.owner = 99), Some(()));
        assert_eq!(t.remove(h).map(|o| o.owner), Some(99));
        assert!(t.remove(h).is_none() && t.with(h, |_| ()).is_none() && t.update(h, |_| ()).is_none());
        // Token-object handles are never found here.
        assert!(t.with(5, |_| ()).is_none() && t.remove(5).is_none());
    }

    #[test]
    fn a_refused_insert_adds_nothing() {
        let t = SessionObjects::default();
        assert_eq!(t.insert(obj(1), || Err("closed")), Err("closed"));
        assert!(t.handles(|_| true).is_empty());
        let h = t.insert(obj(1), || Ok::<(), ()>(())).unwrap();
        assert_eq!(t.handles(|_| true), [h]);
    }
}
