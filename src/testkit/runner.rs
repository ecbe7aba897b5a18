//! Plays an operation sequence against the real bus and the model side by side.
//!
//! Each run gets its own current-thread tokio runtime with paused time; the bus's clock is
//! `TokioClock::with_epoch`, so `tokio::time::advance` and tokio's auto-advance past handler
//! timeouts and backoffs move the gate's TTL clock too. Its gate store is a `MemoryStore` on
//! that clock. After every operation the runner lets the bus go quiet and compares, with the
//! model: every publish receipt and subscribe, unsubscribe and shutdown answer; each live
//! subscriber's counters; the dead letters with their reasons; the handler runs per
//! (subscriber, key); and the clock. The first difference ends the run as a [`Divergence`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use super::model::{DeadLetterView, Model, SubscribeRefusal};
use super::op::{self, Behaviour, Delivery, Keys, Op, Publish, Then, slot_name};
use crate::bus::{
    BusConfig, EventBus, HandlerError, HandlerFuture, InMemoryEventBus, PublishError,
    SubscribeError, SubscriberConfig,
};
use crate::clock::TokioClock;
use crate::event::{Event, EventIds, NewEvent};
use crate::gate::MemoryStore;
use crate::mutants::Mutants;

/// The unix time a run's clock starts at.
const EPOCH: Duration = Duration::from_secs(1_700_000_000);

/// The payload of a scripted panic, which the runner's panic hook keeps quiet.
const SCRIPTED_PANIC: &str = "eventgate testkit: scripted handler panic";

/// Where the bus and the model parted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("after step {step} ({op:?}): {what}")]
pub struct Divergence {
    /// The index of the operation after which they differed.
    pub step: usize,
    /// That operation, normalised.
    pub op: Option<Op>,
    /// What differed.
    pub what: String,
}

/// Plays `ops` against the bus as shipped.
pub fn run_ops(ops: &[Op]) -> Result<(), Divergence> {
    run_ops_with(ops, Mutants::none())
}

/// Plays `ops` (at most [`op::OPS_MAX`] of them) against a bus with `mutants` switched on.
pub fn run_ops_with(ops: &[Op], mutants: Mutants) -> Result<(), Divergence> {
    quiet_scripted_panics();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|error| Divergence {
            step: 0,
            op: None,
            what: format!("no runtime: {error}"),
        })?;
    runtime.block_on(async {
        let mut run = Run::new(mutants);
        for (step, raw) in ops.iter().take(op::OPS_MAX).enumerate() {
            let normalised = raw.normalised();
            let diverged = |what: String| Divergence {
                step,
                op: Some(normalised.clone()),
                what,
            };
            run.apply(&normalised).await.map_err(diverged)?;
            run.compare().map_err(diverged)?;
        }
        Ok(())
    })
}

/// Installs, once per process, a panic hook that keeps the scripted handler panics quiet and
/// passes every other panic to the hook that was there before (a fuzzer's abort included).
fn quiet_scripted_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let scripted = payload
                .downcast_ref::<&str>()
                .is_some_and(|m| *m == SCRIPTED_PANIC);
            if !scripted {
                previous(info);
            }
        }));
    });
}

type Shared<T> = Arc<Mutex<T>>;

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Run {
    bus: InMemoryEventBus,
    model: Model,
    keys: Keys,
    scripts: Shared<BTreeMap<String, Vec<Behaviour>>>,
    runs: Shared<BTreeMap<(String, String), u32>>,
    start: tokio::time::Instant,
}

impl Run {
    fn new(mutants: Mutants) -> Self {
        let clock = Arc::new(TokioClock::with_epoch(EPOCH));
        let store = MemoryStore::new(clock.clone()).with_mutants(mutants);
        let config = BusConfig::default()
            .clock(clock)
            .store(Arc::new(store))
            .ids(EventIds::with_prefix(0))
            .mutants(mutants);
        Self {
            bus: InMemoryEventBus::with_config(config),
            model: Model::new(),
            keys: Keys::default(),
            scripts: Shared::default(),
            runs: Shared::default(),
            start: tokio::time::Instant::now(),
        }
    }

