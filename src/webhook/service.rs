//! [`WebhookService`]: registers endpoints, subscribes each to the bus, and runs deliveries.
//!
//! # Design
//!
//! Each endpoint is its own bus subscriber, `webhook:<endpoint id>`, at most once behind the
//! gate, with a TTL covering its whole retry schedule: one gate claim per (endpoint, event),
//! so a duplicate publish does not start a second delivery while the first may still retry.
//!
//! The bus handler does not deliver. Retries take hours, and a handler that slept through
//! them would hold the endpoint's bus queue (and its gate lease) the whole time. Instead the
//! handler takes a permit of the endpoint's backlog (`backlog_max`), starts a delivery task
//! and returns. When the backlog is full the handler waits for room, bounded by the bus's own
//! handler timeout, so overload shows up where the bus already records it: as timeouts and
//! queue overflow of that one subscriber. Nothing the service does reaches the publisher.
//!
//! Every endpoint's subscriber listens on all the service's topics and filters by the
//! endpoint's own topics in the handler, so changing an endpoint's topics needs no
//! resubscription (which would dead-letter its queued events as `unsubscribed`). The cost:
//! the gate also records events the endpoint filtered out; an event filtered out and then,
//! after a topic change, published again within the TTL is suppressed.
//!
//! Events whose topic the endpoint does not want are acknowledged without a delivery; events
//! for a disabled endpoint are accepted and dead-lettered `endpoint-disabled` at once, so
//! every accepted delivery ends in exactly one `Delivered` or `DeadLettered`.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{Notify, Semaphore};

use super::breaker::Breaker;
use super::config::{WebhookConfig, WebhookConfigError};
use super::dead_letter::{DeadLetterId, WebhookDeadLetter};
use super::delivery::Delivery;
use super::endpoint::{
    self, DisableReason, Endpoint, EndpointConfig, EndpointCounts, EndpointError, EndpointId,
    EndpointInfo, EndpointUpdate, RetiringSecret,
};
use super::observer::WebhookObservation;
use super::shared::{EndpointSlot, Shared, TRACE_TARGET};
use super::ssrf::GuardedTcpConnector;
use super::state::DeliveryInfo;
use super::transport::{Connector, HttpSender, TcpConnector};
use crate::bus::{DeadLetterReason, DeliveryMode, EventBus, HandlerError, HandlerFuture};
use crate::bus::{Handler, SubscriberConfig};
use crate::event::{Event, EventId};

/// Why a redrive was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    /// No dead letter has that id (it may have been evicted).
    #[error("no dead letter {0}")]
    Unknown(DeadLetterId),
    /// The letter was already re-driven.
    #[error("dead letter {0} was already re-driven")]
    AlreadyRedriven(DeadLetterId),
    /// Its endpoint is gone or disabled; enable it first.
    #[error("endpoint {0} is disabled")]
    EndpointDisabled(EndpointId),
    /// Its endpoint's backlog is full; try again later.
    #[error("endpoint {0} has no backlog room")]
    BacklogFull(EndpointId),
    /// Called outside a tokio runtime, so no delivery task could start.
    #[error("redrive needs a tokio runtime")]
    NoRuntime,
}

/// Delivers bus events to registered HTTP endpoints. Cheap to clone.
#[derive(Clone)]
pub struct WebhookService {
    shared: Arc<Shared>,
    bus: Arc<dyn EventBus>,
    template: SubscriberTemplate,
}

/// The bus settings every endpoint's subscriber gets.
#[derive(Debug, Clone, Copy)]
struct SubscriberTemplate {
    ttl: std::time::Duration,
    lease: std::time::Duration,
    handler_timeout: std::time::Duration,
    queue_capacity: usize,
}

impl fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("endpoints", &self.shared.lock().endpoints.len())
            .finish_non_exhaustive()
    }
}

impl WebhookService {
    /// A service on `bus` sending over real TCP: guarded against private addresses unless
    /// the configuration allows them, with TLS trusting the Mozilla roots. A zero bound in
    /// `config` is refused (see [`WebhookConfig::validate`]).
    pub fn new(bus: Arc<dyn EventBus>, config: WebhookConfig) -> Result<Self, WebhookConfigError> {
        let connector: Arc<dyn Connector> = if config.allow_private_addresses {
            Arc::new(TcpConnector::with_webpki_roots()?)
        } else {
            Arc::new(GuardedTcpConnector::with_webpki_roots()?)
        };
        Self::with_connector(bus, config, connector)
    }

