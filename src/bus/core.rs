//! What the bus and all its workers share: the clock, the observer, the dead letters, the
//! idle signal and the mutant switches, with the helpers that record a step everywhere it
//! must be recorded at once (counter, observer, log, dead-letter list).

use std::sync::Arc;

use tokio::sync::Notify;

use super::attempt::AttemptRecord;
use super::counters::Counters;
use super::dead_letter::{DeadLetter, DeadLetterReason, DeadLetters};
use super::observer::{Observation, Observer};
use super::padded::Padded;
use super::recycler::Recycler;
use super::subscriber::Subscriber;
use crate::clock::Clock;
use crate::event::Event;
use crate::mutants::Mutants;
use crate::sync::{AtomicBool, Ordering};

///
/// What every publish reads (clock, observer, the closed flag) shares its cache lines with
/// nothing that is written per event; the parts publishers and workers write (dead letters,
/// spares, the idle signal) each sit on their own lines (see `bus::padded`), so a worker
/// handing back spares or signalling idle never evicts what a publish is reading.
pub(crate) struct Core {
    pub(crate) clock: Arc<dyn Clock>,
    /// `None` when nobody observes: the hot path then skips building and passing each step.
    pub(crate) observer: Option<Arc<dyn Observer>>,
    pub(crate) closed: AtomicBool,
    #[cfg_attr(not(feature = "mutants"), allow(dead_code))]
    pub(crate) mutants: Mutants,
    pub(crate) dead_letters: Padded<DeadLetters>,
    /// Spare event allocations, handed from workers back to `publish`.
    pub(crate) recycler: Padded<Recycler>,
    pub(crate) idle: Padded<Notify>,
}

impl Core {
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        observer: Option<Arc<dyn Observer>>,
        dead_letters_max: usize,
        mutants: Mutants,
    ) -> Self {
        Self {
            clock,
            observer,
            closed: AtomicBool::new(false),
            mutants,
            dead_letters: Padded(DeadLetters::new(dead_letters_max)),
            recycler: Padded(Recycler::default()),
            idle: Padded(Notify::new()),
        }
    }

    #[inline]
    pub(crate) fn observe(&self, observation: Observation<'_>) {
        if let Some(observer) = &self.observer {
            observer.observe(observation);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Records that `subscriber` will not handle `event`, for `reason`, now.
    pub(crate) fn dead_letter(
        &self,
        subscriber: &Subscriber,
        event: &Event,
        reason: DeadLetterReason,
        attempts: Vec<AttemptRecord>,
    ) {
        let at_unix_ms = self.clock.unix_now_ms();
        self.record_dead_letter(subscriber, event, reason, attempts, at_unix_ms);
    }

    /// Records that `subscriber` will not handle `event` for `reason` found while `event` was
    /// being published (a full or closed queue): the publish stamp is the time, so the
    /// overflow path reads no clock.
    pub(crate) fn dead_letter_at_publish(
        &self,
        subscriber: &Subscriber,
        event: &Event,
        reason: DeadLetterReason,
    ) {
        let at_unix_ms = event.published_at_unix_ms();
        self.record_dead_letter(subscriber, event, reason, Vec::new(), at_unix_ms);
    }

    /// Counts, observes and logs the dead letter, and keeps it when the list has room. A
    /// handle of `event` is made only for a letter the list keeps: once the list is full, a
    /// storm of overflows writes none of the events' reference counts, which the other
    /// subscribers' workers are writing at the same moment.
    fn record_dead_letter(
        &self,
        subscriber: &Subscriber,
        event: &Event,
        reason: DeadLetterReason,
        attempts: Vec<AttemptRecord>,
        at_unix_ms: u64,
    ) {
        let counters = &subscriber.counters;
        Counters::bump(match reason {
            DeadLetterReason::Overflow => &counters.overflowed,
            DeadLetterReason::Conflict => &counters.conflicts,
            _ => &counters.dead_lettered_otherwise,
        });
        self.observe(Observation::DeadLettered {
            event,
            subscriber: &subscriber.name,
            reason,
        });
        let kept = !self.dead_letters.is_full();
        tracing::warn!(
            target: "eventgate::bus",
            event_id = %event.id(),
            subscriber = %subscriber.name,
            key = event.key(),
            reason = %reason,
            attempts = attempts.len(),
            kept,
            "dead-lettered"
        );
        if !kept {
            self.dead_letters.count_dropped();
            return;
        }
        let letter = DeadLetter {
            subscriber: subscriber.name.clone(),
            event: event.clone(),
            reason,
            attempts,
            at_unix_ms,
        };
        if let Err(refused) = self.dead_letters.push(letter) {
            // Another thread filled the list since the flag was read.
            tracing::warn!(
                target: "eventgate::bus",
                event_id = %refused.event.id(),
                subscriber = %refused.subscriber,
                "dead letter not kept: the list filled meanwhile"
            );
        }
    }

    /// Marks one of `subscriber`'s taken events finished, waking idle waiters if it was the
    /// last.
    pub(crate) fn finish(&self, subscriber: &Subscriber) {
        self.finish_many(subscriber, 1);
    }

    /// Marks `finished` of `subscriber`'s taken events finished, waking idle waiters if they
    /// were the last.
    pub(crate) fn finish_many(&self, subscriber: &Subscriber, finished: usize) {
        if subscriber.queue.finish_many(finished) {
            self.idle.notify_waiters();
        }
    }
}
