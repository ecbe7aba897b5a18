//! The webhook subscriber: delivers bus events to HTTP endpoints following the Standard
//! Webhooks specification.
//!
//! - [`service`]: [`WebhookService`], the endpoints' bus subscribers, redrive and queries;
//!   [`config`]: its bounds and defaults.
//! - [`endpoint`]: endpoint configuration, validation and listings; [`ssrf`]: the guard
//!   against private addresses.
//! - `delivery` (private): one delivery's attempts; [`breaker`]: the per-endpoint circuit
//!   breaker; [`state`]: delivery records; [`dead_letter`]: the service's dead letters;
//!   [`observer`]: the hook the simulation records from; [`envelope`]: the JSON body.
//! - [`secret`]: endpoint secrets (`whsec_...`), never shown in full.
//! - [`signing`]: the `webhook-id` / `webhook-timestamp` / `webhook-signature` headers and
//!   [`signing::verify`] for receivers.
//! - [`schedule`]: the retry schedule with seeded jitter; [`retry_after`]: the
//!   `Retry-After` header.
//! - [`transport`]: one POST over hyper 1.x through a [`transport::Connector`] (tokio TCP with
//!   TLS, turmoil TCP, or in-process); [`tls`]: client TLS configurations.

pub mod breaker;
pub mod config;
pub mod dead_letter;
mod delivery;
pub mod endpoint;
pub mod envelope;
pub mod observer;
pub mod retry_after;
pub mod schedule;
pub mod secret;
pub mod service;
mod shared;
pub mod signing;
pub mod ssrf;
pub mod state;
pub mod tls;
pub mod transport;

pub use breaker::BreakerConfig;
pub use config::{WebhookConfig, WebhookConfigError};
pub use dead_letter::{DeadLetterId, WebhookDeadLetter};
pub use endpoint::{
    BreakerState, DisableReason, EndpointConfig, EndpointCounts, EndpointError, EndpointId,
    EndpointInfo, EndpointUpdate,
};
pub use observer::{NoWebhookObserver, WebhookObservation, WebhookObserver};
pub use schedule::RetrySchedule;
pub use secret::WebhookSecret;
pub use service::{RedriveError, WebhookService};
pub use state::{DeliveryInfo, DeliveryOutcome, WebhookAttempt};
