//! How every model is run: a loom builder with the file's preemption bound, and a helper
//! that runs a model expecting loom to find a failing interleaving.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// The preemption bound of every model (see the target's docs for why 3).
pub const PREEMPTION_BOUND: usize = 3;

/// Explores `model` up to the preemption bound (or `LOOM_MAX_PREEMPTIONS` when set).
pub fn check(name: &str, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(PREEMPTION_BOUND);
    }
    let started = Instant::now();
    builder.check(model);
    eprintln!("loom model {name}: explored in {:.2?}", started.elapsed());
}

/// Explores `model` and returns true when loom found an interleaving that fails it.
pub fn finds_failure(name: &str, model: impl Fn() + Sync + Send + 'static) -> bool {
    catch_unwind(AssertUnwindSafe(|| check(name, model))).is_err()
}
