//! The idempotency gate as subscribers see it: duplicates within the TTL are suppressed,
//! after it they run again; a key with another payload is a conflict; a full store refuses.

use std::time::Duration;

use eventgate::bus::{DeadLetterReason, DeliveryMode};
use eventgate::{EventBus, SubscriberConfig};

use crate::common::{self, Runs};

const TTL: Duration = Duration::from_secs(60);

fn at_most_once(name: &str) -> SubscriberConfig {
    SubscriberConfig::new(name, ["t"]).ttl(TTL)
}

#[tokio::test(start_paused = true)]
async fn duplicate_within_ttl_runs_handler_once() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(at_most_once("s"), runs.ok()).unwrap();

    for _ in 0..5 {
        bus.publish(common::event("t", "job:1", 1)).unwrap();
        bus.idle().await;
        tokio::time::advance(TTL / 10).await;
    }

    assert_eq!(runs.of("job:1"), 1);
    let counters = bus.subscriber("s").unwrap().counters;
    assert_eq!((counters.handled, counters.suppressed), (1, 4));
}

#[tokio::test(start_paused = true)]
async fn duplicate_after_ttl_runs_handler_again() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(at_most_once("s"), runs.ok()).unwrap();

    bus.publish(common::event("t", "job:1", 1)).unwrap();
    bus.idle().await;
    tokio::time::advance(TTL - Duration::from_millis(1)).await;
    bus.publish(common::event("t", "job:1", 1)).unwrap();
    bus.idle().await;
    assert_eq!(
        runs.of("job:1"),
        1,
        "one millisecond before the TTL ends it is a duplicate"
    );

    tokio::time::advance(Duration::from_millis(1)).await;
    bus.publish(common::event("t", "job:1", 1)).unwrap();
    bus.idle().await;
    assert_eq!(runs.of("job:1"), 2, "once the TTL ends the key runs again");
}

#[tokio::test(start_paused = true)]
async fn failed_run_keeps_the_key_claimed_in_at_most_once_mode() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(at_most_once("s"), runs.failing()).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    assert_eq!(runs.of("k"), 1);
    let counters = bus.subscriber("s").unwrap().counters;
    assert_eq!(
        (counters.failed, counters.suppressed, counters.dead_lettered),
        (1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn each_subscriber_has_its_own_gate_record() {
    let bus = common::bus();
    let (a, b) = (Runs::default(), Runs::default());
    bus.subscribe(at_most_once("a"), a.ok()).unwrap();
    bus.subscribe(at_most_once("b"), b.ok()).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    assert_eq!((a.of("k"), b.of("k")), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn same_key_with_another_payload_is_a_conflict_and_does_not_run() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(at_most_once("s"), runs.ok()).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.publish(common::event("t", "k", 2)).unwrap();
    bus.idle().await;

    assert_eq!(runs.of("k"), 1);
    let letters = bus.dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].reason, DeadLetterReason::Conflict);
    assert_eq!(letters[0].event.payload(), r#"{"n":2}"#);
    assert_eq!(bus.subscriber("s").unwrap().counters.conflicts, 1);
}

#[tokio::test(start_paused = true)]
async fn full_store_refuses_new_keys_and_dead_letters_them() {
    let bus = common::bus_with_store_capacity(2);
    let runs = Runs::default();
    bus.subscribe(at_most_once("s"), runs.ok()).unwrap();

    for key in ["a", "b", "c"] {
        bus.publish(common::event("t", key, 1)).unwrap();
    }
    bus.publish(common::event("t", "a", 1)).unwrap();
    bus.idle().await;

    assert_eq!(
        runs.order(),
        ["a", "b"],
        "the third key was refused, the live ones kept"
    );
    let letters = bus.dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].event.key(), letters[0].reason),
        ("c", DeadLetterReason::StoreFull)
    );
    assert_eq!(bus.subscriber("s").unwrap().counters.suppressed, 1);
}

#[tokio::test(start_paused = true)]
async fn ungated_subscriber_runs_every_delivery() {
    let bus = common::bus();
    let runs = Runs::default();
    let config = SubscriberConfig::new("s", ["t"]).mode(DeliveryMode::Ungated);
    bus.subscribe(config, runs.ok()).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    assert_eq!(runs.of("k"), 2);
}
