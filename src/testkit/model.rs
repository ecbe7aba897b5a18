//! The reference model: what the bus and gate must do, written as plainly as possible.
//!
//! The model knows nothing of tasks, locks or notifies. Between steps the bus is quiescent,
//! so a step is: publishes land on queues (or overflow) in order, then each subscriber's
//! worker drains its queue on its own timeline. A worker's timeline is its own because under
//! paused tokio time a worker waits only on its own timers (a handler timeout, a retry
//! backoff); other workers take no virtual time. The run's clock afterwards is the latest
//! timeline's end, where tokio's auto-advance left it.
//!
//! The worker rules modelled are those of `bus/worker.rs`: a due retry goes before the queue;
//! while the retry set is as large as the queue capacity no queued event is taken; ungated
//! and at-most-once failures are dead-lettered at once, at-least-once failures release the
//! key and retry after `BACKOFF_INITIAL * 2^(attempt - 2)` (capped) until `ATTEMPTS_MAX`.

use std::collections::{BTreeMap, VecDeque};

use super::op::{self, Behaviour, Delivery, Mode};
use crate::bus::{CounterSnapshot, DeadLetterReason};

/// Time in the model: milliseconds since the run began.
type Millis = u64;

fn ms(duration: std::time::Duration) -> Millis {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One dead letter as the model and the comparison see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeadLetterView {
    /// The subscriber.
    pub subscriber: String,
    /// The event's key.
    pub key: String,
    /// The event's payload.
    pub payload: String,
    /// Why.
    pub reason: DeadLetterReason,
}

/// Why the model refuses a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeRefusal {
    /// The slot is taken.
    Duplicate,
    /// The bus has shut down.
    ShutDown,
}

/// The reference model; see the module docs.
#[derive(Debug, Default)]
pub struct Model {
    now: Millis,
    closed: bool,
    subscribers: BTreeMap<String, Sub>,
    shared: Shared,
}

#[derive(Debug)]
struct Sub {
    mode: Mode,
    capacity: usize,
    queue: VecDeque<Delivery>,
    counters: CounterSnapshot,
}

/// Gate records, handler runs and dead letters, which outlive a subscription.
#[derive(Debug, Default)]
struct Shared {
    /// (subscriber, key) to (payload, live until).
    gate: BTreeMap<(String, String), (String, Millis)>,
    runs: BTreeMap<(String, String), u32>,
    dead_letters: Vec<DeadLetterView>,
}

/// An event in a worker: the delivery and the attempts made so far.
struct Work {
    delivery: Delivery,
    attempts: u32,
}

impl Model {
    /// An empty bus at time zero.
    pub fn new() -> Self {
        Self {
            now: 0,
            closed: false,
            subscribers: BTreeMap::new(),
            shared: Shared::default(),
        }
    }

    /// Milliseconds since the run began.
    pub fn now_ms(&self) -> Millis {
        self.now
    }

    /// The subscribers, by name, with their counters.
    pub fn counters(&self) -> BTreeMap<String, CounterSnapshot> {
        self.subscribers
            .iter()
            .map(|(name, sub)| (name.clone(), sub.counters))
            .collect()
    }

    /// Every dead letter so far, sorted.
    pub fn dead_letters(&self) -> Vec<DeadLetterView> {
        let mut letters = self.shared.dead_letters.clone();
        letters.sort();
        letters
    }

    /// Handler runs per (subscriber, key).
    pub fn runs(&self) -> &BTreeMap<(String, String), u32> {
        &self.shared.runs
    }

    /// Subscribes `name`.
    pub fn subscribe(
        &mut self,
        name: &str,
        mode: Mode,
        capacity: usize,
    ) -> Result<(), SubscribeRefusal> {
        if self.closed {
            return Err(SubscribeRefusal::ShutDown);
        }
        if self.subscribers.contains_key(name) {
            return Err(SubscribeRefusal::Duplicate);
        }
        let sub = Sub {
            mode,
            capacity,
            queue: VecDeque::new(),
            counters: CounterSnapshot::default(),
        };
        self.subscribers.insert(name.to_owned(), sub);
        Ok(())
    }

    /// Unsubscribes `name`; what it had queued is dead-lettered. `None` for an unknown name.
    pub fn unsubscribe(&mut self, name: &str) -> Option<usize> {
        let sub = self.subscribers.remove(name)?;
        let count = sub.queue.len();
        for delivery in sub.queue {
            self.shared
                .dead_letter(name, &delivery, DeadLetterReason::Unsubscribed);
        }
        Some(count)
    }

    /// Publishes `delivery`: `(queued, overflowed)`, or `None` once shut down.
    pub fn publish(&mut self, delivery: &Delivery) -> Option<(usize, usize)> {
        if self.closed {
            return None;
        }
        let (mut queued, mut overflowed) = (0, 0);
        for (name, sub) in &mut self.subscribers {
            if sub.queue.len() < sub.capacity {
                sub.queue.push_back(delivery.clone());
                sub.counters.enqueued += 1;
                queued += 1;
            } else {
                sub.counters.dead_lettered += 1;
                sub.counters.overflowed += 1;
                self.shared
                    .dead_letter(name, delivery, DeadLetterReason::Overflow);
                overflowed += 1;
            }
        }
        Some((queued, overflowed))
    }

    /// Moves the clock.
    pub fn advance(&mut self, by: std::time::Duration) {
        self.now += ms(by);
    }

    /// Lets every worker drain its queue; the clock ends at the latest timeline's end.
    pub fn run_to_idle(&mut self) {
        let start = self.now;
        let mut end = start;
        for (name, sub) in &mut self.subscribers {
            let worker = WorkerModel {
                name,
                sub,
                shared: &mut self.shared,
            };
            end = end.max(worker.drain(start));
        }
        self.now = end;
    }

