//! slow-consumer-overflow: one subscriber with a small queue and a slow handler cannot keep
//! up, so its queue overflows; the others must not notice.

use std::time::Duration;

use eventgate::sim::config::SlowConsumer;
use eventgate::sim::{Scenario, SimConfig};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "slow-consumer-overflow",
    about: "a slow subscriber with a small queue overflows while the others keep up",
    build,
};

fn build(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(SCENARIO.name, seed);
    config.jobs = 80;
    config.job_gap_max = Duration::from_millis(10);
    config.slow_consumer = Some(SlowConsumer {
        queue_capacity: 4,
        per_event: Duration::from_millis(40),
    });
    config
}
