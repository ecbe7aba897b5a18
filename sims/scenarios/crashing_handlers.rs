//! crashing-handlers: in-process handlers panic, return errors, hang past their timeout or
//! run slowly, for at-most-once and at-least-once subscribers.

use eventgate::sim::faults::FaultMenu;
use eventgate::sim::{FaultKind, Scenario, SimConfig};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "crashing-handlers",
    about: "handlers that panic, fail, hang past their timeout or run slowly",
    build,
};

fn build(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(SCENARIO.name, seed);
    config.jobs = 60;
    config.plan = FaultMenu::fixed()
        .with(FaultKind::HandlerPanic, 50, 150)
        .with(FaultKind::HandlerError, 50, 200)
        .with(FaultKind::HandlerHang, 20, 80)
        .with(FaultKind::HandlerSlow, 100, 300)
        .with(FaultKind::Duplicate, 100, 200)
        .pick(&mut super::plan_rng(seed));
    config
}
