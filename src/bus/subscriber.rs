//! One subscriber's shared state: its configuration, gate store, queue, counters and stop
//! signal. The publisher sees only the queue; the worker sees all of it, and alone holds the
//! handler (see `bus::runner`).

use std::sync::Arc;

use super::config::SubscriberConfig;
use super::counters::{CounterSnapshot, Counters};
use super::padded::Padded;
use super::queue::Queue;
use super::stop::StopSignal;
use super::topology::SubscriberInfo;
use crate::gate::GateStore;

/// See the module docs.
pub(crate) struct Subscriber {
    pub(crate) name: Arc<str>,
    pub(crate) config: SubscriberConfig,
    pub(crate) store: Arc<dyn GateStore>,
    /// Written by publishers on every event: alone on its cache lines (see `bus::padded`).
    pub(crate) queue: Padded<Queue>,
    pub(crate) counters: Counters,
    pub(crate) stop: StopSignal,
}

impl Subscriber {
    /// A subscriber with a validated `config`.
    pub(crate) fn new(config: SubscriberConfig, store: Arc<dyn GateStore>) -> Self {
        Self {
            name: Arc::from(config.name.as_str()),
            queue: Padded(Queue::new(config.queue_capacity)),
            config,
            store,
            counters: Counters::default(),
            stop: StopSignal::default(),
        }
    }

    pub(crate) fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }

    pub(crate) fn info(&self) -> SubscriberInfo {
        SubscriberInfo {
            name: self.name.to_string(),
            mode: self.config.mode,
            queue_depth: self.queue.depth(),
            queue_capacity: self.queue.capacity(),
            counters: self.counters(),
        }
    }
}
