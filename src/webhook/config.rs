//! The webhook service's configuration: every bound, with its default.
//!
//! The defaults are production values: the Standard Webhooks schedule (eight attempts over
//! about 28 hours nominal), a 15 s request timeout, 20 KB of response body kept, private
//! addresses refused. Simulations and tests shorten the durations and opt in to private
//! addresses; they also set the seed, so retry jitter replays.

use std::sync::Arc;
use std::time::Duration;

use super::breaker::BreakerConfig;
use super::observer::{NoWebhookObserver, WebhookObserver};
use super::schedule::RetrySchedule;
use super::transport::{RESPONSE_BODY_LIMIT_BYTES_DEFAULT, RequestTimeout};
use crate::TypedEvent;
use crate::clock::{Clock, TokioClock};
use crate::jobs::{JobCompleted, JobFailed};
use crate::mutants::Mutants;

/// How long a retiring secret keeps signing after a rotation, by default.
pub const ROTATION_GRACE_DEFAULT: Duration = Duration::from_secs(24 * 60 * 60);

/// How long an endpoint may fail every attempt before it is disabled, by default.
pub const DISABLE_AFTER_DEFAULT: Duration = Duration::from_secs(5 * 24 * 60 * 60);

/// Deliveries an endpoint may hold accepted and unfinished, by default.
pub const BACKLOG_MAX_DEFAULT: usize = 1_024;

/// Requests one endpoint may have on the wire at once, by default.
pub const IN_FLIGHT_MAX_DEFAULT: usize = 4;

/// The configuration of a [`crate::webhook::WebhookService`].
pub struct WebhookConfig {
    /// The retry schedule; its length is the attempt bound.
    pub schedule: RetrySchedule,
    /// The bound on one whole request.
    pub request_timeout: RequestTimeout,
    /// Response body bytes kept per attempt.
    pub response_body_limit_bytes: usize,
    /// Per endpoint: deliveries accepted and not finished; when full, the bus handler waits
    /// for room (bounded by `bus_handler_timeout`).
    pub backlog_max: usize,
    /// Per endpoint: requests on the wire at once.
    pub in_flight_max: usize,
    /// The circuit breaker's thresholds.
    pub breaker: BreakerConfig,
    /// An endpoint failing every attempt for this long is disabled.
    pub disable_after: Duration,
    /// How long a rotated-out secret keeps signing.
    pub rotation_grace: Duration,
    /// The topics endpoints may ask for.
    pub topics: Vec<String>,
    /// Allow endpoints on loopback, private and link-local addresses (tests, simulation,
    /// demo). Off by default: see [`crate::webhook::ssrf`].
    pub allow_private_addresses: bool,
    /// The seed of the service's one random generator (retry jitter).
    pub seed: u64,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The observer.
    pub observer: Arc<dyn WebhookObserver>,
    /// The timeout of each endpoint's bus handler (which only waits for backlog room).
    pub bus_handler_timeout: Duration,
    /// The capacity of each endpoint's bus queue.
    pub bus_queue_capacity: usize,
    /// Finished delivery records kept for queries.
    ///
    /// TODO: each kept attempt holds up to `response_body_limit_bytes` of response body, so
    /// the worst case is this bound times the attempts times 20 KB (1.6 GB at the defaults);
    /// keeping a short excerpt in finished records, and the full body only in dead letters,
    /// would bound it to a few megabytes.
    pub deliveries_kept_max: usize,
    /// Dead letters kept.
    pub dead_letters_max: usize,
    /// Endpoints that may be registered.
    pub endpoints_max: usize,
    /// Planted bugs switched on (only with the `mutants` feature).
    pub mutants: Mutants,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            schedule: RetrySchedule::default(),
            request_timeout: RequestTimeout::default(),
            response_body_limit_bytes: RESPONSE_BODY_LIMIT_BYTES_DEFAULT,
            backlog_max: BACKLOG_MAX_DEFAULT,
            in_flight_max: IN_FLIGHT_MAX_DEFAULT,
            breaker: BreakerConfig::default(),
            disable_after: DISABLE_AFTER_DEFAULT,
            rotation_grace: ROTATION_GRACE_DEFAULT,
            topics: vec![JobCompleted::TOPIC.to_owned(), JobFailed::TOPIC.to_owned()],
            allow_private_addresses: false,
            seed: rand::random(),
            clock: Arc::new(TokioClock::system()),
            observer: Arc::new(NoWebhookObserver),
            bus_handler_timeout: Duration::from_secs(10),
            bus_queue_capacity: 1_024,
            deliveries_kept_max: 10_000,
            dead_letters_max: 10_000,
            endpoints_max: 1_000,
            mutants: Mutants::none(),
        }
    }
}

