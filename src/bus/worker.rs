//! A subscriber's worker: takes events from its queue one at a time, passes each through the
//! gate, runs the handler, and settles the outcome (handled, suppressed, retried or
//! dead-lettered).
//!
//! One worker per subscriber, one handler run at a time, so first attempts reach a subscriber
//! in publish order and two attempts for one key never overlap in this process (across
//! processes the gate's lease keeps them apart). An at-least-once event waiting out its
//! backoff sits in the worker's retry set, not in the queue, so it does not hold up other
//! keys; the retry set is bounded by the queue capacity, and while it is full the worker
//! takes no new events, so the queue fills and overflows are recorded rather than memory
//! growing.
//!
//! When the gate store cannot be reached, the subscriber's [`StorePolicy`] decides: by
//! default the event fails closed (dead-lettered as `store-unavailable` in at-most-once mode,
//! retried within the attempt budget in at-least-once mode); failing open runs it ungated.
//!
//! When told to stop (unsubscribe, shutdown), the worker cancels the running handler,
//! dead-letters it, everything waiting for a retry and everything still queued, with the
//! stop's reason, and returns how many it dead-lettered.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use tokio::time::Instant;
use tracing::Instrument;

use super::attempt::{self, AttemptOutcome, AttemptRecord};
use super::config::{DeliveryMode, StorePolicy};
use super::core::Core;
use super::counters::Counters;
use super::dead_letter::DeadLetterReason;
use super::observer::Observation;
use super::recycler::Spares;
use super::runner::Runner;
use super::subscriber::Subscriber;
use crate::event::Event;
use crate::gate::{ClaimOutcome, ClaimToken, StoreError};

/// An event on its way through the worker, with the attempts made so far.
struct Work {
    event: Event,
    attempts: Vec<AttemptRecord>,
}

impl Work {
    fn next_attempt(&self) -> u32 {
        u32::try_from(self.attempts.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }
}

/// Events waiting out a backoff, in due order (ties in scheduling order).
#[derive(Default)]
struct Retries {
    due: BTreeMap<(Instant, u64), Work>,
    scheduled: u64,
}

impl Retries {
    fn schedule(&mut self, at: Instant, work: Work) {
        self.scheduled += 1;
        self.due.insert((at, self.scheduled), work);
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.keys().next().map(|(at, _)| *at)
    }

    fn take_first(&mut self) -> Option<Work> {
        self.due.pop_first().map(|(_, work)| work)
    }
}

/// The worker's state between events.
pub(crate) struct Worker<R> {
    subscriber: Arc<Subscriber>,
    /// Starts the handler (see `bus::runner`).
    runner: R,
    core: Arc<Core>,
    retries: Retries,
    /// Events taken from the queue in one batch, not yet started (see `bus::queue`).
    batch: VecDeque<Event>,
    /// Handled events whose finish is recorded with the next take from the queue, under the
    /// same lock, rather than one lock each.
    finishes_owed: usize,
    /// Allocations of handled events, handed back to the bus a batch at a time.
    spares: Spares,
    /// How often the worker looks again at its empty queue before parking (see
    /// `queue::idle_yields`).
    idle_yields: usize,
}

/// What the gate decided about one event.
enum Admission {
    /// The key is claimed with this token: run the handler. `started` is the clock reading
    /// the claim was made at, when the store took the worker's own (see `Worker::claim`).
    Claimed {
        token: ClaimToken,
        started: Option<Instant>,
    },
    /// The store is away and the subscriber fails open: run the handler without the gate.
    FailOpen,
    /// The event was settled without running (duplicate, dead letter or scheduled retry).
    Settled,
}

/// How processing one event ended for the worker loop.
enum Step {
    /// Settled and marked finished.
    Done,
    /// Handled successfully; its finish is left to the loop, which records it together with
    /// the next take from the queue (see [`Worker::finishes_owed`]).
    Handled,
    Stopped(DeadLetterReason),
}

impl<R: Runner> Worker<R> {
    pub(crate) fn new(
        subscriber: Arc<Subscriber>,
        core: Arc<Core>,
        runner: R,
        idle_yields: usize,
    ) -> Self {
        Self {
            idle_yields,
            subscriber,
            runner,
            core,
            retries: Retries::default(),
            batch: VecDeque::new(),
            finishes_owed: 0,
            spares: Spares::default(),
        }
    }

