//! Accounting: after the final heal and quiesce, every (event, subscriber) pair is exactly
//! one of handled, suppressed as a duplicate, dead-lettered with a reason from the closed
//! list, or lost to an app crash that the history shows.
//!
//! The pairs expected are computed from the published events and the subscriptions in
//! force, not from the enqueue records: a bus that dropped an event without any record
//! would otherwise leave no pair to miss. A run that never quiesced is left to the liveness
//! checker.

use std::collections::BTreeMap;

use crate::bus::DeadLetterReason;

use super::super::history::{History, Record};
use super::{Property, Violation, is_app_crash};

#[derive(Default)]
struct Pair {
    published_seq: u64,
    settled: u32,
    lost: bool,
}

/// The first accounting violation in `history`: bus pairs first, then webhook deliveries.
pub fn check(history: &History) -> Option<Violation> {
    check_bus(history).or_else(|| check_webhooks(history))
}

/// Every delivery the webhook service accepted ends delivered or dead-lettered, exactly
/// once, unless an app crash took it.
fn check_webhooks(history: &History) -> Option<Violation> {
    let quiesced = history
        .entries
        .iter()
        .find(|e| matches!(e.record, Record::Quiesced))?;
    let mut deliveries: BTreeMap<(&str, &str), Pair> = BTreeMap::new();
    for entry in &history.entries {
        if is_app_crash(entry) {
            deliveries
                .values_mut()
                .filter(|p| p.settled == 0)
                .for_each(|p| p.lost = true);
        }
        let (event, endpoint) = match &entry.record {
            Record::WebhookAccepted { event, endpoint } => {
                let pair = Pair {
                    published_seq: entry.seq,
                    ..Pair::default()
                };
                deliveries.insert((event, endpoint), pair);
                continue;
            }
            Record::WebhookDelivered { event, endpoint }
            | Record::WebhookDeadLettered {
                event, endpoint, ..
            } => (event, endpoint),
            _ => continue,
        };
        let Some(pair) = deliveries.get_mut(&(event.as_str(), endpoint.as_str())) else {
            let message = format!("{endpoint} settled {event}, which it never accepted");
            return Some(Violation::at(Property::Accounting, entry, message));
        };
        pair.settled += 1;
        if pair.settled > 1 {
            let message = format!("{endpoint} settled the delivery of {event} twice");
            return Some(Violation::at(Property::Accounting, entry, message));
        }
    }
    let ((event, endpoint), pair) = deliveries.iter().find(|(_, p)| p.settled == 0 && !p.lost)?;
    let message = format!(
        "{endpoint} never delivered nor dead-lettered {event} (accepted at #{})",
        pair.published_seq
    );
    Some(Violation::at(Property::Accounting, quiesced, message))
}

fn check_bus(history: &History) -> Option<Violation> {
    let quiesced = history
        .entries
        .iter()
        .find(|e| matches!(e.record, Record::Quiesced))?;
    let mut subscribers: Vec<(&str, &[String])> = Vec::new();
    let mut pairs: BTreeMap<(&str, &str), Pair> = BTreeMap::new();
    for entry in &history.entries {
        if is_app_crash(entry) {
            subscribers.clear();
            pairs
                .values_mut()
                .filter(|p| p.settled == 0)
                .for_each(|p| p.lost = true);
        }
        let (event, subscriber) = match &entry.record {
            Record::Subscribed {
                subscriber, topics, ..
            } => {
                subscribers.push((subscriber, topics));
                continue;
            }
            Record::Published { event, topic, .. } => {
                for (name, _) in subscribers
                    .iter()
                    .filter(|(_, topics)| topics.contains(topic))
                {
                    let pair = Pair {
                        published_seq: entry.seq,
                        ..Pair::default()
                    };
                    pairs.insert((event, name), pair);
                }
                continue;
            }
            Record::DeadLettered { reason, .. } if !known_reason(reason) => {
                let message = format!("dead letter reason {reason:?} is not in the closed list");
                return Some(Violation::at(Property::Accounting, entry, message));
            }
            Record::Suppressed {
                event, subscriber, ..
            }
            | Record::DeadLettered {
                event, subscriber, ..
            } => (event, subscriber),
            Record::HandlerEnded {
                event,
                subscriber,
                outcome,
                ..
            } if outcome == "succeeded" => (event, subscriber),
            _ => continue,
        };
        let Some(pair) = pairs.get_mut(&(event.as_str(), subscriber.as_str())) else {
            let message = format!("{subscriber} settled {event}, which it was never sent");
            return Some(Violation::at(Property::Accounting, entry, message));
        };
        pair.settled += 1;
        if pair.settled > 1 {
            let message = format!("{subscriber} settled {event} twice");
            return Some(Violation::at(Property::Accounting, entry, message));
        }
    }
    let unsettled = pairs.iter().find(|(_, p)| p.settled == 0 && !p.lost);
    let ((event, subscriber), pair) = unsettled?;
    let message = format!(
        "{subscriber} never settled {event} (published at #{}); no crash explains it",
        pair.published_seq
    );
    Some(Violation::at(Property::Accounting, quiesced, message))
}

fn known_reason(reason: &str) -> bool {
    DeadLetterReason::ALL.iter().any(|r| r.as_str() == reason)
}

#[cfg(test)]
mod tests {
    use super::super::build::{ended, history, subscribed};
    use super::*;
    use crate::bus::DeliveryMode;

    fn published() -> Record {
        let (event, topic, key) = ("e1".into(), "job_completed".into(), "k".into());
        Record::Published { event, topic, key }
    }

    #[test]
    fn a_published_event_nobody_settled_is_unaccounted_unless_a_crash_took_it() {
        let sub = subscribed("s", DeliveryMode::AtMostOnce);
        let lost = history(vec![
            (0, sub.clone()),
            (1, published()),
            (2, Record::Quiesced),
        ]);
        assert!(check(&lost).is_some());
        let crash = Record::Crash { host: "app".into() };
        let crashed = history(vec![
            (0, sub.clone()),
            (1, published()),
            (2, crash),
            (3, Record::Quiesced),
        ]);
        assert_eq!(check(&crashed), None);
        let handled = history(vec![
            (0, sub),
            (1, published()),
            (2, ended("e1", "k", "succeeded")),
            (3, Record::Quiesced),
        ]);
        assert_eq!(check(&handled), None);
    }
}
