//! Two publishers racing one key give one handler run: two workers claim the same
//! (subscriber, key) from two threads and exactly one is `Claimed`. The claim's check and
//! write are one step under the shard lock; `GateCheckThenSet` splits them and both win.

use std::sync::Arc;
use std::time::Duration;

use eventgate::ManualClock;
use eventgate::gate::{ClaimOutcome, MemoryStore};
use eventgate::mutants::{Mutant, Mutants};
use loom::thread;

use crate::support;

const LEASE: Duration = Duration::from_secs(30);

fn model(mutants: Mutants) {
    let clock = Arc::new(ManualClock::new(Duration::ZERO));
    let store = Arc::new(MemoryStore::with_capacity(clock, 4).with_mutants(mutants));
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            thread::spawn(move || store.claim_now("billing", "order:1", 7, LEASE))
        })
        .collect();
    let outcomes: Vec<_> = claimers.into_iter().map(|t| t.join().unwrap()).collect();

    let claimed = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ClaimOutcome::Claimed(_))))
        .count();
    assert_eq!(claimed, 1, "exactly one racing claim wins: {outcomes:?}");
    assert_eq!(store.len(), 1, "one record for one key");
}

#[test]
fn two_claims_of_one_key_give_exactly_one_claim() {
    support::check("two_claims_same_key", || model(Mutants::none()));
}

#[test]
fn gate_check_then_set_lets_two_claims_of_one_key_win() {
    let broken = || model(Mutants::only(Mutant::GateCheckThenSet));
    assert!(support::finds_failure(
        "two_claims_same_key/gate-check-then-set",
        broken
    ));
}
