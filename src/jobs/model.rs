//! Jobs, their states and the events a job's end publishes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::TypedEvent;

/// A job's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a job is in its life: Queued → Running → Completed or Failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Created, not started.
    Queued,
    /// Started.
    Running,
    /// Ended well.
    Completed,
    /// Ended badly.
    Failed,
}

impl JobState {
    /// True when a job may move from `self` to `to`.
    pub fn can_move_to(self, to: JobState) -> bool {
        matches!(
            (self, to),
            (JobState::Queued, JobState::Running)
                | (JobState::Running, JobState::Completed)
                | (JobState::Running, JobState::Failed)
        )
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// What kind of work it is.
    pub kind: String,
    /// Its state.
    pub state: JobState,
    /// The result, once completed.
    pub output: Option<serde_json::Value>,
    /// The error, once failed.
    pub error: Option<String>,
    /// When it last changed, in unix milliseconds.
    pub updated_at_unix_ms: u64,
}

/// Published when a job completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCompleted {
    /// The job.
    pub job_id: JobId,
    /// Its kind.
    pub kind: String,
    /// Its result.
    pub output: serde_json::Value,
    /// When it completed, in unix milliseconds.
    pub completed_at_unix_ms: u64,
}

impl TypedEvent for JobCompleted {
    const TOPIC: &'static str = "job_completed";

    fn domain_id(&self) -> String {
        self.job_id.to_string()
    }
}

/// Published when a job fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailed {
    /// The job.
    pub job_id: JobId,
    /// Its kind.
    pub kind: String,
    /// What went wrong.
    pub error: String,
    /// When it failed, in unix milliseconds.
    pub failed_at_unix_ms: u64,
}

impl TypedEvent for JobFailed {
    const TOPIC: &'static str = "job_failed";

    fn domain_id(&self) -> String {
        self.job_id.to_string()
    }
}
