//! `MemoryStore`: gate records in this process, with a TTL on the injected clock and a named
//! capacity of live keys.
//!
//! Records live in shards, each behind its own short lock, so no lock is ever held across a
//! handler run and two workers claiming different keys rarely meet. Each shard is one map
//! keyed by subscriber and key together, hashed once per operation (see `record_key`). A
//! shared counter bounds the number of records. When the store is full, expired records are
//! swept, unless no record can have expired yet (the store tracks a lower bound of every
//! expiry it wrote, so a store full of live keys does not rescan itself on every claim); if
//! it is still full of live keys the claim is refused with [`StoreError::Full`]. The design
//! rejected here is evicting the oldest live key to make room: that forgets a claim and lets
//! a duplicate run, breaking at-most-once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::record_key::{RecordKeyRef, RecordMap};
use super::store::ImmediateGateStore;
use super::store::StoreFuture;
use super::store::{ClaimOutcome, ClaimToken, GateStore, Holder, HolderState, StoreError};
use crate::clock::Clock;
use crate::defaults;
use crate::mutants::Mutants;
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering, lock};

/// How many shards a store splits its records over.
/// Fewer than 256, since a claim token keeps its shard index in eight bits.
const SHARDS: usize = 16;
const _: () = assert!(
    SHARDS < 256,
    "a claim token keeps the shard index in eight bits"
);

/// Gate records in memory; see the module docs.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    records: AtomicUsize,
    capacity_keys: usize,
    /// No record expires before `origin` plus this many nanoseconds (`u64::MAX`: none).
    earliest_expiry_ns: AtomicU64,
    origin: Instant,
    clock: Arc<dyn Clock>,
    /// The clock's [`Clock::is_tokio_time`], read once: whether a caller's tokio reading may
    /// stand in for this store's own (see [`MemoryStore::claim_now_at`]).
    clock_is_tokio_time: bool,
    #[cfg_attr(not(feature = "mutants"), allow(dead_code))]
    mutants: Mutants,
}

/// One shard's records, keyed by subscriber and key together (see [`super::record_key`]).
#[derive(Default)]
struct Shard {
    records: RecordMap<Record>,
    /// Claim tokens issued by this shard. Counted under the shard's lock, so workers claiming
    /// keys of different shards never write a shared counter.
    tokens_issued: u64,
}

#[derive(Debug, Clone, Copy)]
enum Record {
    InProgress {
        token: ClaimToken,
        fingerprint: u64,
        lease_until: Instant,
    },
    Completed {
        fingerprint: u64,
        until: Instant,
    },
}

impl Record {
    fn expires_at(&self) -> Instant {
        match *self {
            Record::InProgress { lease_until, .. } => lease_until,
            Record::Completed { until, .. } => until,
        }
    }

    fn is_live(&self, now: Instant) -> bool {
        now < self.expires_at()
    }

    fn holder(&self, now: Instant) -> Holder {
        let state = match self {
            Record::InProgress { .. } => HolderState::InProgress,
            Record::Completed { .. } => HolderState::Completed,
        };
        Holder {
            state,
            expires_in: self.expires_at().saturating_duration_since(now),
        }
    }

    fn fingerprint(&self) -> u64 {
        match *self {
            Record::InProgress { fingerprint, .. } | Record::Completed { fingerprint, .. } => {
                fingerprint
            }
        }
    }
}

