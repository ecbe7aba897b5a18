//! One suite of gate-store properties, run against `MemoryStore` and `RedisStore` alike.
//!
//! Each case is a generic function over a [`Harness`]: a store plus a way to let time pass
//! on that store's clock. The macro at the bottom instantiates every case twice, in
//! `memory_store::` and `redis_store::`, so the two stores answer exactly the same
//! assertions and a behaviour one of them lacks shows up as a failing case with the same name.
//!
//! # Why this suite waits in real time for Redis (and nothing else in the crate does)
//!
//! Redis expires keys on its own clock; nothing in the client can advance it. So the Redis
//! harness lets time pass with a real `sleep` of exactly the duration asked for plus
//! [`REDIS_EXPIRY_SLACK`] (Redis counts a key as expired only once its clock is past the
//! expiry millisecond). The durations are a fraction of a second, three sleeps in all,
//! and no case polls: each checks a state right away (nothing to wait for) or right after
//! one such sleep (the expiry has surely passed). "Still live" checks are made immediately,
//! far from the expiry, so a slow machine can only make them later by the time between two
//! commands, never by a sleep. `MemoryStore` runs the same assertions on a `ManualClock`
//! advanced by the same amounts, without any real waiting.

mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use eventgate::ManualClock;
use eventgate::gate::StoreError;
use eventgate::gate::{ClaimOutcome, ClaimToken, GateStore, Holder, HolderState, MemoryStore};
use redis_support::TestRedis;

/// The lease the cases claim with. Long enough that a loaded CI machine cannot let it run
/// out between two commands of one case (40 ms once did), short enough that the three real
/// waits of the Redis cases stay around a second in all.
const LEASE: Duration = Duration::from_millis(250);

/// The TTL the cases complete with: longer than the lease, so a completed record can be told
/// from an in-progress one by its remaining time.
const TTL: Duration = Duration::from_millis(600);

/// Added to every real wait on Redis: its expiry has millisecond resolution and a key is
/// expired only once Redis's clock is past the expiry millisecond.
const REDIS_EXPIRY_SLACK: Duration = Duration::from_millis(3);

/// A store under test and the clock it measures leases and TTLs on.
trait Harness {
    fn store(&self) -> &dyn GateStore;

    /// Lets `by` pass on the store's clock.
    async fn pass(&self, by: Duration);
}

struct MemoryHarness {
    clock: Arc<ManualClock>,
    store: MemoryStore,
}

impl MemoryHarness {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(Duration::ZERO));
        Self {
            store: MemoryStore::new(clock.clone()),
            clock,
        }
    }
}

impl Harness for MemoryHarness {
    fn store(&self) -> &dyn GateStore {
        &self.store
    }

    async fn pass(&self, by: Duration) {
        self.clock.advance(by);
    }
}

struct RedisHarness {
    redis: TestRedis,
    store: eventgate::gate::RedisStore,
}

impl RedisHarness {
    async fn connect(test: &str) -> Option<Self> {
        let redis = TestRedis::connect(test).await?;
        Some(Self {
            store: redis.store(),
            redis,
        })
    }

    async fn cleanup(self) {
        self.redis.cleanup().await;
    }
}

impl Harness for RedisHarness {
    fn store(&self) -> &dyn GateStore {
        &self.store
    }

    async fn pass(&self, by: Duration) {
        tokio::time::sleep(by + REDIS_EXPIRY_SLACK).await;
    }
}

async fn claim(h: &impl Harness, subscriber: &str, key: &str, fingerprint: u64) -> ClaimOutcome {
    h.store()
        .claim(subscriber, key, fingerprint, LEASE)
        .await
        .expect("the store answers")
}

async fn claimed(h: &impl Harness, subscriber: &str, key: &str) -> ClaimToken {
    match claim(h, subscriber, key, 1).await {
        ClaimOutcome::Claimed(token) => token,
        other => panic!("expected ({subscriber}, {key}) to be claimed, got {other:?}"),
    }
}

