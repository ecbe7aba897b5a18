//! `sim`: the deterministic simulation runner, eventgate's main job.
//!
//! `sim run` sweeps every scenario over 1,000 seeds in parallel and ends with a table; on a
//! failure it prints the property that broke, an excerpt of the history around it, the
//! smallest reproduction the minimiser found and the exact command that replays it.
//! `sim replay` re-runs one seed and writes its history; `sim list` prints the scenarios
//! and the mutants. Exit codes: 0 every property held, 1 a property failed, 2 a usage
//! error, 3 the harness itself failed.

mod cli;
mod mutant_budget;
mod report;
mod scenarios;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

fn main() -> ExitCode {
    eventgate::sim::handlers::quiet_planted_panics();
    cli::main()
}
