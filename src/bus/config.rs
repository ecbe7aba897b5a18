//! How a bus and its subscribers are configured, and what a bad configuration is refused
//! with.
//!
//! Every field has a default from [`crate::defaults`]. A subscriber's configuration is
//! checked when it subscribes: a zero queue capacity, lease or TTL, or a lease no longer than
//! the handler timeout (a slow handler's lease would expire while it still ran, and a
//! duplicate would run beside it) is a typed [`SubscribeError`], and nothing already
//! subscribed is touched.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::observer::Observer;
use crate::clock::{Clock, TokioClock};
use crate::defaults;
use crate::event::EventIds;
use crate::gate::{GateStore, MemoryStore};
use crate::mutants::Mutants;

/// How a subscriber's handler is guarded by the idempotency gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// No gate: every delivery runs the handler once; a failure is dead-lettered.
    Ungated,
    /// Claim before running; the key stays claimed whatever the outcome, so a duplicate
    /// within the TTL never runs the handler again. A failure is dead-lettered.
    AtMostOnce,
    /// Claim as a lease; a failure releases it and the event is retried with backoff, up to
    /// `attempts_max`; at most one attempt succeeds and no two overlap.
    AtLeastOnce,
}

impl DeliveryMode {
    /// True when the handler runs behind the gate.
    pub fn is_gated(self) -> bool {
        self != Self::Ungated
    }
}

/// What a gated subscriber does with an event when its gate store cannot be reached.
///
/// The choice is explicit because each side gives something up: failing closed never runs a
/// side effect twice but leaves events unhandled while the store is away; failing open keeps
/// handling them but lets duplicates through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StorePolicy {
    /// The default. At most once: the event is dead-lettered as `store-unavailable` and the
    /// handler does not run. At least once: the claim is retried with backoff within
    /// `attempts_max`, then dead-lettered as `store-unavailable`. Nothing runs twice.
    #[default]
    FailClosed,
    /// Run the handler without the gate, as an ungated subscriber would. This gives up the
    /// gate's promise for that event: a duplicate delivered while the store is away (or one
    /// that arrives later, since no record was written) runs the handler again, and in
    /// at-least-once mode two attempts for one key are no longer kept from overlapping
    /// across processes. Choose it only for handlers that are harmless to repeat.
    FailOpen,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// The subscriber name was empty.
    #[error("subscriber name is empty")]
    EmptyName,
    /// A subscriber of that name already exists on this bus.
    #[error("a subscriber named {0:?} is already registered")]
    DuplicateName(String),
    /// No topic was given.
    #[error("subscriber {0:?} names no topic")]
    NoTopics(String),
    /// One of the topics was empty.
    #[error("subscriber {0:?} names an empty topic")]
    EmptyTopic(String),
    /// The queue capacity was zero.
    #[error("queue capacity must be at least 1")]
    ZeroQueueCapacity,
    /// The handler timeout was zero.
    #[error("handler timeout must be longer than zero")]
    ZeroHandlerTimeout,
    /// The lease was zero.
    #[error("lease must be longer than zero")]
    ZeroLease,
    /// The TTL was zero.
    #[error("ttl must be longer than zero")]
    ZeroTtl,
    /// The attempt bound was zero.
    #[error("attempts_max must be at least 1")]
    ZeroAttempts,
    /// The lease would expire while a slow handler still ran.
    #[error("lease of {lease:?} is not longer than the handler timeout of {handler_timeout:?}")]
    LeaseNotLongerThanTimeout {
        /// The lease given.
        lease: Duration,
        /// The handler timeout given.
        handler_timeout: Duration,
    },
    /// `subscribe` was called outside a tokio runtime, so no worker could start.
    #[error("subscribe needs a tokio runtime to start the subscriber's worker")]
    NoRuntime,
    /// The bus has shut down.
    #[error("the bus has shut down")]
    ShutDown,
}

/// One subscriber's configuration. Build it with [`SubscriberConfig::new`] and the setters.
#[derive(Clone)]
pub struct SubscriberConfig {
    pub(crate) name: String,
    pub(crate) topics: Vec<String>,
    pub(crate) mode: DeliveryMode,
    pub(crate) queue_capacity: usize,
    pub(crate) handler_timeout: Duration,
    pub(crate) lease: Duration,
    pub(crate) ttl: Duration,
    pub(crate) attempts_max: u32,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) store: Option<Arc<dyn GateStore>>,
    pub(crate) on_store_unavailable: StorePolicy,
}

impl SubscriberConfig {
    /// A subscriber named `name` on `topics`, at most once, with every default.
    pub fn new<T: Into<String>>(
        name: impl Into<String>,
        topics: impl IntoIterator<Item = T>,
    ) -> Self {
        Self {
            name: name.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            mode: DeliveryMode::AtMostOnce,
            queue_capacity: defaults::QUEUE_CAPACITY,
            handler_timeout: defaults::HANDLER_TIMEOUT,
            lease: defaults::LEASE,
            ttl: defaults::TTL,
            attempts_max: defaults::ATTEMPTS_MAX,
            backoff_initial: defaults::BACKOFF_INITIAL,
            backoff_max: defaults::BACKOFF_MAX,
            store: None,
            on_store_unavailable: StorePolicy::FailClosed,
        }
    }

