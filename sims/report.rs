//! What `run` and `replay` print: the progress bar, the table per scenario, the JSON
//! document, and for each failure the property, a history excerpt around it, the smallest
//! reproduction and the command that replays it.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use eventgate::sim::minimise::{self, Reproduction};
use eventgate::sim::runner::{self, SeedResult, SweepReport, Verdict};
use eventgate::sim::scenario::{Overrides, Scenario};

use crate::cli::{EXIT_FAILED, EXIT_HARNESS, EXIT_HELD};

/// Entries shown on either side of the record where a property broke.
const EXCERPT_RADIUS: usize = 6;

/// What `run` was asked to do.
pub struct Plan<'a> {
    /// The scenarios, in order.
    pub scenarios: Vec<&'a Scenario>,
    /// The seeds of each.
    pub seeds: Range<u64>,
    /// Mutants and switches.
    pub overrides: Overrides,
    /// OS threads.
    pub threads: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Print JSON instead of the table.
    pub json: bool,
    /// A line printed before the table (a mutant's budget).
    pub note: Option<String>,
}

/// Sweeps every scenario of `plan`, prints the results and returns the exit code.
pub fn sweep_all(plan: &Plan<'_>) -> u8 {
    let total = (plan.seeds.end - plan.seeds.start) * plan.scenarios.len() as u64;
    let bar = progress_bar(plan.progress, total);
    let mut reports = Vec::new();
    for scenario in &plan.scenarios {
        if let Some(bar) = &bar {
            bar.set_message(scenario.name);
        }
        let tick = || {
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        };
        let report = runner::sweep(
            scenario,
            plan.seeds.clone(),
            &plan.overrides,
            plan.threads,
            &tick,
        );
        reports.push((*scenario, report));
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let minimised: Vec<Option<Reproduction>> = reports
        .iter()
        .map(|(scenario, report)| {
            let first = report.failures.first()?;
            minimise::minimise(scenario, first.seed, &plan.overrides)
        })
        .collect();
    match plan.json {
        true => println!("{}", json_document(&reports, &minimised, &plan.overrides)),
        false => {
            print_human(&reports, &minimised, &plan.overrides);
            if let Some(note) = &plan.note {
                println!("{note}");
            }
        }
    }
    exit_code(reports.iter().map(|(_, r)| r))
}

fn progress_bar(show: bool, total: u64) -> Option<ProgressBar> {
    if !show {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} seeds {per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    Some(bar)
}

fn exit_code<'a>(reports: impl Iterator<Item = &'a SweepReport>) -> u8 {
    let mut code = EXIT_HELD;
    for report in reports {
        if !report.harness_errors.is_empty() {
            return EXIT_HARNESS;
        }
        if !report.failures.is_empty() {
            code = EXIT_FAILED;
        }
    }
    code
}

fn print_human(
    reports: &[(&Scenario, SweepReport)],
    minimised: &[Option<Reproduction>],
    overrides: &Overrides,
) {
    for ((scenario, report), reproduction) in reports.iter().zip(minimised) {
        for failure in report.failures.iter().take(1) {
            print_failure(scenario, failure, overrides);
        }
        if let Some(reproduction) = reproduction {
            println!(
                "smallest reproduction ({} runs): {}",
                reproduction.runs, reproduction.command
            );
            println!();
        }
        for harness in report.harness_errors.iter().take(1) {
            if let Verdict::Harness { error } = &harness.verdict {
                println!(
                    "{}: seed {}: harness failed: {error}",
                    scenario.name, harness.seed
                );
                println!(
                    "replay: {}\n",
                    overrides.replay_command(scenario.name, harness.seed)
                );
            }
        }
    }
    println!("{}", table(reports));
    println!(
        "tick {} ms; determinism: every {}th seed run twice",
        eventgate::sim::config::TICK.as_millis(),
        runner::DETERMINISM_EVERY
    );
}

/// Prints one failing seed: each broken property, an excerpt, and the replay command.
pub fn print_failure(scenario: &Scenario, failure: &SeedResult, overrides: &Overrides) {
    let Verdict::Failed { violations } = &failure.verdict else {
        return;
    };
    println!("FAILED {} seed {}", scenario.name, failure.seed);
    for violation in violations {
        println!("  property {violation}");
    }
    if let (Some(history), Some(first)) = (&failure.history, violations.first()) {
        println!("  history around #{}:", first.seq);
        for line in history.around(first.seq, EXCERPT_RADIUS).lines() {
            println!("    {line}");
        }
    }
    println!(
        "  replay: {}",
        overrides.replay_command(scenario.name, failure.seed)
    );
}

fn table(reports: &[(&Scenario, SweepReport)]) -> String {
    let mut out = format!(
        "{:<24} {:>7} {:>9} {:>12} {:>9} {:>9}\n",
        "scenario", "seeds", "failures", "simulated", "wall", "seeds/s"
    );
    for (scenario, report) in reports {
        out.push_str(&format!(
            "{:<24} {:>7} {:>9} {:>11.1}s {:>8.2}s {:>9.1}\n",
            scenario.name,
            report.seeds,
            report.failures.len() + report.harness_errors.len(),
            report.sim_elapsed.as_secs_f64(),
            report.wall.as_secs_f64(),
            report.seeds_per_second(),
        ));
    }
    out
}

fn json_document(
    reports: &[(&Scenario, SweepReport)],
    minimised: &[Option<Reproduction>],
    overrides: &Overrides,
) -> serde_json::Value {
    let scenarios: Vec<serde_json::Value> = reports
        .iter()
        .zip(minimised)
        .map(|((scenario, report), reproduction)| {
            let failing: Vec<serde_json::Value> = report
                .failures
                .iter()
                .chain(&report.harness_errors)
                .map(|f| {
                    json!({
                        "seed": f.seed,
                        "verdict": f.verdict,
                        "replay": overrides.replay_command(scenario.name, f.seed),
                    })
                })
                .collect();
            json!({
                "scenario": scenario.name,
                "seeds": report.seeds,
                "failures": report.failures.len(),
                "harness_errors": report.harness_errors.len(),
                "determinism_checked": report.determinism_checked,
                "simulated_seconds": report.sim_elapsed.as_secs_f64(),
                "wall_seconds": report.wall.as_secs_f64(),
                "seeds_per_second": report.seeds_per_second(),
                "simulated_per_wall": ratio(report.sim_elapsed, report.wall),
                "failing_seeds": failing,
                "smallest_reproduction": reproduction.as_ref().map(|r| r.command.clone()),
            })
        })
        .collect();
    let ok = exit_code(reports.iter().map(|(_, r)| r)) == EXIT_HELD;
    let tick_ms = eventgate::sim::config::TICK.as_millis() as u64;
    json!({ "tick_ms": tick_ms, "scenarios": scenarios, "ok": ok })
}

fn ratio(simulated: Duration, wall: Duration) -> f64 {
    simulated.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}

/// Replays one seed: prints the verdict and hash, writes the history, and with `minimise`
/// shrinks a failure.
pub fn replay(
    scenario: &Scenario,
    seed: u64,
    overrides: &Overrides,
    path: &Path,
    minimise: bool,
) -> Result<u8, String> {
    let mut result = runner::run_seed(scenario, seed, overrides);
    if let Some(history) = &result.history {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(path, history.to_jsonl())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let verdict = match &result.verdict {
        Verdict::Held => "held".to_owned(),
        Verdict::Failed { .. } => "failed".to_owned(),
        Verdict::Harness { error } => format!("harness failed: {error}"),
    };
    println!("{} seed {seed}: {verdict}", scenario.name);
    println!("history hash {}", result.hash());
    println!("history written to {}", path.display());
    print_failure(scenario, &result, overrides);
    if minimise && matches!(result.verdict, Verdict::Failed { .. }) {
        if let Some(reproduction) = minimise::minimise(scenario, seed, overrides) {
            println!(
                "smallest reproduction ({} runs): {}",
                reproduction.runs, reproduction.command
            );
        }
    }
    Ok(match result.verdict {
        Verdict::Held => EXIT_HELD,
        Verdict::Failed { .. } => EXIT_FAILED,
        Verdict::Harness { .. } => EXIT_HARNESS,
    })
}
