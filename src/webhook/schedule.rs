//! When a webhook delivery is attempted again after a failure.
//!
//! A [`RetrySchedule`] is the list of nominal waits before each attempt; its length is the
//! number of attempts. Each actual wait is the nominal one spread by up to ±20% of random
//! jitter, so that endpoints that failed together are not retried in lockstep, unless the
//! endpoint sent a `Retry-After`, which is honoured within bounds (see
//! [`RetrySchedule::delay_before`]).
//!
//! Randomness comes from the caller's generator, never a global one, so a seeded simulation
//! gets the same waits on every run. Each call draws exactly one value whatever its inputs, so
//! a server's `Retry-After` does not shift the random stream seen by later draws.
//!
//! Every delay is capped at [`SCHEDULE_DELAY_MAX`] and the length at
//! [`SCHEDULE_ATTEMPTS_MAX`], which keeps all the arithmetic here (jitter, doubling, sums) far
//! from overflow.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The largest share of a nominal delay that jitter adds or takes away.
pub const JITTER_FRACTION: f64 = 0.2;

/// The most attempts a schedule may have.
pub const SCHEDULE_ATTEMPTS_MAX: usize = 100;

/// The longest nominal delay a schedule may hold.
pub const SCHEDULE_DELAY_MAX: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The nominal waits of [`RetrySchedule::default`], in seconds.
const DEFAULT_DELAYS_SECS: [u64; 8] = [
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
];

/// Why a list of delays is not a valid schedule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// The list has no delays, so no attempt would ever be made.
    #[error("retry schedule has no attempts")]
    Empty,
    /// The list is longer than [`SCHEDULE_ATTEMPTS_MAX`].
    #[error("retry schedule has {len} attempts, at most {max} are allowed")]
    TooManyAttempts {
        /// The number of delays given.
        len: usize,
        /// The allowed maximum.
        max: usize,
    },
    /// A delay is longer than [`SCHEDULE_DELAY_MAX`].
    #[error("retry delay before attempt {attempt} is {delay:?}, at most {max:?} is allowed")]
    DelayTooLong {
        /// The 1-based attempt the delay comes before.
        attempt: usize,
        /// The delay given.
        delay: Duration,
        /// The allowed maximum.
        max: Duration,
    },
}

/// The nominal delays before each delivery attempt.
///
/// Serialized as `{"delays_ms": [...]}`, whole milliseconds; finer precision is dropped.
/// Deserializing checks the same limits as [`RetrySchedule::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleRepr", into = "ScheduleRepr")]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// Makes a schedule from the nominal delay before each attempt, the first entry being the
    /// wait before attempt 1 (usually zero, but it need not be).
    pub fn new(delays: Vec<Duration>) -> Result<Self, ScheduleError> {
        if delays.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if delays.len() > SCHEDULE_ATTEMPTS_MAX {
            let len = delays.len();
            return Err(ScheduleError::TooManyAttempts {
                len,
                max: SCHEDULE_ATTEMPTS_MAX,
            });
        }
        if let Some(index) = delays.iter().position(|delay| *delay > SCHEDULE_DELAY_MAX) {
            let (attempt, delay) = (index + 1, delays[index]);
            return Err(ScheduleError::DelayTooLong {
                attempt,
                delay,
                max: SCHEDULE_DELAY_MAX,
            });
        }
        Ok(Self { delays })
    }

    /// The nominal delays, one per attempt.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// How many attempts the schedule allows in all, the first included.
    pub fn attempts_max(&self) -> u32 {
        // `new` caps the length at SCHEDULE_ATTEMPTS_MAX, far below u32::MAX.
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
    }

    /// The sum of the nominal delays: how long the schedule runs without jitter or
    /// `Retry-After`.
    pub fn total_span(&self) -> Duration {
        self.delays
            .iter()
            .fold(Duration::ZERO, |sum, delay| sum.saturating_add(*delay))
    }

    /// The longest the schedule can run: every delay at twice its nominal value, the most that
    /// either jitter (at most 1 + [`JITTER_FRACTION`] times) or a `Retry-After` (at most twice)
    /// can make it. Size anything that must outlive all attempts, such as a gate TTL, with
    /// this, plus the time the attempts themselves take.
    pub fn max_total_span(&self) -> Duration {
        self.delays.iter().fold(Duration::ZERO, |sum, delay| {
            sum.saturating_add(delay.saturating_mul(2))
        })
    }

    /// The wait before `attempt` (1-based), or `None` when `attempt` is 0 or beyond the last
    /// attempt, meaning: give up.
    ///
    /// The rule, with `nominal` the schedule's delay for this attempt:
    ///
    /// 1. Draw one factor uniformly from `[1 - JITTER_FRACTION, 1 + JITTER_FRACTION]` and let
    ///    `jittered = nominal × factor`; a zero nominal stays zero.
    /// 2. Without `retry_after`, the wait is `jittered`.
    /// 3. With `retry_after`, the endpoint's request replaces the jittered value and is clamped
    ///    into `[nominal, 2 × nominal]`, the last step: shorter requests wait `nominal`, longer
    ///    ones `2 × nominal`, and requests in between are used as given. So a request never
    ///    makes us retry sooner than planned, and never stalls the schedule by more than one
    ///    extra nominal delay per attempt.
    ///
    /// The factor is drawn in both cases, so every call advances `rng` by the same amount.
    pub fn delay_before(
        &self,
        attempt: u32,
        rng: &mut impl Rng,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let nominal = *self.delays.get(index)?;

        let factor = rng.gen_range(1.0 - JITTER_FRACTION..=1.0 + JITTER_FRACTION);
        // Cannot panic: the factor is finite and positive, and nominal is at most
        // SCHEDULE_DELAY_MAX, so the product fits a Duration.
        let jittered = nominal.mul_f64(factor);

        let delay = match retry_after {
            None => jittered,
            Some(requested) => requested.clamp(nominal, nominal.saturating_mul(2)),
        };
        Some(delay)
    }
}

