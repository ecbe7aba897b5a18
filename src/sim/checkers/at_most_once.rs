//! At most once: for each (subscriber, event key), at most one handler run begins while the
//! key's record is live; in at-least-once mode, at most one run succeeds within the TTL and
//! no two runs overlap.
//!
//! The checker judges by what each mode promises, not by the gate's own records: in
//! at-most-once mode a run leaves the key live for the TTL from the moment it ended,
//! whatever the outcome, so a run that begins before then is a violation even if the
//! history shows the gate releasing the key (that release is the bug). An app crash ends
//! every record: the in-memory gate does not survive it, and the design does not promise it.

use std::collections::BTreeMap;

use crate::bus::DeliveryMode;

use super::super::history::{History, Record};
use super::{Property, Violation, is_app_crash, us};

#[derive(Default)]
struct Key {
    running_since_us: Option<u64>,
    live_until_us: u64,
}

/// The first violation of at-most-once in `history`.
pub fn check(history: &History) -> Option<Violation> {
    let mut modes: BTreeMap<&str, (DeliveryMode, u64)> = BTreeMap::new();
    let mut keys: BTreeMap<(&str, &str), Key> = BTreeMap::new();
    for entry in &history.entries {
        if is_app_crash(entry) {
            keys.clear();
        }
        match &entry.record {
            Record::Subscribed {
                subscriber,
                mode,
                ttl_ms,
                ..
            } => {
                modes.insert(subscriber.as_str(), (*mode, us(*ttl_ms)));
            }
            Record::HandlerStarted {
                subscriber, key, ..
            } => {
                let Some(&(mode, _)) = modes.get(subscriber.as_str()) else {
                    continue;
                };
                if !mode.is_gated() {
                    continue;
                }
                let state = keys.entry((subscriber.as_str(), key.as_str())).or_default();
                if let Some(since) = state.running_since_us {
                    let message = format!(
                        "{subscriber} began {key} while a run begun at {since} us still ran"
                    );
                    return Some(Violation::at(Property::AtMostOnce, entry, message));
                }
                if entry.at_us < state.live_until_us {
                    let message = format!(
                        "{subscriber} ran {key} again while its record was live until {} us",
                        state.live_until_us
                    );
                    return Some(Violation::at(Property::AtMostOnce, entry, message));
                }
                state.running_since_us = Some(entry.at_us);
            }
            Record::HandlerEnded {
                subscriber,
                key,
                outcome,
                ..
            } => {
                let Some(&(mode, ttl_us)) = modes.get(subscriber.as_str()) else {
                    continue;
                };
                let Some(state) = keys.get_mut(&(subscriber.as_str(), key.as_str())) else {
                    continue;
                };
                state.running_since_us = None;
                let keeps_key = match mode {
                    DeliveryMode::AtMostOnce => outcome != "cancelled",
                    DeliveryMode::AtLeastOnce => outcome == "succeeded",
                    DeliveryMode::Ungated => false,
                };
                if keeps_key {
                    state.live_until_us = entry.at_us + ttl_us;
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::build::{ended, history, started, subscribed};
    use super::*;

    #[test]
    fn a_second_run_within_the_ttl_of_an_at_most_once_key_is_a_violation() {
        let h = history(vec![
            (0, subscribed("s", DeliveryMode::AtMostOnce)),
            (1, started("e1", "k")),
            (2, ended("e1", "k", "succeeded")),
            (500, started("e2", "k")),
        ]);
        assert_eq!(check(&h).map(|v| v.seq), Some(3));
    }

    #[test]
    fn a_run_after_the_ttl_or_after_a_crash_is_fine() {
        let h = history(vec![
            (0, subscribed("s", DeliveryMode::AtMostOnce)),
            (1, started("e1", "k")),
            (2, ended("e1", "k", "failed")),
            (1_002, started("e2", "k")),
            (1_003, ended("e2", "k", "succeeded")),
            (1_004, Record::Crash { host: "app".into() }),
            (1_005, subscribed("s", DeliveryMode::AtMostOnce)),
            (1_006, started("e3", "k")),
        ]);
        assert_eq!(check(&h), None);
    }

    #[test]
    fn at_least_once_may_retry_after_failure_but_not_overlap_or_rerun_after_success() {
        let retry_fine = history(vec![
            (0, subscribed("s", DeliveryMode::AtLeastOnce)),
            (1, started("e1", "k")),
            (2, ended("e1", "k", "failed")),
            (3, started("e1", "k")),
            (4, ended("e1", "k", "succeeded")),
        ]);
        assert_eq!(check(&retry_fine), None);
        let overlap = history(vec![
            (0, subscribed("s", DeliveryMode::AtLeastOnce)),
            (1, started("e1", "k")),
            (2, started("e2", "k")),
        ]);
        assert_eq!(check(&overlap).map(|v| v.seq), Some(2));
    }
}
