//! The store trait behind a gate, and what its operations answer.
//!
//! Claim is one atomic step: check whether a live record exists and, if not, write an
//! in-progress one. A store that checked and then wrote in two steps would let two
//! deliveries of one key both see "free" and both run; the loom models and the shared
//! store's conformance suite hold every store to the single step.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

/// The future a store operation returns (boxed so stores can sit behind `dyn GateStore`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store of gate records.
///
/// `subscriber` and `key` together name a record. Durations are measured on the store's own
/// notion of time: the injected clock for [`super::MemoryStore`], the server's for a shared
/// store.
pub trait GateStore: Send + Sync + fmt::Debug + 'static {
    /// Takes the record for (`subscriber`, `key`) for `lease`, unless a live record exists.
    fn claim<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        fingerprint: u64,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome>;

    /// Marks a claimed record completed for `ttl`. Fails with [`StoreError::LeaseLost`] when
    /// `token` no longer holds the record.
    fn complete<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Removes a claimed record so the key can be claimed again. Fails with
    /// [`StoreError::LeaseLost`] when `token` no longer holds the record.
    fn release<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, ()>;

    /// The same three operations answered in place, for a store that never waits (one in
    /// this process). A gated worker then calls them directly and skips allocating a boxed
    /// future per operation; their answers must equal the async methods'. `None`, the
    /// default, sends every operation through the async methods.
    fn immediate(&self) -> Option<&dyn ImmediateGateStore> {
        None
    }
}

/// A [`GateStore`]'s operations as plain calls; see [`GateStore::immediate`].
pub trait ImmediateGateStore {
    /// [`GateStore::claim`], answered in place.
    fn claim_now(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
    ) -> Result<ClaimOutcome, StoreError>;

    /// [`claim_now`](Self::claim_now) at `now`, a reading of tokio's time that the caller
    /// has just taken and uses itself (a gated worker counts its handler's timeout from it),
    /// so one clock reading serves both. A store whose clock is tokio's may take `now` as its
    /// own reading; any other store must read its own clock, which the default does.
    fn claim_now_at(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
        now: Instant,
    ) -> Result<ClaimOutcome, StoreError> {
        let _ = now;
        self.claim_now(subscriber, key, fingerprint, lease)
    }

    /// [`GateStore::complete`], answered in place.
    fn complete_now(
        &self,
        subscriber: &str,
        key: &str,
        token: ClaimToken,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// [`GateStore::release`], answered in place.
    fn release_now(&self, subscriber: &str, key: &str, token: ClaimToken)
    -> Result<(), StoreError>;
}

/// Proof of holding a claim: only its holder can complete or release the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ClaimToken(pub u128);

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The record was free (absent or expired) and is now held with this token.
    Claimed(ClaimToken),
    /// A live record with the same payload fingerprint holds the key: a duplicate.
    Duplicate(Holder),
    /// A live record with another payload fingerprint holds the key.
    Conflict(Holder),
}

/// The live record that answered a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// In progress or completed.
    pub state: HolderState,
    /// How long the record stays live from the moment of the claim.
    pub expires_in: Duration,
}

/// The state of a live record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderState {
    /// A handler holds the lease.
    InProgress,
    /// A handler finished; the TTL runs.
    Completed,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store holds as many live keys as it may; forgetting one would break at-most-once.
    #[error("gate store is full: {capacity_keys} live keys")]
    Full {
        /// The store's capacity.
        capacity_keys: usize,
    },
    /// The store could not be reached or did not answer in time.
    #[error("gate store is unavailable: {reason}")]
    Unavailable {
        /// What went wrong.
        reason: String,
    },
    /// The token no longer holds the record (its lease expired and another holder took it,
    /// or it was never taken).
    #[error("claim token no longer holds the record")]
    LeaseLost,
}
