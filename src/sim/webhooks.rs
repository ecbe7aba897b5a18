//! The webhook service inside the app host: one endpoint per receiver host, reached over
//! turmoil's TCP, with scaled durations; and the [`WebhookObserver`] that records its steps.
//!
//! The service's retry jitter is seeded from the run's seed and the app's incarnation, and
//! its clock is the app's injected clock, so its schedule replays. Its observations name the
//! true event id apart from the `webhook-id` sent, which is what lets the receiver checker
//! tell a sender that changed the id on a retry from a receiver that saw two events.

use std::sync::Arc;
use std::time::Duration;

use crate::bus::{DeliveryMode, EventBus, InMemoryEventBus};
use crate::clock::Clock;
use crate::webhook::transport::{RequestTimeout, TurmoilConnector};
use crate::webhook::{
    BreakerConfig, EndpointConfig, RetrySchedule, WebhookConfig, WebhookObservation,
    WebhookObserver, WebhookService,
};

use super::app::{JOB_TOPICS, Shared};
use super::config::RECEIVER_PORT;
use super::history::{HistoryLog, Record};
use super::mix::{mix, name};

/// The nominal delay before each webhook attempt, in milliseconds (six attempts).
pub const SCHEDULE_MS: [u64; 6] = [0, 50, 100, 200, 400, 800];

/// The bound on one webhook request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(250);

/// Why the webhook service could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A scaled duration was refused.
    #[error("webhook configuration refused: {0}")]
    Config(String),
    /// An endpoint was refused.
    #[error(transparent)]
    Endpoint(#[from] crate::webhook::EndpointError),
}

/// Starts the webhook service on `bus` and registers one endpoint per receiver.
pub fn start(
    shared: &Shared,
    bus: &InMemoryEventBus,
    clock: Arc<dyn Clock>,
    incarnation: u64,
) -> Result<WebhookService, SetupError> {
    let config = webhook_config(shared, clock, incarnation)?;
    let (ttl, lease) = (config.subscriber_ttl(), config.subscriber_lease());
    let bus: Arc<dyn EventBus> = Arc::new(bus.clone());
    let service = WebhookService::with_connector(bus, config, Arc::new(TurmoilConnector))
        .map_err(|error| SetupError::Config(error.to_string()))?;
    for (receiver, secret) in &shared.endpoints {
        let url = format!("http://{receiver}:{RECEIVER_PORT}/hooks");
        let id = service.register(EndpointConfig::new(url, secret.clone(), JOB_TOPICS))?;
        shared.log.record(Record::Subscribed {
            subscriber: id.subscriber_name(),
            topics: JOB_TOPICS.iter().map(|t| (*t).to_owned()).collect(),
            mode: DeliveryMode::AtMostOnce,
            lease_ms: lease.as_millis() as u64,
            ttl_ms: ttl.as_millis() as u64,
        });
    }
    Ok(service)
}

fn webhook_config(
    shared: &Shared,
    clock: Arc<dyn Clock>,
    incarnation: u64,
) -> Result<WebhookConfig, SetupError> {
    let delays = SCHEDULE_MS
        .iter()
        .map(|ms| Duration::from_millis(*ms))
        .collect();
    let schedule = RetrySchedule::new(delays).map_err(|e| SetupError::Config(e.to_string()))?;
    let request_timeout =
        RequestTimeout::new(REQUEST_TIMEOUT).map_err(|e| SetupError::Config(e.to_string()))?;
    let observer: Arc<dyn WebhookObserver> = Arc::new(WebhookRecorder::new(shared.log.clone()));
    Ok(WebhookConfig {
        schedule,
        request_timeout,
        breaker: BreakerConfig {
            failures_to_open: 5,
            open_for: Duration::from_millis(300),
        },
        disable_after: Duration::from_secs(60 * 60),
        allow_private_addresses: true,
        seed: mix(&[shared.config.seed, name("webhook"), incarnation]),
        clock,
        observer,
        bus_handler_timeout: Duration::from_millis(200),
        mutants: shared.config.mutants,
        ..WebhookConfig::default()
    })
}

/// The webhook observer that appends to a run's history.
#[derive(Debug, Clone)]
pub struct WebhookRecorder {
    log: HistoryLog,
}

impl WebhookRecorder {
    /// A recorder appending to `log`.
    pub fn new(log: HistoryLog) -> Self {
        Self { log }
    }
}

impl WebhookObserver for WebhookRecorder {
    fn observe(&self, observation: WebhookObservation<'_>) {
        if let Some(record) = to_record(observation) {
            self.log.record(record);
        }
    }
}

fn to_record(observation: WebhookObservation<'_>) -> Option<Record> {
    use WebhookObservation as W;
    let record = match observation {
        W::Accepted { endpoint, event } => Record::WebhookAccepted {
            event: event.id().to_string(),
            endpoint: endpoint.to_string(),
        },
        W::AttemptStarted {
            endpoint,
            event_id,
            webhook_id,
            attempt,
        } => Record::WebhookAttempt {
            event: event_id.to_string(),
            endpoint: endpoint.to_string(),
            webhook_id: webhook_id.to_owned(),
            attempt,
        },
        W::AttemptEnded {
            endpoint,
            event_id,
            record,
        } => Record::WebhookResponse {
            event: event_id.to_string(),
            endpoint: endpoint.to_string(),
            attempt: record.attempt,
            outcome: match record.status {
                Some(status) => format!("{} {status}", record.kind),
                None => record.kind.clone(),
            },
        },
        W::Delivered {
            endpoint, event_id, ..
        } => Record::WebhookDelivered {
            event: event_id.to_string(),
            endpoint: endpoint.to_string(),
        },
        W::DeadLettered {
            endpoint,
            event_id,
            reason,
            ..
        } => Record::WebhookDeadLettered {
            event: event_id.to_string(),
            endpoint: endpoint.to_string(),
            reason: reason.as_str().to_owned(),
        },
        W::EndpointDisabled { endpoint, reason } => Record::EndpointDisabled {
            endpoint: endpoint.to_string(),
            reason: format!("{reason:?}"),
        },
        W::RetryScheduled { .. } | W::DeferredByBreaker { .. } | W::Redriven { .. } => return None,
    };
    Some(record)
}
