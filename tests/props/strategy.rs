//! Generators of operation sequences, weighted towards what makes runs interesting: bursts
//! that overflow small queues, keys that fail and retry, duplicates and conflicts of earlier
//! keys. Shrinking removes operations and simplifies each towards `Ok` handlers and idle
//! bursts.

use eventgate::testkit::{Advance, Behaviour, Mode, Op, Publish, Then, op};
use proptest::collection::vec;
use proptest::prelude::*;

/// The longest generated sequence.
const OPS_LEN_MAX: usize = 24;

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        4 => Just(Behaviour::Ok),
        2 => Just(Behaviour::Error),
        1 => Just(Behaviour::Panic),
        1 => Just(Behaviour::Timeout),
    ]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Ungated),
        Just(Mode::AtMostOnce),
        Just(Mode::AtLeastOnce)
    ]
}

fn publish() -> impl Strategy<Value = Publish> {
    prop_oneof![
        3 => vec(behaviour(), 1..=op::SCRIPT_LEN_MAX).prop_map(|script| Publish::New { script }),
        2 => any::<u8>().prop_map(|pick| Publish::Duplicate { pick }),
        1 => any::<u8>().prop_map(|pick| Publish::Conflict { pick }),
    ]
}

fn then() -> impl Strategy<Value = Then> {
    prop_oneof![
        8 => Just(Then::Idle),
        2 => (0..op::SLOTS).prop_map(|slot| Then::Unsubscribe { slot }),
        1 => Just(Then::Shutdown),
    ]
}

fn one_op() -> impl Strategy<Value = Op> {
    let slot = 0..op::SLOTS;
    let capacity = 1..=op::QUEUE_CAPACITY_MAX;
    prop_oneof![
        3 => (slot.clone(), mode(), capacity)
            .prop_map(|(slot, mode, queue_capacity)| Op::Subscribe { slot, mode, queue_capacity }),
        1 => slot.prop_map(|slot| Op::Unsubscribe { slot }),
        6 => (vec(publish(), 1..=op::BURST_LEN_MAX), then())
            .prop_map(|(publishes, then)| Op::Burst { publishes, then }),
        1 => Just(Op::Advance(Advance::BelowTtl)),
        1 => Just(Op::Advance(Advance::PastTtl)),
    ]
}

/// A sequence of operations.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    vec(one_op(), 1..=OPS_LEN_MAX)
}
