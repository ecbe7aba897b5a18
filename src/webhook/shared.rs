//! What the service, its bus handlers and its delivery tasks share: the endpoints with their
//! breakers and counts, the delivery records, the dead letters, the one random generator,
//! and the idle signal.
//!
//! All mutable state sits behind one `std` mutex, held only for short, non-awaiting steps;
//! observers and tracing run after it is released, so an observer that queries the service
//! cannot deadlock it. One lock was chosen over a lock per endpoint: every step is a few map
//! operations, and one lock gives the simulation a single, obvious order of state changes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::breaker::Breaker;
use super::config::WebhookConfig;
use super::dead_letter::{DeadLetterId, DeadLetterList, WebhookDeadLetter};
use super::endpoint::{DisableReason, Endpoint, EndpointCounts, EndpointId, EndpointInfo};
use super::observer::{WebhookObservation, WebhookObserver};
use super::schedule::RetrySchedule;
use super::state::{Deliveries, DeliveryKey, DeliveryOutcome, WebhookAttempt};
use super::transport::{HttpSender, RequestTimeout};
use crate::bus::DeadLetterReason;
use crate::clock::Clock;
use crate::event::Event;
use crate::mutants::Mutants;

pub(crate) const TRACE_TARGET: &str = "eventgate::webhook";

/// One endpoint and everything the service tracks for it.
pub(crate) struct EndpointSlot {
    pub(crate) endpoint: Endpoint,
    pub(crate) disabled_reason: Option<DisableReason>,
    pub(crate) breaker: Breaker,
    pub(crate) counts: EndpointCounts,
    /// When the current run of failed attempts began; `None` after a success.
    pub(crate) failing_since: Option<Instant>,
    /// Permits for accepted, unfinished deliveries (`backlog_max`).
    pub(crate) backlog: Arc<Semaphore>,
    /// Permits for requests on the wire (`in_flight_max`).
    pub(crate) in_flight: Arc<Semaphore>,
    /// Woken when the endpoint is disabled, so waiting deliveries end at once.
    pub(crate) disabled: Arc<Notify>,
}

impl EndpointSlot {
    pub(crate) fn breaker_config(&self) -> super::breaker::BreakerConfig {
        self.breaker.config()
    }

    pub(crate) fn info(&self, now: Instant) -> EndpointInfo {
        let endpoint = &self.endpoint;
        EndpointInfo {
            id: endpoint.id.clone(),
            url: endpoint.url.to_string(),
            topics: endpoint.topics.iter().cloned().collect(),
            enabled: endpoint.enabled,
            disabled_reason: self.disabled_reason,
            rotating_secret: endpoint.retiring.as_ref().is_some_and(|r| now < r.until),
            breaker: self.breaker.state(now),
            counts: self.counts,
        }
    }
}

/// The mutable state.
pub(crate) struct State {
    pub(crate) endpoints: BTreeMap<EndpointId, EndpointSlot>,
    pub(crate) deliveries: Deliveries,
    pub(crate) dead_letters: DeadLetterList,
    pub(crate) next_endpoint: u64,
    /// Deliveries accepted and not finished, over all endpoints.
    pub(crate) pending_total: usize,
}

/// The fixed settings every task reads.
pub(crate) struct Settings {
    pub(crate) schedule: RetrySchedule,
    pub(crate) request_timeout: RequestTimeout,
    pub(crate) backlog_max: usize,
    pub(crate) in_flight_max: usize,
    pub(crate) breaker: super::breaker::BreakerConfig,
    pub(crate) disable_after: Duration,
    pub(crate) rotation_grace: Duration,
    pub(crate) topics: BTreeSet<String>,
    pub(crate) allow_private_addresses: bool,
    pub(crate) endpoints_max: usize,
    #[cfg_attr(not(feature = "mutants"), allow(dead_code))]
    pub(crate) mutants: Mutants,
}

/// Everything shared.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sender: HttpSender,
    pub(crate) observer: Arc<dyn WebhookObserver>,
    rng: Mutex<SmallRng>,
    state: Mutex<State>,
    idle: Notify,
}

impl Shared {
    pub(crate) fn new(config: WebhookConfig, sender: HttpSender) -> Self {
        let settings = Settings {
            schedule: config.schedule,
            request_timeout: config.request_timeout,
            backlog_max: config.backlog_max,
            in_flight_max: config.in_flight_max,
            breaker: config.breaker,
            disable_after: config.disable_after,
            rotation_grace: config.rotation_grace,
            topics: config.topics.into_iter().collect(),
            allow_private_addresses: config.allow_private_addresses,
            endpoints_max: config.endpoints_max,
            mutants: config.mutants,
        };
        let state = State {
            endpoints: BTreeMap::new(),
            deliveries: Deliveries::new(config.deliveries_kept_max),
            dead_letters: DeadLetterList::new(config.dead_letters_max),
            next_endpoint: 1,
            pending_total: 0,
        };
        Shared {
            settings,
            clock: config.clock,
            sender,
            observer: config.observer,
            rng: Mutex::new(SmallRng::seed_from_u64(config.seed)),
            state: Mutex::new(state),
            idle: Notify::new(),
        }
    }

