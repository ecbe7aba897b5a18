//! Every default of the crate, in one place, each with its unit in its name or type.
//!
//! The README lists the same table; a change here is a change of documented behaviour.

use std::time::Duration;

/// How long one handler run may take before it is abandoned as timed out.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a gate claim is held while its handler runs. It must be longer than the handler
/// timeout, or a slow handler's lease could expire while it still runs.
pub const LEASE: Duration = Duration::from_secs(30);

/// How long a completed key suppresses duplicates.
pub const TTL: Duration = Duration::from_secs(60 * 60);

/// How many events may wait in one subscriber's queue before new ones overflow.
pub const QUEUE_CAPACITY: usize = 1_024;

/// How many attempts an at-least-once subscriber makes before dead-lettering an event.
pub const ATTEMPTS_MAX: u32 = 5;

/// The backoff before the second attempt; each later backoff doubles, up to [`BACKOFF_MAX`].
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);

/// The longest backoff between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How many keys a memory store holds before it refuses new claims.
pub const STORE_CAPACITY_KEYS: usize = 100_000;

/// How many dead letters a bus keeps; beyond this new ones are counted and logged, not kept,
/// until the kept ones are taken.
pub const DEAD_LETTERS_MAX: usize = 10_000;

/// The largest payload `publish` accepts, in bytes of JSON.
pub const PAYLOAD_LIMIT_BYTES: usize = 256 * 1024;
