//! duplicate-storm: most job events are re-published, with the same payload, with another
//! payload, and again once their key's TTL has passed.

use eventgate::sim::faults::FaultMenu;
use eventgate::sim::{FaultKind, Scenario, SimConfig};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "duplicate-storm",
    about: "job events re-published with the same and other payloads, before and after the TTL",
    build,
};

fn build(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(SCENARIO.name, seed);
    config.jobs = 40;
    config.plan = FaultMenu::fixed()
        .with(FaultKind::Duplicate, 400, 800)
        .with(FaultKind::ConflictingDuplicate, 100, 300)
        .with(FaultKind::DuplicateAfterTtl, 200, 500)
        .pick(&mut super::plan_rng(seed));
    config
}