impl MemoryStore {
    /// A store of at most [`defaults::STORE_CAPACITY_KEYS`] keys, on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(clock, defaults::STORE_CAPACITY_KEYS)
    }

    /// A store of at most `capacity_keys` keys, on `clock`.
    ///
    /// # Panics
    /// When `capacity_keys` is zero: a store that can hold nothing is a configuration bug.
    pub fn with_capacity(clock: Arc<dyn Clock>, capacity_keys: usize) -> Self {
        assert!(
            capacity_keys > 0,
            "a memory store needs room for at least one key"
        );
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Self {
            shards,
            records: AtomicUsize::new(0),
            capacity_keys,
            earliest_expiry_ns: AtomicU64::new(u64::MAX),
            origin: clock.now(),
            clock_is_tokio_time: clock.is_tokio_time(),
            clock,
            mutants: Mutants::none(),
        }
    }

    /// The same store with `mutants` switched on (only with the `mutants` feature).
    pub fn with_mutants(mut self, mutants: Mutants) -> Self {
        self.mutants = mutants;
        self
    }

    /// The store's notion of now: the injected clock.
    fn now(&self) -> Instant {
        #[cfg(feature = "mutants")]
        if self.mutants.is_on(crate::mutants::Mutant::TtlOnWallClock) {
            return Instant::from_std(std::time::Instant::now());
        }
        self.clock.now()
    }

    /// How many records the store holds, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.records.load(Ordering::SeqCst)
    }

    /// True when the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The store's capacity in keys.
    pub fn capacity_keys(&self) -> usize {
        self.capacity_keys
    }

    /// [`GateStore::claim`], synchronously.
    pub fn claim_now(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        self.claim_at(subscriber, key, fingerprint, lease, self.now())
    }

    /// [`ImmediateGateStore::claim_now_at`]: `now`, a tokio reading the caller has just
    /// taken, serves as this store's reading when its clock is tokio's; otherwise the store
    /// reads its own clock.
    pub fn claim_now_at(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
        now: Instant,
    ) -> Result<ClaimOutcome, StoreError> {
        let now = if self.takes_tokio_readings() {
            now
        } else {
            self.now()
        };
        self.claim_at(subscriber, key, fingerprint, lease, now)
    }

    /// Whether a caller's tokio reading may stand in for [`Self::now`]: when the clock is
    /// tokio's, unless a planted bug moves the store onto the wall clock.
    fn takes_tokio_readings(&self) -> bool {
        #[cfg(feature = "mutants")]
        if self.mutants.is_on(crate::mutants::Mutant::TtlOnWallClock) {
            return false;
        }
        self.clock_is_tokio_time
    }

    /// A claim at `now` on the store's clock.
    fn claim_at(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
        now: Instant,
    ) -> Result<ClaimOutcome, StoreError> {
        let at = RecordKeyRef::new(subscriber, key);
        if let Some(outcome) = self.try_claim(at, fingerprint, lease, now) {
            return Ok(outcome);
        }
        self.sweep(now);
        self.try_claim(at, fingerprint, lease, now)
            .ok_or(StoreError::Full {
                capacity_keys: self.capacity_keys,
            })
    }

    /// [`GateStore::complete`], synchronously.
    pub fn complete_now(
        &self,
        subscriber: &str,
        key: &str,
        token: ClaimToken,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let until = self.now() + ttl;
        let at = RecordKeyRef::new(subscriber, key);
        let mut shard = lock(self.shard(at));
        let record = shard.record_mut(at).ok_or(StoreError::LeaseLost)?;
        match *record {
            Record::InProgress {
                token: held,
                fingerprint,
                ..
            } if held == token => {
                *record = Record::Completed { fingerprint, until };
                drop(shard);
                self.note_expiry(until);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    /// [`GateStore::release`], synchronously.
    pub fn release_now(
        &self,
        subscriber: &str,
        key: &str,
        token: ClaimToken,
    ) -> Result<(), StoreError> {
        let at = RecordKeyRef::new(subscriber, key);
        let mut shard = lock(self.shard(at));
        match shard.record_mut(at) {
            Some(Record::InProgress { token: held, .. }) if *held == token => {
                shard.remove(at);
                self.records.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    /// One claim attempt under the shard lock; `None` when a new record would not fit.
    fn try_claim(
        &self,
        at: RecordKeyRef<'_>,
        fingerprint: u64,
        lease: Duration,
        now: Instant,
    ) -> Option<ClaimOutcome> {
        #[cfg(feature = "mutants")]
        if self.mutants.is_on(crate::mutants::Mutant::GateCheckThenSet) {
            return self.try_claim_in_two_steps(at, fingerprint, lease, now);
        }
        let index = at.shard(SHARDS);
        let mut shard = lock(&self.shards[index]);
        let token = shard.issue_token(index);
        let lease_until = now + lease;
        let claimed = Record::InProgress {
            token,
            fingerprint,
            lease_until,
        };
        match shard.record_mut(at) {
            Some(record) if record.is_live(now) => {
                return Some(answer_live(record, fingerprint, now));
            }
            Some(expired) => *expired = claimed,
            None => {
                if !self.reserve_slot() {
                    return None;
                }
                shard.insert(at, claimed);
            }
        }
        drop(shard);
        self.note_expiry(lease_until);
        Some(ClaimOutcome::Claimed(token))
    }

    /// The planted bug [`crate::mutants::Mutant::GateCheckThenSet`]: the same claim as
    /// [`MemoryStore::try_claim`], but the check for a live record and the write of the claim
    /// take the shard lock separately, so two claims of one key can both find it free.
    #[cfg(feature = "mutants")]
    fn try_claim_in_two_steps(
        &self,
        at: RecordKeyRef<'_>,
        fingerprint: u64,
        lease: Duration,
        now: Instant,
    ) -> Option<ClaimOutcome> {
        let found = lock(self.shard(at)).record_mut(at).copied();
        match found {
            Some(record) if record.is_live(now) => {
                return Some(answer_live(&record, fingerprint, now));
            }
            Some(_expired) => {}
            None if !self.reserve_slot() => return None,
            None => {}
        }
        let index = at.shard(SHARDS);
        let token = lock(&self.shards[index]).issue_token(index);
        let lease_until = now + lease;
        let claimed = Record::InProgress {
            token,
            fingerprint,
            lease_until,
        };
        lock(self.shard(at)).insert(at, claimed);
        self.note_expiry(lease_until);
        Some(ClaimOutcome::Claimed(token))
    }

    /// Lowers the bound on the earliest expiry to `at`, if `at` is earlier.
    fn note_expiry(&self, at: Instant) {
        let at_ns = self.nanos_since_origin(at);
        let mut current = self.earliest_expiry_ns.load(Ordering::SeqCst);
        while at_ns < current {
            match self.earliest_expiry_ns.compare_exchange(
                current,
                at_ns,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    fn nanos_since_origin(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts one more record if it fits under the capacity.
    fn reserve_slot(&self) -> bool {
        let previous = self.records.fetch_add(1, Ordering::SeqCst);
        if previous < self.capacity_keys {
            return true;
        }
        self.records.fetch_sub(1, Ordering::SeqCst);
        false
    }

    /// Removes every expired record, unless no record can have expired yet.
    ///
    /// The bound is reset before the scan, so an expiry written during the scan lowers the
    /// new bound rather than being overwritten by it.
    fn sweep(&self, now: Instant) {
        if self.nanos_since_origin(now) < self.earliest_expiry_ns.load(Ordering::SeqCst) {
            return;
        }
        self.earliest_expiry_ns.store(u64::MAX, Ordering::SeqCst);
        let mut removed = 0usize;
        for shard in self.shards.iter() {
            let (shard_removed, shard_earliest) = lock(shard).remove_expired(now);
            removed += shard_removed;
            if let Some(earliest) = shard_earliest {
                self.note_expiry(earliest);
            }
        }
        self.records.fetch_sub(removed, Ordering::SeqCst);
        tracing::debug!(target: "eventgate::gate", removed, "swept expired gate records");
    }

    fn shard(&self, at: RecordKeyRef<'_>) -> &Mutex<Shard> {
        &self.shards[at.shard(SHARDS)]
    }
}

fn answer_live(record: &Record, fingerprint: u64, now: Instant) -> ClaimOutcome {
    let holder = record.holder(now);
    if record.fingerprint() == fingerprint {
        ClaimOutcome::Duplicate(holder)
    } else {
        ClaimOutcome::Conflict(holder)
    }
}

impl Shard {
    /// A token no earlier claim in this shard was given: the shard's count in the high bits and
    /// the shard's `index` in the low eight, so tokens of two shards never meet either.
    fn issue_token(&mut self, index: usize) -> ClaimToken {
        self.tokens_issued += 1;
        ClaimToken((u128::from(self.tokens_issued) << 8) | index as u128)
    }

    fn record_mut(&mut self, at: RecordKeyRef<'_>) -> Option<&mut Record> {
        self.records.get_mut(at.lookup())
    }

    fn insert(&mut self, at: RecordKeyRef<'_>, record: Record) {
        self.records.insert(at.to_owned_key(), record);
    }

    fn remove(&mut self, at: RecordKeyRef<'_>) {
        self.records.remove(at.lookup());
    }

    /// Removes expired records; returns how many, and the earliest expiry left.
    fn remove_expired(&mut self, now: Instant) -> (usize, Option<Instant>) {
        let before = self.records.len();
        self.records.retain(|_, record| record.is_live(now));
        let earliest = self.records.values().map(Record::expires_at).min();
        (before - self.records.len(), earliest)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("records", &self.len())
            .field("capacity_keys", &self.capacity_keys)
            .finish()
    }
}

impl GateStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        fingerprint: u64,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        let outcome = self.claim_now(subscriber, key, fingerprint, lease);
        Box::pin(std::future::ready(outcome))
    }

    fn complete<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        let outcome = self.complete_now(subscriber, key, token, ttl);
        Box::pin(std::future::ready(outcome))
    }

    fn release<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, ()> {
        let outcome = self.release_now(subscriber, key, token);
        Box::pin(std::future::ready(outcome))
    }

    fn immediate(&self) -> Option<&dyn ImmediateGateStore> {
        Some(self)
    }
}

impl ImmediateGateStore for MemoryStore {
    fn claim_now(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        MemoryStore::claim_now(self, subscriber, key, fingerprint, lease)
    }

    fn claim_now_at(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
        now: Instant,
    ) -> Result<ClaimOutcome, StoreError> {
        MemoryStore::claim_now_at(self, subscriber, key, fingerprint, lease, now)
    }

    fn complete_now(
        &self,
        subscriber: &str,
        key: &str,
        token: ClaimToken,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        MemoryStore::complete_now(self, subscriber, key, token, ttl)
    }

    fn release_now(
        &self,
        subscriber: &str,
        key: &str,
        token: ClaimToken,
    ) -> Result<(), StoreError> {
        MemoryStore::release_now(self, subscriber, key, token)
    }
}

#[cfg(all(test, not(eventgate_loom)))]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const LEASE: Duration = Duration::from_secs(30);
    const TTL: Duration = Duration::from_secs(3_600);

    fn store(capacity_keys: usize) -> (Arc<ManualClock>, MemoryStore) {
        let clock = Arc::new(ManualClock::new(Duration::ZERO));
        let store = MemoryStore::with_capacity(clock.clone(), capacity_keys);
        (clock, store)
    }

    fn claimed(outcome: Result<ClaimOutcome, StoreError>) -> ClaimToken {
        match outcome {
            Ok(ClaimOutcome::Claimed(token)) => token,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[test]
    fn completed_key_is_a_duplicate_until_its_ttl_ends() {
        let (clock, store) = store(10);
        let token = claimed(store.claim_now("s", "k", 1, LEASE));
        store.complete_now("s", "k", token, TTL).unwrap();

        clock.advance(TTL - Duration::from_millis(1));
        let again = store.claim_now("s", "k", 1, LEASE).unwrap();
        assert!(matches!(
            again,
            ClaimOutcome::Duplicate(Holder {
                state: HolderState::Completed,
                ..
            })
        ));

        clock.advance(Duration::from_millis(1));
        claimed(store.claim_now("s", "k", 1, LEASE));
    }

    #[test]
    fn in_progress_key_is_a_duplicate_until_its_lease_ends() {
        let (clock, store) = store(10);
        claimed(store.claim_now("s", "k", 1, LEASE));
        let again = store.claim_now("s", "k", 1, LEASE).unwrap();
        assert!(matches!(
            again,
            ClaimOutcome::Duplicate(Holder {
                state: HolderState::InProgress,
                ..
            })
        ));
        clock.advance(LEASE);
        claimed(store.claim_now("s", "k", 1, LEASE));
    }

    #[test]
    fn other_fingerprint_on_a_live_key_is_a_conflict() {
        let (_clock, store) = store(10);
        claimed(store.claim_now("s", "k", 1, LEASE));
        assert!(matches!(
            store.claim_now("s", "k", 2, LEASE),
            Ok(ClaimOutcome::Conflict(_))
        ));
    }

    #[test]
    fn keys_of_different_subscribers_are_independent() {
        let (_clock, store) = store(10);
        claimed(store.claim_now("a", "k", 1, LEASE));
        claimed(store.claim_now("b", "k", 1, LEASE));
    }

    #[test]
    fn released_key_can_be_claimed_again_and_stale_token_is_refused() {
        let (clock, store) = store(10);
        let first = claimed(store.claim_now("s", "k", 1, LEASE));
        store.release_now("s", "k", first).unwrap();
        let second = claimed(store.claim_now("s", "k", 1, LEASE));
        assert_eq!(
            store.release_now("s", "k", first),
            Err(StoreError::LeaseLost)
        );
        assert_eq!(
            store.complete_now("s", "k", first, TTL),
            Err(StoreError::LeaseLost)
        );

        clock.advance(LEASE);
        let third = claimed(store.claim_now("s", "k", 1, LEASE));
        assert_eq!(
            store.complete_now("s", "k", second, TTL),
            Err(StoreError::LeaseLost)
        );
        store.complete_now("s", "k", third, TTL).unwrap();
    }

    #[test]
    fn full_store_refuses_new_keys_and_keeps_every_live_one() {
        let (_clock, store) = store(2);
        claimed(store.claim_now("s", "a", 1, LEASE));
        claimed(store.claim_now("s", "b", 1, LEASE));
        assert_eq!(
            store.claim_now("s", "c", 1, LEASE),
            Err(StoreError::Full { capacity_keys: 2 })
        );
        assert!(matches!(
            store.claim_now("s", "a", 1, LEASE),
            Ok(ClaimOutcome::Duplicate(_))
        ));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn full_store_makes_room_by_sweeping_expired_keys() {
        let (clock, store) = store(2);
        claimed(store.claim_now("s", "a", 1, LEASE));
        clock.advance(Duration::from_secs(1));
        claimed(store.claim_now("s", "b", 1, LEASE));
        clock.advance(LEASE - Duration::from_secs(1));
        claimed(store.claim_now("s", "c", 1, LEASE));
        assert_eq!(store.len(), 2);
        assert!(matches!(
            store.claim_now("s", "b", 1, LEASE),
            Ok(ClaimOutcome::Duplicate(_))
        ));
    }

    /// How long the live record of `key` has left, seen by a claim at the store's own now.
    fn expires_in(store: &MemoryStore, key: &str) -> Duration {
        match store.claim_now("s", key, 1, LEASE) {
            Ok(ClaimOutcome::Duplicate(holder)) => holder.expires_in,
            other => panic!("expected a live record, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn claim_at_a_tokio_reading_counts_the_lease_from_it_on_a_tokio_clock() {
        let store = MemoryStore::new(Arc::new(crate::clock::TokioClock::system()));
        let reading = Instant::now();
        tokio::time::advance(Duration::from_secs(5)).await;
        claimed(store.claim_now_at("s", "k", 1, LEASE, reading));
        assert_eq!(expires_in(&store, "k"), LEASE - Duration::from_secs(5));
    }

    #[test]
    fn claim_at_a_tokio_reading_reads_its_own_clock_when_that_is_not_tokio() {
        let (clock, store) = store(10);
        let reading = Instant::now() + Duration::from_secs(600);
        clock.advance(Duration::from_secs(5));
        claimed(store.claim_now_at("s", "k", 1, LEASE, reading));
        assert_eq!(expires_in(&store, "k"), LEASE);
    }
}
