//! The webhook subscriber: delivers bus events to HTTP endpoints following the Standard
//! Webhooks specification.
//!
//! - [`secret`]: endpoint secrets (`whsec_...`), never shown in full.
//! - [`signing`]: the `webhook-id` / `webhook-timestamp` / `webhook-signature` headers and
//!   [`signing::verify`] for receivers.
//! - [`schedule`]: the retry schedule with seeded jitter; [`retry_after`]: the
//!   `Retry-After` header.
//! - [`transport`]: one POST over hyper 1.x through a [`transport::Connector`] (tokio TCP with
//!   TLS, turmoil TCP, or in-process); [`tls`]: client TLS configurations.

pub mod retry_after;
pub mod schedule;
pub mod secret;
pub mod signing;
pub mod tls;
pub mod transport;
