//! swarm: everything random. The seed switches each fault kind on or off and picks its rate,
//! the job count, and whether a slow consumer is present.

use std::time::Duration;

use rand::Rng;

use eventgate::sim::config::SlowConsumer;
use eventgate::sim::faults::FaultMenu;
use eventgate::sim::{FaultKind, Scenario, SimConfig};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "swarm",
    about: "every fault kind, each switched on or off and given a rate by the seed",
    build,
};

fn build(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(SCENARIO.name, seed);
    let mut rng = super::plan_rng(seed);
    config.jobs = rng.gen_range(20..=100);
    if rng.gen_bool(0.3) {
        let per_event = Duration::from_millis(rng.gen_range(20..60));
        config.slow_consumer = Some(SlowConsumer {
            queue_capacity: rng.gen_range(2..8),
            per_event,
        });
    }
    let menu = FaultKind::ALL
        .into_iter()
        .fold(FaultMenu::swarm(), |menu, kind| menu.with(kind, 20, 400));
    config.plan = menu.pick(&mut rng);
    config
}
