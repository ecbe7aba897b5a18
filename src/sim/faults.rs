//! Fault kinds, the swarm plan a seed picks, and the timeline of host and network faults.
//!
//! Swarm testing: a scenario offers a menu of fault kinds, each with a range of intensity;
//! the seed switches each kind on or off and picks how often it strikes. Runs that leave most
//! kinds off explore deep into one kind; runs with many on explore their mixtures. A
//! minimised reproduction is the same seed with some kinds forced off and fewer jobs.
//!
//! Intensity is a rate per mille: for per-decision faults (handler, receiver, duplicate) the
//! chance that one decision strikes; for timeline faults (partition, crash) it scales how
//! many windows are drawn.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;
use serde::Serialize;

/// A kind of fault the world can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Message latency drawn from a wide range.
    Latency,
    /// Links between the app and a receiver partitioned (or held), then healed.
    Partition,
    /// A receiver host crashes and restarts.
    ReceiverCrash,
    /// A receiver answers slowly.
    ReceiverSlow,
    /// A receiver never answers.
    ReceiverHang,
    /// A receiver answers 5xx.
    ReceiverError,
    /// A receiver processes a request, then drops the connection before answering.
    ReceiverDrop,
    /// The app host crashes and restarts.
    AppCrash,
    /// A handler panics.
    HandlerPanic,
    /// A handler returns an error.
    HandlerError,
    /// A handler hangs past its timeout.
    HandlerHang,
    /// A handler runs slowly, within its timeout.
    HandlerSlow,
    /// An event is re-published with the same key and payload.
    Duplicate,
    /// An event is re-published with the same key and another payload.
    ConflictingDuplicate,
    /// An event is re-published once its key's TTL has passed.
    DuplicateAfterTtl,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FaultKind; 15] = [
        Self::Latency,
        Self::Partition,
        Self::ReceiverCrash,
        Self::ReceiverSlow,
        Self::ReceiverHang,
        Self::ReceiverError,
        Self::ReceiverDrop,
        Self::AppCrash,
        Self::HandlerPanic,
        Self::HandlerError,
        Self::HandlerHang,
        Self::HandlerSlow,
        Self::Duplicate,
        Self::ConflictingDuplicate,
        Self::DuplicateAfterTtl,
    ];

    /// The name used on the command line and in histories.
    pub fn name(self) -> &'static str {
        match self {
            Self::Latency => "latency",
            Self::Partition => "partition",
            Self::ReceiverCrash => "receiver-crash",
            Self::ReceiverSlow => "receiver-slow",
            Self::ReceiverHang => "receiver-hang",
            Self::ReceiverError => "receiver-error",
            Self::ReceiverDrop => "receiver-drop",
            Self::AppCrash => "app-crash",
            Self::HandlerPanic => "handler-panic",
            Self::HandlerError => "handler-error",
            Self::HandlerHang => "handler-hang",
            Self::HandlerSlow => "handler-slow",
            Self::Duplicate => "duplicate",
            Self::ConflictingDuplicate => "conflicting-duplicate",
            Self::DuplicateAfterTtl => "duplicate-after-ttl",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown fault kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault kind {given:?}; valid: {}", valid_kinds())]
pub struct UnknownFaultKind {
    /// The name given.
    pub given: String,
}

fn valid_kinds() -> String {
    FaultKind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| UnknownFaultKind {
                given: name.to_owned(),
            })
    }
}

/// What a scenario offers: each kind with its range of rate per mille, and whether the seed
/// may switch it off (swarm) or it is always on.
#[derive(Debug, Clone, Default)]
pub struct FaultMenu {
    entries: Vec<(FaultKind, u32, u32)>,
    swarm: bool,
}

impl FaultMenu {
    /// A menu whose kinds are always on.
    pub fn fixed() -> Self {
        Self {
            entries: Vec::new(),
            swarm: false,
        }
    }

    /// A menu from which each seed switches kinds on or off.
    pub fn swarm() -> Self {
        Self {
            entries: Vec::new(),
            swarm: true,
        }
    }

    /// Offers `kind` at a rate per mille between `low` and `high`.
    pub fn with(mut self, kind: FaultKind, low: u32, high: u32) -> Self {
        self.entries.push((kind, low, high.max(low)));
        self
    }

    /// The plan one seed picks from the menu.
    pub fn pick(&self, rng: &mut SmallRng) -> FaultPlan {
        let mut rates = BTreeMap::new();
        for &(kind, low, high) in &self.entries {
            let on = !self.swarm || rng.gen_bool(0.5);
            let rate = rng.gen_range(low..=high);
            if on {
                rates.insert(kind, rate);
            }
        }
        FaultPlan { rates }
    }
}

