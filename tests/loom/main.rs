//! Loom models of the bus core: the gate's memory store, the registry and the
//! enqueue-or-overflow step, each driven from loom threads through every interleaving up to a
//! preemption bound.
//!
//! Run with `RUSTFLAGS="--cfg eventgate_loom" cargo test --release --test loom` and a target
//! directory of its own (`--target-dir target/loom`), since the flag rebuilds every crate.
//! Without the flag this target is empty. Loom cannot run tokio tasks, timers or sockets, so
//! the models play the worker's and publisher's synchronous steps themselves; the tasks are
//! covered by the property tests and the simulations.
//!
//! # Preemption bound
//!
//! Each model runs with a preemption bound of 3 (`support::PREEMPTION_BOUND`), unless
//! `LOOM_MAX_PREEMPTIONS` is set. Every bug planted for these models needs one preemption (a
//! thread stopped between its check and its write, or between its snapshot and its push), so
//! 3 covers that with two to spare. Measured here (release, 2 shared cores): the five models
//! take under 0.3 s each at bound 3 and under 1.2 s each at bound 4; unbounded, four of them
//! finish within 4 s but the overflow model (three threads) takes about 100 s, past the
//! minute a model may cost.
//!
//! # Mutants
//!
//! Every model takes a [`eventgate::mutants::Mutants`] value. Each model's test runs it as
//! shipped, and a second test runs it with the planted bug that breaks it and asserts that
//! loom finds the failing interleaving.

#![cfg(eventgate_loom)]

mod claim_vs_ttl_expiry;
mod overflow_accounting;
mod release_vs_claim;
mod subscribe_unsubscribe_vs_publish;
mod support;
mod two_claims_same_key;
