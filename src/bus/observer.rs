//! The observer hook: every step the bus takes, as a typed value, for whoever records it.
//!
//! Production runs with no observer (tracing carries the same steps as log events). The
//! simulation plugs in a recorder that stamps each observation with simulated time and
//! appends it to the run's history, which the checkers then judge. The hook reports what the
//! bus did, at the moment it did it; checkers never read the bus's internals.

use std::fmt;
use std::time::Duration;

use super::attempt::AttemptOutcome;
use super::dead_letter::DeadLetterReason;
use crate::event::Event;
use crate::gate::Holder;

/// One step of the bus.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// An event was accepted by `publish`.
    Published {
        /// The event.
        event: &'a Event,
    },
    /// An event was queued for a subscriber.
    Enqueued {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
    },
    /// The gate gave a subscriber the event's key for `lease`.
    Claimed {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
        /// The lease taken.
        lease: Duration,
    },
    /// The gate found the key live and the event was suppressed as a duplicate.
    Suppressed {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
        /// The live record, as the store reported it.
        holder: Holder,
    },
    /// A handler attempt began.
    HandlerStarted {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// A handler attempt ended.
    HandlerEnded {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
        /// 1 for the first attempt.
        attempt: u32,
        /// How it ended.
        outcome: &'a AttemptOutcome,
    },
    /// The gate marked the key completed for `ttl`.
    Completed {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
        /// How long the record now suppresses duplicates.
        ttl: Duration,
    },
    /// The gate released the key after a failed attempt.
    Released {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
    },
    /// A failed attempt will be tried again after `after`.
    RetryScheduled {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
        /// The attempt that will run next.
        attempt: u32,
        /// The backoff.
        after: Duration,
    },
    /// The subscriber will not handle the event.
    DeadLettered {
        /// The event.
        event: &'a Event,
        /// The subscriber.
        subscriber: &'a str,
        /// Why.
        reason: DeadLetterReason,
    },
}

/// Receives every [`Observation`], synchronously, in the order the bus makes them.
///
/// It runs inside `publish` and inside workers, so it must be quick and must not block.
pub trait Observer: Send + Sync + 'static {
    /// Records one step.
    fn observe(&self, observation: Observation<'_>);
}

/// The observer that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&self, _observation: Observation<'_>) {}
}

impl fmt::Debug for dyn Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}