    /// Runs until stopped; returns how many events it dead-lettered on the way out.
    pub(crate) async fn run(mut self) -> usize {
        tracing::debug!(
            target: "eventgate::bus",
            subscriber = %self.subscriber.name,
            "worker started"
        );
        loop {
            let next = match self.ready_work() {
                Some(work) => Some(work),
                None => {
                    let subscriber = self.subscriber.clone();
                    tokio::select! {
                        biased;
                        reason = subscriber.stop.stopped() => return self.drain(reason),
                        work = self.next_work() => work,
                    }
                }
            };
            let Some(work) = next else {
                let reason = self
                    .subscriber
                    .stop
                    .reason()
                    .unwrap_or(DeadLetterReason::Shutdown);
                return self.drain(reason);
            };
            match self.process(work).await {
                Step::Done => {}
                Step::Handled => self.finishes_owed += 1,
                // The event that was running has been dead-lettered by its settle step.
                Step::Stopped(reason) => return 1 + self.drain(reason),
            }
        }
    }

    /// A queued event, when one waits and nothing else can come first: the worker is not told
    /// to stop and no retry is pending. What the select below would pick in that case, without
    /// registering a waiter on the stop signal for every event. Takes the next batch when the
    /// last is used up, recording the finishes owed under the same queue lock.
    fn ready_work(&mut self) -> Option<Work> {
        if self.subscriber.stop.reason().is_some() || !self.retries.due.is_empty() {
            self.settle_finishes();
            return None;
        }
        if self.batch.is_empty() {
            let finished = std::mem::take(&mut self.finishes_owed);
            if self.subscriber.queue.take_batch(finished, &mut self.batch) {
                self.core.idle.notify_waiters();
            }
        }
        start_next(&self.subscriber, &mut self.batch).map(first)
    }

    /// Records the finishes owed now.
    fn settle_finishes(&mut self) {
        let finished = std::mem::take(&mut self.finishes_owed);
        self.core.finish_many(&self.subscriber, finished);
    }

    /// The next due retry or, while the retry set has room, the next queued event.
    async fn next_work(&mut self) -> Option<Work> {
        let room = self.retries.due.len() < self.subscriber.queue.capacity();
        let (subscriber, batch, yields) = (&self.subscriber, &mut self.batch, self.idle_yields);
        match self.retries.next_due() {
            Some(due) => {
                tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(due) => self.retries.take_first(),
                    event = next_queued(subscriber, batch, yields), if room => Some(first(event?)),
                }
            }
            None => Some(first(next_queued(subscriber, batch, yields).await?)),
        }
    }

    async fn process(&mut self, work: Work) -> Step {
        let span = tracing::debug_span!(
            target: "eventgate::bus",
            "deliver",
            event_id = %work.event.id(),
            subscriber = %self.subscriber.name,
            key = work.event.key(),
        );
        // With nothing listening at debug level the span is disabled: entering and leaving it
        // on every poll would be work for nobody.
        if span.is_disabled() {
            return self.deliver(work).await;
        }
        self.deliver(work).instrument(span).await
    }

    async fn deliver(&mut self, work: Work) -> Step {
        match self.subscriber.config.mode {
            DeliveryMode::Ungated => self.run_ungated(work).await,
            DeliveryMode::AtMostOnce | DeliveryMode::AtLeastOnce => self.run_gated(work).await,
        }
    }

    async fn run_ungated(&mut self, mut work: Work) -> Step {
        let outcome = self.attempt(&mut work, None).await;
        self.settle_without_gate(work, outcome)
    }

    async fn run_gated(&mut self, mut work: Work) -> Step {
        let (token, started) = match self.claim(&mut work).await {
            Admission::Claimed { token, started } => (token, started),
            Admission::FailOpen => return self.run_fail_open(work).await,
            Admission::Settled => return Step::Done,
        };
        let outcome = self.attempt(&mut work, started).await;
        match self.subscriber.config.mode {
            DeliveryMode::AtLeastOnce => self.settle_at_least_once(work, token, outcome).await,
            _ => self.settle_at_most_once(work, token, outcome).await,
        }
    }

