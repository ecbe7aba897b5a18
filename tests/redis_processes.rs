//! The gate holds across processes: four OS processes share one Redis, each publishes the
//! same 10,000 event keys to an at-most-once subscriber of its own, and every key's handler
//! runs exactly once in total.
//!
//! The processes are this test binary run again with [`CHILD_PREFIX_ENV`] set: the test
//! `child_process_publishes_every_key` is their entry point (in a normal run, without the
//! variable, it returns at once; it checks nothing by itself). Runs are counted outside the
//! processes, by an `INCR` on a per-key counter in Redis under the run's key prefix, so a
//! process cannot under-report its own runs. Children publish in different orders (two start
//! at key 0, two at key 5,000), so keys meet both a claim in progress elsewhere and a
//! completed one.
//!
//! For speed each child spreads its keys over [`LANES`] buses, each with a subscriber of the
//! same name on the same `RedisStore` (same name, so one gate record per key): each bus's
//! worker handles one event at a time, and the lanes keep several claims in flight on the
//! multiplexed connection. In the test profile on two cores the whole test takes about
//! one second.

mod redis_support;

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use eventgate::event::NewEvent;
use eventgate::gate::{RedisConfig, RedisStore};
use eventgate::{DeliveryMode, EventBus, HandlerError, InMemoryEventBus, SubscriberConfig};
use redis_support::TestRedis;

/// Set in a child's environment to the run's key prefix; its presence selects child mode.
const CHILD_PREFIX_ENV: &str = "EVENTGATE_CROSS_PROCESS_PREFIX";

/// Set in a child's environment to its index (0 to [`PROCESSES`] - 1).
const CHILD_INDEX_ENV: &str = "EVENTGATE_CROSS_PROCESS_INDEX";

/// How many processes share the Redis.
const PROCESSES: usize = 4;

/// How many distinct event keys each process publishes.
const KEYS: usize = 10_000;

/// How many buses (each with one worker) a child spreads its keys over.
const LANES: usize = 8;

/// The shared subscriber name, hence the shared gate records.
const SUBSCRIBER: &str = "exactly-once";

/// How long a run counter outlives a test that failed before its cleanup, in milliseconds.
const COUNTER_EXPIRY_MS: u64 = 600_000;

/// The line a child prints with its counters, for the parent to read.
const REPORT_TAG: &str = "cross-process-report";

fn counter_key(prefix: &str, key_index: usize) -> String {
    format!("{prefix}runs:key-{key_index}")
}

#[tokio::test]
async fn four_processes_sharing_redis_run_each_key_exactly_once() {
    let Some(mut redis) = TestRedis::connect("four_processes_sharing_redis").await else {
        return;
    };
    let started = std::time::Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|index| spawn_child(&redis, index))
        .collect();
    let mut handled_total = 0;
    for child in children {
        let output = child.join().expect("the child's waiter does not panic");
        handled_total += handled_from(&output);
    }
    eprintln!(
        "{PROCESSES} processes x {KEYS} keys took {:?}",
        started.elapsed()
    );

    let runs = read_run_counters(&mut redis).await;
    let wrong: Vec<_> = runs
        .iter()
        .enumerate()
        .filter(|(_, runs)| **runs != 1)
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "keys (index, runs) not run exactly once: {wrong:?}"
    );
    assert_eq!(
        handled_total, KEYS as u64,
        "the children's handled counters add up to one run per key"
    );
    redis.cleanup().await;
}

