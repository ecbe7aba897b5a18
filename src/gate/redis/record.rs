//! How a gate record is laid out in Redis: the key that names it, the value that holds it,
//! and the ownership tokens that prove a claim.
//!
//! # Key
//!
//! `{prefix}{subscriber length}:{subscriber}:{event key}`, e.g. `eventgate:5:audit:job:7`.
//! The length makes the layout injective: subscriber `a:b` with key `c` and subscriber `a`
//! with key `b:c` name different records, which a plain `{subscriber}:{key}` would not.
//!
//! # Value
//!
//! 49 ASCII bytes, fixed width, readable in `redis-cli`:
//!
//! ```text
//! p 0123456789abcdef0123456789abcdef 89abcdef01234567      (no spaces in the real value)
//! | |                                |
//! | token: 32 lowercase hex digits   payload fingerprint: 16 lowercase hex digits
//! state: `p` in progress (held by the token's owner), `c` completed
//! ```
//!
//! The record's expiry is the key's own Redis expiry (`PX`): the lease while in progress,
//! the TTL once completed, so Redis forgets a record exactly when the gate should. Because
//! the token sits right after the state byte, the Lua scripts check ownership by comparing
//! the value's first 33 bytes with `p{token}`; a completed record never matches, so neither
//! complete nor release can act on it twice. Hex was chosen over a binary layout (25 bytes)
//! so an operator can read records with `redis-cli GET`; the difference is noise next to the
//! key and Redis's own per-key overhead.
//!
//! # Tokens
//!
//! A token is 64 random bits drawn from the operating system when the store is opened, then a
//! 64-bit counter: unique across processes sharing one Redis (two stores colliding needs the
//! same 64 random bits), and never reused within a store. A holder whose lease expired keeps a
//! token that no longer matches the record a later holder wrote, so its complete or release
//! is refused.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngCore;

use crate::gate::store::{ClaimToken, HolderState};

/// Length of an encoded record value, in bytes.
pub(super) const VALUE_LEN: usize = 1 + 32 + 16;

/// Length of the part of a value that identifies its in-progress holder: `p{token}`.
pub(super) const OWNER_LEN: usize = 1 + 32;

/// The Redis key of (`subscriber`, `key`) under `prefix`.
pub(super) fn record_key(prefix: &str, subscriber: &str, key: &str) -> String {
    format!("{prefix}{}:{subscriber}:{key}", subscriber.len())
}

/// The value of an in-progress record held by `token`.
pub(super) fn in_progress_value(token: ClaimToken, fingerprint: u64) -> String {
    format!("p{:032x}{fingerprint:016x}", token.0)
}

/// The prefix of a value that `token` holds in progress: what the Lua scripts compare.
pub(super) fn owner(token: ClaimToken) -> String {
    format!("p{:032x}", token.0)
}

/// A record read back from Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StoredRecord {
    pub(super) state: HolderState,
    pub(super) fingerprint: u64,
}

/// Decodes a stored value; `None` when it is not a gate record.
pub(super) fn decode(value: &[u8]) -> Option<StoredRecord> {
    if value.len() != VALUE_LEN {
        return None;
    }
    let state = match value[0] {
        b'p' => HolderState::InProgress,
        b'c' => HolderState::Completed,
        _ => return None,
    };
    let hex = std::str::from_utf8(&value[OWNER_LEN..]).ok()?;
    let fingerprint = u64::from_str_radix(hex, 16).ok()?;
    Some(StoredRecord { state, fingerprint })
}

/// Hands out ownership tokens: random high bits per store, a counter below.
#[derive(Debug)]
pub(super) struct TokenSource {
    high: u64,
    next: AtomicU64,
}

impl TokenSource {
    /// A source whose high bits come from the operating system's random generator.
    ///
    /// Not seeded on purpose: this store never runs under simulation, and tokens must differ
    /// between processes that share a Redis, which a shared seed would defeat.
    pub(super) fn from_os() -> Self {
        Self {
            high: rand::rngs::OsRng.next_u64(),
            next: AtomicU64::new(1),
        }
    }

    pub(super) fn next(&self) -> ClaimToken {
        let low = self.next.fetch_add(1, Ordering::Relaxed);
        ClaimToken((u128::from(self.high) << 64) | u128::from(low))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_keep_subscriber_and_key_apart() {
        assert_ne!(record_key("p:", "a:b", "c"), record_key("p:", "a", "b:c"));
        assert_eq!(
            record_key("eventgate:", "audit", "job:7"),
            "eventgate:5:audit:job:7"
        );
    }

    #[test]
    fn in_progress_value_round_trips_and_starts_with_its_owner() {
        let token = ClaimToken(u128::MAX - 5);
        let value = in_progress_value(token, 0xdead_beef);
        assert_eq!(value.len(), VALUE_LEN);
        assert!(value.starts_with(&owner(token)));
        let record = decode(value.as_bytes()).unwrap();
        assert_eq!(
            record,
            StoredRecord {
                state: HolderState::InProgress,
                fingerprint: 0xdead_beef
            }
        );
    }

    #[test]
    fn completed_value_decodes_as_completed_and_foreign_values_do_not_decode() {
        let completed = format!("c{}", &in_progress_value(ClaimToken(7), 9)[1..]);
        assert_eq!(
            decode(completed.as_bytes()).unwrap().state,
            HolderState::Completed
        );
        assert_eq!(decode(b"hello"), None);
        assert_eq!(decode(format!("x{}", &completed[1..]).as_bytes()), None);
    }

    #[test]
    fn tokens_of_one_source_differ_and_two_sources_differ_in_high_bits() {
        let (a, b) = (TokenSource::from_os(), TokenSource::from_os());
        assert_ne!(a.next(), a.next());
        assert_ne!(a.next().0 >> 64, b.next().0 >> 64);
    }
}
