//! Where jobs are kept: the [`JobStore`] trait and an in-memory store.
//!
//! A state change is a compare-and-set: the store moves a job only if it is still in the
//! state the caller saw, so two callers completing one job cannot both succeed.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use super::model::{Job, JobId, JobState};

/// The future a job store operation returns.
pub type JobStoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, JobError>> + Send + 'a>>;

/// Why a job operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// No job has that id.
    #[error("no job with id {0}")]
    UnknownJob(JobId),
    /// The job is not in a state that allows the move.
    #[error("job {id} cannot move from {from:?} to {to:?}")]
    InvalidTransition {
        /// The job.
        id: JobId,
        /// Its current state.
        from: JobState,
        /// The state asked for.
        to: JobState,
    },
    /// The job kind was empty.
    #[error("job kind is empty")]
    EmptyKind,
    /// The store failed.
    #[error("job store failed: {0}")]
    Store(String),
}

/// The change a transition writes besides the state.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The result to store.
    pub output: Option<serde_json::Value>,
    /// The error to store.
    pub error: Option<String>,
    /// The time of the change, in unix milliseconds.
    pub at_unix_ms: u64,
}

/// A store of jobs.
pub trait JobStore: Send + Sync + 'static {
    /// Stores a new queued job of `kind`.
    fn create<'a>(&'a self, kind: &'a str, at_unix_ms: u64) -> JobStoreFuture<'a, Job>;

    /// Reads a job.
    fn get(&self, id: JobId) -> JobStoreFuture<'_, Job>;

    /// Moves a job to `to` if that is a valid move from its current state.
    fn transition(&self, id: JobId, to: JobState, change: Change) -> JobStoreFuture<'_, Job>;
}

/// Jobs in memory, in id order.
#[derive(Debug, Default)]
pub struct InMemoryJobStore {
    jobs: Mutex<Jobs>,
}

#[derive(Debug, Default)]
struct Jobs {
    by_id: BTreeMap<JobId, Job>,
    next_id: u64,
}

impl InMemoryJobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.jobs
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn transition_now(&self, id: JobId, to: JobState, change: Change) -> Result<Job, JobError> {
        let mut jobs = self.jobs();
        let job = jobs.by_id.get_mut(&id).ok_or(JobError::UnknownJob(id))?;
        if !job.state.can_move_to(to) {
            return Err(JobError::InvalidTransition {
                id,
                from: job.state,
                to,
            });
        }
        job.state = to;
        job.output = change.output.or(job.output.take());
        job.error = change.error.or(job.error.take());
        job.updated_at_unix_ms = change.at_unix_ms;
        Ok(job.clone())
    }
}

impl JobStore for InMemoryJobStore {
    fn create<'a>(&'a self, kind: &'a str, at_unix_ms: u64) -> JobStoreFuture<'a, Job> {
        let mut jobs = self.jobs();
        jobs.next_id += 1;
        let job = Job {
            id: JobId(jobs.next_id),
            kind: kind.to_owned(),
            state: JobState::Queued,
            output: None,
            error: None,
            updated_at_unix_ms: at_unix_ms,
        };
        jobs.by_id.insert(job.id, job.clone());
        Box::pin(std::future::ready(Ok(job)))
    }

    fn get(&self, id: JobId) -> JobStoreFuture<'_, Job> {
        let job = self
            .jobs()
            .by_id
            .get(&id)
            .cloned()
            .ok_or(JobError::UnknownJob(id));
        Box::pin(std::future::ready(job))
    }

    fn transition(&self, id: JobId, to: JobState, change: Change) -> JobStoreFuture<'_, Job> {
        Box::pin(std::future::ready(self.transition_now(id, to, change)))
    }
}
