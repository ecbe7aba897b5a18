//! The gate: one claim and one complete per key on a `MemoryStore`, from one thread and from
//! two threads walking the same keys at once (so they meet on shards and on keys, and one of
//! them finds each key already held).
//!
//! Keys cycle over [`support::KEYS_DISTINCT`] names with a short TTL, so a key has expired by
//! the time it comes round again and the store neither grows nor fills. The peer is what a
//! user might write by hand: a `Mutex<HashMap>` updated per key, with no expiry, tokens or
//! fingerprint check.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use eventgate::gate::{ClaimOutcome, GateStore, MemoryStore};
use eventgate::{Clock, TokioClock};
use futures_util::FutureExt;

/// The gate's lease in these runs (the handler is instant).
const LEASE: Duration = Duration::from_secs(30);

/// The subscriber every record belongs to.
const SUBSCRIBER: &str = "gate-bench";

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let keys: Vec<String> = (0..support::KEYS_DISTINCT)
        .map(|i| format!("order:{i}"))
        .collect();
    let mut group = criterion.benchmark_group("gate");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let (store, mut cursor) = (fresh_store(), 0);
    group.bench_function("memory_store/one_thread", |b| {
        b.iter_custom(|iters| walk(&store, &keys, &mut cursor, iters, claim_and_complete))
    });
    let (store, mut cursor) = (fresh_store(), 0);
    group.bench_function("memory_store_boxed_futures/one_thread", |b| {
        b.iter_custom(|iters| walk(&store, &keys, &mut cursor, iters, claim_and_complete_boxed))
    });
    let (store, mut cursor) = (fresh_store(), 0);
    group.bench_function("memory_store/two_threads_same_keys", |b| {
        b.iter_custom(|iters| two_threads(&store, &keys, &mut cursor, iters))
    });
    let map = Mutex::new(HashMap::<String, u64>::new());
    group.bench_function("std_mutex_hashmap/one_thread", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for index in 0..iters as usize {
                let key = &keys[index % keys.len()];
                let mut map = map.lock().expect("no panics under this lock");
                match map.get_mut(key.as_str()) {
                    Some(count) => *count += 1,
                    None => drop(map.insert(key.clone(), 1)),
                }
            }
            start.elapsed()
        })
    });
    group.finish();
    criterion.final_summary();
}

fn fresh_store() -> Arc<MemoryStore> {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    Arc::new(MemoryStore::with_capacity(
        clock,
        4 * support::KEYS_DISTINCT,
    ))
}

/// Claims `key` and, when it was free, completes it: a handler's trip through the gate.
fn claim_and_complete(store: &MemoryStore, key: &str) {
    let claim = store.claim_now(SUBSCRIBER, key, 7, LEASE);
    if let Ok(ClaimOutcome::Claimed(token)) = claim {
        store
            .complete_now(SUBSCRIBER, key, token, support::KEY_TTL)
            .expect("the claim is still held");
    }
}

/// The same trip through the `GateStore` trait's boxed futures, as the bus's worker takes it.
fn claim_and_complete_boxed(store: &MemoryStore, key: &str) {
    let store: &dyn GateStore = store;
    let claim = store.claim(SUBSCRIBER, key, 7, LEASE).now_or_never();
    if let Some(Ok(ClaimOutcome::Claimed(token))) = claim {
        store
            .complete(SUBSCRIBER, key, token, support::KEY_TTL)
            .now_or_never()
            .expect("a memory store answers at once")
            .expect("the claim is still held");
    }
}

/// Runs `step` for the `iters` keys after `*cursor` in turn, moving the cursor past them (so
/// every key has outlived its TTL when it comes round); returns the time taken.
fn walk(
    store: &MemoryStore,
    keys: &[String],
    cursor: &mut usize,
    iters: u64,
    step: fn(&MemoryStore, &str),
) -> Duration {
    let from = *cursor;
    *cursor = (from + iters as usize) % keys.len();
    let start = Instant::now();
    for index in from..from + iters as usize {
        step(store, &keys[index % keys.len()]);
    }
    start.elapsed()
}

/// Two threads each walk the same `iters` keys at once; returns the wall time of both.
fn two_threads(store: &MemoryStore, keys: &[String], cursor: &mut usize, iters: u64) -> Duration {
    let from = *cursor;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| walk(store, keys, &mut from.clone(), iters, claim_and_complete));
        }
    });
    let elapsed = start.elapsed();
    *cursor = (from + iters as usize) % keys.len();
    elapsed
}