    /// Runs the handler without the gate: the store is away and the subscriber fails open.
    /// A failure is retried in at-least-once mode (the retry tries the gate again).
    async fn run_fail_open(&mut self, mut work: Work) -> Step {
        let outcome = self.attempt(&mut work, None).await;
        let failed = !outcome.is_success() && !matches!(outcome, AttemptOutcome::Cancelled { .. });
        let at_least_once = self.subscriber.config.mode == DeliveryMode::AtLeastOnce;
        if failed && at_least_once && self.may_retry(&work) {
            self.schedule_retry(work);
            return Step::Done;
        }
        self.settle_without_gate(work, outcome)
    }

    /// Claims the event's key, or settles the event without running it.
    async fn claim(&mut self, work: &mut Work) -> Admission {
        let (sub, event) = (&self.subscriber, &work.event);
        let lease = sub.config.lease;
        let (name, key, fingerprint) = (&*sub.name, event.key(), event.fingerprint());
        // A store that answers in place takes the worker's clock reading, which then also
        // starts the handler's timeout: one reading instead of two. A store that waits (on a
        // network) is read after its answer, so its round trip is not counted as handler time.
        let (claim, started) = match sub.store.immediate() {
            Some(store) => {
                let now = Instant::now();
                let claim = store.claim_now_at(name, key, fingerprint, lease, now);
                (claim, Some(now))
            }
            None => (sub.store.claim(name, key, fingerprint, lease).await, None),
        };
        match claim {
            Ok(ClaimOutcome::Claimed(token)) => {
                self.core.observe(Observation::Claimed {
                    event,
                    subscriber: &sub.name,
                    lease,
                });
                return Admission::Claimed { token, started };
            }
            Ok(ClaimOutcome::Duplicate(holder)) => {
                Counters::bump(&sub.counters.suppressed);
                self.core.observe(Observation::Suppressed {
                    event,
                    subscriber: &sub.name,
                    holder,
                });
                tracing::debug!(
                    target: "eventgate::bus",
                    state = ?holder.state,
                    "suppressed duplicate"
                );
                self.core.finish(sub);
            }
            Ok(ClaimOutcome::Conflict(_)) => self.dead_letter_now(work, DeadLetterReason::Conflict),
            Err(StoreError::Full { .. }) => self.dead_letter_now(work, DeadLetterReason::StoreFull),
            Err(error) => return self.store_unavailable(work, error),
        }
        Admission::Settled
    }

    /// Applies the subscriber's [`StorePolicy`] to an event whose claim could not be made.
    fn store_unavailable(&mut self, work: &mut Work, error: StoreError) -> Admission {
        if self.subscriber.config.on_store_unavailable == StorePolicy::FailOpen {
            let subscriber = &*self.subscriber.name;
            tracing::warn!(
                target: "eventgate::bus",
                subscriber,
                %error,
                "gate store unavailable; running ungated"
            );
            return Admission::FailOpen;
        }
        let outcome = AttemptOutcome::StoreUnavailable {
            reason: error.to_string(),
        };
        work.attempts
            .push(self.record(work.next_attempt(), outcome));
        let mode = self.subscriber.config.mode;
        if mode == DeliveryMode::AtLeastOnce && self.may_retry(work) {
            let taken = std::mem::take(&mut work.attempts);
            self.schedule_retry(Work {
                event: work.event.clone(),
                attempts: taken,
            });
        } else {
            self.dead_letter_now(work, DeadLetterReason::StoreUnavailable);
        }
        Admission::Settled
    }

