//! A scenario: a named world plus fault plan, built for each seed; and the overrides a replay
//! or the minimiser applies on top (fault kinds forced off, fewer jobs, mutants, recording).
//!
//! The catalogue itself lives with the `sim` binary (`sims/scenarios/`, one file each); the
//! library only knows the shape, so tests, benches and the binary share the runner.

use std::collections::BTreeSet;

use crate::mutants::Mutants;

use super::config::SimConfig;
use super::faults::FaultKind;

/// A named world and fault plan.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// The name used on the command line.
    pub name: &'static str,
    /// One sentence on what it exercises.
    pub about: &'static str,
    /// The world for one seed.
    pub build: fn(u64) -> SimConfig,
}

impl Scenario {
    /// The world for `seed` with `overrides` applied.
    pub fn config(&self, seed: u64, overrides: &Overrides) -> SimConfig {
        let mut config = (self.build)(seed);
        overrides.apply(&mut config);
        config
    }
}

/// What a replay changes in a scenario's world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Fewer (or more) jobs.
    pub jobs: Option<u32>,
    /// Fault kinds forced off.
    pub without: BTreeSet<FaultKind>,
    /// Planted bugs switched on.
    pub mutants: Mutants,
    /// Turn history recording and checking off (speed measurement only).
    pub no_recording: bool,
}

impl Overrides {
    /// Applies the overrides to `config`.
    pub fn apply(&self, config: &mut SimConfig) {
        if let Some(jobs) = self.jobs {
            config.jobs = jobs;
        }
        for kind in &self.without {
            config.disable(*kind);
        }
        config.mutants = self.mutants;
        config.recording = !self.no_recording;
    }

    /// The command-line flags that reproduce these overrides after `replay --scenario S
    /// --seed N`.
    pub fn flags(&self) -> String {
        let mut flags = String::new();
        for mutant in self.mutants.active() {
            flags.push_str(&format!(" --mutant {mutant}"));
        }
        if let Some(jobs) = self.jobs {
            flags.push_str(&format!(" --jobs {jobs}"));
        }
        if !self.without.is_empty() {
            let names: Vec<&str> = self.without.iter().map(|k| k.name()).collect();
            flags.push_str(&format!(" --without {}", names.join(",")));
        }
        flags
    }

    /// The exact command that replays `seed` of `scenario` with these overrides.
    pub fn replay_command(&self, scenario: &str, seed: u64) -> String {
        let features = if self.mutants.active().is_empty() {
            ""
        } else {
            " --features mutants"
        };
        format!(
            "cargo run --release{features} -- replay --scenario {scenario} --seed {seed}{}",
            self.flags()
        )
    }
}
