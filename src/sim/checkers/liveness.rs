//! Liveness after heal: once every fault has stopped, the app's bus (and webhook service)
//! goes idle within the bound stated in the run's first record, so every delivery that is
//! not dead-lettered has landed by then.

use super::super::history::{History, Record};
use super::{Property, Violation, us};

/// The liveness violation in `history`, if any.
pub fn check(history: &History) -> Option<Violation> {
    let bound_us = history.entries.iter().find_map(|e| match &e.record {
        Record::RunStarted {
            liveness_bound_ms, ..
        } => Some(us(*liveness_bound_ms)),
        _ => None,
    })?;
    let last = history.entries.last()?;
    let Some(healed) = history
        .entries
        .iter()
        .find(|e| matches!(e.record, Record::FaultsHealed))
    else {
        return Some(Violation::at(
            Property::LivenessAfterHeal,
            last,
            "faults never healed",
        ));
    };
    let quiesced = history
        .entries
        .iter()
        .find(|e| matches!(e.record, Record::Quiesced));
    match quiesced {
        Some(quiesced) if quiesced.at_us <= healed.at_us + bound_us => None,
        _ => {
            let message = format!(
                "not idle within {} ms of the heal at #{}",
                bound_us / 1_000,
                healed.seq
            );
            Some(Violation::at(
                Property::LivenessAfterHeal,
                quiesced.unwrap_or(last),
                message,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::history;
    use super::*;

    fn started() -> Record {
        Record::RunStarted {
            scenario: "s".into(),
            seed: 1,
            faults: vec![],
            liveness_bound_ms: 100,
        }
    }

    #[test]
    fn idle_within_the_bound_holds_and_late_or_never_fails() {
        let on_time = history(vec![
            (0, started()),
            (10, Record::FaultsHealed),
            (110, Record::Quiesced),
        ]);
        assert_eq!(check(&on_time), None);
        let late = history(vec![
            (0, started()),
            (10, Record::FaultsHealed),
            (111, Record::Quiesced),
        ]);
        assert!(check(&late).is_some());
        assert!(check(&history(vec![(0, started()), (10, Record::FaultsHealed)])).is_some());
    }
}
