//! Integration tests of the webhook service.
//!
//! - `http`: against wiremock on loopback, in real time, with a short schedule; timing is
//!   judged from the recorded attempt times, never from elapsed time.
//! - `timing`: under paused tokio time over an in-process connector (hyper over
//!   `tokio::io::duplex`); never wiremock, whose real-time server would make paused time fire
//!   timeouts falsely.
//! - `dedup`: a receiver deduplicating on `webhook-id` applies each event once although the
//!   sender's responses are lost.
//! - `bad_input`: registration errors and hostile endpoints.

mod bad_input;
mod dedup;
mod http;
mod support;
mod timing;
