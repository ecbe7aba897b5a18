//! Shared test fixtures: a bus on paused time, handlers that count, fail, panic or hang.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventgate::bus::{BusConfig, HandlerError, HandlerFuture};
use eventgate::gate::MemoryStore;
use eventgate::{Clock, Event, InMemoryEventBus, NewEvent, TokioClock};

/// Unix time of the test clock's start: 2026-01-01T00:00:00Z.
pub const EPOCH: Duration = Duration::from_secs(1_767_225_600);

/// A bus whose clock follows paused tokio time.
pub fn bus() -> InMemoryEventBus {
    InMemoryEventBus::with_config(BusConfig::default().clock(clock()))
}

/// A bus with a memory store of `capacity_keys`.
pub fn bus_with_store_capacity(capacity_keys: usize) -> InMemoryEventBus {
    let clock = clock();
    let store = Arc::new(MemoryStore::with_capacity(clock.clone(), capacity_keys));
    InMemoryEventBus::with_config(BusConfig::default().clock(clock).store(store))
}

pub fn clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock::with_epoch(EPOCH))
}

/// An event on `topic` with `key` and a small payload.
pub fn event(topic: &str, key: &str, payload: u32) -> NewEvent {
    NewEvent::json(topic, key, &serde_json::json!({ "n": payload })).unwrap()
}

/// Counts handler runs per event key, and keeps the order of runs.
#[derive(Clone, Default)]
pub struct Runs {
    inner: Arc<Mutex<Vec<String>>>,
}

impl Runs {
    pub fn record(&self, event: &Event) {
        self.inner.lock().unwrap().push(event.key().to_owned());
    }

    pub fn total(&self) -> usize {
        self.inner.lock().unwrap().len()
    }

    pub fn of(&self, key: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == key)
            .count()
    }

    pub fn order(&self) -> Vec<String> {
        self.inner.lock().unwrap().clone()
    }

    pub fn per_key(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for key in self.inner.lock().unwrap().iter() {
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// A handler that records the run and succeeds.
    pub fn ok(&self) -> impl Fn(Event) -> HandlerFuture + Send + Sync + 'static {
        let runs = self.clone();
        move |event: Event| -> HandlerFuture {
            runs.record(&event);
            Box::pin(async { Ok(()) })
        }
    }

    /// A handler that records the run and fails.
    pub fn failing(&self) -> impl Fn(Event) -> HandlerFuture + Send + Sync + 'static {
        let runs = self.clone();
        move |event: Event| -> HandlerFuture {
            runs.record(&event);
            Box::pin(async { Err(HandlerError::new("planted failure")) })
        }
    }

    /// A handler that records the run and then runs for `duration` of tokio time.
    pub fn slow(
        &self,
        duration: Duration,
    ) -> impl Fn(Event) -> HandlerFuture + Send + Sync + 'static {
        let runs = self.clone();
        move |event: Event| -> HandlerFuture {
            runs.record(&event);
            Box::pin(async move {
                tokio::time::sleep(duration).await;
                Ok(())
            })
        }
    }
}

/// A handler that panics on every event.
pub fn panicking(event: Event) -> HandlerFuture {
    let _ = event;
    Box::pin(async { panic!("planted panic in a test handler") })
}

/// A handler that never finishes.
pub fn hanging(event: Event) -> HandlerFuture {
    let _ = event;
    Box::pin(std::future::pending())
}

/// Silences the panics the tests plant on purpose, keeping every other panic's message.
pub fn quiet_planted_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let planted = info
                .payload()
                .downcast_ref::<&str>()
                .is_some_and(|message| message.starts_with("planted panic"));
            if !planted {
                default(info);
            }
        }));
    });
}
