//! The simulator: one seed of the steady scenario (100 jobs, 3 receivers, no faults), with
//! the history recorded and checked, and the same world with both off.
//!
//! The ratio of the two rows is the cost of recording and checking (target: at most 1.25).
//! Seeds per second on all cores come from `sim run --scenario steady --json`.

use criterion::Criterion;
use eventgate::sim::{SimConfig, checkers, world};

/// The seed every iteration runs: the same world each time, so the rows compare like with like.
const SEED: u64 = 7;

fn steady(recording: bool) -> SimConfig {
    let mut config = SimConfig::new("steady", SEED);
    config.recording = recording;
    config
}

fn one_seed(config: &SimConfig) -> usize {
    let output = world::run(config).expect("the steady world runs");
    if config.recording {
        let violations = checkers::check(&output.history);
        assert!(
            violations.is_empty(),
            "steady seed {SEED} broke: {violations:?}"
        );
        return output.history.entries.len();
    }
    0
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("simulator/steady");
    group.sample_size(20);
    let (on, off) = (steady(true), steady(false));
    group.bench_function("history_on", |b| b.iter(|| one_seed(&on)));
    group.bench_function("history_off", |b| b.iter(|| one_seed(&off)));
    group.finish();
    criterion.final_summary();
}