    /// The delivery mode.
    pub fn mode(mut self, mode: DeliveryMode) -> Self {
        self.mode = mode;
        self
    }

    /// How many events may wait before new ones overflow.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// How long one handler run may take. A gated run's timeout counts from the call, so the
    /// run ends within its lease; an ungated run's counts from the handler's first `Pending`
    /// (a handler that finishes on its first poll never reads the clock). Neither can cut
    /// short a handler that blocks its thread rather than awaiting.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// How long a claim is held while the handler runs.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a completed key suppresses duplicates.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many attempts an at-least-once subscriber makes.
    pub fn attempts_max(mut self, attempts: u32) -> Self {
        self.attempts_max = attempts;
        self
    }

    /// The backoff before the second attempt (doubling after, up to `max`).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }

    /// A gate store for this subscriber instead of the bus's.
    pub fn store(mut self, store: Arc<dyn GateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// What to do with an event when the gate store cannot be reached (default
    /// [`StorePolicy::FailClosed`]; see [`StorePolicy::FailOpen`] for what opting out costs).
    pub fn on_store_unavailable(mut self, policy: StorePolicy) -> Self {
        self.on_store_unavailable = policy;
        self
    }

    /// The subscriber's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the configuration; see the module docs.
    pub fn validate(&self) -> Result<(), SubscribeError> {
        if self.name.is_empty() {
            return Err(SubscribeError::EmptyName);
        }
        if self.topics.is_empty() {
            return Err(SubscribeError::NoTopics(self.name.clone()));
        }
        if self.topics.iter().any(String::is_empty) {
            return Err(SubscribeError::EmptyTopic(self.name.clone()));
        }
        self.validate_bounds()
    }

    fn validate_bounds(&self) -> Result<(), SubscribeError> {
        if self.queue_capacity == 0 {
            return Err(SubscribeError::ZeroQueueCapacity);
        }
        if self.handler_timeout.is_zero() {
            return Err(SubscribeError::ZeroHandlerTimeout);
        }
        if self.lease.is_zero() {
            return Err(SubscribeError::ZeroLease);
        }
        if self.ttl.is_zero() {
            return Err(SubscribeError::ZeroTtl);
        }
        if self.attempts_max == 0 {
            return Err(SubscribeError::ZeroAttempts);
        }
        if self.lease <= self.handler_timeout {
            let (lease, handler_timeout) = (self.lease, self.handler_timeout);
            return Err(SubscribeError::LeaseNotLongerThanTimeout {
                lease,
                handler_timeout,
            });
        }
        Ok(())
    }

    /// The backoff before attempt `next_attempt` (2 or more).
    pub(crate) fn backoff_before(&self, next_attempt: u32) -> Duration {
        let doublings = next_attempt.saturating_sub(2).min(31);
        self.backoff_initial
            .saturating_mul(1 << doublings)
            .min(self.backoff_max)
    }
}

/// A bus's configuration: its clock, default gate store, observer, id source and bounds.
pub struct BusConfig {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Option<Arc<dyn GateStore>>,
    /// `None` (the default) skips every observation at the call site.
    pub(crate) observer: Option<Arc<dyn Observer>>,
    pub(crate) ids: EventIds,
    pub(crate) payload_limit_bytes: usize,
    pub(crate) dead_letters_max: usize,
    pub(crate) mutants: Mutants,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            clock: Arc::new(TokioClock::system()),
            store: None,
            observer: None,
            ids: EventIds::random(),
            payload_limit_bytes: defaults::PAYLOAD_LIMIT_BYTES,
            dead_letters_max: defaults::DEAD_LETTERS_MAX,
            mutants: Mutants::none(),
        }
    }
}

impl BusConfig {
    /// The clock everything on the bus reads.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The gate store gated subscribers use unless they name their own (by default a
    /// [`MemoryStore`] on the bus's clock).
    pub fn store(mut self, store: Arc<dyn GateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The observer that receives every step.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Where event ids come from.
    pub fn ids(mut self, ids: EventIds) -> Self {
        self.ids = ids;
        self
    }

    /// The largest payload accepted, in bytes.
    pub fn payload_limit_bytes(mut self, limit: usize) -> Self {
        self.payload_limit_bytes = limit;
        self
    }

    /// How many dead letters are kept; beyond it a new dead letter is counted and logged but
    /// not kept (see [`crate::InMemoryEventBus::dead_letters`]).
    pub fn dead_letters_max(mut self, max: usize) -> Self {
        self.dead_letters_max = max;
        self
    }

    /// The planted bugs switched on (only with the `mutants` feature).
    pub fn mutants(mut self, mutants: Mutants) -> Self {
        self.mutants = mutants;
        self
    }

    pub(crate) fn default_store(&self) -> Arc<dyn GateStore> {
        match &self.store {
            Some(store) => store.clone(),
            None => Arc::new(MemoryStore::new(self.clock.clone())),
        }
    }
}
