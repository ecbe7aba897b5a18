//! The `sim` binary's own tests, which `cargo test` runs: every scenario over a small range
//! of seeds, every mutant the simulation catches within its budget, and a snapshot of the
//! readable history of one fixed seed per scenario.

use eventgate::mutants::{Catcher, Mutant, Mutants};
use eventgate::sim::runner::{self, Verdict};
use eventgate::sim::scenario::Overrides;

use crate::{mutant_budget, scenarios};

/// Seeds each scenario is swept over by `cargo test`.
const SWEEP_SEEDS: u64 = 64;

/// Jobs in a snapshot run: enough to show every kind of step, few enough to review.
const SNAPSHOT_JOBS: u32 = 4;

fn assert_sweep_holds(name: &str) {
    let scenario = scenarios::find(name).expect("scenario exists");
    let report = runner::sweep(scenario, 0..SWEEP_SEEDS, &Overrides::default(), 2, &|| {});
    if let Some(failure) = report.failures.iter().chain(&report.harness_errors).next() {
        let excerpt = failure.history.as_ref().map(|h| match &failure.verdict {
            Verdict::Failed { violations } => h.around(violations[0].seq, 10),
            _ => String::new(),
        });
        panic!(
            "{name} seed {}: {:?}\n{}",
            failure.seed,
            failure.verdict,
            excerpt.unwrap_or_default()
        );
    }
    assert_eq!(report.seeds, SWEEP_SEEDS);
    assert!(report.determinism_checked >= 1);
}

#[test]
fn steady_holds_every_property_on_a_small_sweep() {
    assert_sweep_holds("steady");
}

#[test]
fn duplicate_storm_holds_every_property_on_a_small_sweep() {
    assert_sweep_holds("duplicate-storm");
}

#[test]
fn webhook_outage_holds_every_property_on_a_small_sweep() {
    assert_sweep_holds("webhook-outage");
}

#[test]
fn crashing_handlers_hold_every_property_on_a_small_sweep() {
    assert_sweep_holds("crashing-handlers");
}

#[test]
fn slow_consumer_overflow_holds_every_property_on_a_small_sweep() {
    assert_sweep_holds("slow-consumer-overflow");
}

#[test]
fn app_crash_restart_holds_every_property_on_a_small_sweep() {
    assert_sweep_holds("app-crash-restart");
}

#[test]
fn swarm_holds_every_property_on_a_small_sweep() {
    assert_sweep_holds("swarm");
}

#[test]
fn every_sim_mutant_is_caught_within_its_budget_by_its_property() {
    eventgate::sim::handlers::quiet_planted_panics();
    for mutant in Mutant::ALL
        .into_iter()
        .filter(|m| m.catcher() == Catcher::Sim)
    {
        let budget = mutant_budget::of(mutant).unwrap_or_else(|| panic!("{mutant} has no budget"));
        let scenario = scenarios::find(budget.scenario).expect("budget names a scenario");
        let overrides = Overrides {
            mutants: Mutants::only(mutant),
            ..Overrides::default()
        };
        let failure =
            runner::first_failure(scenario, 0..budget.seeds, &overrides).unwrap_or_else(|| {
                panic!(
                    "{mutant} survived {} seeds of {}",
                    budget.seeds, budget.scenario
                )
            });
        let Verdict::Failed { violations } = &failure.verdict else {
            panic!(
                "{mutant}: harness failed on seed {}: {:?}",
                failure.seed, failure.verdict
            );
        };
        assert!(
            violations.iter().any(|v| v.property == budget.property),
            "{mutant} broke {violations:?}, not {}",
            budget.property
        );
    }
}

#[test]
fn every_scenario_history_matches_its_snapshot() {
    eventgate::sim::handlers::quiet_planted_panics();
    for scenario in &scenarios::ALL {
        let overrides = Overrides {
            jobs: Some(SNAPSHOT_JOBS),
            ..Overrides::default()
        };
        let result = runner::run_seed(scenario, 1, &overrides);
        let history = result.history.expect("recorded");
        insta::assert_snapshot!(scenario.name, history.readable());
    }
}

#[test]
fn list_has_a_scenarios_section_and_a_mutants_section_with_catchers() {
    let text = crate::cli::list();
    assert!(text.starts_with("scenarios:\n"));
    assert!(text.contains("\nmutants:\n"));
    assert!(text.contains("gate-check-then-set"));
    assert!(
        text.lines()
            .any(|l| l.contains("release-on-success") && l.contains(" sim "))
    );
}