/// Why a webhook service could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum WebhookConfigError {
    /// A bound that must admit at least one item was zero.
    #[error("webhook setting {setting} must be at least 1")]
    ZeroBound {
        /// The setting's field name.
        setting: &'static str,
    },
    /// The TLS client configuration could not be built.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsConfigError),
}

impl WebhookConfig {
    /// Checks the bounds: each of `backlog_max`, `in_flight_max`, `bus_queue_capacity`,
    /// `endpoints_max`, `deliveries_kept_max` and `dead_letters_max` must be at least 1.
    pub fn validate(&self) -> Result<(), WebhookConfigError> {
        let bounds = [
            ("backlog_max", self.backlog_max),
            ("in_flight_max", self.in_flight_max),
            ("bus_queue_capacity", self.bus_queue_capacity),
            ("endpoints_max", self.endpoints_max),
            ("deliveries_kept_max", self.deliveries_kept_max),
            ("dead_letters_max", self.dead_letters_max),
        ];
        match bounds.into_iter().find(|(_, value)| *value == 0) {
            Some((setting, _)) => Err(WebhookConfigError::ZeroBound { setting }),
            None => Ok(()),
        }
    }

    /// The gate TTL of each endpoint's subscriber: the whole retry schedule at its longest,
    /// every attempt's timeout, and an hour of margin, so a duplicate of an event cannot
    /// start a second delivery while the first may still be retrying.
    pub fn subscriber_ttl(&self) -> Duration {
        let attempts = self.schedule.attempts_max();
        let requests = self.request_timeout.get().saturating_mul(attempts);
        self.schedule
            .max_total_span()
            .saturating_add(requests)
            .saturating_add(TTL_MARGIN)
    }

    /// The lease of each endpoint's subscriber: twice the handler timeout, so it is always
    /// longer, as the bus requires.
    pub fn subscriber_lease(&self) -> Duration {
        self.bus_handler_timeout.saturating_mul(2)
    }
}

/// Added to the subscriber TTL beyond the schedule's own span.
const TTL_MARGIN: Duration = Duration::from_secs(60 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bounds_are_refused_by_name() {
        assert!(WebhookConfig::default().validate().is_ok());
        let config = WebhookConfig {
            in_flight_max: 0,
            ..WebhookConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(matches!(
            error,
            WebhookConfigError::ZeroBound {
                setting: "in_flight_max"
            }
        ));
        assert_eq!(
            error.to_string(),
            "webhook setting in_flight_max must be at least 1"
        );
        let config = WebhookConfig {
            backlog_max: 0,
            ..WebhookConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(WebhookConfigError::ZeroBound {
                setting: "backlog_max"
            })
        ));
    }

    #[test]
    fn subscriber_ttl_outlasts_the_longest_schedule_and_lease_outlasts_the_handler() {
        let config = WebhookConfig::default();
        let attempts = config.schedule.attempts_max();
        let requests = config.request_timeout.get() * attempts;
        assert!(config.subscriber_ttl() >= config.schedule.max_total_span() + requests);
        assert!(config.subscriber_lease() > config.bus_handler_timeout);
    }
}