    /// Shuts down: drain, then remove everyone. Returns the undelivered count per subscriber.
    pub fn shutdown(&mut self) -> BTreeMap<String, usize> {
        self.closed = true;
        self.run_to_idle();
        let names = std::mem::take(&mut self.subscribers).into_keys();
        names.map(|name| (name, 0)).collect()
    }
}

impl Shared {
    fn dead_letter(&mut self, subscriber: &str, delivery: &Delivery, reason: DeadLetterReason) {
        self.dead_letters.push(DeadLetterView {
            subscriber: subscriber.to_owned(),
            key: delivery.key.clone(),
            payload: delivery.payload.clone(),
            reason,
        });
    }

    /// Runs the handler once; returns whether it succeeded and how long it took.
    fn run(&mut self, subscriber: &str, delivery: &Delivery) -> (bool, Millis) {
        let runs = self
            .runs
            .entry((subscriber.to_owned(), delivery.key.clone()))
            .or_default();
        let behaviour = delivery.script[*runs as usize % delivery.script.len()];
        *runs += 1;
        match behaviour {
            Behaviour::Ok => (true, 0),
            Behaviour::Error | Behaviour::Panic => (false, 0),
            Behaviour::Timeout => (false, ms(op::HANDLER_TIMEOUT)),
        }
    }
}

/// What a gate claim found.
enum Claim {
    Free,
    Duplicate,
    Conflict,
}

/// One subscriber's worker during one drain.
struct WorkerModel<'a> {
    name: &'a str,
    sub: &'a mut Sub,
    shared: &'a mut Shared,
}

impl WorkerModel<'_> {
    /// Drains from `start`; returns the timeline's end.
    fn drain(mut self, start: Millis) -> Millis {
        let mut now = start;
        let mut retries: BTreeMap<(Millis, u64), Work> = BTreeMap::new();
        let mut scheduled = 0u64;
        loop {
            let room = retries.len() < self.sub.capacity;
            let work = match retries.first_key_value().map(|(&(due, _), _)| due) {
                Some(due) if due <= now => retries.pop_first().map(|(_, w)| w),
                Some(due) => match self.sub.queue.pop_front().filter(|_| room) {
                    Some(delivery) => Some(Work {
                        delivery,
                        attempts: 0,
                    }),
                    None => {
                        now = due;
                        retries.pop_first().map(|(_, w)| w)
                    }
                },
                None => self.sub.queue.pop_front().map(|delivery| Work {
                    delivery,
                    attempts: 0,
                }),
            };
            let Some(work) = work else { return now };
            if let Some((due, work)) = self.process(work, &mut now) {
                scheduled += 1;
                retries.insert((due, scheduled), work);
            }
        }
    }

    /// Handles one event at `now`; returns a retry to schedule, if any.
    fn process(&mut self, mut work: Work, now: &mut Millis) -> Option<(Millis, Work)> {
        if self.sub.mode != Mode::Ungated {
            match self.claim(&work.delivery, *now) {
                Claim::Free => {}
                Claim::Duplicate => {
                    self.sub.counters.suppressed += 1;
                    return None;
                }
                Claim::Conflict => {
                    self.dead_letter(&work.delivery, DeadLetterReason::Conflict);
                    return None;
                }
            }
        }
        let (ok, took) = self.shared.run(self.name, &work.delivery);
        *now += took;
        work.attempts += 1;
        if ok {
            self.sub.counters.handled += 1;
        } else {
            self.sub.counters.failed += 1;
        }
        match self.sub.mode {
            Mode::Ungated => {}
            Mode::AtMostOnce => self.complete(&work.delivery, *now),
            Mode::AtLeastOnce if ok => self.complete(&work.delivery, *now),
            Mode::AtLeastOnce => {
                self.shared.gate.remove(&self.gate_key(&work.delivery));
                if work.attempts < op::ATTEMPTS_MAX {
                    self.sub.counters.retried += 1;
                    return Some((*now + backoff_before(work.attempts + 1), work));
                }
            }
        }
        if !ok {
            self.dead_letter(&work.delivery, DeadLetterReason::AttemptsExhausted);
        }
        None
    }

    fn gate_key(&self, delivery: &Delivery) -> (String, String) {
        (self.name.to_owned(), delivery.key.clone())
    }

    fn claim(&mut self, delivery: &Delivery, now: Millis) -> Claim {
        let key = self.gate_key(delivery);
        match self.shared.gate.get(&key) {
            Some((payload, until)) if now < *until && *payload == delivery.payload => {
                Claim::Duplicate
            }
            Some((_, until)) if now < *until => Claim::Conflict,
            _ => {
                let lease_until = now + ms(op::LEASE);
                self.shared
                    .gate
                    .insert(key, (delivery.payload.clone(), lease_until));
                Claim::Free
            }
        }
    }

    fn complete(&mut self, delivery: &Delivery, now: Millis) {
        let until = now + ms(op::TTL);
        self.shared
            .gate
            .insert(self.gate_key(delivery), (delivery.payload.clone(), until));
    }

    fn dead_letter(&mut self, delivery: &Delivery, reason: DeadLetterReason) {
        self.sub.counters.dead_lettered += 1;
        if reason == DeadLetterReason::Conflict {
            self.sub.counters.conflicts += 1;
        }
        self.shared.dead_letter(self.name, delivery, reason);
    }
}

/// The backoff before attempt `next_attempt` (2 or more), as the bus computes it.
fn backoff_before(next_attempt: u32) -> Millis {
    let doublings = next_attempt.saturating_sub(2).min(31);
    (ms(op::BACKOFF_INITIAL) << doublings).min(ms(op::BACKOFF_MAX))
}
