//! The command line: `run`, `replay` and `list`, their flags, and the exit codes.
//!
//! Usage errors (an unknown scenario, mutant or fault kind, a seed that does not parse,
//! flags that conflict) exit 2 with a message naming the valid choices; clap does this for
//! the flags it knows, and [`usage_error`] for the checks clap cannot express.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};

use eventgate::mutants::{Mutant, Mutants};
use eventgate::sim::FaultKind;
use eventgate::sim::scenario::{Overrides, Scenario};

use crate::{mutant_budget, report, scenarios};

/// Exit code: every property held.
pub const EXIT_HELD: u8 = 0;
/// Exit code: a property failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: a usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the harness itself failed.
pub const EXIT_HARNESS: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "sim",
    version,
    about = "Deterministic simulation of eventgate's guarantees"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sweep scenarios over many seeds (default: every scenario, 1,000 seeds each).
    Run(RunArgs),
    /// Re-run one seed, print its verdict and history hash, and write its history.
    Replay(ReplayArgs),
    /// List the scenarios and the mutants.
    List,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Only this scenario.
    #[arg(long, value_parser = scenario_names())]
    scenario: Option<String>,
    /// How many seeds per scenario.
    #[arg(long, default_value_t = 1_000, conflicts_with = "seed", value_parser = parse_count)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0, conflicts_with = "seed", value_parser = parse_seed)]
    start: u64,
    /// Run exactly this one seed.
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// Switch on a planted bug (needs the `mutants` feature).
    #[arg(long, value_parser = mutant_names())]
    mutant: Option<String>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
    /// Worker threads (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// Record no history and run no checker (only to measure their cost).
    #[arg(long)]
    no_record: bool,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// The scenario.
    #[arg(long, value_parser = scenario_names())]
    scenario: String,
    /// The seed.
    #[arg(long, value_parser = parse_seed)]
    seed: u64,
    /// Switch on a planted bug (needs the `mutants` feature).
    #[arg(long, value_parser = mutant_names())]
    mutant: Option<String>,
    /// Where to write the history as JSON lines (default: target/sim/SCENARIO-SEED.jsonl).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Override the job count (as a minimised reproduction does).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    jobs: Option<u32>,
    /// Fault kinds to switch off, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = fault_names())]
    without: Vec<String>,
    /// Shrink a failing seed and print the smallest reproduction.
    #[arg(long)]
    minimise: bool,
}

fn scenario_names() -> PossibleValuesParser {
    PossibleValuesParser::new(scenarios::ALL.map(|s| s.name))
}

fn mutant_names() -> PossibleValuesParser {
    PossibleValuesParser::new(Mutant::ALL.map(|m| m.name()))
}

fn fault_names() -> PossibleValuesParser {
    PossibleValuesParser::new(FaultKind::ALL.map(|k| k.name()))
}

fn parse_seed(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("expected a seed: a whole number from 0 to {}", u64::MAX))
}

fn parse_count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(format!("expected a number of seeds from 1 to {}", u64::MAX)),
    }
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_HELD
            });
        }
    };
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::Replay(args) => replay(args),
        Command::List => {
            print!("{}", list());
            Ok(EXIT_HELD)
        }
    };
    ExitCode::from(code.unwrap_or_else(|message| usage_error(&message)))
}

/// Prints a usage error and gives its exit code.
fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

/// The mutants switched on by `--mutant`, or a usage error when the build cannot switch any.
fn mutants(name: Option<&str>) -> Result<Mutants, String> {
    let Some(name) = name else {
        return Ok(Mutants::none());
    };
    let mutant: Mutant = name
        .parse()
        .map_err(|e: eventgate::mutants::UnknownMutant| e.to_string())?;
    switch_on(mutant)
}

#[cfg(feature = "mutants")]
fn switch_on(mutant: Mutant) -> Result<Mutants, String> {
    Ok(Mutants::only(mutant))
}

#[cfg(not(feature = "mutants"))]
fn switch_on(mutant: Mutant) -> Result<Mutants, String> {
    Err(format!(
        "mutant {mutant} needs the `mutants` feature; run: \
         cargo run --release --features mutants -- run --mutant {mutant}"
    ))
}

fn run(args: RunArgs) -> Result<u8, String> {
    let overrides = Overrides {
        mutants: mutants(args.mutant.as_deref())?,
        no_recording: args.no_record,
        ..Overrides::default()
    };
    let budget = args
        .mutant
        .as_deref()
        .and_then(|m| m.parse().ok())
        .and_then(mutant_budget::of);
    let chosen: Vec<&Scenario> = match (&args.scenario, budget) {
        (Some(name), _) => scenarios::find(name).into_iter().collect(),
        // A mutant alone sweeps the scenario its budget names, where it must be caught.
        (None, Some(budget)) => scenarios::find(budget.scenario).into_iter().collect(),
        (None, None) => scenarios::ALL.iter().collect(),
    };
    let seeds = match args.seed {
        Some(seed) => seed..seed.saturating_add(1),
        None => args.start..args.start.saturating_add(args.seeds),
    };
    let threads = args
        .threads
        .map(usize::from)
        .unwrap_or_else(default_threads);
    let progress = !args.json && std::io::stderr().is_terminal();
    let note = budget.map(|b| {
        let (mutant, property, scenario, seeds) = (b.mutant, b.property, b.scenario, b.seeds);
        format!("budget: {mutant} must break {property} within seeds 0..{seeds} of {scenario}")
    });
    let plan = report::Plan {
        scenarios: chosen,
        seeds,
        overrides,
        threads,
        progress,
        json: args.json,
        note,
    };
    Ok(report::sweep_all(&plan))
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

fn replay(args: ReplayArgs) -> Result<u8, String> {
    let scenario = scenarios::find(&args.scenario).ok_or("unknown scenario")?;
    let without: BTreeSet<FaultKind> = args
        .without
        .iter()
        .map(|name| name.parse::<FaultKind>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let overrides = Overrides {
        jobs: args.jobs,
        without,
        mutants: mutants(args.mutant.as_deref())?,
        no_recording: false,
    };
    let path = args.history.unwrap_or_else(|| {
        PathBuf::from(format!("target/sim/{}-{}.jsonl", scenario.name, args.seed))
    });
    report::replay(scenario, args.seed, &overrides, &path, args.minimise)
}

/// The text of `sim list`.
pub fn list() -> String {
    let mut out = String::from("scenarios:\n");
    for scenario in &scenarios::ALL {
        out.push_str(&format!("  {:<24} {}\n", scenario.name, scenario.about));
    }
    out.push_str("mutants:\n");
    for mutant in Mutant::ALL {
        let catcher = mutant.catcher().as_str();
        out.push_str(&format!(
            "  {:<28} {:<9} {}\n",
            mutant.name(),
            catcher,
            mutant.description()
        ));
    }
    out
}
