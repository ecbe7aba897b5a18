//! Claims per second on `RedisStore`, beside raw `SET NX PX` from the same client in the same
//! run (target: a claim rate of at least 0.8 x raw).
//!
//! Four measurements, all on fresh keys, all through the store's own connection:
//!
//! - `raw_set_nx_px/one_at_a_time` and `claim/one_at_a_time`: each operation awaited before
//!   the next, so a round trip per operation.
//! - `raw_set_nx_px/pipelined` and `claim/pipelined`: [`BATCH`] operations in flight at once
//!   on the multiplexed connection, which pipelines them onto the socket.
//!
//! After criterion's groups, a summary measures the same four for a fixed count, in
//! interleaved rounds, and prints the claim/raw ratios, so the comparison is one line. Run with
//! `cargo bench --features redis --bench redis_gate` (Redis at `REDIS_URL`, default
//! `redis://127.0.0.1:6379`); without a Redis the benchmark prints a notice and exits.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use eventgate::gate::{ClaimOutcome, GateStore, RedisConfig, RedisStore};
use futures_util::future::join_all;
use tokio::runtime::Runtime;

/// Operations in flight at once in the pipelined measurements.
const BATCH: usize = 64;

/// The lease of every claim and the expiry of every raw key: the keys clean themselves up.
const LEASE: Duration = Duration::from_secs(30);

/// Rounds of the closing summary; each variant's best round counts, since the machine's
/// other work can only make a round slower.
const SUMMARY_ROUNDS: usize = 3;

/// Operations per variant and round in the closing summary.
const SUMMARY_OPS: u64 = 20_000;

/// The raw value: as long as a gate record's value, so both write the same bytes.
const RAW_VALUE: &str = "p0000000000000000000000000000000100000000000000001";

struct Bench {
    store: RedisStore,
    prefix: String,
    next: AtomicU64,
}

impl Bench {
    fn fresh(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    async fn raw(&self) {
        let mut connection = self.store.connection();
        let key = format!("{}raw:{}", self.prefix, self.fresh());
        let mut set = redis::cmd("SET");
        set.arg(key)
            .arg(RAW_VALUE)
            .arg("NX")
            .arg("PX")
            .arg(LEASE.as_millis() as u64);
        let done: Option<String> = set.query_async(&mut connection).await.expect("SET answers");
        black_box(done);
    }

    async fn claim(&self) {
        let key = format!("k{}", self.fresh());
        let outcome = self
            .store
            .claim("bench", &key, 1, LEASE)
            .await
            .expect("claim answers");
        assert!(
            matches!(outcome, ClaimOutcome::Claimed(_)),
            "fresh keys are claimed"
        );
    }

    async fn raw_batch(&self) {
        join_all((0..BATCH).map(|_| self.raw())).await;
    }

    async fn claim_batch(&self) {
        join_all((0..BATCH).map(|_| self.claim())).await;
    }
}

fn criterion_groups(c: &mut Criterion, runtime: &Runtime, bench: &Bench) {
    for (name, pipelined) in [("one_at_a_time", false), ("pipelined", true)] {
        let per_iter = if pipelined { BATCH as u64 } else { 1 };
        let mut group = c.benchmark_group(format!("redis_gate/{name}"));
        group.throughput(Throughput::Elements(per_iter));
        group.bench_function("raw_set_nx_px", |b| {
            b.to_async(runtime).iter(|| async {
                if pipelined {
                    bench.raw_batch().await
                } else {
                    bench.raw().await
                }
            })
        });
        group.bench_function("claim", |b| {
            b.to_async(runtime).iter(|| async {
                if pipelined {
                    bench.claim_batch().await
                } else {
                    bench.claim().await
                }
            })
        });
        group.finish();
    }
}

/// Operations per second of `op` run `SUMMARY_OPS` times (in batches of `per_call`).
fn rate<F: std::future::Future<Output = ()>>(
    runtime: &Runtime,
    per_call: u64,
    op: impl Fn() -> F,
) -> f64 {
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..SUMMARY_OPS / per_call {
            op().await;
        }
    });
    SUMMARY_OPS as f64 / started.elapsed().as_secs_f64()
}

fn summary(runtime: &Runtime, bench: &Bench) {
    let mut best = [0f64; 4];
    for _ in 0..SUMMARY_ROUNDS {
        let rates = [
            rate(runtime, 1, || bench.raw()),
            rate(runtime, 1, || bench.claim()),
            rate(runtime, BATCH as u64, || bench.raw_batch()),
            rate(runtime, BATCH as u64, || bench.claim_batch()),
        ];
        for (best, rate) in best.iter_mut().zip(rates) {
            *best = best.max(rate);
        }
    }
    let [raw_one, claim_one, raw_piped, claim_piped] = best;
    println!("summary (best of {SUMMARY_ROUNDS} interleaved rounds of {SUMMARY_OPS} fresh keys):");
    let ratio = claim_one / raw_one;
    println!("  one at a time: raw {raw_one:>7.0}/s  claim {claim_one:>7.0}/s  ratio {ratio:.2}");
    let ratio = claim_piped / raw_piped;
    println!(
        "  pipelined x{BATCH}: raw {raw_piped:>7.0}/s  claim {claim_piped:>7.0}/s  ratio {ratio:.2}"
    );
}

async fn delete_prefix(store: &RedisStore, prefix: &str) {
    let mut connection = store.connection();
    let mut cursor = 0u64;
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(10_000);
        let (next, keys): (u64, Vec<String>) = scan.query_async(&mut connection).await.unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut connection)
                .await
                .unwrap();
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("eventgate-bench:{}:", std::process::id());
    let store = runtime.block_on(async {
        RedisStore::open(RedisConfig::new(url.clone()).key_prefix(prefix.clone())).unwrap()
    });
    let reachable = runtime.block_on(store.claim("bench", "probe", 1, LEASE));
    if let Err(error) = reachable {
        eprintln!("note: no Redis at {url} ({error}); skipping the redis_gate benchmark");
        return;
    }
    let bench = Bench {
        store,
        prefix,
        next: AtomicU64::new(0),
    };

    let mut criterion = Criterion::default().configure_from_args();
    criterion_groups(&mut criterion, &runtime, &bench);
    criterion.final_summary();
    summary(&runtime, &bench);
    runtime.block_on(delete_prefix(&bench.store, &bench.prefix));
}
