//! A seam into the bus core for the loom models in `tests/loom/`. Not API: hidden from the
//! docs, unstable, and of no use to a program.
//!
//! Loom cannot run tokio tasks, so a model cannot drive an [`crate::InMemoryEventBus`] with
//! its workers. What it can drive is the synchronous core those workers and publishers share:
//! the subscriber registry, the enqueue-or-overflow step with its counters, and the queue's
//! pop and close. [`CoreBus`] wires exactly that core together as the bus does, without
//! workers, and lets a model play each role from its own thread: publisher
//! ([`CoreBus::publish`], the very fan-out `publish` calls), worker ([`CoreBus::pop`]) and
//! unsubscriber ([`CoreBus::unsubscribe`], the registry removal followed by the worker's
//! drain on stopping).
//!
//! The rejected alternative was making the registry and queue types public: that would have
//! widened the crate's API for the sake of its tests.

use std::sync::Arc;

use super::config::{SubscribeError, SubscriberConfig};
use super::core::Core;
use super::counters::{CounterSnapshot, Counters};
use super::dead_letter::{DeadLetter, DeadLetterReason};
use super::registry::{self, Registry};
use super::subscriber::Subscriber;
use crate::clock::Clock;
use crate::event::{Event, EventIds, NewEvent};
use crate::gate::{ClaimOutcome, ClaimToken, GateStore, StoreError, StoreFuture};
use crate::mutants::Mutants;
use crate::sync::{RwLock, read, write};

/// The dead letters a model's bus keeps at most.
const DEAD_LETTERS_MAX: usize = 64;

/// The bus core without workers; see the module docs.
pub struct CoreBus {
    core: Arc<Core>,
    registry: RwLock<Registry>,
    ids: EventIds,
}

/// What one publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Subscribers it was queued for.
    pub queued: usize,
    /// Subscribers whose full queue refused it.
    pub overflowed: usize,
}

/// What unsubscribing left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribed {
    /// Events still queued, now dead-lettered as `unsubscribed`.
    pub dead_lettered: usize,
    /// The subscriber's counters once it was drained.
    pub counters: CounterSnapshot,
}

impl CoreBus {
    /// A core on `clock` with `mutants` switched on.
    pub fn new(clock: Arc<dyn Clock>, mutants: Mutants) -> Self {
        let core = Core::new(clock, None, DEAD_LETTERS_MAX, mutants);
        let registry = RwLock::new(Registry::default());
        Self {
            core: Arc::new(core),
            registry,
            ids: EventIds::with_prefix(0),
        }
    }

    /// Registers an ungated subscriber `name` on `topic` with a queue of `queue_capacity`.
    pub fn subscribe(
        &self,
        name: &str,
        topic: &str,
        queue_capacity: usize,
    ) -> Result<(), SubscribeError> {
        let config = SubscriberConfig::new(name, [topic])
            .mode(super::DeliveryMode::Ungated)
            .queue_capacity(queue_capacity);
        config.validate()?;
        let subscriber = Arc::new(Subscriber::new(config, Arc::new(NoStore)));
        let mut registry = write(&self.registry);
        if registry.contains(&subscriber.name) {
            return Err(SubscribeError::DuplicateName(name.to_owned()));
        }
        registry.insert(subscriber);
        Ok(())
    }

    /// Publishes an event on `topic` with `key` through the bus's own fan-out.
    pub fn publish(&self, topic: &str, key: &str) -> Published {
        let draft = NewEvent::raw(topic, key, "{}".to_owned());
        let event = draft.into_event(self.ids.next_id(), self.core.clock.unix_now_ms(), None);
        let fan_out = registry::publish_to(&self.registry, &self.core, &event);
        Published {
            queued: fan_out.queued,
            overflowed: fan_out.overflowed,
        }
    }

    /// Plays the worker once: takes `name`'s oldest event and counts it handled.
    pub fn pop(&self, name: &str) -> Option<Event> {
        let subscriber = read(&self.registry).get(name).cloned()?;
        let event = subscriber.queue.pop()?;
        Counters::bump(&subscriber.counters.handled);
        self.core.finish(&subscriber);
        Some(event)
    }

    /// Removes `name` as `unsubscribe` does, then drains its queue as its stopping worker
    /// does, dead-lettering what was left as `unsubscribed`.
    pub fn unsubscribe(&self, name: &str) -> Option<Unsubscribed> {
        let subscriber = write(&self.registry).remove(name)?;
        let reason = DeadLetterReason::Unsubscribed;
        subscriber.stop.stop(reason);
        let drained = subscriber.queue.close();
        let dead_lettered = drained.len();
        for event in drained {
            self.core
                .dead_letter(&subscriber, &event, reason, Vec::new());
            self.core.finish(&subscriber);
        }
        Some(Unsubscribed {
            dead_lettered,
            counters: subscriber.counters(),
        })
    }

    /// `name`'s counters, while it is registered.
    pub fn counters(&self, name: &str) -> Option<CounterSnapshot> {
        read(&self.registry).get(name).map(|s| s.counters())
    }

    /// How many events wait in `name`'s queue, while it is registered.
    pub fn depth(&self, name: &str) -> Option<usize> {
        read(&self.registry).get(name).map(|s| s.queue.depth())
    }

    /// The dead letters kept, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.core.dead_letters.snapshot()
    }
}

/// The store of the model's ungated subscribers, which never ask it anything.
#[derive(Debug)]
struct NoStore;

impl GateStore for NoStore {
    fn claim<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: u64,
        _: std::time::Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(std::future::ready(Err(unused())))
    }

    fn complete<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: ClaimToken,
        _: std::time::Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Err(unused())))
    }

    fn release<'a>(&'a self, _: &'a str, _: &'a str, _: ClaimToken) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Err(unused())))
    }
}

fn unused() -> StoreError {
    StoreError::Unavailable {
        reason: "the model seam has no gate store".to_owned(),
    }
}
