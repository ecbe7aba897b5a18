//! The world: builds one seed's turmoil simulation (an app host, the receiver hosts, the
//! seeded RNG and epoch, random host order, the tick) and steps it through three phases.
//!
//! 1. **Faults**: the driver runs its jobs while the step loop applies the fault timeline
//!    (partitions and holds between the app and receivers, receiver and app crashes and
//!    restarts), recording each as it applies it.
//! 2. **Heal**: every link is repaired, every crashed host restarted, receivers stop
//!    misbehaving; the step loop records `faults_healed`.
//! 3. **Quiesce**: the app waits for its bus (and webhook service) to go idle and records
//!    `quiesced`. The loop stops there, or once the liveness bound has passed.
//!
//! A simulation that cannot finish its fault phase within the configured limit, or a host
//! whose software fails, is a harness failure, not a property failure.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::webhook::secret::WebhookSecret;

use super::app::{self, Shared};
use super::config::{APP_HOST, SimConfig};
use super::faults::{self, FaultAction, FaultKind};
use super::history::{History, HistoryLog, Record};
use super::mix::{mix, name};
use super::receiver::Receiver;

/// Unix time of simulated time zero for seed 0; each seed shifts it by up to a day.
const EPOCH_BASE_SECS: u64 = 1_700_000_000;

/// The message latency when the latency fault is off.
const LATENCY_CALM_MAX: Duration = Duration::from_millis(2);

/// The harness itself failed: not a verdict on the system under test.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    /// A host's software returned an error or panicked outside a handler.
    #[error("simulation failed: {0}")]
    Simulation(String),
    /// The fault phase did not finish within its limit.
    #[error("simulation ran out of time: the fault phase passed {limit_ms} ms")]
    OutOfTime {
        /// The limit.
        limit_ms: u64,
    },
    /// The harness panicked.
    #[error("harness panicked: {0}")]
    Panicked(String),
}

/// What one run left behind.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The history (empty when recording was off).
    pub history: History,
    /// Simulated time the run took.
    pub sim_elapsed: Duration,
}

/// Runs one seed's world to the end.
///
/// A world that crashes hosts runs alone in the process: see [`task_ids`](super::task_ids).
pub fn run(config: &SimConfig) -> Result<RunOutput, HarnessError> {
    let _turn = super::task_ids::turn(config.crashes_hosts());
    let log = if config.recording {
        HistoryLog::recording()
    } else {
        HistoryLog::off()
    };
    let epoch = Duration::from_secs(EPOCH_BASE_SECS + config.seed % 86_400);
    let mut rng = SmallRng::seed_from_u64(mix(&[config.seed, name("world")]));
    let names = config.receiver_names();
    let endpoints: Vec<(String, WebhookSecret)> = names
        .iter()
        .map(|n| (n.clone(), WebhookSecret::generate(&mut rng)))
        .collect();
    let shared = Arc::new(Shared::new(
        config.clone(),
        log.clone(),
        epoch,
        endpoints.clone(),
    ));
    let turmoil_rng = Box::new(SmallRng::seed_from_u64(config.seed));
    let mut sim = builder(config, epoch).build_with_rng(turmoil_rng);

    for (receiver_name, secret) in endpoints {
        let receiver = Receiver::new(&receiver_name, secret, shared.clone());
        sim.host(receiver_name.as_str(), move || receiver.clone().serve());
    }
    let app_shared = shared.clone();
    sim.host(APP_HOST, move || app::run(app_shared.clone()));

    let faults = config
        .plan
        .kinds()
        .iter()
        .map(|k| k.name().to_owned())
        .collect();
    let liveness_bound_ms = config.liveness_bound.as_millis() as u64;
    let (scenario, seed) = (config.scenario.clone(), config.seed);
    let started = Record::RunStarted {
        scenario,
        seed,
        faults,
        liveness_bound_ms,
    };
    log.record_at(Duration::ZERO, started);
    let timeline = faults::timeline(&config.plan, &names, config.fault_span(), &mut rng);
    let mut stepper = Stepper {
        sim,
        shared,
        timeline: timeline.into(),
        down: BTreeSet::new(),
        names,
    };
    stepper.fault_phase()?;
    stepper.heal();
    stepper.quiesce_phase()?;
    Ok(RunOutput {
        history: log.take(),
        sim_elapsed: stepper.sim.elapsed(),
    })
}