    async fn apply(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Subscribe {
                slot,
                mode,
                queue_capacity,
            } => self.subscribe(&slot_name(*slot), *mode, usize::from(*queue_capacity)),
            Op::Unsubscribe { slot } => self.unsubscribe(&slot_name(*slot)).await,
            Op::Burst { publishes, then } => self.burst(publishes, *then).await,
            Op::Advance(advance) => {
                self.model.advance(advance.duration());
                tokio::time::advance(advance.duration()).await;
                Ok(())
            }
        }
    }

    fn subscribe(&mut self, name: &str, mode: op::Mode, capacity: usize) -> Result<(), String> {
        let expected = self.model.subscribe(name, mode, capacity);
        let config = subscriber_config(name, mode, capacity);
        let actual = match self.bus.subscribe(config, self.handler(name)) {
            Ok(()) => Ok(()),
            Err(SubscribeError::DuplicateName(_)) => Err(SubscribeRefusal::Duplicate),
            Err(SubscribeError::ShutDown) => Err(SubscribeRefusal::ShutDown),
            Err(other) => return Err(format!("subscribe {name}: unexpected {other}")),
        };
        same("subscribe answer", &expected, &actual)
    }

    async fn unsubscribe(&mut self, name: &str) -> Result<(), String> {
        let expected = self.model.unsubscribe(name);
        let actual = self
            .bus
            .unsubscribe(name)
            .await
            .ok()
            .map(|report| report.dead_lettered);
        same("unsubscribe answer", &expected, &actual)
    }

    async fn burst(&mut self, publishes: &[Publish], then: Then) -> Result<(), String> {
        for publish in publishes {
            let delivery = self.keys.resolve(publish);
            locked(&self.scripts).insert(delivery.key.clone(), delivery.script.clone());
            self.publish(&delivery)?;
        }
        match then {
            Then::Idle => {}
            Then::Unsubscribe { slot } => self.unsubscribe(&slot_name(slot)).await?,
            Then::Shutdown => return self.shutdown().await,
        }
        self.model.run_to_idle();
        self.bus.idle().await;
        Ok(())
    }

    fn publish(&mut self, delivery: &Delivery) -> Result<(), String> {
        let expected = self.model.publish(delivery);
        let event = NewEvent::raw(op::TOPIC, delivery.key.clone(), delivery.payload.clone());
        let actual = match self.bus.publish(event) {
            Ok(receipt) => Some((receipt.queued, receipt.overflowed)),
            Err(PublishError::ShutDown) => None,
            Err(other) => return Err(format!("publish refused: {other}")),
        };
        same("publish (queued, overflowed)", &expected, &actual)
    }

    async fn shutdown(&mut self) -> Result<(), String> {
        let expected = self.model.shutdown();
        let report = self.bus.shutdown(op::SHUTDOWN_DEADLINE).await;
        same("shutdown drained", &true, &report.drained_before_deadline)?;
        same("shutdown undelivered", &expected, &report.undelivered)
    }

    fn handler(&self, name: &str) -> impl Fn(Event) -> HandlerFuture + Send + Sync + 'static {
        let (scripts, runs, name) = (self.scripts.clone(), self.runs.clone(), name.to_owned());
        move |event: Event| {
            let behaviour = next_behaviour(&scripts, &runs, &name, event.key());
            Box::pin(async move {
                match behaviour {
                    Behaviour::Ok => Ok(()),
                    Behaviour::Error => Err(HandlerError::new("scripted error")),
                    Behaviour::Panic => std::panic::panic_any(SCRIPTED_PANIC),
                    Behaviour::Timeout => std::future::pending().await,
                }
            })
        }
    }

    /// Compares everything the model predicts with what the bus shows.
    fn compare(&self) -> Result<(), String> {
        let expected = self.model.counters();
        for slot in 0..op::SLOTS {
            let name = slot_name(slot);
            let actual = self.bus.subscriber(&name).map(|info| info.counters);
            same(
                &format!("counters of {name}"),
                &expected.get(&name).copied(),
                &actual,
            )?;
        }
        same(
            "dead letters",
            &self.model.dead_letters(),
            &self.dead_letters(),
        )?;
        same("handler runs", self.model.runs(), &*locked(&self.runs))?;
        let elapsed = u64::try_from((tokio::time::Instant::now() - self.start).as_millis());
        same(
            "elapsed ms",
            &Ok(self.model.now_ms()),
            &elapsed.map_err(|_| ()),
        )
    }

    fn dead_letters(&self) -> Vec<DeadLetterView> {
        let mut letters: Vec<DeadLetterView> = self
            .bus
            .dead_letters()
            .into_iter()
            .map(|letter| DeadLetterView {
                subscriber: letter.subscriber.to_string(),
                key: letter.event.key().to_owned(),
                payload: letter.event.payload().to_owned(),
                reason: letter.reason,
            })
            .collect();
        letters.sort();
        letters
    }
}

fn subscriber_config(name: &str, mode: op::Mode, capacity: usize) -> SubscriberConfig {
    let mode = match mode {
        op::Mode::Ungated => crate::DeliveryMode::Ungated,
        op::Mode::AtMostOnce => crate::DeliveryMode::AtMostOnce,
        op::Mode::AtLeastOnce => crate::DeliveryMode::AtLeastOnce,
    };
    SubscriberConfig::new(name, [op::TOPIC])
        .mode(mode)
        .queue_capacity(capacity)
        .handler_timeout(op::HANDLER_TIMEOUT)
        .lease(op::LEASE)
        .ttl(op::TTL)
        .attempts_max(op::ATTEMPTS_MAX)
        .backoff(op::BACKOFF_INITIAL, op::BACKOFF_MAX)
}

/// The behaviour of `name`'s next run for `key`, counting the run.
fn next_behaviour(
    scripts: &Mutex<BTreeMap<String, Vec<Behaviour>>>,
    runs: &Mutex<BTreeMap<(String, String), u32>>,
    name: &str,
    key: &str,
) -> Behaviour {
    let script = locked(scripts).get(key).cloned().unwrap_or_default();
    let mut runs = locked(runs);
    let count = runs.entry((name.to_owned(), key.to_owned())).or_default();
    let behaviour = script.get(*count as usize % script.len().max(1)).copied();
    *count += 1;
    behaviour.unwrap_or(Behaviour::Ok)
}

fn same<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: &T,
    actual: &T,
) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{what}: model {expected:?}, bus {actual:?}"))
    }
}
