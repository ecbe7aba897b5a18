//! Release racing claim in at-least-once mode: a failed attempt releases its lease while two
//! retries or duplicates claim the key. Before the release they see it in progress; after it
//! exactly one may take it, and the store's record count stays true. `GateCheckThenSet` lets
//! both find the released key free, and counts two records for one key.

use std::sync::Arc;
use std::time::Duration;

use eventgate::ManualClock;
use eventgate::gate::{ClaimOutcome, HolderState, MemoryStore};
use eventgate::mutants::{Mutant, Mutants};
use loom::thread;

use crate::support;

const LEASE: Duration = Duration::from_secs(30);

fn model(mutants: Mutants) {
    let clock = Arc::new(ManualClock::new(Duration::ZERO));
    let store = Arc::new(MemoryStore::with_capacity(clock, 4).with_mutants(mutants));
    let held = match store.claim_now("billing", "order:1", 7, LEASE) {
        Ok(ClaimOutcome::Claimed(token)) => token,
        other => panic!("the first claim of a fresh key wins: {other:?}"),
    };

    let releaser = {
        let store = store.clone();
        thread::spawn(move || store.release_now("billing", "order:1", held))
    };
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            thread::spawn(move || store.claim_now("billing", "order:1", 7, LEASE))
        })
        .collect();
    assert_eq!(
        releaser.join().unwrap(),
        Ok(()),
        "the holder's release always succeeds"
    );
    let outcomes: Vec<_> = claimers.into_iter().map(|t| t.join().unwrap()).collect();

    let wins = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ClaimOutcome::Claimed(_))))
        .count();
    assert!(
        wins <= 1,
        "at most one claim takes a released key: {outcomes:?}"
    );
    for outcome in &outcomes {
        if let Ok(ClaimOutcome::Duplicate(holder)) = outcome {
            assert_eq!(
                holder.state,
                HolderState::InProgress,
                "only a lease can hold the key"
            );
        }
    }
    assert_eq!(
        store.len(),
        wins,
        "the record count matches the records held"
    );
}

#[test]
fn release_racing_claims_lets_at_most_one_take_the_key() {
    support::check("release_vs_claim", || model(Mutants::none()));
}

#[test]
fn gate_check_then_set_lets_two_claims_take_a_released_key() {
    let broken = || model(Mutants::only(Mutant::GateCheckThenSet));
    assert!(support::finds_failure(
        "release_vs_claim/gate-check-then-set",
        broken
    ));
}
