//! Per-subscriber counters, updated without locks and read as a snapshot.

use serde::Serialize;

use super::padded::Padded;
use crate::sync::{AtomicU64, Ordering};

/// Live counters of one subscriber.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Bumped by publishers on every event, so kept off the line of the worker's counters.
    pub(crate) enqueued: Padded<AtomicU64>,
    pub(crate) handled: AtomicU64,
    pub(crate) suppressed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    /// Dead letters for a reason other than overflow or conflict. Each dead letter bumps one
    /// counter alone, so an overflow costs its publisher a single atomic; the snapshot's
    /// total is the sum of the three.
    pub(crate) dead_lettered_otherwise: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) conflicts: AtomicU64,
}

/// A reading of one subscriber's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// Events queued for the subscriber.
    pub enqueued: u64,
    /// Events whose handler succeeded.
    pub handled: u64,
    /// Duplicates the gate suppressed.
    pub suppressed: u64,
    /// Handler attempts that failed (error, panic or timeout).
    pub failed: u64,
    /// Attempts scheduled again after a failure.
    pub retried: u64,
    /// Events dead-lettered, for any reason.
    pub dead_lettered: u64,
    /// Of those, events refused by a full queue.
    pub overflowed: u64,
    /// Of those, events whose key was live with another payload.
    pub conflicts: u64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (overflowed, conflicts) = (read(&self.overflowed), read(&self.conflicts));
        CounterSnapshot {
            enqueued: read(&self.enqueued),
            handled: read(&self.handled),
            suppressed: read(&self.suppressed),
            failed: read(&self.failed),
            retried: read(&self.retried),
            dead_lettered: read(&self.dead_lettered_otherwise) + overflowed + conflicts,
            overflowed,
            conflicts,
        }
    }
}
