//! The scenario catalogue: one file per scenario, each a named world and fault plan whose
//! every duration is scaled so that a seed stays a few simulated seconds long.
//!
//! To add a scenario: write `sims/scenarios/NAME.rs` with a `pub const SCENARIO: Scenario`
//! whose `build` turns a seed into a [`SimConfig`](eventgate::sim::SimConfig), add it to
//! [`ALL`], and add a snapshot seed for it in `sims/tests.rs`.

use eventgate::sim::Scenario;

pub mod app_crash_restart;
pub mod crashing_handlers;
pub mod duplicate_storm;
pub mod slow_consumer_overflow;
pub mod steady;
pub mod swarm;
pub mod webhook_outage;

/// Every scenario, in the order `run` sweeps them.
pub const ALL: [Scenario; 7] = [
    steady::SCENARIO,
    duplicate_storm::SCENARIO,
    webhook_outage::SCENARIO,
    crashing_handlers::SCENARIO,
    slow_consumer_overflow::SCENARIO,
    app_crash_restart::SCENARIO,
    swarm::SCENARIO,
];

/// The scenario named `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.name == name)
}

/// The seed-keyed generator a scenario draws its plan from.
pub fn plan_rng(seed: u64) -> rand::rngs::SmallRng {
    use rand::SeedableRng;
    rand::rngs::SmallRng::seed_from_u64(eventgate::sim::mix::mix(&[seed, 0x5CE7_A210]))
}
