//! Profiling harness for callgrind and perf: `prof_dispatch MODE SUBSCRIBERS EVENTS`, where
//! MODE is a peer (`mpsc`, one receiving task; `broadcast`, SUBSCRIBERS receiving tasks) or
//! the bus (`ungated`, `at_most_once`, or `hung`: SUBSCRIBERS - 1 healthy ungated
//! subscribers and one whose handler never returns). Publishes EVENTS prepared events in the
//! benchmarks' batches, waiting for the healthy handlers after each, and prints the time per
//! event spent sending and waiting (batches are built outside it, as in the benchmarks).
//! The modes `publish` and `publish_hung` are `ungated` and `hung` timing the `publish` calls
//! alone, as the publish-latency benchmark does.
#[path = "../benches/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use eventgate::{DeliveryMode, EventBus};
use support::{Done, timed, timed_sends};
use tokio::runtime::Runtime;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: prof_dispatch MODE SUBSCRIBERS EVENTS";
    let (mode, subscribers, events_total) = match &args[1..] {
        [mode, subscribers, events] => (
            mode.as_str(),
            subscribers.parse::<usize>().expect(usage),
            events.parse::<u64>().expect(usage),
        ),
        _ => panic!("{usage}"),
    };
    let runtime = support::runtime();
    let done = Arc::new(Done::default());
    let elapsed = match mode {
        "mpsc" => mpsc(&runtime, &done, events_total),
        "broadcast" => broadcast(&runtime, &done, subscribers, events_total),
        "ungated" | "hung" | "at_most_once" | "publish" | "publish_hung" => {
            bus(&runtime, &done, mode, subscribers, events_total)
        }
        _ => panic!("unknown MODE {mode}; {usage}"),
    };
    let per_event = elapsed.as_nanos() as f64 / events_total.max(1) as f64;
    println!("{per_event:.1} ns per event ({events_total} events)");
}

fn mpsc(runtime: &Runtime, done: &Arc<Done>, events_total: u64) -> Duration {
    let sender = support::mpsc_peer(runtime, done);
    let value = support::payload();
    let batch = |size: u64| vec![value.clone(); size as usize];
    let send = |value| sender.try_send(value).expect("the batch fits the channel");
    runtime.block_on(timed(done, events_total, 1, batch, send))
}

fn broadcast(runtime: &Runtime, done: &Arc<Done>, tasks: usize, events_total: u64) -> Duration {
    let sender = support::broadcast_peer(runtime, done, tasks);
    let value = support::payload();
    let batch = |size: u64| vec![value.clone(); size as usize];
    let send = |value| {
        sender.send(value).expect("the receivers are alive");
    };
    runtime.block_on(timed(done, events_total, tasks as u64, batch, send))
}

fn bus(
    runtime: &Runtime,
    done: &Arc<Done>,
    mode: &str,
    subscribers: usize,
    events_total: u64,
) -> Duration {
    let delivery = match mode {
        "at_most_once" => DeliveryMode::AtMostOnce,
        _ => DeliveryMode::Ungated,
    };
    let hung = usize::from(mode.ends_with("hung"));
    let healthy = subscribers - hung;
    let bus = support::bus_with(runtime, healthy, delivery, done);
    if hung == 1 {
        let _entered = runtime.enter();
        support::subscribe_hung(&bus);
    }
    let events = support::events();
    let mut next = 0;
    let batch = |size: u64| support::next_batch(&events, &mut next, size);
    let send = |event| {
        bus.publish(event).expect("the bus accepts the event");
    };
    let deliveries = healthy as u64;
    if mode.starts_with("publish") {
        runtime.block_on(timed_sends(done, events_total, deliveries, batch, send))
    } else {
        runtime.block_on(timed(done, events_total, deliveries, batch, send))
    }
}
