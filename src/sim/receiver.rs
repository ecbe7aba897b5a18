//! The receiver hosts: HTTP servers over turmoil's TCP that verify Standard Webhooks
//! signatures, deduplicate on `webhook-id`, record each event they apply, and misbehave on
//! command (slow, hang, 5xx, or process and then drop the connection before answering).
//!
//! A receiver's applied set stands for its database: it lives outside the host, so it
//! survives a receiver crash, as a real receiver's would. It records "received" with the
//! event id read from the body, not the `webhook-id` it was sent: the receiver at-most-once
//! checker keys on the true event, so a sender that changed `webhook-id` between retries
//! would show up as the same event applied twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::webhook::secret::WebhookSecret;
use crate::webhook::signing;

use super::app::Shared;
use super::config::RECEIVER_PORT;
use super::faults::FaultKind;
use super::history::Record;
use super::mix::{chance, mix, name};

/// How long a hanging receiver holds a request before giving up on it itself.
pub const HANG: Duration = Duration::from_secs(60);

/// The longest pause of a slow receiver.
pub const SLOW_MAX: Duration = Duration::from_millis(200);

/// One receiver's durable state and its instructions.
#[derive(Debug)]
pub struct Receiver {
    name: String,
    secret: WebhookSecret,
    shared: Arc<Shared>,
    applied: Mutex<BTreeSet<String>>,
    seen: Mutex<BTreeMap<String, u64>>,
}

/// What a receiver does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Apply,
    Slow(Duration),
    Hang,
    Error,
    ApplyThenDrop,
}

/// The connection is dropped without an answer.
#[derive(Debug, thiserror::Error)]
#[error("receiver dropped the connection on purpose")]
pub struct Dropped;

impl Receiver {
    /// A receiver named `name` checking signatures with `secret`, in the run of `shared`.
    pub fn new(name: &str, secret: WebhookSecret, shared: Arc<Shared>) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            secret,
            shared,
            applied: Mutex::new(BTreeSet::new()),
            seen: Mutex::new(BTreeMap::new()),
        })
    }

    /// The receiver's name (its host name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The secret its endpoint is signed with.
    pub fn secret(&self) -> &WebhookSecret {
        &self.secret
    }

    /// The host's software: accept connections and serve each with hyper.
    pub async fn serve(self: Arc<Self>) -> turmoil::Result {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", RECEIVER_PORT)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let receiver = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let receiver = receiver.clone();
                    async move { receiver.handle(request).await }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let _ = connection.await;
            });
        }
    }

    async fn handle(&self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
        let (parts, body) = request.into_parts();
        let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
            return Err(Dropped);
        };
        let header = |n: &str| {
            parts
                .headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let webhook_id = header("webhook-id");
        if let Err(error) = self.verify(
            &webhook_id,
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            &body,
        ) {
            let reason = error.to_string();
            self.shared.log.record(Record::Rejected {
                receiver: self.name.clone(),
                webhook_id,
                reason,
            });
            return Ok(answer(StatusCode::BAD_REQUEST));
        }
        match self.act(&webhook_id) {
            Act::Apply => Ok(self.apply(&webhook_id, &body)),
            Act::Slow(pause) => {
                tokio::time::sleep(pause).await;
                Ok(self.apply(&webhook_id, &body))
            }
            Act::Hang => {
                tokio::time::sleep(HANG).await;
                Ok(answer(StatusCode::SERVICE_UNAVAILABLE))
            }
            Act::Error => Ok(answer(StatusCode::SERVICE_UNAVAILABLE)),
            Act::ApplyThenDrop => {
                self.apply(&webhook_id, &body);
                Err(Dropped)
            }
        }
    }

    fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), signing::VerifyError> {
        let now = self.shared.epoch + turmoil::sim_elapsed().unwrap_or_default();
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        signing::verify(&self.secret, id, timestamp, signature, body, now_secs)
    }

    /// Applies the event unless its `webhook-id` was applied before; answers 200 either way.
    fn apply(&self, webhook_id: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let fresh = lock(&self.applied).insert(webhook_id.to_owned());
        if fresh {
            let event = event_id_from_body(body).unwrap_or_else(|| "unknown".to_owned());
            let webhook_id = webhook_id.to_owned();
            self.shared.log.record(Record::Received {
                receiver: self.name.clone(),
                event,
                webhook_id,
            });
        }
        answer(StatusCode::OK)
    }

    /// What to do with the `nth` request carrying `webhook_id`.
    fn act(&self, webhook_id: &str) -> Act {
        let nth = {
            let mut seen = lock(&self.seen);
            let count = seen.entry(webhook_id.to_owned()).or_insert(0);
            *count += 1;
            *count
        };
        if self.shared.healed.load(Ordering::SeqCst) {
            return Act::Apply;
        }
        let (seed, plan) = (self.shared.config.seed, &self.shared.config.plan);
        let roll = |kind: FaultKind| {
            let value = mix(&[seed, name(&self.name), name(webhook_id), nth, kind as u64]);
            chance(value, plan.rate(kind)).then_some(value)
        };
        if roll(FaultKind::ReceiverDrop).is_some() {
            Act::ApplyThenDrop
        } else if roll(FaultKind::ReceiverError).is_some() {
            Act::Error
        } else if roll(FaultKind::ReceiverHang).is_some() {
            Act::Hang
        } else if let Some(value) = roll(FaultKind::ReceiverSlow) {
            Act::Slow(Duration::from_millis(
                1 + (value >> 12) % SLOW_MAX.as_millis() as u64,
            ))
        } else {
            Act::Apply
        }
    }
}

/// The true event id a webhook body carries: the envelope's `id` (see
/// [`crate::webhook::envelope`]).
pub fn event_id_from_body(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("id")?.as_str().map(str::to_owned)
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
