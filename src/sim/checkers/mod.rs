//! The checkers: one file per guarantee, each a pure function of the history.
//!
//! A checker reads records, never the bus's internals, so it cannot be fooled by the code it
//! checks. Each returns the first violation it finds, pointing at the record where the
//! guarantee broke. The design rejected here is asserting inside the system under test: an
//! assertion placed next to the bug shares its blind spots, and a bug that skips a step
//! (drops an event without a record) never reaches the assertion at all.
//!
//! Every checker is shown to fail by a mutant (see [`crate::mutants`] and the `sim` tests):
//!
//! | checker | caught mutant |
//! | --- | --- |
//! | at-most-once | `release-on-success` |
//! | suppression-justified | `ttl-on-wall-clock` |
//! | publish-after-store | `publish-before-store` |
//! | receiver-at-most-once | `new-webhook-id-per-retry` |
//! | publisher-isolation | `publish-awaits-subscribers` |
//! | accounting | `overflow-without-record` |
//! | liveness-after-heal | hand-built histories in its unit tests |
//! | determinism | hand-built histories in the runner's tests |

pub mod accounting;
pub mod at_most_once;
pub mod isolation;
pub mod liveness;
pub mod publish_after_store;
pub mod receiver_once;
pub mod suppression;

use std::fmt;

use serde::Serialize;

use super::history::{Entry, History, Record};

/// A guarantee the checkers decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    /// At most one handler run per (subscriber, key) while the key's record is live.
    AtMostOnce,
    /// Every suppressed duplicate points at a live record.
    SuppressionJustified,
    /// A job's event follows its stored transition.
    PublishAfterStore,
    /// A receiver applies each event at most once.
    ReceiverAtMostOnce,
    /// `publish` never yields, is never left open, never fails because of a subscriber.
    PublisherIsolation,
    /// Every (event, subscriber) pair is settled exactly once or lost to a recorded crash.
    Accounting,
    /// Once faults stop, everything settles within the stated bound.
    LivenessAfterHeal,
    /// The same seed gives the same history.
    Determinism,
}

impl Property {
    /// The property's name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Self::AtMostOnce => "at-most-once",
            Self::SuppressionJustified => "suppression-justified",
            Self::PublishAfterStore => "publish-after-store",
            Self::ReceiverAtMostOnce => "receiver-at-most-once",
            Self::PublisherIsolation => "publisher-isolation",
            Self::Accounting => "accounting",
            Self::LivenessAfterHeal => "liveness-after-heal",
            Self::Determinism => "determinism",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A guarantee that did not hold, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which guarantee.
    pub property: Property,
    /// The record where it broke.
    pub seq: u64,
    /// What went wrong, in a sentence.
    pub message: String,
}

impl Violation {
    /// A violation of `property` at `entry`.
    pub fn at(property: Property, entry: &Entry, message: impl Into<String>) -> Self {
        Self {
            property,
            seq: entry.seq,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} broke at #{}: {}",
            self.property, self.seq, self.message
        )
    }
}

/// Runs every checker over `history`; the violations in property order.
pub fn check(history: &History) -> Vec<Violation> {
    let checkers: [fn(&History) -> Option<Violation>; 7] = [
        at_most_once::check,
        suppression::check,
        publish_after_store::check,
        receiver_once::check,
        isolation::check,
        accounting::check,
        liveness::check,
    ];
    checkers.iter().filter_map(|check| check(history)).collect()
}

/// True when `entry` is a crash of the app host: the bus's state is gone after it.
pub(crate) fn is_app_crash(entry: &Entry) -> bool {
    matches!(&entry.record, Record::Crash { host } if host == super::config::APP_HOST)
}

/// Microseconds from milliseconds.
pub(crate) fn us(ms: u64) -> u64 {
    ms.saturating_mul(1_000)
}

#[cfg(test)]
pub(crate) mod build {
    //! Hand-built histories for the checkers' unit tests.

    use super::super::history::{Entry, History, Record};
    use crate::bus::DeliveryMode;

    /// A history from (time in ms, record) pairs.
    pub fn history(records: Vec<(u64, Record)>) -> History {
        let entries = records
            .into_iter()
            .enumerate()
            .map(|(seq, (ms, record))| Entry {
                seq: seq as u64,
                at_us: ms * 1_000,
                record,
            })
            .collect();
        History { entries }
    }

    pub fn subscribed(name: &str, mode: DeliveryMode) -> Record {
        Record::Subscribed {
            subscriber: name.into(),
            topics: vec!["job_completed".into()],
            mode,
            lease_ms: 100,
            ttl_ms: 1_000,
        }
    }

    pub fn started(event: &str, key: &str) -> Record {
        Record::HandlerStarted {
            event: event.into(),
            subscriber: "s".into(),
            key: key.into(),
            attempt: 1,
        }
    }

    pub fn ended(event: &str, key: &str, outcome: &str) -> Record {
        let (event, key, outcome) = (event.into(), key.into(), outcome.into());
        Record::HandlerEnded {
            event,
            subscriber: "s".into(),
            key,
            attempt: 1,
            outcome,
        }
    }
}
