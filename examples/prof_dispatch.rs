//! Profiling harness for callgrind and perf: `prof_dispatch MODE SUBSCRIBERS EVENTS`, where
//! MODE is `mpsc` (the peer), `ungated`, `at_most_once`, or `hung` (SUBSCRIBERS - 1 healthy
//! ungated subscribers and one whose handler never returns). Publishes EVENTS prepared events
//! in the benchmarks' batches and waits for the healthy handlers.
#[path = "../benches/support/mod.rs"]
mod support;

use std::sync::Arc;

use eventgate::{DeliveryMode, EventBus};
use support::Done;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = match args[1].as_str() {
        "ungated" | "hung" => DeliveryMode::Ungated,
        _ => DeliveryMode::AtMostOnce,
    };
    let subscribers: usize = args[2].parse().unwrap();
    let events_total: u64 = args[3].parse().unwrap();
    let runtime = support::runtime();
    if args[1] == "mpsc" {
        let done = Arc::new(Done::default());
        let (tx, mut rx) = tokio::sync::mpsc::channel::<support::Payload>(1024);
        let counted = done.clone();
        runtime.spawn(async move {
            while let Some(v) = rx.recv().await {
                std::hint::black_box(v);
                counted.hit();
            }
        });
        let value = support::payload();
        runtime.block_on(async {
            for size in support::batches(events_total) {
                let batch = vec![value.clone(); size as usize];
                let target = done.expect(size);
                for v in batch {
                    tx.try_send(v).unwrap();
                }
                done.reach(target).await;
            }
        });
        return;
    }
    let done = Arc::new(Done::default());
    let hung = usize::from(args[1] == "hung");
    let subscribers = subscribers - hung;
    let bus = support::bus_with(&runtime, subscribers, mode, &done);
    if hung == 1 {
        let _entered = runtime.enter();
        support::subscribe_hung(&bus);
    }
    let events = support::events();
    let mut next = 0;
    runtime.block_on(async {
        for size in support::batches(events_total) {
            let batch = support::next_batch(&events, &mut next, size);
            let target = done.expect(size * subscribers as u64);
            for event in batch {
                bus.publish(event).unwrap();
            }
            done.reach(target).await;
        }
    });
}
