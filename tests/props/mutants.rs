//! The property can fail: with a planted bug switched on, a seeded search finds a sequence
//! on which the bus and the model part, and shrinks it.

use eventgate::mutants::{Mutant, Mutants};
use eventgate::testkit::run_ops_with;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::strategy;

/// Cases searched before giving up on finding a mutant; the search stops at the first
/// failure, which comes within a few dozen cases for each mutant below.
const CASES_MAX: u32 = 256;

/// Runs the model property against a bus with `mutant` on; returns the shrunk failing case.
fn search(mutant: Mutant) -> Result<String, String> {
    let config = Config {
        cases: CASES_MAX,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let outcome = runner.run(&strategy::ops(), |ops| {
        run_ops_with(&ops, Mutants::only(mutant))
            .map_err(|divergence| TestCaseError::fail(divergence.to_string()))
    });
    match outcome {
        Err(TestError::Fail(why, ops)) => {
            Ok(format!("{why}\nshrunk to {} ops: {ops:?}", ops.len()))
        }
        Err(TestError::Abort(why)) => Err(format!("search aborted: {why}")),
        Ok(()) => Err(format!(
            "{mutant}: {CASES_MAX} cases passed; the property missed it"
        )),
    }
}

#[test]
fn retry_past_bound_mutant_makes_the_model_property_fail() {
    let found = search(Mutant::RetryPastBound).unwrap_or_else(|missed| panic!("{missed}"));
    eprintln!("{found}");
    assert!(
        found.contains("handler runs") || found.contains("counters"),
        "{found}"
    );
}

#[test]
fn release_on_success_mutant_makes_the_model_property_fail() {
    search(Mutant::ReleaseOnSuccess).unwrap_or_else(|missed| panic!("{missed}"));
}

#[test]
fn overflow_without_record_mutant_makes_the_model_property_fail() {
    search(Mutant::OverflowWithoutRecord).unwrap_or_else(|missed| panic!("{missed}"));
}

#[test]
fn ttl_on_wall_clock_mutant_makes_the_model_property_fail() {
    search(Mutant::TtlOnWallClock).unwrap_or_else(|missed| panic!("{missed}"));
}
