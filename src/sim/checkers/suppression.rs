//! Suppression is justified: every suppressed duplicate (and every conflict) points at a
//! record of its (subscriber, key) that was live at that moment: claimed and within its
//! lease, or completed and within its TTL, on the simulation's clock.
//!
//! The live record is rebuilt from the claimed, completed and released records; an app crash
//! empties it, since the in-memory gate dies with the process. A gate that measured its TTL
//! on another clock would suppress duplicates after the TTL has passed, which this catches.

use std::collections::BTreeMap;

use super::super::history::{History, Record};
use super::{Property, Violation, is_app_crash, us};

/// The first unjustified suppression in `history`.
pub fn check(history: &History) -> Option<Violation> {
    let mut live_until: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for entry in &history.entries {
        if is_app_crash(entry) {
            live_until.clear();
        }
        let (subscriber, key, what) = match &entry.record {
            Record::Claimed {
                subscriber,
                key,
                lease_ms,
                ..
            } => {
                live_until.insert(
                    (subscriber.as_str(), key.as_str()),
                    entry.at_us + us(*lease_ms),
                );
                continue;
            }
            Record::Completed {
                subscriber,
                key,
                ttl_ms,
                ..
            } => {
                live_until.insert(
                    (subscriber.as_str(), key.as_str()),
                    entry.at_us + us(*ttl_ms),
                );
                continue;
            }
            Record::Released {
                subscriber, key, ..
            } => {
                live_until.remove(&(subscriber.as_str(), key.as_str()));
                continue;
            }
            Record::Suppressed {
                subscriber, key, ..
            } => (subscriber, key, "suppressed"),
            Record::DeadLettered {
                subscriber,
                key,
                reason,
                ..
            } if reason == "conflict" => (subscriber, key, "refused as a conflict"),
            _ => continue,
        };
        let until = live_until
            .get(&(subscriber.as_str(), key.as_str()))
            .copied();
        if until.is_none_or(|until| entry.at_us >= until) {
            let message = match until {
                Some(until) => format!(
                    "{subscriber} {what} {key} at {} us but its record ended at {until} us",
                    entry.at_us
                ),
                None => format!("{subscriber} {what} {key} with no live record"),
            };
            return Some(Violation::at(
                Property::SuppressionJustified,
                entry,
                message,
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::build::history;
    use super::*;

    fn completed(ttl_ms: u64) -> Record {
        Record::Completed {
            event: "e1".into(),
            subscriber: "s".into(),
            key: "k".into(),
            ttl_ms,
        }
    }

    fn suppressed() -> Record {
        let holder = crate::gate::HolderState::Completed;
        Record::Suppressed {
            event: "e2".into(),
            subscriber: "s".into(),
            key: "k".into(),
            holder,
        }
    }

    #[test]
    fn suppression_within_the_ttl_is_justified_and_after_it_is_not() {
        assert_eq!(
            check(&history(vec![(0, completed(100)), (99, suppressed())])),
            None
        );
        let late = check(&history(vec![(0, completed(100)), (100, suppressed())]));
        assert_eq!(late.map(|v| v.seq), Some(1));
    }

    #[test]
    fn suppression_after_a_crash_or_a_release_has_no_live_record() {
        let crash = Record::Crash { host: "app".into() };
        let after_crash = history(vec![(0, completed(100)), (1, crash), (2, suppressed())]);
        assert!(check(&after_crash).is_some());
        let released = Record::Released {
            event: "e1".into(),
            subscriber: "s".into(),
            key: "k".into(),
        };
        assert!(
            check(&history(vec![
                (0, completed(100)),
                (1, released),
                (2, suppressed())
            ]))
            .is_some()
        );
    }
}
