//! A subscriber's bounded queue: the enqueue-or-overflow step, and the bookkeeping that tells
//! when the subscriber is idle.
//!
//! `push` never waits: it either takes the event or hands it back as full, and the caller
//! records the overflow. The queue also counts the events its worker has taken but not yet
//! finished (the one running and those waiting out a retry backoff), all under one lock, so
//! "queue empty and nothing in the worker" is a single consistent reading.
//!
//! The worker's step between two events, finishing the one it handled and taking the next,
//! is one lock acquisition ([`Queue::finish_and_pop`]) rather than two.
//!
//! The state sits behind `crate::sync`'s mutex so the loom models can race pushes, pops and
//! closes; the wake-up is tokio's `Notify`, which never blocks the pusher.

use std::collections::VecDeque;

use tokio::sync::Notify;

use crate::event::Event;
use crate::sync::{Mutex, lock};

/// Why a push was refused; the event comes back so the caller can dead-letter it.
#[derive(Debug)]
pub(crate) enum PushError {
    /// The queue holds `capacity` events.
    Full(Event),
    /// The queue was closed (its subscriber is stopping).
    Closed(Event),
}

/// What [`Queue::finish_and_pop`] did.
#[derive(Debug)]
pub(crate) struct Popped {
    /// The event taken, if one waited.
    pub(crate) event: Option<Event>,
    /// True when the finish left the subscriber idle.
    pub(crate) idle: bool,
}

#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    capacity: usize,
    ready: Notify,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Event>,
    in_worker: usize,
    closed: bool,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "queue capacity is validated before a queue is made"
        );
        Self {
            state: Mutex::new(State::default()),
            capacity,
            ready: Notify::new(),
        }
    }

    /// Appends `event` unless the queue is full or closed. Never waits.
    pub(crate) fn push(&self, event: Event) -> Result<(), PushError> {
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(PushError::Closed(event));
            }
            if state.items.len() >= self.capacity {
                return Err(PushError::Full(event));
            }
            state.items.push_back(event);
            debug_assert!(
                state.items.len() <= self.capacity,
                "queue over its capacity"
            );
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The planted bug [`crate::mutants::Mutant::QueueCheckThenPush`]: the same step as
    /// [`Queue::push`], but the check for room and the append take the lock separately, so
    /// two racing pushes can both find the last slot free.
    #[cfg(feature = "mutants")]
    pub(crate) fn push_in_two_steps(&self, event: Event) -> Result<(), PushError> {
        {
            let state = lock(&self.state);
            if state.closed {
                return Err(PushError::Closed(event));
            }
            if state.items.len() >= self.capacity {
                return Err(PushError::Full(event));
            }
        }
        lock(&self.state).items.push_back(event);
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

    /// Marks `finished` taken events finished (0 or 1) and takes the oldest waiting event,
    /// under one lock: the worker's step between two events. `idle` is what
    /// [`Queue::finish`] would have answered, and is only ever true when nothing was taken.
    pub(crate) fn finish_and_pop(&self, finished: usize) -> Popped {
        let mut state = lock(&self.state);
        assert!(state.in_worker >= finished, "finish without a matching pop");
        state.in_worker -= finished;
        let event = state.items.pop_front();
        if event.is_some() {
            state.in_worker += 1;
        }
        let idle = finished > 0 && event.is_none() && state.in_worker == 0;
        Popped { event, idle }
    }

    /// Waits for the next event; `None` once the queue is closed and empty.
    pub(crate) async fn next(&self) -> Option<Event> {
        loop {
            let notified = self.ready.notified();
            if let Some(event) = self.pop() {
                return Some(event);
            }
            if self.is_closed() {
                return None;
            }
            notified.await;
        }
    }

    /// Marks one taken event finished; true when the subscriber is now idle.
    pub(crate) fn finish(&self) -> bool {
        let mut state = lock(&self.state);
        assert!(state.in_worker > 0, "finish without a matching pop");
        state.in_worker -= 1;
        state.items.is_empty() && state.in_worker == 0
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

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// How many events wait.
    pub(crate) fn depth(&self) -> usize {
        lock(&self.state).items.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}
