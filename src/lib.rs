//! eventgate: an in-process event bus whose subscribers sit behind idempotency gates, and
//! the deterministic simulation harness that checks its guarantees.
//!
//! # The parts
//!
//! - [`bus`]: the [`EventBus`] trait and [`InMemoryEventBus`]. Publishers know topics, never
//!   subscribers; each subscriber has its own bounded queue and worker.
//! - [`gate`]: the idempotency gate, a TTL record per (subscriber, event key), so a
//!   duplicated event runs a side effect at most once.
//! - [`jobs`]: the job service, which publishes `job_completed` / `job_failed` after it
//!   stores a job's end.
//! - [`clock`]: injected time, so paused tokio time and simulations drive everything.
//!
//! # The guarantees
//!
//! - **At most once**, per subscriber and key within the TTL: a duplicate of an event whose
//!   key is live (in progress, or completed within the TTL) does not run the handler; in
//!   at-least-once mode at most one attempt succeeds and no two overlap.
//! - **Publisher isolation**: `publish` never waits for a subscriber and never fails
//!   because of one; a handler that errs, panics or hangs is recorded for its subscriber
//!   alone.
//! - **Accounting**: every (event, subscriber) pair ends handled, suppressed, or
//!   dead-lettered with a reason from one closed list; nothing is dropped silently.
//! - **Publish after store**: a job's end is published only after it is stored.
//!
//! Not promised: queues and gate records of the in-memory bus do not survive a process
//! crash.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use eventgate::{EventBus, InMemoryEventBus, SubscriberConfig, bus::typed, HandlerError};
//! use eventgate::jobs::{InMemoryJobStore, JobCompleted, JobService};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let bus = InMemoryEventBus::new();
//! bus.subscribe(
//!     SubscriberConfig::new("audit", ["job_completed"]),
//!     typed(|job: JobCompleted| async move {
//!         println!("job {} completed", job.job_id);
//!         Ok::<(), HandlerError>(())
//!     }),
//! )
//! .unwrap();
//!
//! let jobs = JobService::new(bus.clone(), Arc::new(InMemoryJobStore::new()), bus.clock());
//! let job = jobs.create("resize").await.unwrap();
//! jobs.start(job.id).await.unwrap();
//! jobs.complete(job.id, serde_json::json!({"ok": true})).await.unwrap();
//! bus.idle().await;
//! assert_eq!(bus.subscriber("audit").unwrap().counters.handled, 1);
//! # }
//! ```

pub mod bus;
pub mod clock;
pub mod defaults;
pub mod event;
pub mod gate;
pub mod jobs;
pub mod mutants;
pub mod sim;
mod sync;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod testkit;
pub mod webhook;

/// The bus core for the loom models in `tests/loom/`; not API (see the module docs).
#[doc(hidden)]
pub use bus::model_seam;

pub use bus::{
    DeliveryMode, EventBus, HandlerError, InMemoryEventBus, PublishReceipt, StorePolicy,
    SubscriberConfig,
};
pub use clock::{Clock, ManualClock, TokioClock};
pub use event::{Event, EventId, NewEvent, TypedEvent};