    /// A service on `bus` sending through `connector` (turmoil, in-process, custom TLS). A
    /// zero bound in `config` is refused (see [`WebhookConfig::validate`]).
    pub fn with_connector(
        bus: Arc<dyn EventBus>,
        config: WebhookConfig,
        connector: Arc<dyn Connector>,
    ) -> Result<Self, WebhookConfigError> {
        config.validate()?;
        let sender = HttpSender::new(connector)
            .with_response_body_limit_bytes(config.response_body_limit_bytes);
        let template = SubscriberTemplate {
            ttl: config.subscriber_ttl(),
            lease: config.subscriber_lease(),
            handler_timeout: config.bus_handler_timeout,
            queue_capacity: config.bus_queue_capacity,
        };
        let shared = Arc::new(Shared::new(config, sender));
        Ok(WebhookService {
            shared,
            bus,
            template,
        })
    }

    /// Registers an endpoint and subscribes it to the bus; needs a tokio runtime.
    pub fn register(&self, config: EndpointConfig) -> Result<EndpointId, EndpointError> {
        let settings = &self.shared.settings;
        let url = endpoint::check_url(&config.url, settings.allow_private_addresses)?;
        let topics = endpoint::check_topics(&config.topics, &settings.topics)?;
        let id = self.allocate_id()?;
        let endpoint = Endpoint {
            id: id.clone(),
            url,
            secret: config.secret,
            retiring: None,
            topics,
            enabled: config.enabled,
        };
        self.insert_slot(endpoint);

        let subscription = self.subscriber_config(&id);
        let handler = Arc::new(EndpointHandler {
            shared: self.shared.clone(),
            endpoint: id.clone(),
        });
        if let Err(error) = self.bus.subscribe_arc(subscription, handler) {
            self.shared.lock().endpoints.remove(&id);
            return Err(error.into());
        }
        tracing::info!(target: TRACE_TARGET, endpoint = %id, "endpoint registered");
        Ok(id)
    }

    /// Changes an endpoint. A new secret signs alongside the old one for the rotation grace
    /// period; enabling clears the disabled reason and closes the breaker's count.
    pub fn update(&self, id: &EndpointId, update: EndpointUpdate) -> Result<(), EndpointError> {
        let settings = &self.shared.settings;
        let url = match &update.url {
            Some(url) => Some(endpoint::check_url(url, settings.allow_private_addresses)?),
            None => None,
        };
        let topics = match &update.topics {
            Some(topics) => Some(endpoint::check_topics(topics, &settings.topics)?),
            None => None,
        };
        if update.enabled == Some(false) {
            self.disable(id)?;
        }
        let now = self.shared.clock.now();
        let mut state = self.shared.lock();
        let slot = state
            .endpoints
            .get_mut(id)
            .ok_or_else(|| EndpointError::UnknownEndpoint(id.to_string()))?;
        apply_update(slot, update, url, topics, now + settings.rotation_grace);
        drop(state);
        tracing::info!(target: TRACE_TARGET, endpoint = %id, "endpoint updated");
        Ok(())
    }

    /// Disables an endpoint: its waiting deliveries are dead-lettered `endpoint-disabled`.
    pub fn disable(&self, id: &EndpointId) -> Result<(), EndpointError> {
        if !self.shared.lock().endpoints.contains_key(id) {
            return Err(EndpointError::UnknownEndpoint(id.to_string()));
        }
        self.shared.disable(id, DisableReason::Operator);
        Ok(())
    }

    /// Every endpoint, in id order, without secrets.
    pub fn endpoints(&self) -> Vec<EndpointInfo> {
        let now = self.shared.clock.now();
        let state = self.shared.lock();
        state
            .endpoints
            .values()
            .map(|slot| slot.info(now))
            .collect()
    }