    /// The state, even if a panicking thread poisoned the lock: every step leaves it valid.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn observe(&self, observation: WebhookObservation<'_>) {
        self.observer.observe(observation);
    }

    /// The wait before `attempt`, drawn from the service's one generator.
    pub(crate) fn delay_before(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let delay = self
            .settings
            .schedule
            .delay_before(attempt, &mut *rng, retry_after);
        delay.unwrap_or(Duration::ZERO)
    }

    /// Resolves when no delivery is pending or in flight.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().pending_total == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Disables `endpoint` for `reason`, waking its waiting deliveries; reports whether it
    /// was enabled before.
    pub(crate) fn disable(&self, endpoint: &EndpointId, reason: DisableReason) -> bool {
        let was_enabled = {
            let mut state = self.lock();
            let Some(slot) = state.endpoints.get_mut(endpoint) else {
                return false;
            };
            let was_enabled = slot.endpoint.enabled;
            slot.endpoint.enabled = false;
            slot.disabled_reason = Some(reason);
            slot.disabled.notify_waiters();
            was_enabled
        };
        if was_enabled {
            self.observe(WebhookObservation::EndpointDisabled { endpoint, reason });
            tracing::warn!(target: TRACE_TARGET, %endpoint, ?reason, "endpoint disabled");
        }
        was_enabled
    }

    /// Starts a delivery record for `event` to `endpoint`, counted as pending.
    pub(crate) fn start_delivery(&self, endpoint: &EndpointId, event: &Event) {
        {
            let mut state = self.lock();
            state.pending_total += 1;
            state
                .deliveries
                .start((event.id().clone(), endpoint.clone()));
            if let Some(slot) = state.endpoints.get_mut(endpoint) {
                slot.counts.accepted += 1;
                slot.counts.pending += 1;
            }
        }
        self.observe(WebhookObservation::Accepted { endpoint, event });
    }

    /// Records when the next attempt of a delivery is due.
    pub(crate) fn set_next_attempt(&self, key: &DeliveryKey, at_unix_ms: Option<u64>) {
        if let Some(record) = self.lock().deliveries.get_mut(key) {
            record.next_attempt_at_unix_ms = at_unix_ms;
        }
    }

    /// Appends an attempt to its delivery record and counts it.
    pub(crate) fn record_attempt(&self, key: &DeliveryKey, record: &WebhookAttempt) {
        let mut state = self.lock();
        if let Some(delivery) = state.deliveries.get_mut(key) {
            delivery.attempts.push(record.clone());
        }
        if let Some(slot) = state.endpoints.get_mut(&key.1) {
            slot.counts.in_flight = slot.counts.in_flight.saturating_sub(1);
            if !record.is_success() {
                slot.counts.failed_attempts += 1;
            }
        }
    }

    /// Ends a delivery as delivered.
    pub(crate) fn finish_delivered(&self, key: &DeliveryKey, attempts: u32) {
        self.finish(key, DeliveryOutcome::Delivered, |slot| {
            slot.counts.delivered += 1
        });
        let (event_id, endpoint) = (&key.0, &key.1);
        self.observe(WebhookObservation::Delivered {
            endpoint,
            event_id,
            attempts,
        });
        tracing::debug!(target: TRACE_TARGET, %endpoint, %event_id, attempts, "delivered");
    }

    /// Ends a delivery as dead-lettered, keeping every attempt in the letter.
    pub(crate) fn finish_dead_lettered(
        &self,
        key: &DeliveryKey,
        event: &Event,
        reason: DeadLetterReason,
    ) -> DeadLetterId {
        let at_unix_ms = self.clock.unix_now_ms();
        let id = {
            let mut state = self.lock();
            let attempts = state
                .deliveries
                .get(key)
                .map(|d| d.attempts.clone())
                .unwrap_or_default();
            let id = state.dead_letters.allocate_id();
            state.dead_letters.push(WebhookDeadLetter {
                id,
                endpoint: key.1.clone(),
                event: event.clone(),
                reason,
                attempts,
                at_unix_ms,
                redriven_at_unix_ms: None,
            });
            id
        };
        let outcome = DeliveryOutcome::DeadLettered(reason);
        self.finish(key, outcome, |slot| slot.counts.dead_lettered += 1);
        let (event_id, endpoint) = (&key.0, &key.1);
        self.observe(WebhookObservation::DeadLettered {
            endpoint,
            event_id,
            reason,
            dead_letter: id,
        });
        tracing::warn!(target: TRACE_TARGET, %endpoint, %event_id, %reason, "dead-lettered");
        id
    }

    fn finish(
        &self,
        key: &DeliveryKey,
        outcome: DeliveryOutcome,
        count: impl Fn(&mut EndpointSlot),
    ) {
        let now_idle = {
            let mut state = self.lock();
            state.deliveries.finish(key, outcome);
            if let Some(slot) = state.endpoints.get_mut(&key.1) {
                slot.counts.pending = slot.counts.pending.saturating_sub(1);
                count(slot);
            }
            debug_assert!(state.pending_total > 0, "a finished delivery was pending");
            state.pending_total = state.pending_total.saturating_sub(1);
            state.pending_total == 0
        };
        if now_idle {
            self.idle.notify_waiters();
        }
    }
}
