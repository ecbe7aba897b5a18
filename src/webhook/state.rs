//! What the service remembers about each delivery, for queries and dead letters.
//!
//! A delivery is one event on its way to one endpoint. Its record lists every attempt (when
//! it started and ended, the `webhook-id` sent, the status or the error), its outcome and
//! when the next attempt is due. Records live in a `BTreeMap` keyed by (event id, endpoint),
//! so a listing comes out in the same order on every run; finished records are evicted
//! oldest first beyond a named bound, so memory stays flat however long the service runs.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::endpoint::EndpointId;
use crate::bus::DeadLetterReason;
use crate::event::EventId;

/// One attempt to POST an event to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookAttempt {
    /// 1 for the first attempt (of this round; a redrive starts again at 1).
    pub attempt: u32,
    /// The `webhook-id` header sent.
    pub webhook_id: String,
    /// When the request started, in unix milliseconds on the service's clock.
    pub started_at_unix_ms: u64,
    /// When it ended, in unix milliseconds on the service's clock.
    pub ended_at_unix_ms: u64,
    /// The HTTP status, when a response head arrived.
    pub status: Option<u16>,
    /// `ok`, `status`, `redirect`, `gone`, or the transport's error kind (`timeout`,
    /// `connect`, `tls`, `protocol`, `invalid_url`).
    pub kind: String,
    /// One line saying why the attempt failed, or `delivered`.
    pub reason: String,
    /// The response body as text, up to the sender's body limit.
    pub response_body: String,
    /// Whether the body went on past the limit.
    pub response_truncated: bool,
}

impl WebhookAttempt {
    /// True for a 2xx answer.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome", content = "reason")]
pub enum DeliveryOutcome {
    /// Attempts remain (or one is on the wire).
    Pending,
    /// An attempt got a 2xx.
    Delivered,
    /// Given up, for this reason.
    DeadLettered(DeadLetterReason),
}

/// One delivery as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryInfo {
    /// The event.
    pub event_id: EventId,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Every attempt of the current round, oldest first.
    pub attempts: Vec<WebhookAttempt>,
    /// Where it stands.
    pub outcome: DeliveryOutcome,
    /// When the next attempt is due, in unix milliseconds, while one is scheduled.
    pub next_attempt_at_unix_ms: Option<u64>,
    /// How many times an operator re-drove it.
    pub redrives: u32,
}

/// The key of a delivery record.
pub(crate) type DeliveryKey = (EventId, EndpointId);

/// Every delivery record, bounded.
#[derive(Debug)]
pub(crate) struct Deliveries {
    records: BTreeMap<DeliveryKey, DeliveryInfo>,
    finished: VecDeque<DeliveryKey>,
    kept_max: usize,
}

impl Deliveries {
    pub(crate) fn new(kept_max: usize) -> Self {
        Deliveries {
            records: BTreeMap::new(),
            finished: VecDeque::new(),
            kept_max,
        }
    }

    /// Starts a record (or a new round of an existing one, for a redrive).
    pub(crate) fn start(&mut self, key: DeliveryKey) {
        let (event_id, endpoint) = key.clone();
        let record = self.records.entry(key.clone()).or_insert(DeliveryInfo {
            event_id,
            endpoint,
            attempts: Vec::new(),
            outcome: DeliveryOutcome::Pending,
            next_attempt_at_unix_ms: None,
            redrives: 0,
        });
        if record.outcome != DeliveryOutcome::Pending {
            record.redrives = record.redrives.saturating_add(1);
            record.attempts.clear();
            record.outcome = DeliveryOutcome::Pending;
            self.finished.retain(|k| *k != key);
        }
    }

    pub(crate) fn get(&self, key: &DeliveryKey) -> Option<&DeliveryInfo> {
        self.records.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &DeliveryKey) -> Option<&mut DeliveryInfo> {
        self.records.get_mut(key)
    }

    /// Marks a record finished and evicts the oldest finished ones beyond the bound.
    pub(crate) fn finish(&mut self, key: &DeliveryKey, outcome: DeliveryOutcome) {
        if let Some(record) = self.records.get_mut(key) {
            record.outcome = outcome;
            record.next_attempt_at_unix_ms = None;
            self.finished.push_back(key.clone());
        }
        while self.finished.len() > self.kept_max {
            if let Some(oldest) = self.finished.pop_front() {
                self.records.remove(&oldest);
            }
        }
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &DeliveryInfo> {
        self.records.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> DeliveryKey {
        (
            EventId::from_string(format!("evt_{n}")),
            EndpointId("ep_1".to_owned()),
        )
    }

    #[test]
    fn finished_records_beyond_the_bound_are_evicted_oldest_first() {
        let mut deliveries = Deliveries::new(2);
        for n in 0..4 {
            deliveries.start(key(n));
        }
        for n in 0..3 {
            deliveries.finish(&key(n), DeliveryOutcome::Delivered);
        }
        assert!(deliveries.get(&key(0)).is_none());
        assert!(deliveries.get(&key(1)).is_some());
        // A pending record is never evicted.
        assert_eq!(
            deliveries.get(&key(3)).map(|d| d.outcome),
            Some(DeliveryOutcome::Pending)
        );
    }

    #[test]
    fn restarting_a_finished_record_counts_a_redrive_and_clears_attempts() {
        let mut deliveries = Deliveries::new(10);
        deliveries.start(key(1));
        let dead = DeliveryOutcome::DeadLettered(DeadLetterReason::AttemptsExhausted);
        deliveries.finish(&key(1), dead);
        deliveries.start(key(1));
        let record = deliveries.get(&key(1)).expect("kept");
        assert_eq!(
            (record.outcome, record.redrives),
            (DeliveryOutcome::Pending, 1)
        );
    }
}
