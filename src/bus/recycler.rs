//! Reuse of finished events' allocations.
//!
//! Every publish needs one allocation for the shared event, and in a running bus that
//! allocation is made on the publishing thread and freed on a worker's, the pattern a
//! general-purpose allocator serves worst (each side misses its thread cache and takes the
//! arena lock). So a worker hands the allocation of an event it handled, when it held the
//! last handle, to this small bounded stack of spares, and `publish` takes one from it
//! before allocating.
//!
//! A worker collects its spares in a small local batch ([`Spares`]) and hands the batch over
//! under one lock, so the stack's lock mostly stays on the publisher's core.
//!
//! Neither side ever waits: both use `try_lock`, and a busy or empty stack just means an
//! ordinary allocation (or free). A spare holds no topic, key or payload (they are released
//! when it is made), so the stack keeps at most [`SPARES_MAX`] fixed-size allocations alive.

use std::sync::Mutex;

use crate::event::{Event, SpareEvent};

/// The most spare allocations a bus keeps; a few batches' worth of in-flight events.
pub(crate) const SPARES_MAX: usize = 256;

/// How many spares a worker collects before handing them over.
pub(crate) const SPARES_BATCH: usize = 32;

/// The most spares a worker holds while the bus's stack is busy.
pub(crate) const SPARES_HELD_MAX: usize = 4 * SPARES_BATCH;

/// The bus's stack of spare event allocations.
#[derive(Default)]
pub(crate) struct Recycler {
    spares: Mutex<Vec<SpareEvent>>,
}

impl Recycler {
    /// A spare allocation, when one is at hand without waiting.
    pub(crate) fn take(&self) -> Option<SpareEvent> {
        self.spares.try_lock().ok()?.pop()
    }

    /// Moves `spares` onto the stack, as many as fit, dropping the rest. When the stack is busy
    /// it returns false and leaves `spares` alone, for the next try.
    fn give_all(&self, spares: &mut Vec<SpareEvent>) -> bool {
        let Ok(mut kept) = self.spares.try_lock() else {
            return false;
        };
        let room = SPARES_MAX.saturating_sub(kept.len());
        let start = spares.len().saturating_sub(room);
        kept.extend(spares.drain(start..));
        drop(kept);
        spares.clear();
        true
    }

    /// How many spares are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.spares.lock().map_or(0, |spares| spares.len())
    }
}

/// A worker's local batch of spares, handed to the [`Recycler`] [`SPARES_BATCH`] at a time.
#[derive(Default)]
pub(crate) struct Spares {
    batch: Vec<SpareEvent>,
}

impl Spares {
    /// Keeps `event`'s allocation when `event` was its last handle, handing the batch over to
    /// `recycler` once it is full. While the stack is busy the batch keeps growing, up to
    /// [`SPARES_HELD_MAX`]; past that the allocation is just freed, and every later event
    /// tries the hand-over again.
    pub(crate) fn keep(&mut self, event: Event, recycler: &Recycler) {
        let Some(spare) = event.into_spare() else {
            return;
        };
        if self.batch.len() < SPARES_HELD_MAX {
            self.batch.push(spare);
        }
        if self.batch.len() >= SPARES_BATCH {
            recycler.give_all(&mut self.batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventIds, NewEvent};

    fn published(recycler: &Recycler, key: &str) -> Event {
        let draft = NewEvent::raw("topic", key, format!("\"{key}\""));
        draft.into_event(EventIds::with_prefix(1).next_id(), 7, recycler.take())
    }

    /// Hands `events` to the stack through a worker's batch, as a worker does.
    fn hand_over(recycler: &Recycler, events: impl IntoIterator<Item = Event>) {
        let mut spares = Spares::default();
        for event in events {
            spares.keep(event, recycler);
        }
    }

    #[test]
    fn a_handed_over_event_allocation_is_reused_with_the_new_contents() {
        let recycler = Recycler::default();
        let events: Vec<Event> = (0..SPARES_BATCH)
            .map(|i| published(&recycler, &i.to_string()))
            .collect();
        let last = events[SPARES_BATCH - 1].allocation_address();
        hand_over(&recycler, events);
        assert_eq!(recycler.len(), SPARES_BATCH);
        let reused = published(&recycler, "b");
        assert_eq!(reused.allocation_address(), last);
        assert_eq!((reused.key(), reused.payload()), ("b", "\"b\""));
        assert_eq!(recycler.len(), SPARES_BATCH - 1);
    }

    #[test]
    fn an_event_still_held_elsewhere_is_not_recycled() {
        let recycler = Recycler::default();
        let events: Vec<Event> = (0..SPARES_BATCH)
            .map(|i| published(&recycler, &i.to_string()))
            .collect();
        let kept = events[0].clone();
        hand_over(&recycler, events);
        assert_eq!(recycler.len(), 0, "the batch is one short of a hand-over");
        assert_eq!(kept.key(), "0");
    }

    #[test]
    fn a_worker_hands_its_spares_over_a_batch_at_a_time() {
        let recycler = Recycler::default();
        let mut spares = Spares::default();
        for i in 0..SPARES_BATCH - 1 {
            spares.keep(published(&recycler, &i.to_string()), &recycler);
        }
        assert_eq!(recycler.len(), 0);
        spares.keep(published(&recycler, "last"), &recycler);
        assert_eq!((recycler.len(), spares.batch.len()), (SPARES_BATCH, 0));
    }

    #[test]
    fn a_worker_whose_held_spares_reached_their_bound_hands_them_over_once_the_stack_is_free() {
        let recycler = Recycler::default();
        let mut spares = Spares::default();
        {
            let _busy = recycler.spares.lock().expect("not poisoned");
            for i in 0..SPARES_HELD_MAX + 5 {
                spares.keep(published(&recycler, &i.to_string()), &recycler);
            }
        }
        assert_eq!(spares.batch.len(), SPARES_HELD_MAX);
        spares.keep(published(&recycler, "after"), &recycler);
        assert_eq!((recycler.len(), spares.batch.len()), (SPARES_HELD_MAX, 0));
    }

    #[test]
    fn the_stack_stops_at_its_bound() {
        let recycler = Recycler::default();
        let events: Vec<Event> = (0..SPARES_MAX + SPARES_BATCH)
            .map(|i| published(&recycler, &i.to_string()))
            .collect();
        hand_over(&recycler, events);
        assert_eq!(recycler.len(), SPARES_MAX);
    }
}
