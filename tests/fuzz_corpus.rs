//! The fuzz oracles on stable: every committed corpus file of `fuzz/corpus/<target>/`, then
//! thousands of seeded random inputs, go through the same functions the nightly fuzz targets
//! call (`eventgate::testkit::fuzz`), so the oracles are exercised in every `cargo test`.
//!
//! A crash found by `cargo +nightly fuzz run` becomes a regression here by copying its
//! artifact into `fuzz/corpus/<target>/` under a name that says what it found.

use std::path::{Path, PathBuf};

use eventgate::testkit::fuzz::{event_ops, webhook_parsing};
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

/// Random inputs per target, and the longest of them in bytes.
const EVENT_OPS_RANDOM_INPUTS: usize = 2_000;
const WEBHOOK_RANDOM_INPUTS: usize = 5_000;
const RANDOM_INPUT_BYTES_MAX: usize = 512;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, oracle: fn(&[u8]) -> Result<(), String>) {
    let files = corpus(target);
    assert!(!files.is_empty(), "the {target} seed corpus is committed");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(failure) = oracle(&bytes) {
            panic!("{}: {failure}", path.display());
        }
    }
}

fn random_inputs(seed: u64, count: usize, oracle: fn(&[u8]) -> Result<(), String>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    for case in 0..count {
        let mut bytes = vec![0u8; rng.gen_range(0..=RANDOM_INPUT_BYTES_MAX)];
        rng.fill_bytes(&mut bytes);
        if let Err(failure) = oracle(&bytes) {
            panic!("seed {seed} case {case} ({bytes:?}): {failure}");
        }
    }
}

#[test]
fn event_ops_corpus_agrees_with_the_model() {
    replay("event_ops", event_ops);
}

#[test]
fn webhook_parsing_corpus_never_panics_or_accepts_a_wrong_mac() {
    replay("webhook_parsing", webhook_parsing);
}

#[test]
fn seeded_random_event_ops_agree_with_the_model() {
    random_inputs(0xE0E0_0001, EVENT_OPS_RANDOM_INPUTS, event_ops);
}

#[test]
fn seeded_random_webhook_input_never_panics_or_accepts_a_wrong_mac() {
    random_inputs(0xE0E0_0002, WEBHOOK_RANDOM_INPUTS, webhook_parsing);
}
