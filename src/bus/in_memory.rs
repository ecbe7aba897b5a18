//! `InMemoryEventBus`: the in-process bus.
//!
//! `publish` is synchronous on purpose. It validates the event, stamps it, and pushes one
//! shared handle on each matching subscriber's bounded queue, and returns; it has no await
//! point, so it cannot wait for a subscriber, and no subscriber's failure can reach it. The
//! design rejected here is an async `publish` that awaits a channel with room: one slow
//! subscriber would then hold up every publisher.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::config::{BusConfig, SubscribeError, SubscriberConfig};
use super::core::Core;
use super::dead_letter::{DeadLetter, DeadLetterReason};
use super::handler::{Handler, HandlerError};
use super::observer::Observation;
use super::queue;
use super::registry::{self, Registry};
use super::runner::{FnRunner, Runner};
use super::subscriber::Subscriber;
use super::topology::{SubscriberInfo, TopicInfo, Topology};
use super::worker::Worker;
use super::{BusFuture, EventBus, PublishError, PublishReceipt, ShutdownReport};
use super::{UnsubscribeError, UnsubscribeReport};
use crate::clock::Clock;
use crate::event::{Event, EventIds, NewEvent};
use crate::gate::GateStore;
use crate::sync::{Ordering, RwLock, read, write};

/// The in-process event bus. Cheap to clone: clones share one bus.
#[derive(Clone)]
pub struct InMemoryEventBus {
    inner: Arc<Inner>,
}

struct Inner {
    core: Arc<Core>,
    registry: RwLock<Registry>,
    workers: std::sync::Mutex<BTreeMap<Arc<str>, JoinHandle<usize>>>,
    ids: EventIds,
    store: Arc<dyn GateStore>,
    payload_limit_bytes: usize,
}

impl InMemoryEventBus {
    /// A bus with every default: tokio's clock, a [`crate::gate::MemoryStore`], no observer.
    pub fn new() -> Self {
        Self::with_config(BusConfig::default())
    }

    /// A bus with `config`.
    pub fn with_config(config: BusConfig) -> Self {
        let store = config.default_store();
        let core = Core::new(
            config.clock,
            config.observer,
            config.dead_letters_max,
            config.mutants,
        );
        let inner = Inner {
            core: Arc::new(core),
            registry: RwLock::new(Registry::default()),
            workers: std::sync::Mutex::new(BTreeMap::new()),
            ids: config.ids,
            store,
            payload_limit_bytes: config.payload_limit_bytes,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The bus's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.core.clock.clone()
    }

    /// Every topic with its subscribers, queue depths and counters.
    pub fn topology(&self) -> Topology {
        let registry = read(&self.inner.registry);
        let topics = registry
            .topics()
            .map(|(topic, subscribers)| TopicInfo {
                topic: topic.to_string(),
                subscribers: subscribers.iter().map(|s| s.info()).collect(),
            })
            .collect();
        Topology { topics }
    }

    /// One subscriber's queue depth and counters.
    pub fn subscriber(&self, name: &str) -> Option<SubscriberInfo> {
        read(&self.inner.registry).get(name).map(|s| s.info())
    }

    /// The dead letters kept, oldest first. The list keeps at most
    /// [`BusConfig::dead_letters_max`] letters; once full it keeps what it holds and counts
    /// each newcomer in [`InMemoryEventBus::dead_letters_dropped`] until
    /// [`InMemoryEventBus::take_dead_letters`] makes room.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.core.dead_letters.snapshot()
    }

