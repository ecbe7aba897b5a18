//! Interleaved rounds: every row of a benchmark measured in turn, round after round, so that
//! the ratio of two rows compares figures taken seconds apart rather than minutes apart.
//!
//! criterion measures one row after another, and on a shared machine the speed of the same
//! peer can change by half between two rows. Here each round measures every row once, for
//! about [`ROUND_TIME`] each (long enough to be past the row's cold start); a ratio is taken
//! within each round and the median over rounds is reported. A first, unrecorded round warms
//! every row up and sizes its runs. The per-round figures are written as JSON beside
//! criterion's results, where `scripts/bench-table.py` reads them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};

/// One measured row: its criterion id and a function that times `iters` iterations.
pub struct Row<'a> {
    pub id: String,
    pub run: Box<dyn FnMut(u64) -> Duration + 'a>,
}

impl<'a> Row<'a> {
    pub fn new(id: impl Into<String>, run: impl FnMut(u64) -> Duration + 'a) -> Self {
        Self {
            id: id.into(),
            run: Box::new(run),
        }
    }
}

/// Measures `rows` as criterion's group `bench` (30 samples, 1 s warm-up, 3 s measurement),
/// then again in interleaved rounds (see [`interleave`]), `step` iterations being the
/// smallest run that makes sense for a row.
pub fn measure(criterion: &mut Criterion, bench: &str, rows: &mut [Row<'_>], step: u64) {
    let mut group = criterion.benchmark_group(bench);
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    bench_rows(&mut group, rows);
    group.finish();
    criterion.final_summary();
    interleave(bench, rows, rounds(), step);
}

/// Registers every row with criterion's `group`. A row id `group/function/parameter` becomes
/// criterion's `BenchmarkId` of that function and parameter (so its results land in
/// `target/criterion/group/function/parameter`), and `group/function` a plain function.
fn bench_rows(group: &mut BenchmarkGroup<'_, WallTime>, rows: &mut [Row<'_>]) {
    for row in rows {
        let id = row
            .id
            .split_once('/')
            .map_or(row.id.as_str(), |(_, id)| id)
            .to_owned();
        let run = &mut row.run;
        match id.split_once('/') {
            Some((function, parameter)) => {
                let id = BenchmarkId::new(function, parameter);
                group.bench_function(id, |b| b.iter_custom(&mut *run))
            }
            None => group.bench_function(id, |b| b.iter_custom(&mut *run)),
        };
    }
}

/// About how long one row runs in one round.
pub const ROUND_TIME: Duration = Duration::from_millis(200);

/// How many rounds, from `EVENTGATE_BENCH_ROUNDS` (default 15; 0 skips the rounds).
pub fn rounds() -> usize {
    std::env::var("EVENTGATE_BENCH_ROUNDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(15)
}

/// Runs a warm-up round and then `rounds` rounds of every row, each row for about
/// [`ROUND_TIME`] in whole multiples of `step` iterations; prints each row's median time per
/// iteration in nanoseconds and writes every round's figures to
/// `target/criterion/interleaved/{bench}.json`.
pub fn interleave(bench: &str, rows: &mut [Row<'_>], rounds: usize, step: u64) {
    if rounds == 0 {
        return;
    }
    let sizes: Vec<u64> = rows.iter_mut().map(|row| size_run(row, step)).collect();
    let mut figures: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for round in 0..rounds {
        for (row, &iters) in rows.iter_mut().zip(&sizes) {
            let elapsed = (row.run)(iters);
            let per_iter = elapsed.as_nanos() as f64 / iters as f64;
            figures.entry(row.id.clone()).or_default().push(per_iter);
        }
        eprint!("\rinterleaved rounds: {}/{rounds}", round + 1);
    }
    eprintln!();
    println!("interleaved: median of {rounds} rounds of about {ROUND_TIME:?} per row");
    for (id, per_round) in &figures {
        println!("  {id:<40} {:>10.1} ns", median(per_round));
    }
    write(bench, &figures);
}

/// Warms `row` up for about [`ROUND_TIME`]; returns how many iterations (a multiple of
/// `step`) take about that long.
fn size_run(row: &mut Row<'_>, step: u64) -> u64 {
    let mut iters = step;
    loop {
        let elapsed = (row.run)(iters);
        if elapsed >= ROUND_TIME / 4 {
            let per_iter = elapsed.as_secs_f64() / iters as f64;
            let wanted = (ROUND_TIME.as_secs_f64() / per_iter) as u64;
            return (wanted / step).max(1) * step;
        }
        iters *= 2;
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 0 {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

fn write(bench: &str, figures: &BTreeMap<String, Vec<f64>>) {
    let directory = criterion_dir().join("interleaved");
    let path = directory.join(format!("{bench}.json"));
    let text = serde_json::to_string_pretty(figures).expect("figures serialize");
    if let Err(error) =
        std::fs::create_dir_all(&directory).and_then(|()| std::fs::write(&path, text))
    {
        eprintln!("note: could not write {}: {error}", path.display());
    }
}

/// Where criterion writes: `$CARGO_TARGET_DIR/criterion`, else `target/criterion` here.
fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}