    /// One endpoint, without its secret.
    pub fn endpoint(&self, id: &EndpointId) -> Option<EndpointInfo> {
        let now = self.shared.clock.now();
        self.shared
            .lock()
            .endpoints
            .get(id)
            .map(|slot| slot.info(now))
    }

    /// The delivery of `event_id` to `endpoint`: attempts, outcome, next attempt time.
    pub fn delivery(&self, event_id: &EventId, endpoint: &EndpointId) -> Option<DeliveryInfo> {
        let key = (event_id.clone(), endpoint.clone());
        self.shared.lock().deliveries.get(&key).cloned()
    }

    /// Every delivery of `event_id`, in endpoint order.
    pub fn deliveries_of(&self, event_id: &EventId) -> Vec<DeliveryInfo> {
        let state = self.shared.lock();
        let all = state.deliveries.all();
        all.filter(|d| &d.event_id == event_id).cloned().collect()
    }

    /// Every delivery record kept, ordered by event id then endpoint.
    pub fn deliveries(&self) -> Vec<DeliveryInfo> {
        self.shared.lock().deliveries.all().cloned().collect()
    }

    /// The dead letters kept, oldest first.
    pub fn dead_letters(&self) -> Vec<WebhookDeadLetter> {
        self.shared.lock().dead_letters.snapshot()
    }

    /// How many dead letters were evicted to keep the list within its bound.
    pub fn dead_letters_evicted(&self) -> u64 {
        self.shared.lock().dead_letters.evicted()
    }

    /// Resolves when no delivery is pending or in flight.
    pub async fn idle(&self) {
        self.shared.idle().await;
    }

    /// Re-sends a dead letter: an operator action, recorded as such, that bypasses the gate
    /// and keeps the original `webhook-id`. Runs the whole retry schedule again.
    pub fn redrive(&self, id: DeadLetterId) -> Result<(), RedriveError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RedriveError::NoRuntime)?;
        let (endpoint, event, permit) = self.take_for_redrive(id)?;
        let key = (event.id().clone(), endpoint.clone());

        self.shared.start_delivery(&endpoint, &event);
        self.shared.observe(WebhookObservation::Redriven {
            endpoint: &endpoint,
            event_id: event.id(),
            dead_letter: id,
        });
        tracing::info!(
            target: TRACE_TARGET,
            operator_action = "redrive",
            dead_letter = %id,
            %endpoint,
            event_id = %event.id(),
            "dead letter re-driven"
        );
        match Delivery::new(self.shared.clone(), key.clone(), event.clone(), permit) {
            Some(delivery) => drop(runtime.spawn(delivery.run())),
            None => {
                let reason = DeadLetterReason::EndpointDisabled;
                self.shared.finish_dead_lettered(&key, &event, reason);
            }
        }
        Ok(())
    }

    fn take_for_redrive(
        &self,
        id: DeadLetterId,
    ) -> Result<(EndpointId, Event, tokio::sync::OwnedSemaphorePermit), RedriveError> {
        let at_unix_ms = self.shared.clock.unix_now_ms();
        let mut state = self.shared.lock();
        let letter = state
            .dead_letters
            .get_mut(id)
            .ok_or(RedriveError::Unknown(id))?;
        if letter.redriven_at_unix_ms.is_some() {
            return Err(RedriveError::AlreadyRedriven(id));
        }
        let (endpoint, event) = (letter.endpoint.clone(), letter.event.clone());
        let slot = state.endpoints.get(&endpoint);
        let slot = slot
            .filter(|slot| slot.endpoint.enabled)
            .ok_or_else(|| RedriveError::EndpointDisabled(endpoint.clone()))?;
        let permit = slot.backlog.clone().try_acquire_owned();
        let permit = permit.map_err(|_| RedriveError::BacklogFull(endpoint.clone()))?;
        if let Some(letter) = state.dead_letters.get_mut(id) {
            letter.redriven_at_unix_ms = Some(at_unix_ms);
        }
        Ok((endpoint, event, permit))
    }

    fn allocate_id(&self) -> Result<EndpointId, EndpointError> {
        let mut state = self.shared.lock();
        let max = self.shared.settings.endpoints_max;
        if state.endpoints.len() >= max {
            return Err(EndpointError::TooManyEndpoints { max });
        }
        let id = EndpointId(format!("ep_{}", state.next_endpoint));
        state.next_endpoint += 1;
        Ok(id)
    }

    fn insert_slot(&self, endpoint: Endpoint) {
        let settings = &self.shared.settings;
        let slot = EndpointSlot {
            disabled_reason: (!endpoint.enabled).then_some(DisableReason::Operator),
            endpoint,
            breaker: Breaker::new(settings.breaker),
            counts: EndpointCounts::default(),
            failing_since: None,
            backlog: Arc::new(Semaphore::new(settings.backlog_max)),
            in_flight: Arc::new(Semaphore::new(settings.in_flight_max)),
            disabled: Arc::new(Notify::new()),
        };
        let id = slot.endpoint.id.clone();
        self.shared.lock().endpoints.insert(id, slot);
    }

    fn subscriber_config(&self, id: &EndpointId) -> SubscriberConfig {
        let template = self.template;
        let topics: Vec<String> = self.shared.settings.topics.iter().cloned().collect();
        SubscriberConfig::new(id.subscriber_name(), topics)
            .mode(DeliveryMode::AtMostOnce)
            .ttl(template.ttl)
            .lease(template.lease)
            .handler_timeout(template.handler_timeout)
            .queue_capacity(template.queue_capacity)
    }
}