fn duplicate(outcome: ClaimOutcome) -> Holder {
    match outcome {
        ClaimOutcome::Duplicate(holder) => holder,
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

async fn free_key_is_claimed_and_a_second_claim_is_a_duplicate_in_progress(h: &impl Harness) {
    claimed(h, "s", "k").await;

    let holder = duplicate(claim(h, "s", "k", 1).await);
    assert_eq!(holder.state, HolderState::InProgress);
    assert!(
        holder.expires_in <= LEASE,
        "expires_in {:?} beyond the lease",
        holder.expires_in
    );
    assert!(!holder.expires_in.is_zero(), "a live holder has time left");
}

async fn other_fingerprint_on_a_live_key_is_a_conflict(h: &impl Harness) {
    let token = claimed(h, "s", "k").await;
    let ClaimOutcome::Conflict(holder) = claim(h, "s", "k", 2).await else {
        panic!("expected a conflict while in progress");
    };
    assert_eq!(holder.state, HolderState::InProgress);

    h.store().complete("s", "k", token, TTL).await.unwrap();
    let ClaimOutcome::Conflict(holder) = claim(h, "s", "k", 2).await else {
        panic!("expected a conflict once completed");
    };
    assert_eq!(holder.state, HolderState::Completed);
}

async fn completed_key_is_a_duplicate_for_its_ttl_then_claimable(h: &impl Harness) {
    let token = claimed(h, "s", "k").await;
    h.store().complete("s", "k", token, TTL).await.unwrap();

    let holder = duplicate(claim(h, "s", "k", 1).await);
    assert_eq!(holder.state, HolderState::Completed);
    assert!(
        holder.expires_in > LEASE,
        "the ttl ({:?} left) replaced the lease",
        holder.expires_in
    );
    assert!(holder.expires_in <= TTL);

    h.pass(TTL).await;
    claimed(h, "s", "k").await;
}

async fn in_progress_key_is_claimable_once_its_lease_ends(h: &impl Harness) {
    claimed(h, "s", "k").await;
    h.pass(LEASE).await;
    claimed(h, "s", "k").await;
}

async fn released_key_is_claimable_again_and_its_token_is_spent(h: &impl Harness) {
    let first = claimed(h, "s", "k").await;
    h.store().release("s", "k", first).await.unwrap();

    assert_eq!(
        h.store().release("s", "k", first).await,
        Err(StoreError::LeaseLost)
    );
    let second = claimed(h, "s", "k").await;
    assert_ne!(first, second, "tokens are never reused");
    assert_eq!(
        h.store().release("s", "k", first).await,
        Err(StoreError::LeaseLost)
    );
    assert_eq!(
        h.store().complete("s", "k", first, TTL).await,
        Err(StoreError::LeaseLost)
    );
    duplicate(claim(h, "s", "k", 1).await);
}

async fn stale_token_is_refused_after_its_lease_ends_and_the_key_is_claimed_again(
    h: &impl Harness,
) {
    let stale = claimed(h, "s", "k").await;
    h.pass(LEASE).await;
    let current = claimed(h, "s", "k").await;

    assert_eq!(
        h.store().complete("s", "k", stale, TTL).await,
        Err(StoreError::LeaseLost)
    );
    assert_eq!(
        h.store().release("s", "k", stale).await,
        Err(StoreError::LeaseLost)
    );
    assert_eq!(
        duplicate(claim(h, "s", "k", 1).await).state,
        HolderState::InProgress
    );

    h.store().complete("s", "k", current, TTL).await.unwrap();
    assert_eq!(
        duplicate(claim(h, "s", "k", 1).await).state,
        HolderState::Completed
    );
}

async fn completed_record_is_neither_released_nor_completed_again(h: &impl Harness) {
    let token = claimed(h, "s", "k").await;
    h.store().complete("s", "k", token, TTL).await.unwrap();

    assert_eq!(
        h.store().release("s", "k", token).await,
        Err(StoreError::LeaseLost)
    );
    assert_eq!(
        h.store().complete("s", "k", token, TTL).await,
        Err(StoreError::LeaseLost)
    );
    assert_eq!(
        duplicate(claim(h, "s", "k", 1).await).state,
        HolderState::Completed
    );
}

async fn token_that_never_held_the_key_is_refused(h: &impl Harness) {
    let foreign = ClaimToken(0x5eed);
    assert_eq!(
        h.store().complete("s", "absent", foreign, TTL).await,
        Err(StoreError::LeaseLost)
    );
    claimed(h, "s", "k").await;
    assert_eq!(
        h.store().release("s", "k", foreign).await,
        Err(StoreError::LeaseLost)
    );
    duplicate(claim(h, "s", "k", 1).await);
}

async fn subscribers_and_keys_are_independent(h: &impl Harness) {
    claimed(h, "a", "k").await;
    claimed(h, "b", "k").await;
    claimed(h, "a", "other").await;
    claimed(h, "x:y", "z").await;
    claimed(h, "x", "y:z").await;
}

async fn concurrent_claims_of_one_key_grant_exactly_one(h: &impl Harness) {
    let claims = (0..16).map(|_| h.store().claim("s", "k", 1, LEASE));
    let outcomes = futures_util::future::join_all(claims).await;

    let granted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ClaimOutcome::Claimed(_))))
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ClaimOutcome::Duplicate(_))));
    assert_eq!(granted, 1, "outcomes: {outcomes:?}");
    assert_eq!(duplicates.count(), 15, "outcomes: {outcomes:?}");
}

/// Instantiates every case for both stores.
macro_rules! conformance_suite {
    ($($case:ident),+ $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::MemoryHarness::new()).await;
                }
            )+
        }

        mod redis_store {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(harness) = super::RedisHarness::connect(stringify!($case)).await
                    else {
                        return;
                    };
                    super::$case(&harness).await;
                    harness.cleanup().await;
                }
            )+
        }
    };
}

conformance_suite!(
    free_key_is_claimed_and_a_second_claim_is_a_duplicate_in_progress,
    other_fingerprint_on_a_live_key_is_a_conflict,
    completed_key_is_a_duplicate_for_its_ttl_then_claimable,
    in_progress_key_is_claimable_once_its_lease_ends,
    released_key_is_claimable_again_and_its_token_is_spent,
    stale_token_is_refused_after_its_lease_ends_and_the_key_is_claimed_again,
    completed_record_is_neither_released_nor_completed_again,
    token_that_never_held_the_key_is_refused,
    subscribers_and_keys_are_independent,
    concurrent_claims_of_one_key_grant_exactly_one,
);
