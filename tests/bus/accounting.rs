//! Accounting: every (event, subscriber) pair ends handled, suppressed or dead-lettered with
//! a reason; a full queue overflows with a record, never silently; dead letters stay bounded.

use std::time::Duration;

use eventgate::bus::{BusConfig, DeadLetterReason};
use eventgate::{EventBus, InMemoryEventBus, SubscriberConfig};

use crate::common::{self, Runs};

#[tokio::test(start_paused = true)]
async fn full_queue_overflows_with_a_dead_letter_for_that_subscriber_alone() {
    let bus = common::bus();
    let (slow, roomy) = (Runs::default(), Runs::default());
    let small = SubscriberConfig::new("small", ["t"]).queue_capacity(2);
    bus.subscribe(small, slow.slow(Duration::from_secs(1)))
        .unwrap();
    bus.subscribe(SubscriberConfig::new("roomy", ["t"]), roomy.ok())
        .unwrap();

    let mut overflowed = 0;
    for n in 0..6 {
        let receipt = bus
            .publish(common::event("t", &format!("k{n}"), n))
            .unwrap();
        overflowed += receipt.overflowed;
    }
    bus.idle().await;

    assert_eq!(
        overflowed, 4,
        "capacity two, nothing taken before the publishes ended"
    );
    assert_eq!(roomy.total(), 6);
    let small = bus.subscriber("small").unwrap().counters;
    assert_eq!(
        (small.handled, small.overflowed, small.dead_lettered),
        (2, 4, 4)
    );
    let letters = bus.dead_letters();
    assert!(
        letters
            .iter()
            .all(|l| l.reason == DeadLetterReason::Overflow)
    );
    assert!(letters.iter().all(|l| &*l.subscriber == "small"));
}

#[tokio::test(start_paused = true)]
async fn every_pair_is_handled_suppressed_or_dead_lettered() {
    common::quiet_planted_panics();
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(SubscriberConfig::new("ok", ["t"]), runs.ok())
        .unwrap();
    bus.subscribe(SubscriberConfig::new("bad", ["t"]), common::panicking)
        .unwrap();
    bus.subscribe(
        SubscriberConfig::new("tiny", ["t"]).queue_capacity(1),
        runs.ok(),
    )
    .unwrap();

    let mut queued = 0;
    let mut overflowed = 0;
    for n in 0..50 {
        let receipt = bus
            .publish(common::event("t", &format!("k{}", n % 20), n % 20))
            .unwrap();
        queued += receipt.queued;
        overflowed += receipt.overflowed;
    }
    bus.idle().await;

    let mut ended = 0;
    for name in ["ok", "bad", "tiny"] {
        let c = bus.subscriber(name).unwrap().counters;
        assert_eq!(
            c.enqueued,
            c.handled + c.suppressed + c.dead_lettered - c.overflowed
        );
        ended += c.handled + c.suppressed + c.dead_lettered;
    }
    assert_eq!(ended as usize, queued + overflowed);
    assert_eq!(queued + overflowed, 150);
}

#[tokio::test(start_paused = true)]
async fn dead_letters_beyond_the_bound_are_counted_and_the_kept_ones_stay() {
    let bus = InMemoryEventBus::with_config(
        BusConfig::default()
            .clock(common::clock())
            .dead_letters_max(3),
    );
    let runs = Runs::default();
    bus.subscribe(SubscriberConfig::new("s", ["t"]), runs.failing())
        .unwrap();

    for n in 0..5 {
        bus.publish(common::event("t", &format!("k{n}"), n))
            .unwrap();
    }
    bus.idle().await;

    assert_eq!(kept_keys(&bus), ["k0", "k1", "k2"]);
    assert_eq!(bus.dead_letters_dropped(), 2);
    assert_eq!(bus.subscriber("s").unwrap().counters.dead_lettered, 5);
}

#[tokio::test(start_paused = true)]
async fn taking_the_dead_letters_makes_room_for_new_ones() {
    let bus = InMemoryEventBus::with_config(
        BusConfig::default()
            .clock(common::clock())
            .dead_letters_max(2),
    );
    let runs = Runs::default();
    bus.subscribe(SubscriberConfig::new("s", ["t"]), runs.failing())
        .unwrap();
    for n in 0..3 {
        bus.publish(common::event("t", &format!("k{n}"), n))
            .unwrap();
    }
    bus.idle().await;

    let taken: Vec<String> = bus
        .take_dead_letters()
        .iter()
        .map(|l| l.event.key().to_owned())
        .collect();
    assert_eq!(taken, ["k0", "k1"]);
    assert!(bus.dead_letters().is_empty());

    for n in 3..6 {
        bus.publish(common::event("t", &format!("k{n}"), n))
            .unwrap();
    }
    bus.idle().await;
    assert_eq!(kept_keys(&bus), ["k3", "k4"]);
    assert_eq!(bus.dead_letters_dropped(), 2);
}

fn kept_keys(bus: &InMemoryEventBus) -> Vec<String> {
    bus.dead_letters()
        .iter()
        .map(|l| l.event.key().to_owned())
        .collect()
}
