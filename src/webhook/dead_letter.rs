//! The webhook service's own dead letters: deliveries it gave up on, with every attempt.
//!
//! The bus's dead letters say why a subscriber did not run its handler; these say why an
//! event the webhook subscriber accepted never got a 2xx. Each carries the full attempt list
//! and an id, by which an operator can re-drive it (see `WebhookService::redrive`). A
//! re-driven letter stays listed, marked, so the diagnosis is not lost. The list is bounded:
//! beyond `dead_letters_max` the oldest is evicted and counted.

use std::collections::VecDeque;
use std::fmt;

use serde::Serialize;

use super::endpoint::EndpointId;
use super::state::WebhookAttempt;
use crate::bus::DeadLetterReason;
use crate::event::Event;

/// A dead letter's id, handed out in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeadLetterId(pub u64);

impl fmt::Display for DeadLetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wdl_{}", self.0)
    }
}

/// A delivery the service gave up on.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookDeadLetter {
    /// Its id, for [`crate::webhook::WebhookService::redrive`].
    pub id: DeadLetterId,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The event.
    pub event: Event,
    /// Why: `attempts-exhausted` or `endpoint-disabled`.
    pub reason: DeadLetterReason,
    /// Every attempt of the round that ended here, oldest first.
    pub attempts: Vec<WebhookAttempt>,
    /// When it was dead-lettered, in unix milliseconds.
    pub at_unix_ms: u64,
    /// When an operator re-drove it, if one did.
    pub redriven_at_unix_ms: Option<u64>,
}

/// The bounded list.
#[derive(Debug)]
pub(crate) struct DeadLetterList {
    entries: VecDeque<WebhookDeadLetter>,
    next_id: u64,
    max: usize,
    evicted: u64,
}

impl DeadLetterList {
    pub(crate) fn new(max: usize) -> Self {
        DeadLetterList {
            entries: VecDeque::new(),
            next_id: 1,
            max,
            evicted: 0,
        }
    }

    /// The id the next letter will get.
    pub(crate) fn allocate_id(&mut self) -> DeadLetterId {
        let id = DeadLetterId(self.next_id);
        self.next_id += 1;
        id
    }

    pub(crate) fn push(&mut self, letter: WebhookDeadLetter) {
        if self.entries.len() >= self.max && self.entries.pop_front().is_some() {
            self.evicted += 1;
        }
        if self.max > 0 {
            self.entries.push_back(letter);
        }
    }

    pub(crate) fn get_mut(&mut self, id: DeadLetterId) -> Option<&mut WebhookDeadLetter> {
        self.entries.iter_mut().find(|letter| letter.id == id)
    }

    pub(crate) fn snapshot(&self) -> Vec<WebhookDeadLetter> {
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }
}
