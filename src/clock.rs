//! Time, injected: everything in eventgate that reads the time takes a [`Clock`].
//!
//! A clock answers two questions: a monotonic instant (for leases, TTLs, timeouts and
//! backoff) and the unix time (for event timestamps and `webhook-timestamp`). The default,
//! [`TokioClock`], reads tokio's time, so `tokio::time::pause` and turmoil drive it; in a
//! simulation its unix time is a seeded epoch plus simulated time. [`ManualClock`] moves
//! only when told to, for unit tests and loom models.
//!
//! Code that runs under simulation never reads `std::time::Instant` or `SystemTime` itself:
//! a TTL measured on the wall clock would never expire in a simulation that runs a simulated
//! hour in a second, and suppressions would stop being justified.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::{AtomicU64, Ordering};

/// A source of monotonic and unix time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current monotonic instant, on tokio's time base.
    fn now(&self) -> Instant;

    /// The current unix time, as the duration since 1970-01-01T00:00:00Z.
    fn unix_now(&self) -> Duration;

    /// True when [`now`](Self::now) is tokio's own `Instant::now()`, so that a tokio reading
    /// the caller took a moment ago may stand in for a reading of this clock (one clock
    /// reading then serves two parts, see [`crate::gate::ImmediateGateStore::claim_now_at`]).
    /// False, the default, for a clock with a time of its own, such as [`ManualClock`].
    fn is_tokio_time(&self) -> bool {
        false
    }

    /// The current unix time in whole milliseconds.
    fn unix_now_ms(&self) -> u64 {
        // Whole seconds and milliseconds apart: the same value as `as_millis`, without its
        // 128-bit arithmetic, on every publish.
        let now = self.unix_now();
        now.as_secs()
            .saturating_mul(1_000)
            .saturating_add(u64::from(now.subsec_millis()))
    }
}

/// The default clock: tokio's monotonic time, and unix time from the system or from an epoch.
///
/// Create it inside the runtime whose time it should follow.
#[derive(Debug, Clone)]
pub struct TokioClock {
    unix: UnixSource,
}

#[derive(Debug, Clone)]
enum UnixSource {
    System,
    Epoch { epoch: Duration, anchor: Instant },
}

impl TokioClock {
    /// A clock whose unix time comes from the operating system: the production default.
    pub fn system() -> Self {
        Self {
            unix: UnixSource::System,
        }
    }

    /// A clock whose unix time is `epoch` (since 1970) at the moment of this call, and moves
    /// with tokio's time afterwards: what simulations and paused-time tests use.
    pub fn with_epoch(epoch: Duration) -> Self {
        let anchor = Instant::now();
        Self {
            unix: UnixSource::Epoch { epoch, anchor },
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn is_tokio_time(&self) -> bool {
        true
    }

    fn unix_now(&self) -> Duration {
        match &self.unix {
            UnixSource::System => system_unix_now(),
            UnixSource::Epoch { epoch, anchor } => *epoch + anchor.elapsed(),
        }
    }
}

/// The production unix time; the only place the crate reads the system clock.
fn system_unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// A clock that moves only when [`ManualClock::advance`] is called.
///
/// Its instants are an origin taken at creation plus the advanced offset, so they can be
/// compared with each other but mean nothing outside this clock.
#[derive(Debug)]
pub struct ManualClock {
    origin: Instant,
    unix_origin: Duration,
    offset_ns: AtomicU64,
}

impl ManualClock {
    /// A manual clock whose unix time starts at `unix_origin`.
    pub fn new(unix_origin: Duration) -> Self {
        Self {
            origin: Instant::now(),
            unix_origin,
            offset_ns: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by_ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.fetch_add(by_ns, Ordering::SeqCst);
    }

    /// How far the clock has been advanced since creation.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }

    fn unix_now(&self) -> Duration {
        self.unix_origin + self.elapsed()
    }
}

#[cfg(all(test, not(eventgate_loom)))]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let start = clock.now();
        assert_eq!(clock.now(), start);

        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now() - start, Duration::from_millis(1_500));
        assert_eq!(clock.unix_now(), Duration::from_millis(1_001_500));
        assert_eq!(clock.unix_now_ms(), 1_001_500);
    }

    #[tokio::test(start_paused = true)]
    async fn epoch_clock_follows_paused_tokio_time() {
        let clock = TokioClock::with_epoch(Duration::from_secs(1_700_000_000));
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.unix_now(), Duration::from_secs(1_700_000_090));
    }
}
