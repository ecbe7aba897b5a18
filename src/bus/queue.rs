//! A subscriber's bounded queue: the enqueue-or-overflow step, and the bookkeeping that tells
//! when the subscriber is idle.
//!
//! `push` never waits: it either takes the event or hands it back as full, and the caller
//! records the overflow. The queue also counts the events its worker has taken but not yet
//! finished (the one running and those waiting out a retry backoff), all under one lock, so
//! "queue empty and nothing in the worker" is a single consistent reading.
//!
//! The worker takes events in batches: one lock acquisition ([`Queue::take_batch`]) records
//! the finishes it owes and moves every waiting event into the worker's own buffer, so the
//! publisher and the worker meet on the lock once per batch rather than once per event. The
//! events of a batch still count as waiting until the worker starts each one
//! ([`Queue::start_one`]), so the capacity bounds exactly what it bounded before: events not
//! yet started, whether in the queue or in the worker's buffer.
//!
//! The state sits behind `crate::sync`'s mutex so the loom models can race pushes, pops and
//! closes; the wake-up is tokio's `Notify`, which never blocks the pusher. A push wakes the
//! worker only once it has parked (a flag under the lock), and on a multi-thread runtime a
//! worker whose queue runs dry polls it a bounded number of times before parking
//! ([`Queue::wait_batch`]): a wake-up there means putting a parked thread back on a core,
//! which costs the publisher more than the rest of a publish.

use std::collections::VecDeque;

use tokio::sync::Notify;

use super::padded::Padded;
use crate::event::Event;
use crate::sync::{AtomicUsize, Mutex, Ordering, lock};

/// Why a push was refused. The queue made no handle of the refused event, so the caller
/// decides whether it needs one (a dead letter the list can keep) or none (a full list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The queue holds `capacity` events.
    Full,
    /// The queue was closed (its subscriber is stopping).
    Closed,
}

/// How many times a worker whose queue ran dry yields and looks again before it parks, on a
/// multi-thread runtime (see [`Queue::wait_batch`]): a few microseconds of polling, once per
/// burst, against a thread wake-up for the publisher on the burst's next event.
pub(crate) const IDLE_YIELDS_MAX: usize = 32;

/// The idle yields worth making on a runtime of `flavor`: none on a current-thread runtime
/// (simulations, single-threaded programs), where waking the worker never wakes a thread, and
/// polling again would only delay the publisher sharing its thread.
pub(crate) fn idle_yields(flavor: tokio::runtime::RuntimeFlavor) -> usize {
    match flavor {
        tokio::runtime::RuntimeFlavor::CurrentThread => 0,
        _ => IDLE_YIELDS_MAX,
    }
}

#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Events the worker has taken in a batch but not started: still waiting, so they count
    /// against the capacity. Written under the lock on a take, decremented by the worker alone
    /// as it starts each one; on its own cache lines, which a push reads only when the queue
    /// may be full (see [`Queue::has_room`]).
    taken: Padded<AtomicUsize>,
    capacity: usize,
    ready: Notify,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Event>,
    in_worker: usize,
    /// The size of the worker's last batch: an upper bound of [`Queue::taken`], which only
    /// falls until the next take.
    taken_at_most: usize,
    closed: bool,
    /// The worker found the queue empty and waits on [`Queue::ready`]: only then does a push
    /// wake it (see [`Queue::wait_batch`]).
    parked: bool,
}

