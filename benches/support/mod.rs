//! What every eventgate benchmark shares: the runtime they all run on, the 256-byte payload
//! they all move, the events built from it ahead of time, the completion counter every
//! handler and every peer's receiver bumps, the peers' receiving tasks, and the dispatch
//! rows' timing loop ([`timed`]).
//!
//! The waiting mechanism is one and the same for eventgate and its peers (an atomic counter
//! and a `Notify`), so what differs between two rows of a table is only the way the events
//! travel.

// Each benchmark binary compiles this module and uses its own part of it.
#![allow(dead_code)]

pub mod rounds;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventgate::bus::BusConfig;
use eventgate::gate::MemoryStore;
use eventgate::{Clock, DeliveryMode, Event, EventBus, HandlerError, InMemoryEventBus};
use eventgate::{NewEvent, SubscriberConfig, TokioClock};
use tokio::sync::Notify;

/// The topic every benchmark publishes on.
pub const TOPIC: &str = "bench";

/// The payload size of every event, in bytes (the peers move the same bytes behind an `Arc`).
pub const PAYLOAD_BYTES: usize = 256;

/// How many distinct keys the prepared events cycle over. A gated subscriber's records for a
/// key have expired (see [`KEY_TTL`]) long before the key comes round again.
pub const KEYS_DISTINCT: usize = 16_384;

/// The gate TTL of the benchmarks' gated subscribers: short, so that reused keys are free
/// again and the store stays at [`KEYS_DISTINCT`] records instead of filling up.
pub const KEY_TTL: Duration = Duration::from_micros(200);

/// The value the peers move: the payload behind an `Arc`.
pub type Payload = Arc<[u8; PAYLOAD_BYTES]>;

/// The multi-thread runtime every dispatch benchmark uses: two workers, like the machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime builds")
}

/// The 256-byte JSON payload text: a string of filler inside quotes.
pub fn payload_text() -> String {
    let text = format!("\"{}\"", "x".repeat(PAYLOAD_BYTES - 2));
    assert_eq!(text.len(), PAYLOAD_BYTES);
    text
}

/// The peers' value.
pub fn payload() -> Payload {
    Arc::new([b'x'; PAYLOAD_BYTES])
}

/// [`KEYS_DISTINCT`] events on [`TOPIC`], each with its own key and a 256-byte payload,
/// built before any timing starts.
pub fn events() -> Vec<NewEvent> {
    let text = payload_text();
    (0..KEYS_DISTINCT)
        .map(|i| NewEvent::raw(TOPIC, format!("order:{i}"), text.clone()))
        .collect()
}

/// The next `size` prepared events, cycling from `*next`, cloned before a timer starts.
pub fn next_batch(events: &[NewEvent], next: &mut usize, size: u64) -> Vec<NewEvent> {
    (0..size)
        .map(|_| {
            *next = (*next + 1) % events.len();
            events[*next].clone()
        })
        .collect()
}

/// A completion counter: receivers bump it, the timing loop waits until it reaches a target.
#[derive(Default)]
pub struct Done {
    count: AtomicU64,
    target: AtomicU64,
    reached: Notify,
}

impl Done {
    /// Records one handled event; wakes the waiter when the target is reached.
    pub fn hit(&self) {
        let count = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if count == self.target.load(Ordering::Acquire) {
            self.reached.notify_one();
        }
    }

    /// Raises the target by `more` handled events; call before publishing them.
    pub fn expect(&self, more: u64) -> u64 {
        self.target.fetch_add(more, Ordering::AcqRel) + more
    }

    /// Waits until `target` events have been handled.
    ///
    /// # Panics
    /// After [`STALL_LIMIT`]: an event was suppressed or overflowed, and the benchmark would
    /// otherwise hang instead of reporting the mistake.
    pub async fn reach(&self, target: u64) {
        let wait = async {
            while self.count.load(Ordering::Acquire) < target {
                self.reached.notified().await;
            }
        };
        if tokio::time::timeout(STALL_LIMIT, wait).await.is_err() {
            let count = self.count.load(Ordering::Acquire);
            panic!("only {count} of {target} events were handled: suppressed or overflowed?");
        }
    }
}

/// How long a batch may take before the benchmark gives up on it.
pub const STALL_LIMIT: Duration = Duration::from_secs(30);

/// How many events a timed batch publishes before waiting for its handlers. Below every
/// queue's and channel's capacity, so nothing overflows while the batch is in flight.
pub const BATCH_EVENTS: u64 = 256;

/// Splits `iters` events into batches of at most [`BATCH_EVENTS`].
pub fn batches(iters: u64) -> impl Iterator<Item = u64> {
    let full = iters / BATCH_EVENTS;
    let rest = iters % BATCH_EVENTS;
    std::iter::repeat_n(BATCH_EVENTS, full as usize).chain((rest > 0).then_some(rest))
}

