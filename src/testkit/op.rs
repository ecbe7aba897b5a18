//! The operations a generated test or a fuzz input applies to the bus, the bounds that keep
//! one run small, and the timing every subscriber of a run is configured with.
//!
//! Every value decodes from arbitrary bytes (`arbitrary`) or is drawn by a proptest strategy;
//! out-of-range numbers are folded into range by [`Op::normalised`] rather than refused, so
//! every byte string is a valid run. Keys are not named by the input: a publish is *new* (a
//! fresh key with its own script of handler behaviours), a *duplicate* (an earlier key with
//! its first payload) or a *conflict* (an earlier key with a payload never sent before), and
//! [`Keys`] turns these into concrete events the same way for the model and the bus.

use std::time::Duration;

use arbitrary::Arbitrary;

/// Subscriber slots: a run has subscribers named `s0` to `s2`.
pub const SLOTS: u8 = 3;
/// The largest queue capacity a generated subscriber gets.
pub const QUEUE_CAPACITY_MAX: u8 = 3;
/// The most publishes in one burst.
pub const BURST_LEN_MAX: usize = 6;
/// The longest handler script of a key.
pub const SCRIPT_LEN_MAX: usize = 3;
/// The most operations of one run; longer inputs are cut.
pub const OPS_MAX: usize = 48;

/// How long a handler may run; a `Timeout` behaviour runs exactly this long.
pub const HANDLER_TIMEOUT: Duration = Duration::from_millis(10);
/// The gate lease, longer than the handler timeout as the bus requires.
pub const LEASE: Duration = Duration::from_millis(50);
/// How long a completed key suppresses duplicates.
pub const TTL: Duration = Duration::from_secs(600);
/// Attempts of an at-least-once subscriber.
pub const ATTEMPTS_MAX: u32 = 3;
/// Backoff before the second attempt; it doubles after.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(3);
/// Longest backoff.
pub const BACKOFF_MAX: Duration = Duration::from_millis(12);
/// [`Advance::BelowTtl`]: 0.4 of the TTL. Sums of this step and [`ADVANCE_PAST_TTL`] never
/// come within a tenth of the TTL of the TTL itself, so the milliseconds that handler
/// timeouts and backoffs add to a run can never decide whether a key is live.
pub const ADVANCE_BELOW_TTL: Duration = Duration::from_secs(240);
/// [`Advance::PastTtl`]: 1.5 times the TTL.
pub const ADVANCE_PAST_TTL: Duration = Duration::from_secs(900);
/// The deadline given to `shutdown`, far beyond any drain of a run.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(3_600);
/// The topic every subscriber and publish of a run uses.
pub const TOPIC: &str = "orders";

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Op {
    /// Subscribe slot `slot` in `mode` with a queue of `queue_capacity`.
    Subscribe {
        /// The slot, folded into `0..SLOTS`.
        slot: u8,
        /// The delivery mode.
        mode: Mode,
        /// The queue capacity, folded into `1..=QUEUE_CAPACITY_MAX`.
        queue_capacity: u8,
    },
    /// Unsubscribe slot `slot` while the bus is idle.
    Unsubscribe {
        /// The slot, folded into `0..SLOTS`.
        slot: u8,
    },
    /// Publish every event of `publishes` without yielding (so queues can overflow), then do
    /// `then`.
    Burst {
        /// The events, cut to `BURST_LEN_MAX`.
        publishes: Vec<Publish>,
        /// What follows the burst before the bus is let run.
        then: Then,
    },
    /// Move tokio's paused clock, and with it the gate's TTL clock.
    Advance(Advance),
}

/// A subscriber's delivery mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Mode {
    /// No gate.
    Ungated,
    /// Claim, run once, complete whatever the outcome.
    AtMostOnce,
    /// Claim as a lease, release and retry on failure.
    AtLeastOnce,
}

/// One publish of a burst.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Publish {
    /// A fresh key whose handler runs follow `script`, cyclically.
    New {
        /// Cut to `SCRIPT_LEN_MAX`; empty means always `Ok`.
        script: Vec<Behaviour>,
    },
    /// An earlier key again, with its first payload (a new key when there is none yet).
    Duplicate {
        /// Which earlier key, modulo their number.
        pick: u8,
    },
    /// An earlier key with a payload never sent before (a new key when there is none yet).
    Conflict {
        /// Which earlier key, modulo their number.
        pick: u8,
    },
}