impl State {
    /// Marks `finished` of the events in the worker finished.
    fn finish(&mut self, finished: usize) {
        assert!(self.in_worker >= finished, "finish without a matching take");
        self.in_worker -= finished;
    }
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "queue capacity is validated before a queue is made"
        );
        Self {
            state: Mutex::new(State::default()),
            taken: Padded(AtomicUsize::new(0)),
            capacity,
            ready: Notify::new(),
        }
    }

    /// Appends a handle of `event` unless the queue is full or closed. Never waits.
    ///
    /// The handle is made only once the event is taken: a refused event's reference count,
    /// which the other subscribers' workers are writing at that moment, is never touched, so
    /// a full queue (a hung subscriber) costs a publish no write to a contended line.
    pub(crate) fn push(&self, event: &Event) -> Result<(), PushError> {
        let parked = {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(PushError::Closed);
            }
            if !self.has_room(&state) {
                return Err(PushError::Full);
            }
            state.items.push_back(event.clone());
            debug_assert!(
                self.waiting(&state) <= self.capacity,
                "queue over its capacity"
            );
            state.parked
        };
        if parked {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// The planted bug [`crate::mutants::Mutant::QueueCheckThenPush`]: the same step as
    /// [`Queue::push`], but the check for room and the append take the lock separately, so
    /// two racing pushes can both find the last slot free.
    #[cfg(feature = "mutants")]
    pub(crate) fn push_in_two_steps(&self, event: &Event) -> Result<(), PushError> {
        {
            let state = lock(&self.state);
            if state.closed {
                return Err(PushError::Closed);
            }
            if !self.has_room(&state) {
                return Err(PushError::Full);
            }
        }
        lock(&self.state).items.push_back(event.clone());
        self.ready.notify_one();
        Ok(())
    }

    /// Takes the oldest event, counting it as in the worker until [`Queue::finish`].
    pub(crate) fn pop(&self) -> Option<Event> {
        let mut state = lock(&self.state);
        let event = state.items.pop_front()?;
        state.in_worker += 1;
        Some(event)
    }

    /// Marks `finished` taken events finished and moves every waiting event into `batch`
    /// (which must be empty), counting them as in the worker and as taken; one lock. Returns
    /// true when the finishes left the subscriber idle (nothing was waiting).
    pub(crate) fn take_batch(&self, finished: usize, batch: &mut VecDeque<Event>) -> bool {
        let mut state = lock(&self.state);
        self.take_locked(&mut state, finished, batch);
        finished > 0 && batch.is_empty() && state.in_worker == 0
    }

    /// Takes the waiting events into the empty `batch`, as [`Queue::take_batch`] does with no
    /// finishes; true when it took some or the queue is closed. One lock.
    fn try_take(&self, batch: &mut VecDeque<Event>, park: bool) -> bool {
        let mut state = lock(&self.state);
        self.take_locked(&mut state, 0, batch);
        let done = !batch.is_empty() || state.closed;
        state.parked = park && !done;
        done
    }

    fn take_locked(&self, state: &mut State, finished: usize, batch: &mut VecDeque<Event>) {
        debug_assert!(
            batch.is_empty(),
            "a batch is taken only once the last is used up"
        );
        state.finish(finished);
        std::mem::swap(&mut state.items, batch);
        state.in_worker += batch.len();
        state.taken_at_most = batch.len();
        self.taken.store(batch.len(), Ordering::Release);
    }

    /// Records that the worker started one event of its batch: it no longer waits.
    pub(crate) fn start_one(&self) {
        let before = self.taken.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "start without a taken event");
    }

    /// Waits until an event waits or the queue is closed, then takes the batch (see
    /// [`Queue::take_batch`]); `batch` stays empty only once the queue is closed and empty.
    ///
    /// A queue that has just run dry is looked at again after each of up to `idle_yields`
    /// yields to the scheduler (see [`idle_yields`]) before the worker parks: during a burst
    /// the next event usually arrives within those few polls, and finding it there spares the
    /// publisher a wake-up that would put a parked thread back on a core. Only a parked worker
    /// is woken by a push.
    pub(crate) async fn wait_batch(&self, batch: &mut VecDeque<Event>, idle_yields: usize) {
        for _ in 0..idle_yields {
            if self.try_take(batch, false) {
                return;
            }
            tokio::task::yield_now().await;
        }
        loop {
            let notified = self.ready.notified();
            if self.try_take(batch, true) {
                return;
            }
            notified.await;
        }
    }

    /// Marks `finished` taken events finished; true when the subscriber is now idle.
    pub(crate) fn finish_many(&self, finished: usize) -> bool {
        let mut state = lock(&self.state);
        state.finish(finished);
        finished > 0 && state.items.is_empty() && state.in_worker == 0
    }

    /// Events waiting: queued, or taken in a batch but not started. Read under the lock.
    fn waiting(&self, state: &State) -> usize {
        state.items.len() + self.taken.load(Ordering::Acquire)
    }

    /// True when fewer than `capacity` events wait. Checked first against the last batch's
    /// size, which bounds the taken count from above, so a queue far from full never reads
    /// the counter the worker writes on every event.
    fn has_room(&self, state: &State) -> bool {
        state.items.len() + state.taken_at_most < self.capacity
            || self.waiting(state) < self.capacity
    }

    /// Closes the queue and returns what was still waiting, each counted as in the worker.
    pub(crate) fn close(&self) -> Vec<Event> {
        let drained: Vec<Event> = {
            let mut state = lock(&self.state);
            state.closed = true;
            let drained: Vec<Event> = state.items.drain(..).collect();
            state.in_worker += drained.len();
            drained
        };
        self.ready.notify_one();
        drained
    }

    /// True when nothing waits and nothing is in the worker.
    pub(crate) fn is_idle(&self) -> bool {
        let state = lock(&self.state);
        state.items.is_empty() && state.in_worker == 0
    }

    /// How many events wait (see [`Queue::waiting`]).
    pub(crate) fn depth(&self) -> usize {
        self.waiting(&lock(&self.state))
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventIds, NewEvent};

    fn event(ids: &EventIds) -> Event {
        NewEvent::raw("topic", "key", "{}".to_owned()).into_event(ids.next_id(), 0, None)
    }

    fn fill(queue: &Queue, ids: &EventIds, count: usize) {
        for _ in 0..count {
            queue.push(&event(ids)).expect("room");
        }
    }

    #[test]
    fn events_taken_but_not_started_still_count_against_the_capacity() {
        let (queue, ids) = (Queue::new(4), EventIds::with_prefix(1));
        fill(&queue, &ids, 3);
        let mut batch = VecDeque::new();
        queue.take_batch(0, &mut batch);
        assert_eq!((batch.len(), queue.depth()), (3, 3));
        fill(&queue, &ids, 1);
        assert_eq!(queue.push(&event(&ids)), Err(PushError::Full));
        queue.start_one();
        assert_eq!(queue.depth(), 3);
        fill(&queue, &ids, 1);
        assert_eq!(queue.push(&event(&ids)), Err(PushError::Full));
    }

    #[test]
    fn a_started_batch_frees_its_room_even_before_the_next_take() {
        let (queue, ids) = (Queue::new(2), EventIds::with_prefix(1));
        fill(&queue, &ids, 2);
        let mut batch = VecDeque::new();
        queue.take_batch(0, &mut batch);
        queue.start_one();
        queue.start_one();
        fill(&queue, &ids, 2);
        assert_eq!(queue.depth(), 2);
    }

    #[test]
    fn the_subscriber_is_idle_once_every_taken_event_is_finished() {
        let (queue, ids) = (Queue::new(4), EventIds::with_prefix(1));
        fill(&queue, &ids, 2);
        let mut batch = VecDeque::new();
        assert!(!queue.take_batch(0, &mut batch));
        batch.clear();
        queue.start_one();
        queue.start_one();
        assert!(!queue.is_idle());
        assert!(queue.take_batch(2, &mut batch));
        assert!(queue.is_idle() && batch.is_empty());
    }
}
