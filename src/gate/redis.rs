//! `RedisStore`: gate records in a shared Redis, so one gate holds across every process of a
//! service (only with the cargo feature `redis`).
//!
//! # The three operations
//!
//! - **claim** is one command, `SET key value NX PX lease GET`: it writes an in-progress
//!   record only if none is live and, in the same atomic step, returns the live record when
//!   there is one. The stored fingerprint decides duplicate or conflict, and a `PTTL` (sent
//!   only then) gives the holder's remaining time. `NX` together with `GET` needs Redis 7.0.
//! - **complete** is a Lua script: if the record is still `p{token}…`, rewrite it as
//!   completed with the TTL as its new expiry; otherwise [`StoreError::LeaseLost`].
//! - **release** is a Lua compare-and-delete on the same `p{token}` prefix.
//!
//! [`record`] documents the key and value layout and the ownership tokens.
//!
//! # When Redis is away
//!
//! Every operation is bounded by [`RedisConfig::op_timeout`] (default
//! [`DEFAULT_OP_TIMEOUT`]): a refused connection, a dropped one or a Redis that does not
//! answer becomes [`StoreError::Unavailable`] within that time instead of a stuck worker. What
//! the bus does then is the subscriber's [`crate::bus::StorePolicy`]. The connection is a
//! redis [`ConnectionManager`], which reconnects on its own once Redis is back, so the same
//! store recovers without being rebuilt.
//!
//! A claim that timed out may still have landed on the server: its record would then hold the
//! key, owned by nobody, until its lease ends, and a retry in that window would be suppressed
//! as a duplicate of a run that never happened. So a failed claim sends a best-effort release
//! of its own token in the background; it can only remove the record that claim wrote.
//!
//! The design rejected here is a claim as a Lua script (read, decide, write): it would give
//! the same atomicity at the cost of a script run on the hot path, and the plain `SET NX PX`
//! is what the benchmark compares against.

mod record;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

use self::record::{TokenSource, decode, in_progress_value, owner, record_key};
use super::store::{ClaimOutcome, ClaimToken, GateStore, Holder, StoreError, StoreFuture};

/// The tracing target of this module.
const TARGET: &str = "eventgate::gate::redis";

/// The default bound on one store operation, including reconnecting.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(1);

/// The default prefix of every key the store writes.
pub const DEFAULT_KEY_PREFIX: &str = "eventgate:";

/// The default number of reconnect attempts the connection makes in one go; when they are
/// spent, the next operation starts another round.
pub const DEFAULT_RECONNECT_ATTEMPTS_MAX: usize = 3;

/// The default longest pause between two reconnect attempts.
pub const DEFAULT_RECONNECT_DELAY_MAX: Duration = Duration::from_millis(250);

/// Rewrites `p{token}…` as `c{token}…` with the TTL as its expiry; 1 if done, 0 if the token
/// no longer holds the record.
const COMPLETE_LUA: &str = r"
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('SET', KEYS[1], 'c' .. string.sub(v, 2), 'PX', ARGV[2])
  return 1
end
return 0
";

/// Deletes the record if `p{token}` still holds it; 1 if deleted, 0 otherwise.
const RELEASE_LUA: &str = r"
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Why a [`RedisStore`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    /// The URL was not a Redis URL.
    #[error("invalid redis url: {0}")]
    InvalidUrl(String),
    /// The store was opened outside a tokio runtime, which its connection needs.
    #[error("a redis store must be opened inside a tokio runtime")]
    NoRuntime,
    /// The connection manager could not be set up.
    #[error("could not set up the redis connection: {0}")]
    Connection(String),
}

/// How to reach Redis and how long to wait for it. Build with [`RedisConfig::new`].
#[derive(Clone)]
pub struct RedisConfig {
    url: String,
    key_prefix: String,
    op_timeout: Duration,
    reconnect_attempts_max: usize,
    reconnect_delay_max: Duration,
}

