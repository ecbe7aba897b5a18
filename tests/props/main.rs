//! State-machine property tests: generated sequences of subscribes, unsubscribes, bursts of
//! new, duplicate and conflicting publishes, clock steps past and below the TTL, scripted
//! handler outcomes (ok, error, panic, timeout), overflows and shutdowns, played against the
//! real `InMemoryEventBus` with its gate and `MemoryStore` under paused tokio time and checked
//! against the reference model of `eventgate::testkit` after every step.
//!
//! The default of 256 cases per property keeps `cargo test` quick (well under a second in the test
//! profile); `PROPTEST_CASES=2000 cargo test --test props` searches harder. Failing cases
//! shrink to a short sequence and are kept in `proptest-regressions/`, which is committed and
//! replayed first on every run.

mod mutants;
mod strategy;

use eventgate::testkit::run_ops;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn bus_and_gate_agree_with_the_reference_model_after_every_step(ops in strategy::ops()) {
        run_ops(&ops).map_err(|divergence| TestCaseError::fail(divergence.to_string()))?;
    }
}
