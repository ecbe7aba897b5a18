//! Publisher isolation: every publish call returns without yielding, so in a simulated host
//! no other task runs between its "began" and "returned" records; no call is left open at
//! the end of a run (unless an app crash ended it); and no call fails because of a
//! subscriber.
//!
//! Between the two records only the call's own steps may appear: the job transition it
//! stores, the event it publishes, and that event's enqueues or overflow dead letters. Any
//! other record (a handler starting, a claim, a receiver) came from another task, which
//! could only run because the call yielded.

use super::super::history::{History, Record};
use super::{Property, Violation, is_app_crash};

/// The first isolation violation in `history`.
pub fn check(history: &History) -> Option<Violation> {
    let mut open: Option<(u64, u64)> = None;
    for entry in &history.entries {
        if is_app_crash(entry) {
            open = None;
        }
        match (&entry.record, open) {
            (Record::PublishCallBegan { call, .. }, None) => open = Some((*call, entry.seq)),
            (Record::PublishCallBegan { call, .. }, Some((other, _))) => {
                let message = format!("call {call} began while call {other} was still open");
                return Some(Violation::at(Property::PublisherIsolation, entry, message));
            }
            (Record::PublishCallReturned { call, error }, _) => {
                if let Some(error) = error {
                    let message = format!("call {call} failed: {error}");
                    return Some(Violation::at(Property::PublisherIsolation, entry, message));
                }
                open = None;
            }
            (record, Some((call, _))) if !own_step(record) => {
                let message = format!("another task ran inside publish call {call}");
                return Some(Violation::at(Property::PublisherIsolation, entry, message));
            }
            _ => {}
        }
    }
    let (call, seq) = open?;
    let message = format!("publish call {call} (#{seq}) never returned");
    let last = history.entries.last()?;
    Some(Violation::at(Property::PublisherIsolation, last, message))
}

/// True for the records a publish call makes itself.
fn own_step(record: &Record) -> bool {
    match record {
        Record::JobStored { .. } | Record::Published { .. } | Record::Enqueued { .. } => true,
        Record::DeadLettered { reason, .. } => {
            matches!(reason.as_str(), "overflow" | "shutdown" | "unsubscribed")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::{history, started};
    use super::*;

    fn began() -> Record {
        Record::PublishCallBegan {
            call: 1,
            op: "complete_job".into(),
            job: 1,
        }
    }

    fn returned(error: Option<&str>) -> Record {
        Record::PublishCallReturned {
            call: 1,
            error: error.map(Into::into),
        }
    }

    #[test]
    fn a_handler_running_inside_a_publish_call_is_a_violation() {
        let h = history(vec![
            (0, began()),
            (0, started("e", "k")),
            (0, returned(None)),
        ]);
        assert_eq!(check(&h).map(|v| v.seq), Some(1));
        assert_eq!(
            check(&history(vec![(0, began()), (0, returned(None))])),
            None
        );
    }

    #[test]
    fn an_open_or_failed_call_is_a_violation_unless_a_crash_ended_it() {
        assert!(check(&history(vec![(0, began())])).is_some());
        assert!(check(&history(vec![(0, began()), (0, returned(Some("boom")))])).is_some());
        let crash = Record::Crash { host: "app".into() };
        assert_eq!(check(&history(vec![(0, began()), (1, crash)])), None);
    }
}