/// What follows a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Then {
    /// Let the bus run until idle.
    Idle,
    /// Unsubscribe a slot at once, while its queue still holds the burst, then run to idle.
    Unsubscribe {
        /// The slot, folded into `0..SLOTS`.
        slot: u8,
    },
    /// Shut the bus down (it drains first: the deadline is far).
    Shutdown,
}

/// A clock step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Advance {
    /// [`ADVANCE_BELOW_TTL`].
    BelowTtl,
    /// [`ADVANCE_PAST_TTL`].
    PastTtl,
}

impl Advance {
    /// The step.
    pub fn duration(self) -> Duration {
        match self {
            Self::BelowTtl => ADVANCE_BELOW_TTL,
            Self::PastTtl => ADVANCE_PAST_TTL,
        }
    }
}

/// What a handler run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Behaviour {
    /// Returns `Ok`.
    Ok,
    /// Returns an error.
    Error,
    /// Panics.
    Panic,
    /// Never finishes, so the bus times it out.
    Timeout,
}

impl Op {
    /// The same operation with every number folded into its range and every list cut.
    pub fn normalised(&self) -> Op {
        match self {
            Op::Subscribe {
                slot,
                mode,
                queue_capacity,
            } => Op::Subscribe {
                slot: slot % SLOTS,
                mode: *mode,
                queue_capacity: 1 + queue_capacity % QUEUE_CAPACITY_MAX,
            },
            Op::Unsubscribe { slot } => Op::Unsubscribe { slot: slot % SLOTS },
            Op::Burst { publishes, then } => Op::Burst {
                publishes: publishes
                    .iter()
                    .take(BURST_LEN_MAX)
                    .map(Publish::normalised)
                    .collect(),
                then: match then {
                    Then::Unsubscribe { slot } => Then::Unsubscribe { slot: slot % SLOTS },
                    other => *other,
                },
            },
            Op::Advance(advance) => Op::Advance(*advance),
        }
    }
}

impl Publish {
    fn normalised(&self) -> Publish {
        match self {
            Publish::New { script } => Publish::New {
                script: script.iter().take(SCRIPT_LEN_MAX).copied().collect(),
            },
            other => other.clone(),
        }
    }
}

/// The name of slot `slot`.
pub fn slot_name(slot: u8) -> String {
    format!("s{slot}")
}

/// A concrete event of a run: key, payload and the key's handler script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The idempotency key.
    pub key: String,
    /// The JSON payload.
    pub payload: String,
    /// The key's handler behaviours, used cyclically per (subscriber, key) run.
    pub script: Vec<Behaviour>,
}

/// Turns [`Publish`] choices into concrete events; the model and the runner each keep one.
#[derive(Debug, Default)]
pub struct Keys {
    keys: Vec<KeyState>,
}

#[derive(Debug)]
struct KeyState {
    script: Vec<Behaviour>,
    payloads_sent: u32,
}

impl Keys {
    /// The event `publish` stands for.
    pub fn resolve(&mut self, publish: &Publish) -> Delivery {
        let count = self.keys.len();
        match publish {
            Publish::Duplicate { pick } if count > 0 => {
                self.delivery(usize::from(*pick) % count, 0)
            }
            Publish::Conflict { pick } if count > 0 => {
                let index = usize::from(*pick) % count;
                let version = self.keys[index].payloads_sent;
                self.keys[index].payloads_sent += 1;
                self.delivery(index, version)
            }
            Publish::New { script } => self.fresh(script.clone()),
            _ => self.fresh(Vec::new()),
        }
    }

    fn fresh(&mut self, mut script: Vec<Behaviour>) -> Delivery {
        if script.is_empty() {
            script.push(Behaviour::Ok);
        }
        self.keys.push(KeyState {
            script,
            payloads_sent: 1,
        });
        self.delivery(self.keys.len() - 1, 0)
    }

    fn delivery(&self, index: usize, version: u32) -> Delivery {
        Delivery {
            key: format!("order:{index}"),
            payload: format!("{{\"order\":{index},\"version\":{version}}}"),
            script: self.keys[index].script.clone(),
        }
    }
}
