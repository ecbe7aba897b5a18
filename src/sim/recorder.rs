//! The recorders: the bus [`Observer`] that turns each bus step into a history record, and
//! the [`JobStore`] wrapper that records each stored job transition.
//!
//! Both append synchronously, in the same poll as the step they record, so a record's place
//! in the history is the step's place in the run. The job store wrapper never yields: a
//! publish call's begin and return records must enclose its store write and its publish with
//! nothing from another task between them.

use std::sync::Arc;

use crate::bus::{AttemptOutcome, Observation, Observer};
use crate::event::Event;
use crate::jobs::{Change, InMemoryJobStore, Job, JobId, JobState, JobStore, JobStoreFuture};

use super::history::{HistoryLog, Record};

/// The bus observer that appends to a run's history.
#[derive(Debug, Clone)]
pub struct Recorder {
    log: HistoryLog,
}

impl Recorder {
    /// A recorder appending to `log`.
    pub fn new(log: HistoryLog) -> Self {
        Self { log }
    }
}

impl Observer for Recorder {
    fn observe(&self, observation: Observation<'_>) {
        self.log.record(to_record(observation));
    }
}

fn to_record(observation: Observation<'_>) -> Record {
    use Observation as O;
    match observation {
        O::Published { event } => Record::Published {
            event: id(event),
            topic: event.topic().into(),
            key: key(event),
        },
        O::Enqueued { event, subscriber } => Record::Enqueued {
            event: id(event),
            subscriber: subscriber.into(),
        },
        O::Claimed {
            event,
            subscriber,
            lease,
        } => {
            let (event, key, lease_ms) = (id(event), key(event), millis(lease));
            Record::Claimed {
                event,
                subscriber: subscriber.into(),
                key,
                lease_ms,
            }
        }
        O::Suppressed {
            event,
            subscriber,
            holder,
        } => {
            let (event, key, holder) = (id(event), key(event), holder.state);
            Record::Suppressed {
                event,
                subscriber: subscriber.into(),
                key,
                holder,
            }
        }
        O::HandlerStarted {
            event,
            subscriber,
            attempt,
        } => {
            let (event, key) = (id(event), key(event));
            Record::HandlerStarted {
                event,
                subscriber: subscriber.into(),
                key,
                attempt,
            }
        }
        O::HandlerEnded {
            event,
            subscriber,
            attempt,
            outcome,
        } => {
            let (event, key, outcome) = (id(event), key(event), outcome_label(outcome));
            Record::HandlerEnded {
                event,
                subscriber: subscriber.into(),
                key,
                attempt,
                outcome,
            }
        }
        O::Completed {
            event,
            subscriber,
            ttl,
        } => {
            let (event, key, ttl_ms) = (id(event), key(event), millis(ttl));
            Record::Completed {
                event,
                subscriber: subscriber.into(),
                key,
                ttl_ms,
            }
        }
        O::Released { event, subscriber } => Record::Released {
            event: id(event),
            subscriber: subscriber.into(),
            key: key(event),
        },
        O::RetryScheduled {
            event,
            subscriber,
            attempt,
            after,
        } => {
            let (event, after_ms) = (id(event), millis(after));
            Record::RetryScheduled {
                event,
                subscriber: subscriber.into(),
                attempt,
                after_ms,
            }
        }
        O::DeadLettered {
            event,
            subscriber,
            reason,
        } => {
            let (event, key, reason) = (id(event), key(event), reason.as_str().to_owned());
            Record::DeadLettered {
                event,
                subscriber: subscriber.into(),
                key,
                reason,
            }
        }
    }
}

fn id(event: &Event) -> String {
    event.id().to_string()
}

fn key(event: &Event) -> String {
    event.key().to_owned()
}

/// The outcome label the checkers read: `succeeded`, `failed`, `panicked`, ...
fn outcome_label(outcome: &AttemptOutcome) -> String {
    outcome.label().to_owned()
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A job store that outlives app crashes (it stands for a database) and records every
/// transition it stores.
#[derive(Debug, Clone)]
pub struct RecordingJobStore {
    inner: Arc<InMemoryJobStore>,
    log: HistoryLog,
}

impl RecordingJobStore {
    /// Wraps `inner`, recording to `log`.
    pub fn new(inner: Arc<InMemoryJobStore>, log: HistoryLog) -> Self {
        Self { inner, log }
    }
}

impl JobStore for RecordingJobStore {
    fn create<'a>(&'a self, kind: &'a str, at_unix_ms: u64) -> JobStoreFuture<'a, Job> {
        self.inner.create(kind, at_unix_ms)
    }

    fn get(&self, id: JobId) -> JobStoreFuture<'_, Job> {
        self.inner.get(id)
    }

    fn transition(&self, id: JobId, to: JobState, change: Change) -> JobStoreFuture<'_, Job> {
        let stored = self.inner.transition(id, to, change);
        Box::pin(async move {
            let job = stored.await?;
            self.log.record(Record::JobStored {
                job: job.id.0,
                state: job.state,
            });
            Ok(job)
        })
    }
}
