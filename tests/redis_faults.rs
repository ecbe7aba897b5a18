//! `RedisStore` when Redis is away: unreachable, hung, or restarted.
//!
//! - A closed port and a server that accepts but never answers need no Redis at all: they
//!   check that every operation fails with `StoreError::Unavailable` within the store's
//!   operation timeout, and that the bus then fails closed by default.
//! - The restart test starts a private `redis-server` on a free port (never the shared one,
//!   which other tests use at the same time), kills it, and starts it again on the same port:
//!   the same store must recover without being rebuilt, Lua scripts included (the restarted
//!   server has forgotten them).
//!
//! These tests run in real time: the store's timeouts and the connection's reconnects are
//! measured against real sockets, which paused tokio time would skip through. Each wait is
//! bounded by a named deadline.

mod redis_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use eventgate::bus::DeadLetterReason;
use eventgate::event::NewEvent;
use eventgate::gate::{ClaimOutcome, GateStore, RedisConfig, RedisStore, StoreError};
use eventgate::{EventBus, HandlerError, InMemoryEventBus, SubscriberConfig};
use redis_support::{PrivateRedis, free_port, redis_server_binary};
use tokio::time::Instant;

/// The operation timeout of the stores under test: short, so the tests are quick.
const OP_TIMEOUT: Duration = Duration::from_millis(300);

/// How far past its timeout a failing operation may return (scheduling on a busy machine).
const RETURN_SLACK: Duration = Duration::from_millis(2_000);

/// How long a store may take to recover once its server is back.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(10);

/// The pause between two claims while waiting for the recovery.
const RECOVERY_PAUSE: Duration = Duration::from_millis(50);

const LEASE: Duration = Duration::from_secs(30);

fn store_at(url: String) -> RedisStore {
    let config = RedisConfig::new(url)
        .key_prefix(redis_support::unique_prefix("faults"))
        .op_timeout(OP_TIMEOUT)
        .reconnect(2, Duration::from_millis(50));
    RedisStore::open(config).expect("the store opens without contacting redis")
}

/// Runs one claim and checks that it is refused as unavailable, quickly.
async fn assert_claim_unavailable(store: &RedisStore) {
    let started = Instant::now();
    let claim = store.claim("s", "k", 1, LEASE).await;
    let took = started.elapsed();

    assert!(
        matches!(claim, Err(StoreError::Unavailable { .. })),
        "got {claim:?}"
    );
    assert!(took <= OP_TIMEOUT + RETURN_SLACK, "claim took {took:?}");
}

#[tokio::test]
async fn every_operation_on_a_closed_port_is_unavailable_within_the_timeout() {
    let store = store_at(format!("redis://127.0.0.1:{}", free_port()));
    assert_claim_unavailable(&store).await;
    assert_claim_unavailable(&store).await;

    let token = eventgate::gate::ClaimToken(1);
    let complete = store.complete("s", "k", token, LEASE).await;
    assert!(
        matches!(complete, Err(StoreError::Unavailable { .. })),
        "got {complete:?}"
    );
    let release = store.release("s", "k", token).await;
    assert!(
        matches!(release, Err(StoreError::Unavailable { .. })),
        "got {release:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_within_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    let store = store_at(format!("redis://127.0.0.1:{port}"));
    assert_claim_unavailable(&store).await;
    silent.abort();
}

#[tokio::test]
async fn unreachable_store_dead_letters_store_unavailable_by_default_and_runs_nothing() {
    let bus = InMemoryEventBus::new();
    let store = Arc::new(store_at(format!("redis://127.0.0.1:{}", free_port())));
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let handler = move |_event| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<(), HandlerError>(()) }
    };
    bus.subscribe(SubscriberConfig::new("s", ["t"]).store(store), handler)
        .unwrap();

    bus.publish(NewEvent::raw("t", "k", "{}".to_owned()))
        .unwrap();
    bus.idle().await;

    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let reasons: Vec<_> = bus.dead_letters().iter().map(|d| d.reason).collect();
    assert_eq!(reasons, [DeadLetterReason::StoreUnavailable]);
}

/// Claims until the store answers, within [`RECOVERY_DEADLINE`]; returns the outcome and how
/// many claims it took.
async fn claim_until_answered(store: &RedisStore, key: &str) -> (ClaimOutcome, u32) {
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        match store.claim("s", key, 1, LEASE).await {
            Ok(outcome) => return (outcome, tries),
            Err(error) if started.elapsed() < RECOVERY_DEADLINE => {
                eprintln!("try {tries}: {error}");
                tokio::time::sleep(RECOVERY_PAUSE).await;
            }
            Err(error) => panic!("no recovery within {RECOVERY_DEADLINE:?}: {error}"),
        }
    }
}

#[tokio::test]
async fn same_store_recovers_after_its_private_server_is_killed_and_restarted() {
    let Some(binary) = redis_server_binary("same_store_recovers_after_restart") else {
        return;
    };
    let mut server = PrivateRedis::start(binary).await;
    let store = store_at(server.url());

    let ClaimOutcome::Claimed(token) = store.claim("s", "before", 1, LEASE).await.unwrap() else {
        panic!("a fresh key is claimed");
    };
    store.complete("s", "before", token, LEASE).await.unwrap();

    server.kill();
    assert_claim_unavailable(&store).await;

    server.restart().await;
    let (outcome, tries) = claim_until_answered(&store, "after").await;
    eprintln!("recovered after {tries} claim(s)");
    let ClaimOutcome::Claimed(token) = outcome else {
        panic!("a fresh key on a fresh server is claimed, got {outcome:?}");
    };
    store
        .complete("s", "after", token, LEASE)
        .await
        .expect("the complete script is reloaded");
    let again = store.claim("s", "after", 1, LEASE).await.unwrap();
    assert!(matches!(again, ClaimOutcome::Duplicate(_)), "got {again:?}");
}
