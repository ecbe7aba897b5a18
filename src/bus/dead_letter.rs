//! Dead letters: events a subscriber will not handle, each kept with its reason and attempts.
//!
//! The reasons form one closed list, so the accounting checker can tell every undelivered
//! (event, subscriber) pair apart. The bus keeps at most a named number of dead letters;
//! beyond it the oldest is evicted, counted and traced, so memory stays flat under a storm of
//! failures and nothing leaves without a record.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::attempt::AttemptRecord;
use crate::event::Event;
use crate::sync::{AtomicU64, Mutex, Ordering, lock};

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
    evicted: AtomicU64,
}

impl DeadLetters {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            max,
            evicted: AtomicU64::new(0),
        }
    }

    /// Keeps `letter`, evicting the oldest when the list is at its bound; returns the evicted
    /// letter, so it is dropped (or its event's allocation reused) outside the lock.
    pub(crate) fn push(&self, letter: DeadLetter) -> Option<DeadLetter> {
        let mut entries = lock(&self.entries);
        let evicted = if entries.len() >= self.max {
            entries.pop_front()
        } else {
            None
        };
        if self.max > 0 {
            entries.push_back(letter);
        }
        drop(entries);
        if let Some(oldest) = &evicted {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "eventgate::bus",
                event_id = %oldest.event.id(),
                subscriber = %oldest.subscriber,
                reason = %oldest.reason,
                kept_max = self.max,
                "dead letter evicted"
            );
        }
        evicted
    }

    pub(crate) fn snapshot(&self) -> Vec<DeadLetter> {
        lock(&self.entries).iter().cloned().collect()
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}
