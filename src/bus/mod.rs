//! The event bus: the [`EventBus`] trait and the in-process [`InMemoryEventBus`].
//!
//! Publishers know topics, never subscribers. Each subscriber has its own bounded queue and
//! its own worker task; the worker passes each event through the subscriber's idempotency
//! gate (see [`crate::gate`]) and runs the handler with a timeout and panic capture. What a
//! subscriber does, fails at or hangs on stays with that subscriber: `publish` only pushes on
//! queues, never waits, and never fails because of a subscriber.
//!
//! # Ordering
//!
//! First attempts reach each subscriber in publish order (one queue, one worker, one handler
//! run at a time). Retries may reorder: an at-least-once event waiting out its backoff lets
//! later events of the same subscriber go ahead.
//!
//! # Accounting
//!
//! Every (event, subscriber) pair the bus accepted ends as exactly one of: handled,
//! suppressed as a duplicate, or dead-lettered with a [`DeadLetterReason`]. Nothing is
//! dropped without a record.

mod attempt;
mod config;
mod core;
mod counters;
mod dead_letter;
mod handler;
mod in_memory;
#[doc(hidden)]
pub mod model_seam;
mod observer;
mod padded;
mod queue;
mod recycler;
mod registry;
mod runner;
mod stop;
mod subscriber;
mod topology;
mod worker;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use attempt::{AttemptOutcome, AttemptRecord};
pub use config::{BusConfig, DeliveryMode, StorePolicy, SubscribeError, SubscriberConfig};
pub use counters::CounterSnapshot;
pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use handler::{Handler, HandlerError, HandlerFuture, TypedHandler, typed};
pub use in_memory::InMemoryEventBus;
pub use observer::{NoObserver, Observation, Observer};
pub use topology::{SubscriberInfo, TopicInfo, Topology};

use crate::event::{EventError, EventId, NewEvent, TypedEvent};

/// A boxed future returned by the bus's async operations.
pub type BusFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A publish/subscribe bus.
pub trait EventBus: Send + Sync + 'static {
    /// Queues `event` for every subscriber of its topic and returns at once.
    ///
    /// Fails only for a bad event or a bus that has shut down, never because of a
    /// subscriber.
    fn publish(&self, event: NewEvent) -> Result<PublishReceipt, PublishError>;

    /// Subscribes `handler` under `config`.
    fn subscribe_arc(
        &self,
        config: SubscriberConfig,
        handler: Arc<dyn Handler>,
    ) -> Result<(), SubscribeError>;

    /// Removes a subscriber; what was still queued for it is dead-lettered as
    /// `unsubscribed`, and a handler still running is cancelled.
    fn unsubscribe<'a>(
        &'a self,
        name: &'a str,
    ) -> BusFuture<'a, Result<UnsubscribeReport, UnsubscribeError>>;

    /// Resolves once every queue is empty and no handler is running or waiting to retry.
    fn idle(&self) -> BusFuture<'_, ()>;

    /// Refuses new events, drains the queues for up to `deadline`, then stops every worker
    /// and dead-letters what is left as `shutdown`.
    fn shutdown(&self, deadline: Duration) -> BusFuture<'_, ShutdownReport>;

    /// Subscribes `handler` under `config`, starting its worker on the current tokio runtime.
    fn subscribe<H: Handler>(
        &self,
        config: SubscriberConfig,
        handler: H,
    ) -> Result<(), SubscribeError>
    where
        Self: Sized,
    {
        self.subscribe_arc(config, Arc::new(handler))
    }

    /// Publishes a typed event on its topic with its key.
    fn publish_typed<T: TypedEvent>(&self, value: &T) -> Result<PublishReceipt, PublishError>
    where
        Self: Sized,
    {
        self.publish(NewEvent::typed(value)?)
    }
}

/// What `publish` did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReceipt {
    /// The id the event was given.
    pub event_id: EventId,
    /// For how many subscribers it was queued.
    pub queued: usize,
    /// For how many it overflowed (and was dead-lettered as `overflow`).
    pub overflowed: usize,
}

/// Why `publish` refused an event. None of these is caused by a subscriber.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The event was malformed (empty topic or key, payload over the limit, not encodable).
    #[error(transparent)]
    Invalid(#[from] EventError),
    /// The bus has shut down.
    #[error("the bus has shut down")]
    ShutDown,
}

/// Why `unsubscribe` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsubscribeError {
    /// No subscriber has that name.
    #[error("no subscriber named {0:?}")]
    Unknown(String),
}

/// What `unsubscribe` left undelivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubscribeReport {
    /// Events dead-lettered as `unsubscribed`.
    pub dead_lettered: usize,
}

/// What `shutdown` left undelivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// True when every queue drained before the deadline.
    pub drained_before_deadline: bool,
    /// Events dead-lettered as `shutdown`, per subscriber.
    pub undelivered: BTreeMap<String, usize>,
}

impl ShutdownReport {
    /// Events dead-lettered as `shutdown`, in all.
    pub fn undelivered_total(&self) -> usize {
        self.undelivered.values().sum()
    }
}
