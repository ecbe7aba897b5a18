//! The `sim` binary's command line: bad input exits 2 naming the valid choices, `list` has
//! its two sections, and a one-seed run exits 0 with its table.

use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .expect("sim runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_scenario_exits_2_and_names_the_valid_ones() {
    let output = sim(&["run", "--scenario", "tornado"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("steady"), "{}", stderr(&output));
    assert!(stderr(&output).contains("swarm"));
}

#[test]
fn an_unknown_mutant_exits_2_and_names_the_valid_ones() {
    let output = sim(&["run", "--mutant", "gremlin"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("release-on-success"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_seed_that_does_not_parse_exits_2_and_says_what_a_seed_is() {
    let output = sim(&["replay", "--scenario", "steady", "--seed", "twelve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("whole number"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn seed_with_seeds_conflicts_and_exits_2() {
    let output = sim(&["run", "--seed", "3", "--seeds", "10"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot be used with"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn list_prints_scenarios_then_mutants() {
    let output = sim(&["list"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("scenarios:\n"));
    assert!(text.contains("mutants:\n"));
}

#[test]
fn one_healthy_seed_exits_0_and_json_reports_seeds_per_second() {
    let output = sim(&["run", "--scenario", "steady", "--seed", "5", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], true);
    assert!(doc["scenarios"][0]["seeds_per_second"].as_f64().is_some());
}