impl Default for RetrySchedule {
    /// Eight attempts: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
    fn default() -> Self {
        Self {
            delays: DEFAULT_DELAYS_SECS
                .iter()
                .map(|secs| Duration::from_secs(*secs))
                .collect(),
        }
    }
}

/// The serialized form of a [`RetrySchedule`]: whole milliseconds.
#[derive(Serialize, Deserialize)]
struct ScheduleRepr {
    delays_ms: Vec<u64>,
}

impl From<RetrySchedule> for ScheduleRepr {
    fn from(schedule: RetrySchedule) -> Self {
        let to_ms = |delay: &Duration| u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        Self {
            delays_ms: schedule.delays.iter().map(to_ms).collect(),
        }
    }
}

impl TryFrom<ScheduleRepr> for RetrySchedule {
    type Error = ScheduleError;

    fn try_from(repr: ScheduleRepr) -> Result<Self, Self::Error> {
        Self::new(
            repr.delays_ms
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// One attempt with a five-minute nominal delay.
    fn five_minutes() -> RetrySchedule {
        RetrySchedule::new(vec![5 * MINUTE]).expect("valid schedule")
    }

    #[test]
    fn default_has_the_documented_eight_delays() {
        let schedule = RetrySchedule::default();
        let hours = |n: u64| secs(n * 3600);
        let expected = [
            secs(0),
            secs(5),
            5 * MINUTE,
            30 * MINUTE,
            hours(2),
            hours(5),
            hours(10),
        ];
        assert_eq!(schedule.attempts_max(), 8);
        assert_eq!(&schedule.delays()[..7], &expected);
        assert_eq!(schedule.delays()[7], hours(10));
    }

    #[test]
    fn default_spans_are_sums_of_nominal_and_doubled_delays() {
        let schedule = RetrySchedule::default();
        let nominal_secs = 5 + 300 + 1_800 + 7_200 + 18_000 + 36_000 + 36_000;
        assert_eq!(schedule.total_span(), secs(nominal_secs));
        assert_eq!(schedule.max_total_span(), secs(2 * nominal_secs));
    }

    #[test]
    fn empty_schedule_is_refused() {
        assert_eq!(RetrySchedule::new(Vec::new()), Err(ScheduleError::Empty));
    }

    #[test]
    fn first_delay_may_be_non_zero() {
        let schedule = RetrySchedule::new(vec![secs(3), secs(4)]).expect("valid schedule");
        assert_eq!(schedule.attempts_max(), 2);
        assert_eq!(schedule.total_span(), secs(7));
    }

    #[test]
    fn schedule_longer_than_the_limit_is_refused() {
        assert!(RetrySchedule::new(vec![secs(1); SCHEDULE_ATTEMPTS_MAX]).is_ok());
        let err = RetrySchedule::new(vec![secs(1); SCHEDULE_ATTEMPTS_MAX + 1]).unwrap_err();
        assert_eq!(err, ScheduleError::TooManyAttempts { len: 101, max: 100 });
    }

    #[test]
    fn delay_longer_than_the_limit_is_refused_naming_its_attempt() {
        assert!(RetrySchedule::new(vec![SCHEDULE_DELAY_MAX]).is_ok());
        let too_long = SCHEDULE_DELAY_MAX + Duration::from_nanos(1);
        let err = RetrySchedule::new(vec![secs(0), too_long]).unwrap_err();
        let expected = ScheduleError::DelayTooLong {
            attempt: 2,
            delay: too_long,
            max: SCHEDULE_DELAY_MAX,
        };
        assert_eq!(err, expected);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_varies() {
        let schedule = RetrySchedule::default();
        let mut rng = SmallRng::seed_from_u64(42);
        for (index, nominal) in schedule.delays().iter().enumerate().skip(1) {
            let attempt = u32::try_from(index + 1).expect("small");
            let (low, high) = (nominal.mul_f64(0.8), nominal.mul_f64(1.2));
            let draws: Vec<Duration> = (0..2_000)
                .map(|_| {
                    schedule
                        .delay_before(attempt, &mut rng, None)
                        .expect("in schedule")
                })
                .collect();

            assert!(
                draws.iter().all(|d| (low..=high).contains(d)),
                "attempt {attempt}"
            );
            assert!(
                draws.iter().any(|d| d < &nominal.mul_f64(0.85)),
                "attempt {attempt}"
            );
            assert!(
                draws.iter().any(|d| d > &nominal.mul_f64(1.15)),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn zero_delay_stays_zero_with_or_without_retry_after() {
        let schedule = RetrySchedule::default();
        let mut rng = SmallRng::seed_from_u64(1);
        for retry_after in [None, Some(secs(0)), Some(secs(3600))] {
            for _ in 0..100 {
                let delay = schedule.delay_before(1, &mut rng, retry_after);
                assert_eq!(delay, Some(Duration::ZERO));
            }
        }
    }

    #[test]
    fn same_seed_gives_same_delays() {
        let schedule = RetrySchedule::default();
        let run = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (1..=8)
                .map(|attempt| schedule.delay_before(attempt, &mut rng, None))
                .collect()
        };
        let first: Vec<Option<Duration>> = run(9);
        assert_eq!(first, run(9));
        assert_ne!(first, run(10));
    }

    #[test]
    fn short_retry_after_waits_the_nominal_delay() {
        let mut rng = SmallRng::seed_from_u64(2);
        let delay = five_minutes().delay_before(1, &mut rng, Some(secs(1)));
        assert_eq!(delay, Some(5 * MINUTE));
    }

    #[test]
    fn long_retry_after_waits_twice_the_nominal_delay() {
        let mut rng = SmallRng::seed_from_u64(3);
        let delay = five_minutes().delay_before(1, &mut rng, Some(60 * MINUTE));
        assert_eq!(delay, Some(10 * MINUTE));
    }

    #[test]
    fn retry_after_within_range_is_used_as_given() {
        let mut rng = SmallRng::seed_from_u64(4);
        let requested = [
            5 * MINUTE,
            7 * MINUTE + Duration::from_millis(1),
            10 * MINUTE,
        ];
        for retry_after in requested {
            let delay = five_minutes().delay_before(1, &mut rng, Some(retry_after));
            assert_eq!(delay, Some(retry_after));
        }
    }

    #[test]
    fn retry_after_is_clamped_whatever_the_jitter_draw() {
        let schedule = five_minutes();
        for seed in 0..500 {
            let mut rng = SmallRng::seed_from_u64(seed);
            assert_eq!(
                schedule.delay_before(1, &mut rng, Some(secs(1))),
                Some(5 * MINUTE)
            );
        }
    }

    #[test]
    fn huge_retry_after_does_not_overflow() {
        let schedule = RetrySchedule::new(vec![SCHEDULE_DELAY_MAX]).expect("valid schedule");
        let mut rng = SmallRng::seed_from_u64(5);
        let delay = schedule.delay_before(1, &mut rng, Some(Duration::MAX));
        assert_eq!(delay, Some(SCHEDULE_DELAY_MAX * 2));
    }

    #[test]
    fn retry_after_does_not_change_how_much_rng_is_consumed() {
        let schedule = RetrySchedule::default();
        let (mut with, mut without) = (SmallRng::seed_from_u64(6), SmallRng::seed_from_u64(6));
        schedule.delay_before(3, &mut with, Some(secs(1)));
        schedule.delay_before(3, &mut without, None);
        assert_eq!(with.r#gen::<u64>(), without.r#gen::<u64>());
    }

    #[test]
    fn attempt_past_the_end_or_zero_is_none() {
        let schedule = RetrySchedule::default();
        let mut rng = SmallRng::seed_from_u64(7);
        assert!(schedule.delay_before(8, &mut rng, None).is_some());
        for attempt in [0, 9, u32::MAX] {
            assert_eq!(
                schedule.delay_before(attempt, &mut rng, None),
                None,
                "{attempt}"
            );
            assert_eq!(
                schedule.delay_before(attempt, &mut rng, Some(secs(1))),
                None
            );
        }
    }

    #[test]
    fn serializes_as_whole_milliseconds_and_round_trips() {
        let schedule = RetrySchedule::new(vec![secs(0), Duration::from_millis(1_500)]).unwrap();
        let json = serde_json::to_string(&schedule).expect("serializes");
        assert_eq!(json, r#"{"delays_ms":[0,1500]}"#);
        let back: RetrySchedule = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, schedule);
    }

    #[test]
    fn default_schedule_round_trips_through_serde() {
        let json = serde_json::to_string(&RetrySchedule::default()).expect("serializes");
        let back: RetrySchedule = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, RetrySchedule::default());
    }

    #[test]
    fn deserializing_checks_the_same_limits_as_new() {
        let empty = serde_json::from_str::<RetrySchedule>(r#"{"delays_ms":[]}"#).unwrap_err();
        assert!(empty.to_string().contains("no attempts"), "{empty}");

        let too_long = format!(r#"{{"delays_ms":[{}]}}"#, u64::MAX);
        let err = serde_json::from_str::<RetrySchedule>(&too_long).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }
}