/// The fault kinds on in one run, each with its rate per mille.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultPlan {
    rates: BTreeMap<FaultKind, u32>,
}

impl FaultPlan {
    /// No fault at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// The rate per mille of `kind`, 0 when it is off.
    pub fn rate(&self, kind: FaultKind) -> u32 {
        self.rates.get(&kind).copied().unwrap_or(0)
    }

    /// True when `kind` is on.
    pub fn is_on(&self, kind: FaultKind) -> bool {
        self.rate(kind) > 0
    }

    /// The kinds on, in a fixed order.
    pub fn kinds(&self) -> Vec<FaultKind> {
        self.rates.keys().copied().collect()
    }

    /// Switches `kind` off.
    pub fn disable(&mut self, kind: FaultKind) {
        self.rates.remove(&kind);
    }

    /// Switches `kind` on at `rate` per mille.
    pub fn enable(&mut self, kind: FaultKind, rate: u32) {
        self.rates.insert(kind, rate);
    }
}

/// One step of the fault timeline, applied by the world's step loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Cut (or, when `hold`, delay) the link between the app and a receiver.
    Partition {
        /// The receiver host.
        receiver: String,
        /// Hold messages instead of dropping them.
        hold: bool,
    },
    /// Heal the link between the app and a receiver.
    Heal {
        /// The receiver host.
        receiver: String,
    },
    /// Crash a host.
    Crash {
        /// The host.
        host: String,
    },
    /// Restart a crashed host.
    Restart {
        /// The host.
        host: String,
    },
}

/// Draws the timeline of partitions and crashes for a fault phase of length `span`, in time
/// order (ties keep drawing order).
pub fn timeline(
    plan: &FaultPlan,
    receivers: &[String],
    span: Duration,
    rng: &mut SmallRng,
) -> Vec<(Duration, FaultAction)> {
    let mut steps = Vec::new();
    let span_ms = span.as_millis().max(1) as u64;
    for receiver in receivers {
        for _ in 0..windows(plan.rate(FaultKind::Partition), rng) {
            let (start, end) = window(span_ms, rng);
            let hold = rng.gen_bool(0.3);
            steps.push((
                start,
                FaultAction::Partition {
                    receiver: receiver.clone(),
                    hold,
                },
            ));
            steps.push((
                end,
                FaultAction::Heal {
                    receiver: receiver.clone(),
                },
            ));
        }
        for _ in 0..windows(plan.rate(FaultKind::ReceiverCrash), rng).min(1) {
            let (start, end) = window(span_ms, rng);
            steps.push((
                start,
                FaultAction::Crash {
                    host: receiver.clone(),
                },
            ));
            steps.push((
                end,
                FaultAction::Restart {
                    host: receiver.clone(),
                },
            ));
        }
    }
    for _ in 0..windows(plan.rate(FaultKind::AppCrash), rng).min(1) {
        let (start, end) = window(span_ms, rng);
        steps.push((
            start,
            FaultAction::Crash {
                host: crate::sim::config::APP_HOST.into(),
            },
        ));
        steps.push((
            end,
            FaultAction::Restart {
                host: crate::sim::config::APP_HOST.into(),
            },
        ));
    }
    steps.sort_by_key(|(at, _)| *at);
    steps
}

/// How many windows a timeline fault of `rate` per mille opens: at most two.
fn windows(rate: u32, rng: &mut SmallRng) -> u32 {
    if rate == 0 {
        return 0;
    }
    1 + u32::from(rng.gen_range(0..1_000) < rate)
}

/// A window inside the span: start in the first four fifths, length up to a quarter.
fn window(span_ms: u64, rng: &mut SmallRng) -> (Duration, Duration) {
    let start = rng.gen_range(0..span_ms * 4 / 5 + 1);
    let length = rng.gen_range(span_ms / 20..span_ms / 4 + 2);
    (
        Duration::from_millis(start),
        Duration::from_millis(start + length),
    )
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn fault_kind_names_round_trip_and_unknown_names_list_the_valid_ones() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
        }
        let error = "lightning".parse::<FaultKind>().unwrap_err();
        assert!(error.to_string().contains("app-crash"));
    }

    #[test]
    fn swarm_menu_switches_kinds_off_for_some_seeds_and_fixed_menu_never_does() {
        let menu = |m: FaultMenu| m.with(FaultKind::Partition, 100, 200);
        let fixed = menu(FaultMenu::fixed());
        let swarm = menu(FaultMenu::swarm());
        let on = |m: &FaultMenu, seed| {
            m.pick(&mut SmallRng::seed_from_u64(seed))
                .is_on(FaultKind::Partition)
        };
        assert!((0..20).all(|seed| on(&fixed, seed)));
        assert!((0..20).any(|seed| !on(&swarm, seed)));
    }
}
