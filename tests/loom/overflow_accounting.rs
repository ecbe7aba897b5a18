//! Overflow accounting under concurrent publishes: two publishers race into a queue of one
//! slot while the worker takes from it. Every publish is queued or overflowed, the counters
//! and the overflow dead letters agree with the receipts, and the queue never holds more than
//! its capacity. `QueueCheckThenPush` lets both publishers take the last slot;
//! `OverflowWithoutRecord` drops the overflowed event without a dead letter or a count.

use std::sync::Arc;
use std::time::Duration;

use eventgate::ManualClock;
use eventgate::bus::DeadLetterReason;
use eventgate::model_seam::CoreBus;
use eventgate::mutants::{Mutant, Mutants};
use loom::thread;

use crate::support;

const TOPIC: &str = "orders";
const QUEUE_CAPACITY: usize = 1;

fn model(mutants: Mutants) {
    let clock = Arc::new(ManualClock::new(Duration::ZERO));
    let bus = Arc::new(CoreBus::new(clock, mutants));
    bus.subscribe("s", TOPIC, QUEUE_CAPACITY).unwrap();

    let publishers: Vec<_> = (0..2)
        .map(|i| {
            let bus = bus.clone();
            thread::spawn(move || bus.publish(TOPIC, &format!("k{i}")))
        })
        .collect();
    let worker = {
        let bus = bus.clone();
        thread::spawn(move || usize::from(bus.pop("s").is_some()))
    };
    let receipts: Vec<_> = publishers.into_iter().map(|t| t.join().unwrap()).collect();
    let popped = worker.join().unwrap();

    let counters = bus.counters("s").unwrap();
    let queued: usize = receipts.iter().map(|r| r.queued).sum();
    let overflowed: usize = receipts.iter().map(|r| r.overflowed).sum();
    let depth = bus.depth("s").unwrap();
    assert_eq!(
        queued + overflowed,
        receipts.len(),
        "each publish queued or overflowed"
    );
    assert!(depth <= QUEUE_CAPACITY, "queue over its capacity: {depth}");
    assert_eq!(counters.enqueued, queued as u64);
    assert_eq!(
        counters.enqueued as usize,
        popped + depth,
        "queued events are popped or waiting"
    );
    assert_eq!(counters.overflowed, overflowed as u64);
    assert_eq!(counters.handled as usize, popped);
    let letters = bus.dead_letters();
    let overflow_letters = letters
        .iter()
        .filter(|l| l.reason == DeadLetterReason::Overflow)
        .count();
    assert_eq!(
        overflow_letters, overflowed,
        "every overflow has its dead letter"
    );
    assert_eq!(counters.dead_lettered as usize, letters.len());
}

#[test]
fn concurrent_publishes_account_for_every_event() {
    support::check("overflow_accounting", || model(Mutants::none()));
}

#[test]
fn queue_check_then_push_overfills_the_queue() {
    let broken = || model(Mutants::only(Mutant::QueueCheckThenPush));
    assert!(support::finds_failure(
        "overflow_accounting/queue-check-then-push",
        broken
    ));
}

#[test]
fn overflow_without_record_breaks_the_accounting() {
    let broken = || model(Mutants::only(Mutant::OverflowWithoutRecord));
    assert!(support::finds_failure(
        "overflow_accounting/overflow-without-record",
        broken
    ));
}
