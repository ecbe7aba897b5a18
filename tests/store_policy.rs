//! What a gated subscriber does when its gate store is unavailable: the `StorePolicy`.
//!
//! The store here is a stand-in that answers `Unavailable` for its first N claims and then
//! behaves as a `MemoryStore`, so each policy is checked on paused tokio time, with no
//! Redis and no real waiting. The same policies against a real unreachable Redis are in
//! `redis_faults.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use eventgate::bus::{AttemptOutcome, DeadLetterReason, StorePolicy};
use eventgate::event::NewEvent;
use eventgate::gate::{ClaimOutcome, ClaimToken, GateStore, MemoryStore, StoreError, StoreFuture};
use eventgate::{Clock, DeliveryMode, EventBus, HandlerError, InMemoryEventBus, SubscriberConfig};

/// Unavailable for the first `outages` claims, then a memory store.
#[derive(Debug)]
struct FlakyStore {
    outages: AtomicU32,
    inner: MemoryStore,
}

impl FlakyStore {
    fn new(outages: u32, clock: Arc<dyn Clock>) -> Self {
        Self {
            outages: AtomicU32::new(outages),
            inner: MemoryStore::new(clock),
        }
    }
}

impl GateStore for FlakyStore {
    fn claim<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        fingerprint: u64,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        let down = self
            .outages
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            });
        if down.is_ok() {
            let reason = "stand-in outage".to_owned();
            return Box::pin(std::future::ready(Err(StoreError::Unavailable { reason })));
        }
        self.inner.claim(subscriber, key, fingerprint, lease)
    }

    fn complete<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        self.inner.complete(subscriber, key, token, ttl)
    }

    fn release<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, ()> {
        self.inner.release(subscriber, key, token)
    }
}

/// A bus with one subscriber "s" on topic "t" behind a store down for `outages` claims;
/// returns the bus and the handler's run count.
fn bus_with_outages(outages: u32, config: SubscriberConfig) -> (InMemoryEventBus, Arc<AtomicU32>) {
    let bus = InMemoryEventBus::new();
    let store = Arc::new(FlakyStore::new(outages, bus.clock()));
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let handler = move |_event| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<(), HandlerError>(()) }
    };
    bus.subscribe(config.store(store), handler).unwrap();
    (bus, runs)
}

fn event() -> NewEvent {
    NewEvent::raw("t", "key-1", "{}".to_owned())
}

#[tokio::test(start_paused = true)]
async fn at_most_once_fails_closed_by_default_and_dead_letters_store_unavailable() {
    let (bus, runs) = bus_with_outages(1, SubscriberConfig::new("s", ["t"]));
    bus.publish(event()).unwrap();
    bus.idle().await;

    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "the handler must not run ungated"
    );
    let dead = bus.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadLetterReason::StoreUnavailable);
    assert_eq!(dead[0].reason.as_str(), "store-unavailable");
    assert!(
        matches!(dead[0].attempts[..], [_]),
        "one store-unavailable attempt is recorded"
    );
}

#[tokio::test(start_paused = true)]
async fn fail_open_runs_the_handler_ungated_once_when_the_store_is_away() {
    let config = SubscriberConfig::new("s", ["t"]).on_store_unavailable(StorePolicy::FailOpen);
    let (bus, runs) = bus_with_outages(1, config);
    bus.publish(event()).unwrap();
    bus.idle().await;

    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(bus.dead_letters().is_empty());
    assert_eq!(bus.subscriber("s").unwrap().counters.handled, 1);
}

#[tokio::test(start_paused = true)]
async fn at_least_once_retries_store_unavailable_and_runs_once_the_store_is_back() {
    let config = SubscriberConfig::new("s", ["t"])
        .mode(DeliveryMode::AtLeastOnce)
        .attempts_max(3);
    let (bus, runs) = bus_with_outages(2, config);
    bus.publish(event()).unwrap();
    bus.idle().await;

    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(bus.dead_letters().is_empty());
    let counters = bus.subscriber("s").unwrap().counters;
    assert_eq!((counters.handled, counters.retried), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn at_least_once_dead_letters_store_unavailable_once_the_attempt_budget_is_spent() {
    let config = SubscriberConfig::new("s", ["t"])
        .mode(DeliveryMode::AtLeastOnce)
        .attempts_max(3);
    let (bus, runs) = bus_with_outages(3, config);
    bus.publish(event()).unwrap();
    bus.idle().await;

    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let dead = bus.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadLetterReason::StoreUnavailable);
    let all_unavailable = dead[0]
        .attempts
        .iter()
        .all(|a| matches!(a.outcome, AttemptOutcome::StoreUnavailable { .. }));
    assert_eq!(dead[0].attempts.len(), 3);
    assert!(all_unavailable, "attempts: {:?}", dead[0].attempts);
}
