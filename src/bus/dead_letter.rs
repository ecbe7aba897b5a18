//! Dead letters: events a subscriber will not handle, each kept with its reason and attempts.
//!
//! The reasons form one closed list, so the accounting checker can tell every undelivered
//! (event, subscriber) pair apart.
//!
//! The bus keeps at most a named number of dead letters, and behaves like its queues when the
//! list is full: it keeps what it holds and refuses the newcomer, which is still counted (on
//! its subscriber, and in the list's dropped count) and logged, so memory stays flat under a
//! storm of failures and nothing leaves without a record. Taking the letters
//! ([`DeadLetters::take`]) makes room again.
//!
//! The design rejected here evicts the oldest letter to keep the newest: a letter already
//! kept would then be lost, and during a storm every refused publish would evict and free a
//! cold letter on the publishing thread, several cache misses that a hung subscriber would
//! add to every publish. A full list is marked by a flag read without the lock, so recording
//! a dead letter the list cannot keep costs a publish no lock and no allocation.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::attempt::AttemptRecord;
use crate::event::Event;
use crate::sync::{AtomicBool, AtomicU64, Mutex, Ordering, lock};

/// Why an event was not handled by a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadLetterReason {
    /// The subscriber's queue was full when the event was published.
    Overflow,
    /// The key was live in the gate with another payload.
    Conflict,
    /// Every allowed attempt failed.
    AttemptsExhausted,
    /// The gate store was full of live keys.
    StoreFull,
    /// The gate store could not be reached.
    StoreUnavailable,
    /// The subscriber was removed while the event waited.
    Unsubscribed,
    /// The bus shut down before the event was handled.
    Shutdown,
    /// The webhook endpoint was disabled.
    EndpointDisabled,
}

impl DeadLetterReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DeadLetterReason; 8] = [
        Self::Overflow,
        Self::Conflict,
        Self::AttemptsExhausted,
        Self::StoreFull,
        Self::StoreUnavailable,
        Self::Unsubscribed,
        Self::Shutdown,
        Self::EndpointDisabled,
    ];

    /// The reason's name as it appears in logs and histories.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overflow => "overflow",
            Self::Conflict => "conflict",
            Self::AttemptsExhausted => "attempts-exhausted",
            Self::StoreFull => "store-full",
            Self::StoreUnavailable => "store-unavailable",
            Self::Unsubscribed => "unsubscribed",
            Self::Shutdown => "shutdown",
            Self::EndpointDisabled => "endpoint-disabled",
        }
    }
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event one subscriber did not handle.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// The subscriber.
    pub subscriber: Arc<str>,
    /// The event.
    pub event: Event,
    /// Why.
    pub reason: DeadLetterReason,
    /// Every attempt made, oldest first (empty when none ran).
    pub attempts: Vec<AttemptRecord>,
    /// When it was dead-lettered, in unix milliseconds on the bus's clock.
    pub at_unix_ms: u64,
}

/// The bus's bounded list of dead letters.
#[derive(Debug)]
pub(crate) struct DeadLetters {
    entries: Mutex<VecDeque<DeadLetter>>,
    max: usize,
    /// The list holds `max` letters. Written under the lock, read without it by
    /// [`DeadLetters::is_full`].
    full: AtomicBool,
    dropped: AtomicU64,
}

impl DeadLetters {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            max,
            full: AtomicBool::new(max == 0),
            dropped: AtomicU64::new(0),
        }
    }

    /// True when the list was full at the last push or take; a caller that finds it full
    /// counts its letter dropped ([`DeadLetters::count_dropped`]) without making it.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Counts one letter the full list did not keep.
    pub(crate) fn count_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps `letter` when the list has room; otherwise counts it dropped and hands it back,
    /// so its event is released outside the lock.
    pub(crate) fn push(&self, letter: DeadLetter) -> Result<(), DeadLetter> {
        let mut entries = lock(&self.entries);
        if entries.len() >= self.max {
            self.full.store(true, Ordering::Relaxed);
            drop(entries);
            self.count_dropped();
            return Err(letter);
        }
        entries.push_back(letter);
        self.full
            .store(entries.len() >= self.max, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn snapshot(&self) -> Vec<DeadLetter> {
        lock(&self.entries).iter().cloned().collect()
    }

    /// Removes and returns every kept letter, oldest first, making room for new ones.
    pub(crate) fn take(&self) -> Vec<DeadLetter> {
        let mut entries = lock(&self.entries);
        self.full.store(self.max == 0, Ordering::Relaxed);
        let taken = std::mem::take(&mut *entries);
        drop(entries);
        taken.into()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