    /// Runs one handler attempt and records it; `started` is a clock reading already taken
    /// for it (by the claim), if any.
    async fn attempt(&mut self, work: &mut Work, started: Option<Instant>) -> AttemptOutcome {
        let (sub, event) = (&self.subscriber, &work.event);
        let attempt = work.next_attempt();
        // One clock reading serves the timeout and, for a kept attempt, its start time. A
        // gated run has it before the handler is called (from its claim, or read here), so
        // the handler's first poll counts against its timeout and the run never outlasts its
        // lease (which is longer); an ungated run reads it only if the handler is still
        // pending after its first poll.
        let gated = sub.config.mode != DeliveryMode::Ungated;
        let started = started.or_else(|| gated.then(Instant::now));
        self.core.observe(Observation::HandlerStarted {
            event,
            subscriber: &sub.name,
            attempt,
        });
        let timeout = sub.config.handler_timeout;
        let start = || self.runner.start(event.clone());
        let ran = attempt::run(start, timeout, started, &sub.stop).await;
        let outcome = ran.outcome;
        let ended = Observation::HandlerEnded {
            event,
            subscriber: &sub.name,
            attempt,
            outcome: &outcome,
        };
        self.core.observe(ended);
        tracing::debug!(
            target: "eventgate::bus",
            attempt,
            outcome = outcome.label(),
            "handler ended"
        );
        if outcome.is_success() {
            // A success settles the event, and a settled event's attempts are never read:
            // keeping them would cost an allocation per event for nothing.
            return outcome;
        }
        if !matches!(outcome, AttemptOutcome::Cancelled { .. }) {
            Counters::bump(&sub.counters.failed);
        }
        work.attempts.push(AttemptRecord {
            attempt,
            outcome: outcome.clone(),
            started_at_unix_ms: match ran.started {
                Some(started) => self.unix_ms_at(started),
                None => self.core.clock.unix_now_ms(),
            },
        });
        outcome
    }

    fn settle_without_gate(&mut self, work: Work, outcome: AttemptOutcome) -> Step {
        match outcome {
            AttemptOutcome::Succeeded => return self.handled(work),
            AttemptOutcome::Cancelled { reason } => {
                self.dead_letter_now(&work, reason);
                return Step::Stopped(reason);
            }
            _ => self.dead_letter_now(&work, DeadLetterReason::AttemptsExhausted),
        }
        Step::Done
    }

    async fn settle_at_most_once(
        &mut self,
        work: Work,
        token: ClaimToken,
        outcome: AttemptOutcome,
    ) -> Step {
        #[cfg(feature = "mutants")]
        if outcome.is_success()
            && self
                .core
                .mutants
                .is_on(crate::mutants::Mutant::ReleaseOnSuccess)
        {
            self.release(&work, token).await;
            return self.handled(work);
        }
        self.complete(&work, token).await;
        self.settle_without_gate(work, outcome)
    }

    async fn settle_at_least_once(
        &mut self,
        work: Work,
        token: ClaimToken,
        outcome: AttemptOutcome,
    ) -> Step {
        match outcome {
            AttemptOutcome::Succeeded => {
                self.complete(&work, token).await;
                return self.handled(work);
            }
            AttemptOutcome::Cancelled { reason } => {
                self.release(&work, token).await;
                self.dead_letter_now(&work, reason);
                return Step::Stopped(reason);
            }
            _ => {
                self.release(&work, token).await;
                if self.may_retry(&work) {
                    self.schedule_retry(work);
                } else {
                    self.dead_letter_now(&work, DeadLetterReason::AttemptsExhausted);
                }
            }
        }
        Step::Done
    }

    fn may_retry(&self, work: &Work) -> bool {
        let made = work.attempts.len();
        let allowed = self.subscriber.config.attempts_max as usize;
        #[cfg(feature = "mutants")]
        if self
            .core
            .mutants
            .is_on(crate::mutants::Mutant::RetryPastBound)
        {
            return made <= allowed;
        }
        made < allowed
    }

    fn schedule_retry(&mut self, work: Work) {
        let attempt = work.next_attempt();
        let after = self.subscriber.config.backoff_before(attempt);
        let subscriber = &self.subscriber.name;
        Counters::bump(&self.subscriber.counters.retried);
        let event = &work.event;
        self.core.observe(Observation::RetryScheduled {
            event,
            subscriber,
            attempt,
            after,
        });
        tracing::debug!(
            target: "eventgate::bus",
            attempt,
            after_ms = after.as_millis() as u64,
            "retry scheduled"
        );
        let due = self.core.clock.now() + after;
        self.retries.schedule(due, work);
    }