/// Applies an already checked update to a slot.
fn apply_update(
    slot: &mut EndpointSlot,
    update: EndpointUpdate,
    url: Option<http::Uri>,
    topics: Option<std::collections::BTreeSet<String>>,
    retiring_until: tokio::time::Instant,
) {
    let endpoint = &mut slot.endpoint;
    if let Some(url) = url {
        endpoint.url = url;
    }
    if let Some(topics) = topics {
        endpoint.topics = topics;
    }
    if let Some(secret) = update.secret {
        let old = std::mem::replace(&mut endpoint.secret, secret);
        endpoint.retiring = Some(RetiringSecret {
            secret: old,
            until: retiring_until,
        });
    }
    if update.enabled == Some(true) && !endpoint.enabled {
        endpoint.enabled = true;
        slot.disabled_reason = None;
        slot.failing_since = None;
        slot.breaker = Breaker::new(slot.breaker_config());
    }
}

/// The bus handler of one endpoint: hands events to the endpoint's backlog.
struct EndpointHandler {
    shared: Arc<Shared>,
    endpoint: EndpointId,
}

impl Handler for EndpointHandler {
    fn handle(&self, event: Event) -> HandlerFuture {
        let shared = self.shared.clone();
        let endpoint = self.endpoint.clone();
        Box::pin(accept(shared, endpoint, event))
    }
}

/// Accepts `event` for `endpoint`: waits for backlog room, then starts its delivery.
async fn accept(
    shared: Arc<Shared>,
    endpoint: EndpointId,
    event: Event,
) -> Result<(), HandlerError> {
    let (wanted, enabled, backlog) = {
        let state = shared.lock();
        let slot = state
            .endpoints
            .get(&endpoint)
            .ok_or_else(|| HandlerError::new(format!("endpoint {endpoint} is not registered")))?;
        let wanted = slot.endpoint.topics.contains(event.topic());
        (wanted, slot.endpoint.enabled, slot.backlog.clone())
    };
    if !wanted {
        tracing::trace!(target: TRACE_TARGET, %endpoint, topic = event.topic(), "topic filtered");
        return Ok(());
    }
    let key = (event.id().clone(), endpoint.clone());
    if !enabled {
        shared.start_delivery(&endpoint, &event);
        shared.finish_dead_lettered(&key, &event, DeadLetterReason::EndpointDisabled);
        return Ok(());
    }
    // The bus's handler timeout bounds this wait; the semaphore is never closed.
    let permit = backlog
        .acquire_owned()
        .await
        .map_err(|_| HandlerError::new("endpoint backlog closed"))?;
    shared.start_delivery(&endpoint, &event);
    match Delivery::new(shared.clone(), key.clone(), event.clone(), permit) {
        Some(delivery) => drop(tokio::spawn(delivery.run())),
        None => {
            shared.finish_dead_lettered(&key, &event, DeadLetterReason::EndpointDisabled);
        }
    }
    Ok(())
}
