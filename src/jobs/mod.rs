//! The job service: jobs move Queued → Running → Completed or Failed, and a job's end is
//! published as `job_completed` or `job_failed`.
//!
//! The order is the guarantee: the new state is stored first, and only then is the event
//! published, so a subscriber that reads the job back always finds it ended. An invalid move
//! (an unknown job, completing twice, completing a queued job) is a typed error and publishes
//! nothing. The call's result never depends on a subscriber: `publish` only queues.

mod model;
mod store;

use std::sync::Arc;

pub use model::{Job, JobCompleted, JobFailed, JobId, JobState};
pub use store::{Change, InMemoryJobStore, JobError, JobStore, JobStoreFuture};

use crate::bus::{EventBus, PublishError, PublishReceipt};
use crate::clock::Clock;
use crate::event::NewEvent;
use crate::mutants::Mutants;

/// A job's new state, and what became of its event.
#[derive(Debug)]
pub struct JobUpdate {
    /// The job as stored.
    pub job: Job,
    /// The event published, or why it could not be (the bus shut down): never a
    /// subscriber's doing.
    pub published: Result<PublishReceipt, PublishError>,
}

/// Creates, starts and ends jobs, publishing their ends on the bus.
pub struct JobService<B, S = InMemoryJobStore> {
    bus: B,
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    #[cfg_attr(not(feature = "mutants"), allow(dead_code))]
    mutants: Mutants,
}

impl<B: EventBus, S: JobStore> JobService<B, S> {
    /// A service storing jobs in `store`, publishing on `bus`, reading time from `clock`.
    pub fn new(bus: B, store: Arc<S>, clock: Arc<dyn Clock>) -> Self {
        Self {
            bus,
            store,
            clock,
            mutants: Mutants::none(),
        }
    }

    /// The same service with `mutants` switched on.
    pub fn with_mutants(mut self, mutants: Mutants) -> Self {
        self.mutants = mutants;
        self
    }

    /// The job store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Creates a queued job of `kind`.
    pub async fn create(&self, kind: &str) -> Result<Job, JobError> {
        if kind.is_empty() {
            return Err(JobError::EmptyKind);
        }
        let job = self.store.create(kind, self.clock.unix_now_ms()).await?;
        tracing::debug!(target: "eventgate::jobs", job_id = %job.id, kind, "job created");
        Ok(job)
    }

    /// Reads a job.
    pub async fn get(&self, id: JobId) -> Result<Job, JobError> {
        self.store.get(id).await
    }

    /// Moves a queued job to running.
    pub async fn start(&self, id: JobId) -> Result<Job, JobError> {
        let change = Change {
            at_unix_ms: self.clock.unix_now_ms(),
            ..Change::default()
        };
        let job = self.store.transition(id, JobState::Running, change).await?;
        tracing::debug!(target: "eventgate::jobs", job_id = %id, "job started");
        Ok(job)
    }

    /// Completes a running job with `output`, then publishes `job_completed`.
    pub async fn complete(
        &self,
        id: JobId,
        output: serde_json::Value,
    ) -> Result<JobUpdate, JobError> {
        let at_unix_ms = self.clock.unix_now_ms();
        let change = Change {
            output: Some(output),
            at_unix_ms,
            ..Change::default()
        };
        self.end(id, JobState::Completed, change).await
    }

    /// Fails a running job with `error`, then publishes `job_failed`.
    pub async fn fail(&self, id: JobId, error: impl Into<String>) -> Result<JobUpdate, JobError> {
        let at_unix_ms = self.clock.unix_now_ms();
        let change = Change {
            error: Some(error.into()),
            at_unix_ms,
            ..Change::default()
        };
        self.end(id, JobState::Failed, change).await
    }

    async fn end(&self, id: JobId, to: JobState, change: Change) -> Result<JobUpdate, JobError> {
        #[cfg(feature = "mutants")]
        if self
            .mutants
            .is_on(crate::mutants::Mutant::PublishBeforeStore)
        {
            return self.end_publishing_first(id, to, change).await;
        }
        let job = self.store.transition(id, to, change).await?;
        let published = self.publish_end(&job);
        #[cfg(feature = "mutants")]
        if self
            .mutants
            .is_on(crate::mutants::Mutant::PublishAwaitsSubscribers)
        {
            self.bus.idle().await;
        }
        tracing::info!(target: "eventgate::jobs", job_id = %id, state = ?to, "job ended");
        Ok(JobUpdate { job, published })
    }

    /// The planted bug: the event goes out before the state is stored.
    #[cfg(feature = "mutants")]
    async fn end_publishing_first(
        &self,
        id: JobId,
        to: JobState,
        change: Change,
    ) -> Result<JobUpdate, JobError> {
        let current = self.store.get(id).await?;
        let predicted = Job {
            state: to,
            output: change.output.clone(),
            error: change.error.clone(),
            updated_at_unix_ms: change.at_unix_ms,
            ..current
        };
        let published = self.publish_end(&predicted);
        tokio::task::yield_now().await;
        let job = self.store.transition(id, to, change).await?;
        Ok(JobUpdate { job, published })
    }

    fn publish_end(&self, job: &Job) -> Result<PublishReceipt, PublishError> {
        let event = end_event(job)?;
        let published = self.bus.publish(event);
        if let Err(error) = &published {
            tracing::error!(
                target: "eventgate::jobs",
                job_id = %job.id,
                %error,
                "job end not published"
            );
        }
        published
    }
}

/// The event announcing `job`'s end (`job` is Completed or Failed).
fn end_event(job: &Job) -> Result<NewEvent, PublishError> {
    debug_assert!(matches!(job.state, JobState::Completed | JobState::Failed));
    let event = match job.state {
        JobState::Completed => NewEvent::typed(&JobCompleted {
            job_id: job.id,
            kind: job.kind.clone(),
            output: job.output.clone().unwrap_or(serde_json::Value::Null),
            completed_at_unix_ms: job.updated_at_unix_ms,
        }),
        _ => NewEvent::typed(&JobFailed {
            job_id: job.id,
            kind: job.kind.clone(),
            error: job.error.clone().unwrap_or_default(),
            failed_at_unix_ms: job.updated_at_unix_ms,
        }),
    };
    Ok(event?)
}