impl RedisConfig {
    /// Redis at `url` (e.g. `redis://127.0.0.1:6379`), with every default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            reconnect_attempts_max: DEFAULT_RECONNECT_ATTEMPTS_MAX,
            reconnect_delay_max: DEFAULT_RECONNECT_DELAY_MAX,
        }
    }

    /// The prefix of every key the store writes, so several services or test runs can
    /// share one Redis without meeting.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The longest one operation may take, reconnecting included, before it fails with
    /// [`StoreError::Unavailable`].
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// How many reconnect attempts one round makes, and the longest pause between two.
    pub fn reconnect(mut self, attempts_max: usize, delay_max: Duration) -> Self {
        self.reconnect_attempts_max = attempts_max;
        self.reconnect_delay_max = delay_max;
        self
    }
}

impl fmt::Debug for RedisConfig {
    /// Leaves the URL out: it may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("key_prefix", &self.key_prefix)
            .field("op_timeout", &self.op_timeout)
            .field("reconnect_attempts_max", &self.reconnect_attempts_max)
            .field("reconnect_delay_max", &self.reconnect_delay_max)
            .finish_non_exhaustive()
    }
}

/// Gate records in Redis; see the module docs. Cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    key_prefix: String,
    op_timeout: Duration,
    tokens: TokenSource,
    complete: Script,
    release: Script,
}

impl RedisStore {
    /// Opens a store on `config`, inside the current tokio runtime.
    ///
    /// Nothing is sent yet: the connection is made by the first operation, so a store can
    /// be opened while Redis is down, and its operations answer
    /// [`StoreError::Unavailable`] until Redis is back.
    pub fn open(config: RedisConfig) -> Result<Self, RedisStoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisStoreError::NoRuntime);
        }
        let client = redis::Client::open(config.url.as_str())
            .map_err(|error| RedisStoreError::InvalidUrl(error.to_string()))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.op_timeout))
            .set_response_timeout(Some(config.op_timeout))
            .set_number_of_retries(config.reconnect_attempts_max)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(config.reconnect_delay_max);
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|error| RedisStoreError::Connection(error.to_string()))?;
        tracing::info!(
            target: TARGET,
            key_prefix = %config.key_prefix,
            op_timeout_ms = config.op_timeout.as_millis() as u64,
            "redis gate store opened"
        );
        let inner = Inner {
            connection,
            key_prefix: config.key_prefix,
            op_timeout: config.op_timeout,
            tokens: TokenSource::from_os(),
            complete: Script::new(COMPLETE_LUA),
            release: Script::new(RELEASE_LUA),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The prefix of every key this store writes.
    pub fn key_prefix(&self) -> &str {
        &self.inner.key_prefix
    }

    /// A handle on the store's connection, for callers that share it (tests, benchmarks).
    pub fn connection(&self) -> ConnectionManager {
        self.inner.connection.clone()
    }

    async fn claim_record(
        &self,
        subscriber: &str,
        key: &str,
        fingerprint: u64,
        lease: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        let full_key = record_key(&self.inner.key_prefix, subscriber, key);
        let token = self.inner.tokens.next();
        let mut set = redis::cmd("SET");
        set.arg(&full_key)
            .arg(in_progress_value(token, fingerprint));
        set.arg("NX")
            .arg("PX")
            .arg(millis_at_least_one(lease))
            .arg("GET");
        let mut connection = self.inner.connection.clone();
        let previous = bounded(self.inner.op_timeout, "claim", async move {
            set.query_async::<Option<Vec<u8>>>(&mut connection).await
        });
        match previous.await {
            Ok(None) => Ok(ClaimOutcome::Claimed(token)),
            Ok(Some(value)) => self.answer_live(&full_key, &value, fingerprint).await,
            Err(error) => {
                self.forget_unanswered_claim(full_key, token);
                Err(error)
            }
        }
    }

    /// Duplicate or conflict, from the live record's value and remaining time.
    async fn answer_live(
        &self,
        full_key: &str,
        value: &[u8],
        fingerprint: u64,
    ) -> Result<ClaimOutcome, StoreError> {
        let Some(record) = decode(value) else {
            let reason = format!("key {full_key} holds a value that is not a gate record");
            return Err(StoreError::Unavailable { reason });
        };
        let mut connection = self.inner.connection.clone();
        let mut pttl = redis::cmd("PTTL");
        pttl.arg(full_key);
        let left_ms = bounded(self.inner.op_timeout, "pttl", async move {
            pttl.query_async::<i64>(&mut connection).await
        });
        // Negative: the record expired (or lost its expiry) since the claim saw it.
        let left_ms = u64::try_from(left_ms.await?).unwrap_or(0);
        let holder = Holder {
            state: record.state,
            expires_in: Duration::from_millis(left_ms),
        };
        if record.fingerprint == fingerprint {
            Ok(ClaimOutcome::Duplicate(holder))
        } else {
            Ok(ClaimOutcome::Conflict(holder))
        }
    }

    /// Removes, in the background, the record a failed claim may have written after all.
    fn forget_unanswered_claim(&self, full_key: String, token: ClaimToken) {
        let store = self.clone();
        tokio::spawn(async move {
            let outcome = store.run_owned_script(&store.inner.release, &full_key, token, None);
            if let Ok(true) = outcome.await {
                tracing::debug!(
                    target: TARGET,
                    key = %full_key,
                    "removed the record of a claim whose answer was lost"
                );
            }
        });
    }

    /// Runs `script` on `full_key` with `p{token}` and an optional TTL; true if it acted.
    async fn run_owned_script(
        &self,
        script: &Script,
        full_key: &str,
        token: ClaimToken,
        ttl: Option<Duration>,
    ) -> Result<bool, StoreError> {
        let mut invocation = script.key(full_key);
        invocation.arg(owner(token));
        if let Some(ttl) = ttl {
            invocation.arg(millis_at_least_one(ttl));
        }
        let mut connection = self.inner.connection.clone();
        let acted = bounded(self.inner.op_timeout, "script", async move {
            invocation.invoke_async::<i64>(&mut connection).await
        });
        Ok(acted.await? == 1)
    }

    async fn finish(
        &self,
        script: &Script,
        subscriber: &str,
        key: &str,
        token: ClaimToken,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let full_key = record_key(&self.inner.key_prefix, subscriber, key);
        match self.run_owned_script(script, &full_key, token, ttl).await? {
            true => Ok(()),
            false => Err(StoreError::LeaseLost),
        }
    }
}

