//! The registry of subscribers by name and by topic, and the publish fan-out over it.
//!
//! Publishing takes the registry's read lock, finds the topic's subscribers and pushes the
//! shared event on each one's queue; subscribing and unsubscribing take the write lock. So a
//! publish sees a subscriber either wholly registered or wholly gone, and once unsubscribe has
//! removed a subscriber no publish can still be pushing to its queue. Maps are `BTreeMap`s:
//! introspection lists topics and subscribers in a stable order.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::core::Core;
use super::counters::Counters;
use super::dead_letter::DeadLetterReason;
use super::observer::Observation;
use super::queue::PushError;
use super::subscriber::Subscriber;
use crate::event::Event;
use crate::sync::{RwLock, read};

/// Subscribers by name and by topic.
#[derive(Default)]
pub(crate) struct Registry {
    by_name: BTreeMap<Arc<str>, Arc<Subscriber>>,
    by_topic: BTreeMap<Arc<str>, Vec<Arc<Subscriber>>>,
}

/// What one publish did: queued for this many subscribers, overflowed for that many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FanOut {
    pub(crate) queued: usize,
    pub(crate) overflowed: usize,
}

impl Registry {
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(crate) fn insert(&mut self, subscriber: Arc<Subscriber>) {
        for topic in &subscriber.config.topics {
            let subscribers = self.by_topic.entry(Arc::from(topic.as_str())).or_default();
            if !subscribers.iter().any(|s| Arc::ptr_eq(s, &subscriber)) {
                subscribers.push(subscriber.clone());
            }
        }
        self.by_name.insert(subscriber.name.clone(), subscriber);
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Arc<Subscriber>> {
        let subscriber = self.by_name.remove(name)?;
        for subscribers in self.by_topic.values_mut() {
            subscribers.retain(|s| !Arc::ptr_eq(s, &subscriber));
        }
        self.by_topic
            .retain(|_, subscribers| !subscribers.is_empty());
        Some(subscriber)
    }

    pub(crate) fn subscribers(&self) -> impl Iterator<Item = &Arc<Subscriber>> {
        self.by_name.values()
    }

    pub(crate) fn topics(&self) -> impl Iterator<Item = (&Arc<str>, &Vec<Arc<Subscriber>>)> {
        self.by_topic.iter()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Subscriber>> {
        self.by_name.get(name)
    }

    fn subscribers_of(&self, topic: &str) -> &[Arc<Subscriber>] {
        self.by_topic.get(topic).map_or(&[], Vec::as_slice)
    }
}

/// Queues `event` for every subscriber of its topic in `registry`, holding the registry's
/// read lock across every push (see the module docs); a full queue dead-letters it for that
/// subscriber alone. Never waits.
pub(crate) fn publish_to(registry: &RwLock<Registry>, core: &Core, event: &Event) -> FanOut {
    #[cfg(feature = "mutants")]
    if core
        .mutants
        .is_on(crate::mutants::Mutant::FanOutOutsideLock)
    {
        let subscribers = read(registry).subscribers_of(event.topic()).to_vec();
        return push_to_each(core, &subscribers, event);
    }
    let registry = read(registry);
    push_to_each(core, registry.subscribers_of(event.topic()), event)
}

fn push_to_each(core: &Core, subscribers: &[Arc<Subscriber>], event: &Event) -> FanOut {
    let mut fan_out = FanOut::default();
    for subscriber in subscribers {
        match push(core, subscriber, event) {
            Ok(()) => {
                fan_out.queued += 1;
                Counters::bump(&subscriber.counters.enqueued);
                core.observe(Observation::Enqueued {
                    event,
                    subscriber: &subscriber.name,
                });
            }
            Err(PushError::Full) => {
                fan_out.overflowed += 1;
                overflow(core, subscriber, event);
            }
            Err(PushError::Closed) => {
                let reason = subscriber
                    .stop
                    .reason()
                    .unwrap_or(DeadLetterReason::Shutdown);
                core.dead_letter_at_publish(subscriber, event, reason);
            }
        }
    }
    fan_out
}

fn push(core: &Core, subscriber: &Subscriber, event: &Event) -> Result<(), PushError> {
    #[cfg(feature = "mutants")]
    if core
        .mutants
        .is_on(crate::mutants::Mutant::QueueCheckThenPush)
    {
        return subscriber.queue.push_in_two_steps(event);
    }
    let _ = core;
    subscriber.queue.push(event)
}

/// Records an event refused by `subscriber`'s full queue.
fn overflow(core: &Core, subscriber: &Subscriber, event: &Event) {
    #[cfg(feature = "mutants")]
    if core
        .mutants
        .is_on(crate::mutants::Mutant::OverflowWithoutRecord)
    {
        return;
    }
    core.dead_letter_at_publish(subscriber, event, DeadLetterReason::Overflow);
}
