//! One seed's world: how many jobs and receivers, the scaled durations, the fault plan, the
//! mutants switched on and the tick.
//!
//! Every duration is scaled down from production (a TTL of seconds, not an hour) so that a
//! seed stays a few simulated seconds long. The tick is the simulation's step: turmoil
//! advances every host on every tick, idle or not, so a shorter tick costs wall time for no
//! extra coverage of this system, whose timers are all tens of milliseconds or more.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::mutants::Mutants;

use super::faults::{FaultKind, FaultPlan};

/// The app host's name.
pub const APP_HOST: &str = "app";

/// The port every receiver listens on.
pub const RECEIVER_PORT: u16 = 8080;

/// The simulation's tick: 20 ms, which keeps the steady scenario over 100 seeds per second on
/// two cores (see the module docs and the README's speed figures).
pub const TICK: Duration = Duration::from_millis(20);

/// The scaled durations and bounds of the app's subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// How long a handler run may take.
    pub handler_timeout: Duration,
    /// The gate lease, longer than the handler timeout.
    pub lease: Duration,
    /// How long a completed key suppresses duplicates.
    pub ttl: Duration,
    /// Attempts of the at-least-once subscriber.
    pub attempts_max: u32,
    /// The first backoff of the at-least-once subscriber.
    pub backoff_initial: Duration,
    /// The longest backoff.
    pub backoff_max: Duration,
    /// Queue capacity of the ordinary subscribers.
    pub queue_capacity: usize,
    /// How slow a slow handler is, at most (below the handler timeout).
    pub slow_max: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            handler_timeout: Duration::from_millis(300),
            lease: Duration::from_millis(400),
            ttl: Duration::from_millis(1_500),
            attempts_max: 3,
            backoff_initial: Duration::from_millis(40),
            backoff_max: Duration::from_millis(160),
            queue_capacity: 256,
            slow_max: Duration::from_millis(150),
        }
    }
}

/// Everything one run is built from. A scenario makes one per seed; `replay` overrides a
/// few fields (fault kinds off, job count) to reproduce a minimised failure.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The scenario's name, for the history and the replay command.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// How many jobs the driver creates and ends.
    pub jobs: u32,
    /// How many receiver hosts.
    pub receivers: u32,
    /// The longest pause between two jobs.
    pub job_gap_max: Duration,
    /// The subscribers' durations.
    pub timings: Timings,
    /// Adds a subscriber with a small queue and a slow handler, so queues overflow.
    pub slow_consumer: Option<SlowConsumer>,
    /// The fault kinds on, with their rates.
    pub plan: FaultPlan,
    /// Kinds forced off by a replay or the minimiser (kept to print the replay command).
    pub disabled: BTreeSet<FaultKind>,
    /// The planted bugs switched on.
    pub mutants: Mutants,
    /// Record the history and run the checkers (off only to measure their cost).
    pub recording: bool,
    /// The simulation step.
    pub tick: Duration,
    /// Once faults stop, every delivery must land within this.
    pub liveness_bound: Duration,
    /// The fault phase may last at most this; beyond it the harness has failed.
    pub fault_phase_max: Duration,
}

/// A subscriber that cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowConsumer {
    /// Its queue capacity.
    pub queue_capacity: usize,
    /// How long each event takes it.
    pub per_event: Duration,
}

impl SimConfig {
    /// A healthy world for `seed`: 100 jobs, 3 receivers, no fault.
    pub fn new(scenario: &str, seed: u64) -> Self {
        Self {
            scenario: scenario.to_owned(),
            seed,
            jobs: 100,
            receivers: 3,
            job_gap_max: Duration::from_millis(200),
            timings: Timings::default(),
            slow_consumer: None,
            plan: FaultPlan::none(),
            disabled: BTreeSet::new(),
            mutants: Mutants::none(),
            recording: true,
            tick: TICK,
            liveness_bound: Duration::from_secs(10),
            fault_phase_max: Duration::from_secs(120),
        }
    }

    /// Forces `kind` off (a replay override).
    pub fn disable(&mut self, kind: FaultKind) {
        self.plan.disable(kind);
        self.disabled.insert(kind);
    }

    /// True when the fault plan crashes a host (see [`super::task_ids`]).
    pub fn crashes_hosts(&self) -> bool {
        self.plan.is_on(FaultKind::AppCrash) || self.plan.is_on(FaultKind::ReceiverCrash)
    }

    /// The receiver host names, `rcv1` ...
    pub fn receiver_names(&self) -> Vec<String> {
        (1..=self.receivers).map(|i| format!("rcv{i}")).collect()
    }

    /// The length of the fault phase the timeline is drawn over: the driver's expected span.
    pub fn fault_span(&self) -> Duration {
        self.job_gap_max.mul_f64(0.5) * self.jobs.max(1)
    }
}
