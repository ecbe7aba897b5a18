//! webhook-outage: links between the app and its receivers are cut or held, then healed;
//! receivers crash and restart, answer 5xx, or process a request and drop the connection.

use eventgate::sim::faults::FaultMenu;
use eventgate::sim::{FaultKind, Scenario, SimConfig};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "webhook-outage",
    about: "receivers partitioned, crashed, failing or dropping answers, then healed",
    build,
};

fn build(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(SCENARIO.name, seed);
    config.jobs = 60;
    config.plan = FaultMenu::fixed()
        .with(FaultKind::Partition, 500, 1_000)
        .with(FaultKind::ReceiverCrash, 300, 700)
        .with(FaultKind::ReceiverError, 50, 150)
        .with(FaultKind::ReceiverDrop, 100, 250)
        .with(FaultKind::Latency, 100, 400)
        .pick(&mut super::plan_rng(seed));
    config
}