/// Starts child `index` and a thread that waits for it and checks that it succeeded.
fn spawn_child(redis: &TestRedis, index: usize) -> std::thread::JoinHandle<Output> {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args([
            "--exact",
            "child_process_publishes_every_key",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_PREFIX_ENV, &redis.prefix)
        .env(CHILD_INDEX_ENV, index.to_string())
        .env("REDIS_URL", &redis.url);
    std::thread::spawn(move || {
        let output = command.output().expect("the child process starts");
        assert!(
            output.status.success(),
            "child {index} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    })
}

/// The `handled=` count from a child's report line.
fn handled_from(output: &Output) -> u64 {
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest prints the test's name on the same line, before the report.
    let line = stdout
        .lines()
        .find_map(|line| line.split_once(REPORT_TAG))
        .expect("a report line")
        .1;
    let field = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("handled="));
    field.and_then(|n| n.parse().ok()).expect("a handled count")
}

async fn read_run_counters(redis: &mut TestRedis) -> Vec<u64> {
    let keys: Vec<String> = (0..KEYS).map(|i| counter_key(&redis.prefix, i)).collect();
    let mut runs = Vec::with_capacity(KEYS);
    for chunk in keys.chunks(1_000) {
        let values: Vec<Option<u64>> = redis::cmd("MGET")
            .arg(chunk)
            .query_async(&mut redis.connection)
            .await
            .unwrap();
        runs.extend(values.into_iter().map(|v| v.unwrap_or(0)));
    }
    runs
}

/// The child processes' entry point; see the module docs. Does nothing in a normal run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_publishes_every_key() {
    let Ok(prefix) = std::env::var(CHILD_PREFIX_ENV) else {
        return;
    };
    let index: usize = std::env::var(CHILD_INDEX_ENV).unwrap().parse().unwrap();
    let url = redis_support::redis_url();
    let store = RedisStore::open(RedisConfig::new(url.clone()).key_prefix(prefix.clone())).unwrap();
    let counters = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await;
    let counters = counters.expect("the child reaches redis");

    let buses: Vec<_> = (0..LANES)
        .map(|_| lane(&store, &prefix, &counters))
        .collect();
    let start = (index % 2) * KEYS / 2;
    for offset in 0..KEYS {
        let key_index = (start + offset) % KEYS;
        let event = NewEvent::raw("cross", format!("key-{key_index}"), "{}".to_owned());
        buses[key_index % LANES].publish(event).unwrap();
    }
    let (mut handled, mut suppressed, mut dead) = (0, 0, 0);
    for bus in &buses {
        bus.idle().await;
        let counters = bus.subscriber(SUBSCRIBER).unwrap().counters;
        (handled, suppressed) = (handled + counters.handled, suppressed + counters.suppressed);
        dead += bus.dead_letters().len();
    }
    println!("{REPORT_TAG} index={index} handled={handled} suppressed={suppressed} dead={dead}");
    assert_eq!(
        dead,
        0,
        "no event is dead-lettered: {:?}",
        buses[0].dead_letters().first()
    );
    assert_eq!(handled + suppressed, KEYS as u64);
}

/// One bus whose subscriber counts each run with an `INCR` under the run's prefix.
fn lane(
    store: &RedisStore,
    prefix: &str,
    counters: &redis::aio::MultiplexedConnection,
) -> InMemoryEventBus {
    let bus = InMemoryEventBus::new();
    let (prefix, counters) = (Arc::<str>::from(prefix), counters.clone());
    let handler = move |event: eventgate::Event| {
        let (counter, mut connection) = (format!("{prefix}runs:{}", event.key()), counters.clone());
        async move {
            let mut incr = redis::pipe();
            incr.cmd("INCR")
                .arg(&counter)
                .cmd("PEXPIRE")
                .arg(&counter)
                .arg(COUNTER_EXPIRY_MS);
            let runs = incr.query_async::<(u64, i64)>(&mut connection).await;
            runs.map(drop)
                .map_err(|error| HandlerError::new(error.to_string()))
        }
    };
    let config = SubscriberConfig::new(SUBSCRIBER, ["cross"])
        .mode(DeliveryMode::AtMostOnce)
        .queue_capacity(KEYS)
        .ttl(Duration::from_millis(COUNTER_EXPIRY_MS))
        .store(Arc::new(store.clone()));
    bus.subscribe(config, handler).unwrap();
    bus
}
