//! Publish after store: `job_completed` / `job_failed` for a job is published only after the
//! job's new state is stored, so a subscriber that reads the job back finds it ended.
//!
//! The job store is durable (it outlives app crashes), so stored states are never
//! forgotten. The job id is the part of the event key after the topic.

use std::collections::BTreeMap;

use crate::jobs::JobState;

use super::super::history::{History, Record};
use super::{Property, Violation};

/// The first job event published before its state was stored.
pub fn check(history: &History) -> Option<Violation> {
    let mut stored: BTreeMap<u64, JobState> = BTreeMap::new();
    for entry in &history.entries {
        match &entry.record {
            Record::JobStored { job, state } => {
                stored.insert(*job, *state);
            }
            Record::Published { topic, key, .. } => {
                let expected = match topic.as_str() {
                    "job_completed" => JobState::Completed,
                    "job_failed" => JobState::Failed,
                    _ => continue,
                };
                let job = key.rsplit(':').next().and_then(|id| id.parse::<u64>().ok());
                let found = job.and_then(|job| stored.get(&job));
                if found != Some(&expected) {
                    let message =
                        format!("{topic} for {key} published while the stored state was {found:?}");
                    return Some(Violation::at(Property::PublishAfterStore, entry, message));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::build::history;
    use super::*;

    fn published() -> Record {
        let (event, topic, key) = ("e".into(), "job_completed".into(), "job_completed:7".into());
        Record::Published { event, topic, key }
    }

    #[test]
    fn a_job_event_before_its_stored_end_is_a_violation_and_after_it_is_not() {
        let stored = Record::JobStored {
            job: 7,
            state: JobState::Completed,
        };
        assert_eq!(
            check(&history(vec![(0, stored.clone()), (1, published())])),
            None
        );
        let early = check(&history(vec![(0, published()), (1, stored)]));
        assert_eq!(early.map(|v| v.seq), Some(0));
    }
}
