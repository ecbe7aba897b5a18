//! Each mutant that the simulation catches, with its budget: the scenario and seed range
//! within which `run --mutant NAME` must fail, and the property expected to break.

use eventgate::mutants::Mutant;
use eventgate::sim::checkers::Property;

/// Where the simulation must catch a mutant.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The mutant.
    pub mutant: Mutant,
    /// The scenario to sweep.
    pub scenario: &'static str,
    /// Seeds `0..seeds` are tried in order; the first that fails is enough.
    pub seeds: u64,
    /// The property that must break.
    pub property: Property,
}

/// The budgets of every mutant whose catcher is `sim`.
pub const BUDGETS: [Budget; 6] = [
    Budget {
        mutant: Mutant::ReleaseOnSuccess,
        scenario: "duplicate-storm",
        seeds: 10,
        property: Property::AtMostOnce,
    },
    Budget {
        mutant: Mutant::TtlOnWallClock,
        scenario: "duplicate-storm",
        seeds: 10,
        property: Property::SuppressionJustified,
    },
    Budget {
        mutant: Mutant::PublishBeforeStore,
        scenario: "steady",
        seeds: 3,
        property: Property::PublishAfterStore,
    },
    Budget {
        mutant: Mutant::PublishAwaitsSubscribers,
        scenario: "crashing-handlers",
        seeds: 10,
        property: Property::PublisherIsolation,
    },
    Budget {
        mutant: Mutant::OverflowWithoutRecord,
        scenario: "slow-consumer-overflow",
        seeds: 3,
        property: Property::Accounting,
    },
    Budget {
        mutant: Mutant::NewWebhookIdPerRetry,
        scenario: "webhook-outage",
        seeds: 20,
        property: Property::ReceiverAtMostOnce,
    },
];

/// The budget of `mutant`, if the simulation is its catcher.
pub fn of(mutant: Mutant) -> Option<&'static Budget> {
    BUDGETS.iter().find(|b| b.mutant == mutant)
}
