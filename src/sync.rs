//! The synchronisation primitives of the bus core: std's in a normal build, loom's under
//! `--cfg eventgate_loom`.
//!
//! The subscriber registry, the enqueue-or-overflow step with its counters and the memory
//! store take their locks and atomics from here, so that the loom models in `tests/loom/` can
//! explore their interleavings. The flag is the crate's own and not `--cfg loom`: tokio and
//! hyper read `loom` themselves and stop building their network parts under it.
//!
//! `Arc` stays std's in both builds: the models check the locks and atomics, not reference
//! counting, and a std `Arc` keeps types usable from tokio tasks in every build.
//!
//! Locks here are taken through [`lock`], [`read`] and [`write`], which ignore poisoning.

#[cfg(eventgate_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(eventgate_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, RwLock};

#[cfg(not(eventgate_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(eventgate_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock};

/// Locks `mutex`, ignoring poison.
///
/// No handler ever runs under one of these locks, so a poisoned lock can only come from a
/// panic inside the core's own short critical sections; the data they guard stays consistent
/// because each section updates it in a single step.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Takes a read lock on `lock`, ignoring poison (see [`lock`]).
pub(crate) fn read<T>(lock: &RwLock<T>) -> impl std::ops::Deref<Target = T> + '_ {
    match lock.read() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Takes a write lock on `lock`, ignoring poison (see [`lock`]).
pub(crate) fn write<T>(lock: &RwLock<T>) -> impl std::ops::DerefMut<Target = T> + '_ {
    match lock.write() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