fn builder(config: &SimConfig, epoch: Duration) -> turmoil::Builder {
    let mut builder = turmoil::Builder::new();
    let latency_max = match config.plan.rate(FaultKind::Latency) {
        0 => LATENCY_CALM_MAX,
        rate => Duration::from_millis(5 + u64::from(rate) / 5),
    };
    builder
        .epoch(UNIX_EPOCH + epoch)
        .tick_duration(config.tick)
        .simulation_duration(Duration::from_secs(24 * 60 * 60))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(latency_max)
        .enable_random_order();
    builder
}

/// The step loop and what it tracks.
struct Stepper<'a> {
    sim: turmoil::Sim<'a>,
    shared: Arc<Shared>,
    timeline: VecDeque<(Duration, FaultAction)>,
    down: BTreeSet<String>,
    names: Vec<String>,
}

impl Stepper<'_> {
    fn step(&mut self) -> Result<(), HarnessError> {
        self.sim
            .step()
            .map(|_| ())
            .map_err(|error| HarnessError::Simulation(error.to_string()))
    }

    fn fault_phase(&mut self) -> Result<(), HarnessError> {
        let limit = self.shared.config.fault_phase_max;
        loop {
            while self
                .timeline
                .front()
                .is_some_and(|(at, _)| *at <= self.sim.elapsed())
            {
                if let Some((_, action)) = self.timeline.pop_front() {
                    self.apply(action);
                }
            }
            let driver_done = self.shared.driver_done.load(Ordering::SeqCst);
            if driver_done && self.timeline.is_empty() {
                return Ok(());
            }
            if self.sim.elapsed() > limit {
                return Err(HarnessError::OutOfTime {
                    limit_ms: limit.as_millis() as u64,
                });
            }
            self.step()?;
        }
    }

    fn apply(&mut self, action: FaultAction) {
        let at = self.sim.elapsed();
        let log = &self.shared.log;
        match action {
            FaultAction::Partition { receiver, hold } => {
                match hold {
                    true => self.sim.hold(APP_HOST, receiver.as_str()),
                    false => self.sim.partition(APP_HOST, receiver.as_str()),
                }
                let fault = if hold { "hold" } else { "partition" }.to_owned();
                log.record_at(at, Record::Network { fault, receiver });
            }
            FaultAction::Heal { receiver } => {
                self.sim.repair(APP_HOST, receiver.as_str());
                self.sim.release(APP_HOST, receiver.as_str());
                log.record_at(
                    at,
                    Record::Network {
                        fault: "heal".into(),
                        receiver,
                    },
                );
            }
            FaultAction::Crash { host } => {
                if self.down.insert(host.clone()) {
                    self.sim.crash(host.as_str());
                    log.record_at(at, Record::Crash { host });
                }
            }
            FaultAction::Restart { host } => self.restart(host),
        }
    }

    fn restart(&mut self, host: String) {
        if self.down.remove(&host) {
            self.sim.bounce(host.as_str());
            self.shared
                .log
                .record_at(self.sim.elapsed(), Record::Restart { host });
        }
    }

    fn heal(&mut self) {
        for receiver in self.names.clone() {
            self.sim.repair(APP_HOST, receiver.as_str());
            self.sim.release(APP_HOST, receiver.as_str());
        }
        for host in self.down.clone() {
            self.restart(host);
        }
        self.sim.set_max_message_latency(LATENCY_CALM_MAX);
        self.shared.healed.store(true, Ordering::SeqCst);
        self.shared
            .log
            .record_at(self.sim.elapsed(), Record::FaultsHealed);
    }

    fn quiesce_phase(&mut self) -> Result<(), HarnessError> {
        let deadline = self.sim.elapsed() + self.shared.config.liveness_bound;
        while !self.shared.quiesced.load(Ordering::SeqCst) && self.sim.elapsed() <= deadline {
            self.step()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::checkers;

    #[test]
    fn a_healthy_world_runs_to_quiesce_and_every_property_holds() {
        let config = SimConfig::new("smoke", 7);
        let output = run(&config).expect("the harness runs");
        let violations = checkers::check(&output.history);
        assert!(
            violations.is_empty(),
            "{violations:?}\n{}",
            output.history.readable()
        );
        assert!(
            output
                .history
                .entries
                .iter()
                .any(|e| matches!(e.record, Record::Quiesced))
        );
    }
}
