//! Publish latency: the `publish` call alone, with four healthy subscribers, and with three
//! healthy and one hung (its handler never returns, so its queue stays full and every publish
//! takes the overflow path for it: a dead letter instead of a push).
//!
//! Only the `publish` calls are timed. After each batch the loop waits, untimed, for the
//! healthy subscribers to catch up, so their queues never overflow and the two rows differ
//! only by the hung subscriber. After criterion's rows, both run again in interleaved rounds
//! (see `support::rounds`).

mod support;

use std::sync::Arc;

use criterion::Criterion;
use eventgate::{DeliveryMode, EventBus};
use support::rounds::{self, Row};
use support::{Done, timed_sends};

/// Subscribers on the topic in both rows.
const SUBSCRIBERS: usize = 4;

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = support::runtime();
    let events = support::events();
    let mut rows = Vec::new();
    for hung in [0, 1] {
        let done = Arc::new(Done::default());
        let healthy = SUBSCRIBERS - hung;
        let bus = support::bus_with(&runtime, healthy, DeliveryMode::Ungated, &done);
        if hung == 1 {
            let _entered = runtime.enter();
            support::subscribe_hung(&bus);
        }
        let mut next = 0usize;
        let name = if hung == 0 { "all_healthy" } else { "one_hung" };
        let (runtime, events) = (&runtime, &events);
        rows.push(Row::new(
            format!("publish/{name}/{SUBSCRIBERS}"),
            move |iters| {
                let batch = |size| support::next_batch(events, &mut next, size);
                let publish = |event| {
                    bus.publish(event).expect("the bus accepts the event");
                };
                let deliveries = healthy as u64;
                runtime.block_on(timed_sends(&done, iters, deliveries, batch, publish))
            },
        ));
    }
    rounds::measure(&mut criterion, "publish", &mut rows, support::BATCH_EVENTS);
}
