//! The catalogue of planted bugs that prove each check can fail.
//!
//! Every mutant is a switch at the place where the bug would live, carried as a value in the
//! configuration of the bus, job service, webhook service or simulated world (never a global:
//! tests share a process). The catalogue itself is always compiled, so `sim list` can show
//! it; the switches can only be turned on with the cargo feature `mutants`, and the buggy
//! code at each site is compiled only under that feature.
//!
//! Each mutant names what catches it: a simulation checker, a loom model or a property test.
//! A race that a single-threaded simulated host cannot show is loom's.

use std::fmt;
use std::str::FromStr;

/// A planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutant {
    /// The memory store checks for a live record under one lock and writes the claim under a
    /// second, so two racing claims can both win.
    GateCheckThenSet,
    /// At-most-once mode releases the key after a successful run instead of completing it.
    ReleaseOnSuccess,
    /// The webhook sender makes a new `webhook-id` for every retry of an event.
    NewWebhookIdPerRetry,
    /// The job service waits for subscribers to finish before its call returns.
    PublishAwaitsSubscribers,
    /// A full queue drops the event without a dead letter or a count.
    OverflowWithoutRecord,
    /// The memory store measures TTLs on the wall clock instead of the injected clock.
    TtlOnWallClock,
    /// The job service publishes before it stores the job's new state.
    PublishBeforeStore,
    /// At-least-once mode makes one attempt more than its bound allows.
    RetryPastBound,
    /// A queue checks for room under one lock and appends under a second, so two racing
    /// publishes can both fill its last slot.
    QueueCheckThenPush,
    /// `publish` copies a topic's subscribers under the registry lock and pushes to them after
    /// releasing it, so it can still push to a subscriber that unsubscribe has already drained.
    FanOutOutsideLock,
}

/// What catches a mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catcher {
    /// A checker of the simulation, within the mutant's stated budget.
    Sim,
    /// A loom model in `tests/loom/`.
    Loom,
    /// A property test in `tests/`.
    Proptest,
}

impl Catcher {
    /// `sim`, `loom` or `proptest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::Loom => "loom",
            Self::Proptest => "proptest",
        }
    }
}

impl Mutant {
    /// Every mutant, in catalogue order.
    pub const ALL: [Mutant; 10] = [
        Self::GateCheckThenSet,
        Self::ReleaseOnSuccess,
        Self::NewWebhookIdPerRetry,
        Self::PublishAwaitsSubscribers,
        Self::OverflowWithoutRecord,
        Self::TtlOnWallClock,
        Self::PublishBeforeStore,
        Self::RetryPastBound,
        Self::QueueCheckThenPush,
        Self::FanOutOutsideLock,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::GateCheckThenSet => "gate-check-then-set",
            Self::ReleaseOnSuccess => "release-on-success",
            Self::NewWebhookIdPerRetry => "new-webhook-id-per-retry",
            Self::PublishAwaitsSubscribers => "publish-awaits-subscribers",
            Self::OverflowWithoutRecord => "overflow-without-record",
            Self::TtlOnWallClock => "ttl-on-wall-clock",
            Self::PublishBeforeStore => "publish-before-store",
            Self::RetryPastBound => "retry-past-bound",
            Self::QueueCheckThenPush => "queue-check-then-push",
            Self::FanOutOutsideLock => "fan-out-outside-lock",
        }
    }

    /// What catches it.
    pub fn catcher(self) -> Catcher {
        match self {
            Self::GateCheckThenSet | Self::QueueCheckThenPush | Self::FanOutOutsideLock => {
                Catcher::Loom
            }
            Self::RetryPastBound => Catcher::Proptest,
            _ => Catcher::Sim,
        }
    }

    /// One sentence on the bug.
    pub fn description(self) -> &'static str {
        match self {
            Self::GateCheckThenSet => "the memory store checks and claims a key in two steps",
            Self::ReleaseOnSuccess => "at-most-once releases the key after a successful run",
            Self::NewWebhookIdPerRetry => "each webhook retry carries a new webhook-id",
            Self::PublishAwaitsSubscribers => "completing a job waits for its subscribers",
            Self::OverflowWithoutRecord => "a full queue drops the event without a record",
            Self::TtlOnWallClock => "gate TTLs are measured on the wall clock",
            Self::PublishBeforeStore => "a job's event is published before its state is stored",
            Self::RetryPastBound => "at-least-once makes one attempt more than its bound",
            Self::QueueCheckThenPush => "a queue checks for room and appends in two steps",
            Self::FanOutOutsideLock => "publish pushes to subscribers after releasing the registry",
        }
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown mutant name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mutant {given:?}; valid: {}", valid_names())]
pub struct UnknownMutant {
    /// The name given.
    pub given: String,
}

fn valid_names() -> String {
    Mutant::ALL
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Mutant {
    type Err = UnknownMutant;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| UnknownMutant {
                given: name.to_owned(),
            })
    }
}

/// The set of mutants switched on. Without the `mutants` feature it is always empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mutants {
    #[cfg(feature = "mutants")]
    bits: u32,
}

impl Mutants {
    /// No mutant: the code as shipped.
    pub fn none() -> Self {
        Self::default()
    }

    /// Only `mutant` switched on.
    #[cfg(feature = "mutants")]
    pub fn only(mutant: Mutant) -> Self {
        Self {
            bits: 1 << mutant as u32,
        }
    }

    /// True when `mutant` is switched on.
    #[cfg(feature = "mutants")]
    pub fn is_on(&self, mutant: Mutant) -> bool {
        self.bits & (1 << mutant as u32) != 0
    }

    /// The mutants switched on.
    pub fn active(&self) -> Vec<Mutant> {
        #[cfg(feature = "mutants")]
        return Mutant::ALL.into_iter().filter(|m| self.is_on(*m)).collect();
        #[cfg(not(feature = "mutants"))]
        Vec::new()
    }
}
