//! Dispatch: from publish until the handler has run, for 1, 4 and 16 subscribers, beside what
//! a user would otherwise use in the same run.
//!
//! Every row moves the same 256-byte events and waits the same way: a batch of
//! [`support::BATCH_EVENTS`] events is sent, then the timing loop waits on one shared counter
//! that every handler or receiving task bumps. One criterion iteration is one published
//! event, whatever the number of subscribers, so a row's figure is the cost per event and the
//! cost per delivery is that figure divided by the subscriber count.
//!
//! - `direct_call`: the handler called in place, the floor.
//! - `tokio_mpsc/1`: a bounded `tokio::sync::mpsc` channel to one task (`try_send`, which
//!   never waits, like `publish`).
//! - `tokio_broadcast/N`: a `tokio::sync::broadcast` channel to N tasks.
//! - `ungated/N`, `at_most_once/N`: `InMemoryEventBus` with N subscribers, without and with
//!   the idempotency gate (a `MemoryStore`, a distinct key per event within the TTL).
//!
//! Events are built before a batch's timer starts: the rows compare moving events, not
//! building them. After criterion's rows, the same rows run again in interleaved rounds (see
//! `support::rounds`), whose ratios `scripts/bench-table.py` prints beside criterion's.

mod support;

use std::hint::black_box;
use std::sync::Arc;

use criterion::Criterion;
use eventgate::{DeliveryMode, EventBus};
use support::rounds::{self, Row};
use support::{Done, Payload, timed};
use tokio::runtime::Runtime;

/// The subscriber counts measured.
const FAN_OUTS: [usize; 3] = [1, 4, 16];

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = support::runtime();
    let mut rows = vec![direct_call(&runtime), tokio_mpsc(&runtime)];
    for subscribers in FAN_OUTS {
        rows.push(tokio_broadcast(&runtime, subscribers));
        rows.push(eventgate_bus(&runtime, subscribers, DeliveryMode::Ungated));
        rows.push(eventgate_bus(
            &runtime,
            subscribers,
            DeliveryMode::AtMostOnce,
        ));
    }
    rounds::measure(&mut criterion, "dispatch", &mut rows, support::BATCH_EVENTS);
}

fn direct_call(runtime: &Runtime) -> Row<'_> {
    let done = Arc::new(Done::default());
    let value = support::payload();
    Row::new("dispatch/direct_call", move |iters| {
        let handle = |value: Payload| {
            black_box(value);
            done.hit();
        };
        let batch = |size: u64| vec![value.clone(); size as usize];
        runtime.block_on(timed(&done, iters, 1, batch, handle))
    })
}

fn tokio_mpsc(runtime: &Runtime) -> Row<'_> {
    let done = Arc::new(Done::default());
    let value = support::payload();
    let sender = support::mpsc_peer(runtime, &done);
    Row::new("dispatch/tokio_mpsc/1", move |iters| {
        let batch = |size: u64| vec![value.clone(); size as usize];
        let send = |value| sender.try_send(value).expect("the batch fits the channel");
        runtime.block_on(timed(&done, iters, 1, batch, send))
    })
}

fn tokio_broadcast(runtime: &Runtime, tasks: usize) -> Row<'_> {
    let done = Arc::new(Done::default());
    let value = support::payload();
    let sender = support::broadcast_peer(runtime, &done, tasks);
    Row::new(format!("dispatch/tokio_broadcast/{tasks}"), move |iters| {
        let batch = |size: u64| vec![value.clone(); size as usize];
        let send = |value| {
            sender.send(value).expect("the receivers are alive");
        };
        runtime.block_on(timed(&done, iters, tasks as u64, batch, send))
    })
}

fn eventgate_bus(runtime: &Runtime, subscribers: usize, mode: DeliveryMode) -> Row<'_> {
    let done = Arc::new(Done::default());
    let bus = support::bus_with(runtime, subscribers, mode, &done);
    let events = support::events();
    let mut next = 0usize;
    let name = match mode {
        DeliveryMode::Ungated => "ungated",
        _ => "at_most_once",
    };
    Row::new(format!("dispatch/{name}/{subscribers}"), move |iters| {
        let batch = |size: u64| support::next_batch(&events, &mut next, size);
        let send = |event| {
            bus.publish(event).expect("the bus accepts the event");
        };
        runtime.block_on(timed(&done, iters, subscribers as u64, batch, send))
    })
}