/// Runs one Redis call within `timeout`, turning every failure into `Unavailable`.
async fn bounded<T>(
    timeout: Duration,
    operation: &'static str,
    call: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            tracing::debug!(target: TARGET, operation, %error, "redis call failed");
            Err(StoreError::Unavailable {
                reason: format!("redis {operation} failed: {error}"),
            })
        }
        Err(_elapsed) => {
            let timeout_ms = timeout.as_millis() as u64;
            tracing::debug!(target: TARGET, operation, timeout_ms, "redis call timed out");
            let reason = format!("redis {operation} did not answer within {timeout_ms} ms");
            Err(StoreError::Unavailable { reason })
        }
    }
}

/// `duration` in whole milliseconds, rounded up, at least 1 (`PX 0` is an error in Redis,
/// and rounding down could end a lease early).
fn millis_at_least_one(duration: Duration) -> u64 {
    let millis = duration.as_nanos().div_ceil(1_000_000).max(1);
    u64::try_from(millis).unwrap_or(u64::MAX)
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.key_prefix)
            .field("op_timeout", &self.inner.op_timeout)
            .finish_non_exhaustive()
    }
}

impl GateStore for RedisStore {
    fn claim<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        fingerprint: u64,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(self.claim_record(subscriber, key, fingerprint, lease))
    }

    fn complete<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.finish(&self.inner.complete, subscriber, key, token, Some(ttl)))
    }

    fn release<'a>(
        &'a self,
        subscriber: &'a str,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.finish(&self.inner.release, subscriber, key, token, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_milliseconds_and_never_to_zero() {
        assert_eq!(millis_at_least_one(Duration::ZERO), 1);
        assert_eq!(millis_at_least_one(Duration::from_micros(1)), 1);
        assert_eq!(millis_at_least_one(Duration::from_micros(1_001)), 2);
        assert_eq!(millis_at_least_one(Duration::from_secs(30)), 30_000);
    }

    #[test]
    fn opening_outside_a_runtime_is_refused() {
        let opened = RedisStore::open(RedisConfig::new("redis://127.0.0.1:6379"));
        assert!(matches!(opened, Err(RedisStoreError::NoRuntime)));
    }

    #[tokio::test]
    async fn opening_with_a_bad_url_is_refused() {
        let opened = RedisStore::open(RedisConfig::new("http://example.invalid/"));
        assert!(matches!(opened, Err(RedisStoreError::InvalidUrl(_))));
    }
}