    async fn complete(&self, work: &Work, token: ClaimToken) {
        let (sub, event) = (&self.subscriber, &work.event);
        let ttl = sub.config.ttl;
        let completed = match sub.store.immediate() {
            Some(store) => store.complete_now(&sub.name, event.key(), token, ttl),
            None => sub.store.complete(&sub.name, event.key(), token, ttl).await,
        };
        match completed {
            Ok(()) => self.core.observe(Observation::Completed {
                event,
                subscriber: &sub.name,
                ttl,
            }),
            Err(error) => tracing::warn!(
                target: "eventgate::bus",
                %error,
                "could not mark the key completed; a duplicate may run once the lease ends"
            ),
        }
    }

    async fn release(&self, work: &Work, token: ClaimToken) {
        let (sub, event) = (&self.subscriber, &work.event);
        let released = match sub.store.immediate() {
            Some(store) => store.release_now(&sub.name, event.key(), token),
            None => sub.store.release(&sub.name, event.key(), token).await,
        };
        match released {
            Ok(()) => self.core.observe(Observation::Released {
                event,
                subscriber: &sub.name,
            }),
            Err(error) => {
                tracing::warn!(target: "eventgate::bus", %error, "could not release the key")
            }
        }
    }

    /// Counts a success and hands the event's allocation back for reuse; the loop records its
    /// finish (see [`Step::Handled`]).
    fn handled(&mut self, work: Work) -> Step {
        Counters::bump(&self.subscriber.counters.handled);
        self.spares.keep(work.event, &self.core.recycler);
        Step::Handled
    }

    fn dead_letter_now(&self, work: &Work, reason: DeadLetterReason) {
        let attempts = work.attempts.clone();
        self.core
            .dead_letter(&self.subscriber, &work.event, reason, attempts);
        self.core.finish(&self.subscriber);
    }

    /// The bus clock's unix time at `started` (an earlier tokio instant), in milliseconds:
    /// counted back from now, so that an attempt whose record is never kept (a success) reads
    /// the unix clock not at all.
    fn unix_ms_at(&self, started: Instant) -> u64 {
        let unix = self.core.clock.unix_now().saturating_sub(started.elapsed());
        u64::try_from(unix.as_millis()).unwrap_or(u64::MAX)
    }

    fn record(&self, attempt: u32, outcome: AttemptOutcome) -> AttemptRecord {
        AttemptRecord {
            attempt,
            outcome,
            started_at_unix_ms: self.core.clock.unix_now_ms(),
        }
    }

    /// Dead-letters everything the worker still holds or that waits in its queue.
    fn drain(mut self, reason: DeadLetterReason) -> usize {
        self.settle_finishes();
        let mut count = 0;
        while let Some(work) = self.retries.take_first() {
            self.dead_letter_now(&work, reason);
            count += 1;
        }
        while let Some(event) = start_next(&self.subscriber, &mut self.batch) {
            self.dead_letter_now(&first(event), reason);
            count += 1;
        }
        for event in self.subscriber.queue.close() {
            self.dead_letter_now(&first(event), reason);
            count += 1;
        }
        tracing::info!(
            target: "eventgate::bus",
            subscriber = %self.subscriber.name,
            %reason,
            dead_lettered = count,
            "worker stopped"
        );
        count
    }
}

/// Starts the next event of `batch`, if any: it no longer counts as waiting in the queue.
fn start_next(subscriber: &Subscriber, batch: &mut VecDeque<Event>) -> Option<Event> {
    let event = batch.pop_front()?;
    subscriber.queue.start_one();
    Some(event)
}

/// The next queued event: from `batch`, or from a new batch once an event waits (looking
/// again `idle_yields` times before parking); `None` once the queue is closed and empty.
async fn next_queued(
    subscriber: &Subscriber,
    batch: &mut VecDeque<Event>,
    idle_yields: usize,
) -> Option<Event> {
    if batch.is_empty() {
        subscriber.queue.wait_batch(batch, idle_yields).await;
    }
    start_next(subscriber, batch)
}

fn first(event: Event) -> Work {
    Work {
        event,
        attempts: Vec::new(),
    }
}
