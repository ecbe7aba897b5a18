//! app-crash-restart: the app host crashes mid-run and restarts; queued events and gate
//! records are lost (the history shows the crash), and the driver goes on with the next job.

use eventgate::sim::faults::FaultMenu;
use eventgate::sim::{FaultKind, Scenario, SimConfig};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "app-crash-restart",
    about: "the app host crashes and restarts mid-run, losing what it held in memory",
    build,
};

fn build(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(SCENARIO.name, seed);
    config.jobs = 60;
    config.plan = FaultMenu::fixed()
        .with(FaultKind::AppCrash, 500, 1_000)
        .with(FaultKind::Duplicate, 100, 300)
        .with(FaultKind::HandlerSlow, 100, 200)
        .pick(&mut super::plan_rng(seed));
    config
}
