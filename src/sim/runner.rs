//! The runner: one seed, or a sweep of seeds in parallel across OS threads, with the
//! determinism sample.
//!
//! The runner is outside the simulation: each seed builds its own world on whichever thread
//! picks it up, and the wall clock is read here (only here) to report speed. Results are
//! gathered in seed order, so a report does not depend on thread scheduling. A sample of
//! seeds in every sweep (the first, then every [`DETERMINISM_EVERY`]th) is run twice and must
//! give the same history hash.

use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::checkers::{self, Property, Violation};
use super::history::History;
use super::scenario::{Overrides, Scenario};
use super::world::{self, HarnessError};

/// Every this many seeds of a sweep, one is run twice for the determinism check.
pub const DETERMINISM_EVERY: u64 = 64;

/// How many failing seeds of a sweep keep their history for the report.
pub const FAILURES_KEPT_MAX: usize = 3;

/// What one seed came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every property held.
    Held,
    /// Some property broke.
    Failed {
        /// The violations, one per property.
        violations: Vec<Violation>,
    },
    /// The harness itself failed.
    Harness {
        /// What went wrong.
        error: String,
    },
}

/// One seed's run.
#[derive(Debug, Clone)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// Simulated time.
    pub sim_elapsed: Duration,
    /// The history's hash, once asked for (see [`SeedResult::hash`]); computing it costs a
    /// JSON serialisation of the whole history, so a sweep does it only for its sample.
    pub hash: Option<String>,
    /// The history (kept for single runs and the first failures of a sweep).
    pub history: Option<History>,
}

impl SeedResult {
    /// The history's hash (computed once, kept); empty without a history.
    pub fn hash(&mut self) -> String {
        if self.hash.is_none() {
            self.hash = self.history.as_ref().map(History::hash);
        }
        self.hash.clone().unwrap_or_default()
    }

    /// The first broken property, if any.
    pub fn first_property(&self) -> Option<Property> {
        match &self.verdict {
            Verdict::Failed { violations } => violations.first().map(|v| v.property),
            _ => None,
        }
    }
}

/// Runs one seed and checks its history.
pub fn run_seed(scenario: &Scenario, seed: u64, overrides: &Overrides) -> SeedResult {
    let config = scenario.config(seed, overrides);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| world::run(&config)));
    let outcome =
        outcome.unwrap_or_else(|payload| Err(HarnessError::Panicked(panic_text(&payload))));
    match outcome {
        Ok(output) => {
            let violations = if config.recording {
                checkers::check(&output.history)
            } else {
                vec![]
            };
            let verdict = match violations.is_empty() {
                true => Verdict::Held,
                false => Verdict::Failed { violations },
            };
            let hash = None;
            let history = Some(output.history);
            SeedResult {
                seed,
                verdict,
                sim_elapsed: output.sim_elapsed,
                hash,
                history,
            }
        }
        Err(error) => SeedResult {
            seed,
            verdict: Verdict::Harness {
                error: error.to_string(),
            },
            sim_elapsed: Duration::ZERO,
            hash: None,
            history: None,
        },
    }
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "non-string panic".to_owned())
}

/// Runs `seed` twice and fails it on determinism when the hashes differ.
pub fn run_seed_twice(scenario: &Scenario, seed: u64, overrides: &Overrides) -> SeedResult {
    let mut first = run_seed(scenario, seed, overrides);
    let mut second = run_seed(scenario, seed, overrides);
    let (one, two) = (first.hash(), second.hash());
    if one != two {
        let violation = Violation {
            property: Property::Determinism,
            seq: 0,
            message: format!("two runs gave hashes {one} and {two}"),
        };
        match &mut first.verdict {
            Verdict::Failed { violations } => violations.push(violation),
            verdict => {
                *verdict = Verdict::Failed {
                    violations: vec![violation],
                }
            }
        }
    }
    first
}

/// A sweep's figures.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// The scenario.
    pub scenario: String,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds run twice for determinism.
    pub determinism_checked: u64,
    /// Seeds whose properties broke, in seed order (histories kept for the first few).
    pub failures: Vec<SeedResult>,
    /// Seeds on which the harness failed.
    pub harness_errors: Vec<SeedResult>,
    /// Simulated time over all seeds.
    pub sim_elapsed: Duration,
    /// Wall time of the sweep.
    pub wall: Duration,
}

impl SweepReport {
    /// Seeds per wall-clock second.
    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Summary of several sweeps, for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// One entry per scenario.
    pub scenarios: Vec<serde_json::Value>,
    /// True when every property held on every seed.
    pub ok: bool,
}

/// Sweeps `seeds` of `scenario` on `threads` OS threads; `tick` is called after each seed.
pub fn sweep(
    scenario: &Scenario,
    seeds: Range<u64>,
    overrides: &Overrides,
    threads: usize,
    tick: &(dyn Fn() + Sync),
) -> SweepReport {
    let started = Instant::now();
    let next = AtomicU64::new(seeds.start);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= seeds.end {
                        return;
                    }
                    let twice =
                        (seed - seeds.start) % DETERMINISM_EVERY == 0 && !overrides.no_recording;
                    let mut result = match twice {
                        true => run_seed_twice(scenario, seed, overrides),
                        false => run_seed(scenario, seed, overrides),
                    };
                    if result.verdict == Verdict::Held {
                        result.history = None;
                    }
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((result, twice));
                    tick();
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(result, _)| result.seed);
    let mut report = SweepReport {
        scenario: scenario.name.to_owned(),
        ..SweepReport::default()
    };
    for (mut result, twice) in results {
        report.seeds += 1;
        report.determinism_checked += u64::from(twice);
        report.sim_elapsed += result.sim_elapsed;
        match result.verdict {
            Verdict::Held => {}
            Verdict::Failed { .. } => {
                if report.failures.len() >= FAILURES_KEPT_MAX {
                    result.history = None;
                }
                report.failures.push(result);
            }
            Verdict::Harness { .. } => report.harness_errors.push(result),
        }
    }
    report.wall = started.elapsed();
    report
}

/// Runs seeds of `seeds` in order until one fails a property; that seed's result.
pub fn first_failure(
    scenario: &Scenario,
    seeds: Range<u64>,
    overrides: &Overrides,
) -> Option<SeedResult> {
    seeds
        .map(|seed| run_seed(scenario, seed, overrides))
        .find(|result| !matches!(result.verdict, Verdict::Held))
}
