//! Subscribe and unsubscribe racing publish. One thread publishes two events, one
//! unsubscribes `old`, one subscribes `new`. Every event is either queued for a subscriber
//! and then drained (by unsubscribe, which dead-letters and reports it) or never seen by it:
//! nothing lost, nothing dead-lettered behind unsubscribe's back. `FanOutOutsideLock` pushes
//! after releasing the registry lock, so an event reaches `old` after its drain, and its dead
//! letter is missing from unsubscribe's report.

use std::sync::Arc;
use std::time::Duration;

use eventgate::ManualClock;
use eventgate::bus::DeadLetterReason;
use eventgate::model_seam::CoreBus;
use eventgate::mutants::{Mutant, Mutants};
use loom::thread;

use crate::support;

const TOPIC: &str = "orders";
const QUEUE_CAPACITY: usize = 4;
const PUBLISHES: usize = 2;

fn model(mutants: Mutants) {
    let clock = Arc::new(ManualClock::new(Duration::ZERO));
    let bus = Arc::new(CoreBus::new(clock, mutants));
    bus.subscribe("old", TOPIC, QUEUE_CAPACITY).unwrap();

    let publisher = {
        let bus = bus.clone();
        thread::spawn(move || {
            (0..PUBLISHES)
                .map(|i| bus.publish(TOPIC, &format!("k{i}")))
                .collect::<Vec<_>>()
        })
    };
    let unsubscriber = {
        let bus = bus.clone();
        thread::spawn(move || bus.unsubscribe("old").expect("old is subscribed"))
    };
    let subscriber = {
        let bus = bus.clone();
        thread::spawn(move || bus.subscribe("new", TOPIC, QUEUE_CAPACITY))
    };
    let receipts = publisher.join().unwrap();
    let old = unsubscriber.join().unwrap();
    subscriber.join().unwrap().unwrap();

    let new = bus.counters("new").expect("new stays subscribed");
    let queued: usize = receipts.iter().map(|r| r.queued).sum();
    assert!(
        receipts.iter().all(|r| r.overflowed == 0),
        "no queue was full: {receipts:?}"
    );
    assert_eq!(
        queued as u64,
        old.counters.enqueued + new.enqueued,
        "receipts match the queues"
    );
    assert_eq!(
        old.counters.enqueued, old.dead_lettered as u64,
        "old's queued events were drained"
    );
    assert_eq!(
        bus.depth("new"),
        Some(new.enqueued as usize),
        "new keeps what it was sent"
    );
    let letters = bus.dead_letters();
    assert!(
        letters
            .iter()
            .all(|l| &*l.subscriber == "old" && l.reason == DeadLetterReason::Unsubscribed)
    );
    assert_eq!(
        letters.len(),
        old.dead_lettered,
        "every dead letter is in unsubscribe's report"
    );
}

#[test]
fn publish_racing_subscribe_and_unsubscribe_loses_nothing() {
    support::check(
        "subscribe_unsubscribe_vs_publish",
        || model(Mutants::none()),
    );
}

#[test]
fn fan_out_outside_lock_dead_letters_behind_unsubscribe() {
    let broken = || model(Mutants::only(Mutant::FanOutOutsideLock));
    assert!(support::finds_failure(
        "subscribe_unsubscribe_vs_publish/fan-out-outside-lock",
        broken
    ));
}
