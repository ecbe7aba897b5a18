//! Idempotency gates: a record per (subscriber, event key) that lets a side effect run at
//! most once however often its event is delivered.
//!
//! A record is *in progress* while a handler runs, held by a lease and an ownership token,
//! then *completed* until its TTL ends. The worker of a gated subscriber asks the gate's
//! [`GateStore`] three things: **claim** (take the record, or learn that it is taken),
//! **complete** (mark it done for the TTL) and **release** (give it back after a failure, in
//! at-least-once mode). [`MemoryStore`] keeps records in this process; a shared store keeps
//! them for several processes: `RedisStore` (cargo feature `redis`) keeps them in a shared
//! Redis.
//!
//! The gate keeps the fingerprint of the payload with the key, so the same key arriving with
//! another payload is reported as a conflict rather than silently suppressed.

mod memory;
mod record_key;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{
    DEFAULT_KEY_PREFIX, DEFAULT_OP_TIMEOUT, DEFAULT_RECONNECT_ATTEMPTS_MAX,
    DEFAULT_RECONNECT_DELAY_MAX, RedisConfig, RedisStore, RedisStoreError,
};
pub use store::{
    ClaimOutcome, ClaimToken, GateStore, Holder, HolderState, ImmediateGateStore, StoreError,
    StoreFuture,
};
