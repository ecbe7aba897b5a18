//! A claim racing TTL expiry: a completed key, one thread moving the manual clock to the end
//! of its TTL, two threads claiming it. Each claim sees the record live (a duplicate) or
//! expired; of those that see it expired, exactly one may take it. `GateCheckThenSet` lets
//! both replace the expired record.

use std::sync::Arc;
use std::time::Duration;

use eventgate::gate::{ClaimOutcome, MemoryStore};
use eventgate::mutants::{Mutant, Mutants};
use eventgate::{Clock, ManualClock};
use loom::thread;

use crate::support;

const LEASE: Duration = Duration::from_secs(30);
const TTL: Duration = Duration::from_secs(3_600);

fn claimed(outcome: &Result<ClaimOutcome, eventgate::gate::StoreError>) -> bool {
    matches!(outcome, Ok(ClaimOutcome::Claimed(_)))
}

fn model(mutants: Mutants) {
    let clock = Arc::new(ManualClock::new(Duration::ZERO));
    let store = Arc::new(MemoryStore::with_capacity(clock.clone(), 4).with_mutants(mutants));
    let first = match store.claim_now("billing", "order:1", 7, LEASE) {
        Ok(ClaimOutcome::Claimed(token)) => token,
        other => panic!("the first claim of a fresh key wins: {other:?}"),
    };
    store
        .complete_now("billing", "order:1", first, TTL)
        .unwrap();

    let ticker = {
        let clock = clock.clone();
        thread::spawn(move || clock.advance(TTL))
    };
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            thread::spawn(move || store.claim_now("billing", "order:1", 7, LEASE))
        })
        .collect();
    ticker.join().unwrap();
    let outcomes: Vec<_> = claimers.into_iter().map(|t| t.join().unwrap()).collect();

    let wins = outcomes.iter().filter(|o| claimed(o)).count();
    assert!(
        wins <= 1,
        "at most one claim takes an expired key: {outcomes:?}"
    );
    assert_eq!(store.len(), 1, "one record for one key");
    let again = store.claim_now("billing", "order:1", 7, LEASE);
    assert_eq!(
        claimed(&again),
        wins == 0,
        "after expiry the key is free unless a racer took it"
    );
    assert_eq!(clock.elapsed(), TTL);
    let _ = clock.now();
}

#[test]
fn claims_racing_ttl_expiry_take_the_key_at_most_once() {
    support::check("claim_vs_ttl_expiry", || model(Mutants::none()));
}

#[test]
fn gate_check_then_set_lets_two_claims_take_an_expired_key() {
    let broken = || model(Mutants::only(Mutant::GateCheckThenSet));
    assert!(support::finds_failure(
        "claim_vs_ttl_expiry/gate-check-then-set",
        broken
    ));
}