/// A bus on `runtime` with `subscribers` subscribers of [`TOPIC`] in `mode`, each bumping
/// `done` once per event it handles: closures subscribed with `subscribe_fn`, as a user with
/// a closure handler would. Gated subscribers share a memory store with room for
/// every key they can hold at once.
pub fn bus_with(
    runtime: &tokio::runtime::Runtime,
    subscribers: usize,
    mode: DeliveryMode,
    done: &Arc<Done>,
) -> InMemoryEventBus {
    let _entered = runtime.enter();
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let capacity_keys = 2 * subscribers.max(1) * KEYS_DISTINCT;
    let store = Arc::new(MemoryStore::with_capacity(clock.clone(), capacity_keys));
    let bus = InMemoryEventBus::with_config(BusConfig::default().clock(clock).store(store));
    for index in 0..subscribers {
        let done = done.clone();
        let handler = move |event: Event| {
            std::hint::black_box(event);
            done.hit();
            std::future::ready(Ok::<(), HandlerError>(()))
        };
        let config = SubscriberConfig::new(format!("counting-{index}"), [TOPIC])
            .mode(mode)
            .ttl(KEY_TTL);
        bus.subscribe_fn(config, handler)
            .expect("a benchmark subscriber subscribes");
    }
    bus
}

/// How long the hung handler is allowed to run: longer than any benchmark.
pub const HUNG_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Subscribes, on [`TOPIC`], a subscriber whose handler never finishes: its queue fills and
/// every later event overflows for it. Call inside the bus's runtime.
pub fn subscribe_hung(bus: &InMemoryEventBus) {
    let hang = |_event: Event| std::future::pending::<Result<(), HandlerError>>();
    let config = SubscriberConfig::new("hung", [TOPIC])
        .mode(DeliveryMode::Ungated)
        .handler_timeout(HUNG_TIMEOUT)
        .lease(2 * HUNG_TIMEOUT);
    bus.subscribe(config, hang)
        .expect("the hung subscriber subscribes");
}

/// Sends `iters` values in batches made by `batch` (untimed), each with `send`, waiting after
/// each batch until `deliveries_per_value` handlers per value have bumped `done`; returns
/// the time spent sending and waiting. Every dispatch row (and `prof_dispatch`) uses it, so
/// rows differ only in `send`.
pub async fn timed<T>(
    done: &Done,
    iters: u64,
    deliveries_per_value: u64,
    mut batch: impl FnMut(u64) -> Vec<T>,
    mut send: impl FnMut(T),
) -> Duration {
    let mut elapsed = Duration::ZERO;
    for size in batches(iters) {
        let values = batch(size);
        let target = done.expect(size * deliveries_per_value);
        let start = Instant::now();
        for value in values {
            send(value);
        }
        done.reach(target).await;
        elapsed += start.elapsed();
    }
    elapsed
}

/// As [`timed`], but returns only the time spent sending: the waits for the handlers after
/// each batch are untimed. The publish-latency rows (and `prof_dispatch`'s `publish` modes)
/// use it.
pub async fn timed_sends<T>(
    done: &Done,
    iters: u64,
    deliveries_per_value: u64,
    mut batch: impl FnMut(u64) -> Vec<T>,
    mut send: impl FnMut(T),
) -> Duration {
    let mut elapsed = Duration::ZERO;
    for size in batches(iters) {
        let values = batch(size);
        let target = done.expect(size * deliveries_per_value);
        let start = Instant::now();
        for value in values {
            send(value);
        }
        elapsed += start.elapsed();
        done.reach(target).await;
    }
    elapsed
}

/// The peers' channel capacity: the bus's default queue capacity.
pub const CHANNEL_CAPACITY: usize = eventgate::defaults::QUEUE_CAPACITY;

/// A `tokio::sync::mpsc` channel whose one receiving task, on `runtime`, bumps `done` per value.
pub fn mpsc_peer(
    runtime: &tokio::runtime::Runtime,
    done: &Arc<Done>,
) -> tokio::sync::mpsc::Sender<Payload> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Payload>(CHANNEL_CAPACITY);
    let counted = done.clone();
    runtime.spawn(async move {
        while let Some(value) = receiver.recv().await {
            std::hint::black_box(value);
            counted.hit();
        }
    });
    sender
}

/// A `tokio::sync::broadcast` channel whose `tasks` receiving tasks, on `runtime`, each bump
/// `done` per value.
pub fn broadcast_peer(
    runtime: &tokio::runtime::Runtime,
    done: &Arc<Done>,
    tasks: usize,
) -> tokio::sync::broadcast::Sender<Payload> {
    let (sender, _) = tokio::sync::broadcast::channel::<Payload>(CHANNEL_CAPACITY);
    for _ in 0..tasks {
        let mut receiver = sender.subscribe();
        let counted = done.clone();
        runtime.spawn(async move {
            while let Ok(value) = receiver.recv().await {
                std::hint::black_box(value);
                counted.hit();
            }
        });
    }
    sender
}
