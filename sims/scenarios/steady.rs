//! steady: a healthy world, the speed benchmark's shape: 100 jobs, 3 receivers, no fault.

use eventgate::sim::{Scenario, SimConfig};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "steady",
    about: "a healthy world: 100 jobs, 3 receivers, no faults",
    build,
};

fn build(seed: u64) -> SimConfig {
    SimConfig::new(SCENARIO.name, seed)
}
