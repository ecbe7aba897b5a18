//! The webhook observer hook: every step of every delivery, as a typed value.
//!
//! Like [`crate::bus::Observer`], it is called synchronously at the moment each step
//! happens, never under the service's lock, and must be quick. The simulation records these
//! into its history; every observation names the true event id apart from the `webhook-id`
//! that was sent, so a checker can tell a sender that changed the id on a retry from a
//! receiver that saw two events.
//!
//! Every accepted delivery ends in exactly one `Delivered` or `DeadLettered` (a redrive
//! starts a new round with `Redriven` and ends in one of them again).

use std::fmt;
use std::time::Duration;

use super::dead_letter::DeadLetterId;
use super::endpoint::{DisableReason, EndpointId};
use super::state::WebhookAttempt;
use crate::bus::DeadLetterReason;
use crate::event::{Event, EventId};

/// One step of the webhook service.
#[derive(Debug, Clone, Copy)]
pub enum WebhookObservation<'a> {
    /// The bus handed an event to an endpoint's backlog.
    Accepted {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event: &'a Event,
    },
    /// An attempt is about to go on the wire.
    AttemptStarted {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event_id: &'a EventId,
        /// The `webhook-id` header sent.
        webhook_id: &'a str,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// An attempt ended: with a status or an error reason.
    AttemptEnded {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event_id: &'a EventId,
        /// What happened.
        record: &'a WebhookAttempt,
    },
    /// A failed attempt will be followed by `attempt` after `after`.
    RetryScheduled {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event_id: &'a EventId,
        /// The attempt that will run next.
        attempt: u32,
        /// The wait, jitter and `Retry-After` applied.
        after: Duration,
    },
    /// The endpoint's open breaker deferred `attempt` by `after`; no attempt was used up.
    DeferredByBreaker {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event_id: &'a EventId,
        /// The attempt that waits.
        attempt: u32,
        /// How long it waits before asking again.
        after: Duration,
    },
    /// An attempt got a 2xx.
    Delivered {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event_id: &'a EventId,
        /// Attempts it took.
        attempts: u32,
    },
    /// The delivery was given up.
    DeadLettered {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event_id: &'a EventId,
        /// Why.
        reason: DeadLetterReason,
        /// The letter's id, for a redrive.
        dead_letter: DeadLetterId,
    },
    /// The endpoint was disabled.
    EndpointDisabled {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// Why.
        reason: DisableReason,
    },
    /// An operator re-drove a dead letter: a new round of attempts begins, bypassing the
    /// gate, with the original `webhook-id`.
    Redriven {
        /// The endpoint.
        endpoint: &'a EndpointId,
        /// The event.
        event_id: &'a EventId,
        /// The letter re-driven.
        dead_letter: DeadLetterId,
    },
}

/// Receives every [`WebhookObservation`], synchronously.
pub trait WebhookObserver: Send + Sync + 'static {
    /// Records one step.
    fn observe(&self, observation: WebhookObservation<'_>);
}

/// The observer that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoWebhookObserver;

impl WebhookObserver for NoWebhookObserver {
    fn observe(&self, _observation: WebhookObservation<'_>) {}
}

impl fmt::Debug for dyn WebhookObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookObserver")
    }
}