    /// Removes and returns the dead letters kept, oldest first, making room for new ones: the
    /// step of a process that replays or archives them.
    ///
    /// ```
    /// use eventgate::{EventBus, HandlerError, InMemoryEventBus, NewEvent, SubscriberConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bus = InMemoryEventBus::new();
    /// let config = SubscriberConfig::new("flaky", ["job_failed"]).attempts_max(1);
    /// bus.subscribe_fn(config, |_event| async { Err(HandlerError::new("endpoint down")) })
    ///     .unwrap();
    /// bus.publish(NewEvent::raw("job_failed", "job_failed:7", "{}".into())).unwrap();
    /// bus.idle().await;
    /// let letters = bus.take_dead_letters();
    /// assert_eq!(letters.len(), 1);
    /// assert_eq!(letters[0].event.key(), "job_failed:7");
    /// assert!(bus.dead_letters().is_empty());
    /// # }
    /// ```
    pub fn take_dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.core.dead_letters.take()
    }

    /// How many dead letters were not kept because the list was full. Each was still counted
    /// on its subscriber ([`SubscriberInfo::counters`]) and logged with its event id.
    pub fn dead_letters_dropped(&self) -> u64 {
        self.inner.core.dead_letters.dropped()
    }

    /// Subscribes a closure `handler` under `config`: the same as [`EventBus::subscribe`] for
    /// a closure, except that the worker calls the closure directly and holds each run's
    /// future itself, where a [`Handler`] trait object boxes every run's future (an
    /// allocation and a free per delivery, about a fifth of a worker's cost per event).
    ///
    /// ```
    /// use eventgate::{EventBus, HandlerError, InMemoryEventBus, NewEvent, SubscriberConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bus = InMemoryEventBus::new();
    /// let config = SubscriberConfig::new("audit", ["job_completed"]);
    /// bus.subscribe_fn(config, |event| async move {
    ///     println!("{} {}", event.topic(), event.key());
    ///     Ok::<(), HandlerError>(())
    /// })
    /// .unwrap();
    /// bus.publish(NewEvent::raw("job_completed", "job_completed:7", "{}".into())).unwrap();
    /// bus.idle().await;
    /// # }
    /// ```
    pub fn subscribe_fn<F, Fut>(
        &self,
        config: SubscriberConfig,
        handler: F,
    ) -> Result<(), SubscribeError>
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.subscribe_runner(config, FnRunner(handler))
    }

    /// Registers a subscriber whose worker starts its handler with `runner`.
    fn subscribe_runner<R: Runner>(
        &self,
        config: SubscriberConfig,
        runner: R,
    ) -> Result<(), SubscribeError> {
        config.validate()?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| SubscribeError::NoRuntime)?;
        let store = config
            .store
            .clone()
            .unwrap_or_else(|| self.inner.store.clone());
        let subscriber = Arc::new(Subscriber::new(config, store));
        {
            let mut registry = write(&self.inner.registry);
            if self.inner.core.is_closed() {
                return Err(SubscribeError::ShutDown);
            }
            if registry.contains(&subscriber.name) {
                return Err(SubscribeError::DuplicateName(subscriber.name.to_string()));
            }
            registry.insert(subscriber.clone());
            let idle_yields = queue::idle_yields(runtime.runtime_flavor());
            let core = self.inner.core.clone();
            let worker = Worker::new(subscriber.clone(), core, runner, idle_yields);
            let handle = runtime.spawn(worker.run());
            let mut workers = self.inner.workers.lock().unwrap_or_else(|p| p.into_inner());
            workers.insert(subscriber.name.clone(), handle);
        }
        tracing::info!(
            target: "eventgate::bus",
            subscriber = %subscriber.name,
            topics = ?subscriber.config.topics,
            mode = ?subscriber.config.mode,
            "subscribed"
        );
        Ok(())
    }

    fn all_idle(&self) -> bool {
        read(&self.inner.registry)
            .subscribers()
            .all(|s| s.queue.is_idle())
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.inner.core.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.all_idle() {
                return;
            }
            notified.await;
        }
    }

    /// Removes every subscriber and stops its worker for `reason`; returns the dead-lettered
    /// count per subscriber.
    async fn stop_all(&self, reason: DeadLetterReason) -> BTreeMap<String, usize> {
        let removed: Vec<Arc<Subscriber>> = {
            let mut registry = write(&self.inner.registry);
            let names: Vec<Arc<str>> = registry.subscribers().map(|s| s.name.clone()).collect();
            names
                .iter()
                .filter_map(|name| registry.remove(name))
                .collect()
        };
        let mut report = BTreeMap::new();
        for subscriber in removed {
            subscriber.stop.stop(reason);
            let count = self.join_worker(&subscriber.name).await;
            report.insert(subscriber.name.to_string(), count);
        }
        report
    }

    async fn join_worker(&self, name: &str) -> usize {
        let handle = self
            .inner
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        match handle {
            Some(handle) => handle.await.unwrap_or_else(|error| {
                tracing::error!(
                    target: "eventgate::bus",
                    subscriber = name,
                    %error,
                    "worker ended abnormally"
                );
                0
            }),
            None => 0,
        }
    }
}

impl Default for InMemoryEventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus for InMemoryEventBus {
    fn publish(&self, event: NewEvent) -> Result<PublishReceipt, PublishError> {
        let core = &self.inner.core;
        if core.is_closed() {
            return Err(PublishError::ShutDown);
        }
        event.validate(self.inner.payload_limit_bytes)?;
        let (id, now_ms) = (self.inner.ids.next_id(), core.clock.unix_now_ms());
        let event = event.into_event(id, now_ms, core.recycler.take());
        core.observe(Observation::Published { event: &event });
        let fan_out = registry::publish_to(&self.inner.registry, core, &event);
        tracing::debug!(
            target: "eventgate::bus",
            event_id = %event.id(),
            topic = event.topic(),
            key = event.key(),
            queued = fan_out.queued,
            overflowed = fan_out.overflowed,
            "published"
        );
        Ok(PublishReceipt {
            event_id: event.id().clone(),
            queued: fan_out.queued,
            overflowed: fan_out.overflowed,
        })
    }

    fn subscribe_arc(
        &self,
        config: SubscriberConfig,
        handler: Arc<dyn Handler>,
    ) -> Result<(), SubscribeError> {
        self.subscribe_runner(config, handler)
    }

    fn unsubscribe<'a>(
        &'a self,
        name: &'a str,
    ) -> BusFuture<'a, Result<UnsubscribeReport, UnsubscribeError>> {
        Box::pin(async move {
            let removed = write(&self.inner.registry).remove(name);
            let subscriber = removed.ok_or_else(|| UnsubscribeError::Unknown(name.to_owned()))?;
            subscriber.stop.stop(DeadLetterReason::Unsubscribed);
            let dead_lettered = self.join_worker(name).await;
            self.inner.core.idle.notify_waiters();
            tracing::info!(
                target: "eventgate::bus",
                subscriber = name,
                dead_lettered,
                "unsubscribed"
            );
            Ok(UnsubscribeReport { dead_lettered })
        })
    }

    fn idle(&self) -> BusFuture<'_, ()> {
        Box::pin(self.wait_idle())
    }

    fn shutdown(&self, deadline: Duration) -> BusFuture<'_, ShutdownReport> {
        Box::pin(async move {
            self.inner.core.closed.store(true, Ordering::SeqCst);
            let drained = tokio::time::timeout(deadline, self.wait_idle())
                .await
                .is_ok();
            let undelivered = self.stop_all(DeadLetterReason::Shutdown).await;
            let report = ShutdownReport {
                drained_before_deadline: drained,
                undelivered,
            };
            tracing::info!(
                target: "eventgate::bus",
                drained = report.drained_before_deadline,
                undelivered = report.undelivered_total(),
                "bus shut down"
            );
            report
        })
    }
}
