//! The per-endpoint circuit breaker: after a run of failures, stop knocking for a while.
//!
//! Closed, it lets every attempt through and counts consecutive failures; at
//! `failures_to_open` it opens for `open_for`. Open, it defers every attempt to the end of
//! that period. Then it is half-open: one probe goes through while the others wait another
//! `open_for`; the probe's success closes it, its failure opens it again.
//!
//! A deferral is not an attempt: the delivery keeps its attempt number and waits, so an
//! endpoint that was down for an hour does not burn a whole retry schedule against a closed
//! door. Retries already bound each delivery; the breaker spares the endpoint (and our
//! sockets) the flood of attempts that many deliveries would otherwise make at once.

use std::time::Duration;

use tokio::time::Instant;

use super::endpoint::BreakerState;

/// The breaker's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker.
    pub failures_to_open: u32,
    /// How long an open breaker defers attempts before letting a probe through.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    /// Opens after 5 consecutive failures, for 30 seconds.
    fn default() -> Self {
        BreakerConfig {
            failures_to_open: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// What the breaker says about an attempt about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Allowed,
    /// Wait until this instant, then ask again.
    Deferred(Instant),
}

/// One endpoint's breaker.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            consecutive_failures: 0,
            open_until: None,
            probe_in_flight: false,
        }
    }

    /// The thresholds.
    pub(crate) fn config(&self) -> BreakerConfig {
        self.config
    }

    /// The state at `now`.
    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Asks to start an attempt at `now`.
    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        match self.state(now) {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::Open => Admission::Deferred(self.open_until.unwrap_or(now)),
            BreakerState::HalfOpen if self.probe_in_flight => {
                Admission::Deferred(now + self.config.open_for)
            }
            BreakerState::HalfOpen => {
                self.probe_in_flight = true;
                Admission::Allowed
            }
        }
    }

    /// An attempt succeeded: close.
    pub(crate) fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.open_until = None;
        self.probe_in_flight = false;
    }

    /// An admitted attempt did not start (its endpoint was disabled): free the probe slot.
    pub(crate) fn record_abandoned(&mut self) {
        self.probe_in_flight = false;
    }

    /// An attempt failed at `now`: count it, and open when the threshold is reached or the
    /// failed attempt was the half-open probe.
    pub(crate) fn record_failure(&mut self, now: Instant) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let was_probe = std::mem::take(&mut self.probe_in_flight);
        if was_probe || self.consecutive_failures >= self.config.failures_to_open {
            self.open_until = Some(now + self.config.open_for);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failures_to_open: 2,
            open_for: Duration::from_secs(10),
        })
    }

    #[test]
    fn opens_after_the_threshold_and_defers_until_the_period_ends() {
        let mut breaker = breaker();
        let now = Instant::now();
        breaker.record_failure(now);
        assert_eq!(breaker.admit(now), Admission::Allowed);
        breaker.record_failure(now);
        let until = now + Duration::from_secs(10);
        assert_eq!(breaker.admit(now), Admission::Deferred(until));
        assert_eq!(breaker.state(now), BreakerState::Open);
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_outcome_decides() {
        let mut breaker = breaker();
        let start = Instant::now();
        breaker.record_failure(start);
        breaker.record_failure(start);

        let later = start + Duration::from_secs(10);
        assert_eq!(breaker.admit(later), Admission::Allowed);
        assert!(matches!(breaker.admit(later), Admission::Deferred(_)));
        breaker.record_failure(later);
        assert_eq!(breaker.state(later), BreakerState::Open);

        let after = later + Duration::from_secs(10);
        assert_eq!(breaker.admit(after), Admission::Allowed);
        breaker.record_success();
        assert_eq!(breaker.state(after), BreakerState::Closed);
        assert_eq!(breaker.admit(after), Admission::Allowed);
    }
}
