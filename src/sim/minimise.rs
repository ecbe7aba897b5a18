//! Minimising a failing seed: re-run it with fault kinds turned off one at a time, and with
//! fewer jobs, keeping each change while the same property still breaks; report the smallest
//! reproduction and the command that replays it.
//!
//! The search is greedy (one pass over the kinds, then halving the job count, then a few
//! single steps down), so it costs tens of runs, not a search over every subset. A change
//! that makes a different property break is not kept: the reproduction must show the bug
//! that was reported.

use super::checkers::Property;
use super::runner::{SeedResult, run_seed};
use super::scenario::{Overrides, Scenario};

/// How many single-job steps the minimiser tries after halving.
const JOB_STEPS_MAX: u32 = 8;

/// The smallest reproduction found.
#[derive(Debug, Clone)]
pub struct Reproduction {
    /// The overrides that still make the property break.
    pub overrides: Overrides,
    /// The run under those overrides.
    pub result: SeedResult,
    /// The command that replays it.
    pub command: String,
    /// How many runs the search took.
    pub runs: u32,
}

/// Shrinks the failing `seed` of `scenario` under `base`; `None` when it does not fail.
pub fn minimise(scenario: &Scenario, seed: u64, base: &Overrides) -> Option<Reproduction> {
    let first = run_seed(scenario, seed, base);
    let property = first.first_property()?;
    let mut search = Search {
        scenario,
        seed,
        property,
        best: (base.clone(), first),
        runs: 1,
    };
    let kinds = scenario.config(seed, base).plan.kinds();
    for kind in kinds {
        let mut candidate = search.best.0.clone();
        candidate.without.insert(kind);
        search.try_keep(candidate);
    }
    let mut jobs = scenario.config(seed, &search.best.0).jobs;
    while jobs > 1
        && search.try_keep(Overrides {
            jobs: Some(jobs / 2),
            ..search.best.0.clone()
        })
    {
        jobs /= 2;
    }
    for _ in 0..JOB_STEPS_MAX {
        if jobs <= 1
            || !search.try_keep(Overrides {
                jobs: Some(jobs - 1),
                ..search.best.0.clone()
            })
        {
            break;
        }
        jobs -= 1;
    }
    let (overrides, result) = search.best;
    let command = overrides.replay_command(scenario.name, seed);
    Some(Reproduction {
        overrides,
        result,
        command,
        runs: search.runs,
    })
}

struct Search<'a> {
    scenario: &'a Scenario,
    seed: u64,
    property: Property,
    best: (Overrides, SeedResult),
    runs: u32,
}

impl Search<'_> {
    /// Runs `candidate`; keeps it when the same property still breaks.
    fn try_keep(&mut self, candidate: Overrides) -> bool {
        self.runs += 1;
        let result = run_seed(self.scenario, self.seed, &candidate);
        let still = result.first_property() == Some(self.property);
        if still {
            self.best = (candidate, result);
        }
        still
    }
}
