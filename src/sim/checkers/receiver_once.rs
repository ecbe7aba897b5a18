//! Receiver at most once: a receiver that deduplicates on `webhook-id` applies each event at
//! most once, keyed by (receiver, true event id), not by the `webhook-id` it was sent.
//!
//! Keying on the id the receiver was sent would make the check agree with any sender: a
//! sender that minted a new `webhook-id` for a retry would pass it while the receiver applied
//! the event twice. The true event id is read from the body by the receiver.

use std::collections::BTreeMap;

use super::super::history::{History, Record};
use super::{Property, Violation};

/// The first event a receiver applied twice.
pub fn check(history: &History) -> Option<Violation> {
    let mut applied: BTreeMap<(&str, &str), (u64, &str)> = BTreeMap::new();
    for entry in &history.entries {
        let Record::Received {
            receiver,
            event,
            webhook_id,
        } = &entry.record
        else {
            continue;
        };
        if let Some((first, first_id)) = applied.insert(
            (receiver.as_str(), event.as_str()),
            (entry.seq, webhook_id.as_str()),
        ) {
            let message = format!(
                "{receiver} applied {event} twice: as {first_id} at #{first} and as {webhook_id}"
            );
            return Some(Violation::at(Property::ReceiverAtMostOnce, entry, message));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::build::history;
    use super::*;

    fn received(webhook_id: &str) -> Record {
        Record::Received {
            receiver: "r".into(),
            event: "e".into(),
            webhook_id: webhook_id.into(),
        }
    }

    #[test]
    fn one_event_applied_under_two_webhook_ids_is_a_violation() {
        assert_eq!(check(&history(vec![(0, received("a"))])), None);
        let twice = check(&history(vec![(0, received("a")), (1, received("b"))]));
        assert_eq!(twice.map(|v| v.seq), Some(1));
    }
}
