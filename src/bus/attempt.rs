//! One handler attempt: started, raced against the timeout and the stop signal, with panics
//! captured, and its outcome recorded.
//!
//! A panic becomes a failed attempt of this subscriber; a handler past its timeout is dropped
//! (cancelled at its next await) and recorded as timed out. Neither reaches the worker's
//! loop, the publisher or any other subscriber.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;
use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use tokio::time::Instant;

use super::dead_letter::DeadLetterReason;
use super::handler::HandlerError;
use super::stop::StopSignal;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The handler returned `Ok`.
    Succeeded,
    /// The handler returned an error.
    Failed {
        /// Its message.
        message: String,
    },
    /// The handler panicked.
    Panicked {
        /// The panic message, when it was a string.
        message: String,
    },
    /// The handler ran past its timeout and was dropped.
    TimedOut {
        /// The timeout, in milliseconds.
        after_ms: u64,
    },
    /// The subscriber stopped while the handler ran.
    Cancelled {
        /// Why the subscriber stopped.
        reason: DeadLetterReason,
    },
    /// The gate store could not be reached, so the handler did not run.
    StoreUnavailable {
        /// What the store said.
        reason: String,
    },
}

impl AttemptOutcome {
    /// True for [`AttemptOutcome::Succeeded`].
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Succeeded)
    }

    /// A short label for logs: `succeeded`, `failed`, `panicked`, ...
    pub fn label(&self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed { .. } => "failed",
            Self::Panicked { .. } => "panicked",
            Self::TimedOut { .. } => "timed_out",
            Self::Cancelled { .. } => "cancelled",
            Self::StoreUnavailable { .. } => "store_unavailable",
        }
    }
}

/// One attempt, as kept with a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// When it started, in unix milliseconds on the bus's clock.
    pub started_at_unix_ms: u64,
}

/// How one attempt ended, and the clock reading its deadline was counted from.
pub(crate) struct Ran {
    pub(crate) outcome: AttemptOutcome,
    /// The `started` given, else when the handler first returned `Pending`; `None` when no
    /// clock was read (no `started` given, and the first poll finished the handler).
    pub(crate) started: Option<Instant>,
}

/// Runs one handler attempt, started by `start` (the handler's call, whose panic is caught
/// like one in the future), bounded by `timeout` and by `stop`.
///
/// The deadline counts from `started` when the caller read the clock before calling (a gated
/// run must end within its lease, so its first poll counts against the timeout), else from
/// the handler's first `Pending`, so that an ungated handler that finishes on its first poll
/// reads no clock at all (a clock reading costs tens of nanoseconds on a virtual machine).
///
/// Most handlers finish on their first poll, so that poll is made before anything else is
/// set up: the stop signal is read (not waited on), and only a handler still pending after
/// it gets a registered stop waiter and a timer. The outcome is the one a `biased` select of
/// stop, then the handler under its timeout, would give.
pub(crate) async fn run<Fut>(
    start: impl FnOnce() -> Fut,
    timeout: Duration,
    started: Option<Instant>,
    stop: &StopSignal,
) -> Ran
where
    Fut: Future<Output = Result<(), HandlerError>>,
{
    let ended = |outcome| Ran { outcome, started };
    let future = match std::panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => future,
        Err(payload) => return ended(panicked(payload)),
    };
    if let Some(reason) = stop.reason() {
        return ended(AttemptOutcome::Cancelled { reason });
    }
    // Pinned here, in the worker's own state: a closure's future is never moved to the heap.
    let mut running = std::pin::pin!(AssertUnwindSafe(future).catch_unwind());
    let first_poll = std::future::poll_fn(|cx| Poll::Ready(running.as_mut().poll(cx)));
    if let Poll::Ready(result) = first_poll.await {
        return ended(finished(result));
    }
    let started = started.unwrap_or_else(Instant::now);
    let remaining = timeout.saturating_sub(started.elapsed());
    let outcome = tokio::select! {
        biased;
        reason = stop.stopped() => AttemptOutcome::Cancelled { reason },
        outcome = tokio::time::timeout(remaining, running) => match outcome {
            Ok(result) => finished(result),
            Err(_elapsed) => AttemptOutcome::TimedOut {
                after_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            },
        },
    };
    Ran {
        outcome,
        started: Some(started),
    }
}

/// The outcome of a handler future that ran to its end (or panicked on the way).
fn finished(result: Result<Result<(), HandlerError>, Box<dyn Any + Send>>) -> AttemptOutcome {
    match result {
        Ok(Ok(())) => AttemptOutcome::Succeeded,
        Ok(Err(error)) => AttemptOutcome::Failed {
            message: error.message().to_owned(),
        },
        Err(payload) => panicked(payload),
    }
}

fn panicked(payload: Box<dyn Any + Send>) -> AttemptOutcome {
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    };
    AttemptOutcome::Panicked { message }
}
