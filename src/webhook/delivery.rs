//! One delivery: an event's attempts against one endpoint, from acceptance to 2xx or dead
//! letter.
//!
//! Each delivery runs as its own task, holding one of its endpoint's backlog permits until
//! it ends, and one of its in-flight permits only while a request is on the wire. So a slow
//! or dead endpoint fills its own backlog and nothing else; deliveries to other endpoints
//! never wait for it. Waiting between attempts is `tokio::time::sleep`, which paused time and
//! turmoil drive, and is cut short when the endpoint is disabled.
//!
//! The steps of one attempt:
//!
//! 1. wait the schedule's delay (jitter from the service's generator, `Retry-After` clamped);
//! 2. ask the breaker; an open breaker defers without using up the attempt;
//! 3. take an in-flight permit and POST, signed, with the event id as `webhook-id`;
//! 4. 2xx delivers; 410 disables the endpoint; anything else is a failed attempt, which may
//!    disable an endpoint that has failed for `disable_after`, and otherwise retries until the
//!    schedule runs out.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use http::header::HeaderMap;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::breaker::Admission;
use super::endpoint::DisableReason;
use super::observer::WebhookObservation;
use super::retry_after::parse_retry_after;
use super::shared::{Shared, TRACE_TARGET};
use super::signing::{self, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use super::state::{DeliveryKey, WebhookAttempt};
use super::transport::{OutgoingRequest, Response, SendError};
use crate::bus::DeadLetterReason;
use crate::event::Event;

/// How a delivery ended.
enum Finish {
    Delivered { attempts: u32 },
    DeadLettered(DeadLetterReason),
}

/// What one attempt's answer means.
enum Verdict {
    Success,
    Gone,
    Retry { retry_after: Option<Duration> },
}

/// One event on its way to one endpoint.
pub(crate) struct Delivery {
    shared: Arc<Shared>,
    key: DeliveryKey,
    event: Event,
    body: Bytes,
    in_flight: Arc<Semaphore>,
    disabled: Arc<Notify>,
    _backlog: OwnedSemaphorePermit,
}

impl Delivery {
    pub(crate) fn new(
        shared: Arc<Shared>,
        key: DeliveryKey,
        event: Event,
        backlog: OwnedSemaphorePermit,
    ) -> Option<Self> {
        let (in_flight, disabled) = {
            let state = shared.lock();
            let slot = state.endpoints.get(&key.1)?;
            (slot.in_flight.clone(), slot.disabled.clone())
        };
        let body = super::envelope::envelope(&event);
        Some(Delivery {
            shared,
            key,
            event,
            body,
            in_flight,
            disabled,
            _backlog: backlog,
        })
    }

    /// Runs every attempt, then records the end.
    pub(crate) async fn run(self) {
        match self.attempts().await {
            Finish::Delivered { attempts } => self.shared.finish_delivered(&self.key, attempts),
            Finish::DeadLettered(reason) => {
                self.shared
                    .finish_dead_lettered(&self.key, &self.event, reason);
            }
        }
    }

    async fn attempts(&self) -> Finish {
        let attempts_max = self.shared.settings.schedule.attempts_max();
        let mut retry_after = None;
        for attempt in 1..=attempts_max {
            let delay = self.shared.delay_before(attempt, retry_after);
            self.schedule(attempt, delay);
            if !self.wait(delay).await || !self.pass_breaker(attempt).await {
                return Finish::DeadLettered(DeadLetterReason::EndpointDisabled);
            }
            let Some(verdict) = self.attempt(attempt).await else {
                return Finish::DeadLettered(DeadLetterReason::EndpointDisabled);
            };
            match verdict {
                Verdict::Success => return Finish::Delivered { attempts: attempt },
                Verdict::Gone => {
                    self.shared.disable(&self.key.1, DisableReason::Gone);
                    return Finish::DeadLettered(DeadLetterReason::EndpointDisabled);
                }
                Verdict::Retry { retry_after: asked } => {
                    if self.failed_too_long() {
                        self.shared
                            .disable(&self.key.1, DisableReason::FailingContinuously);
                        return Finish::DeadLettered(DeadLetterReason::EndpointDisabled);
                    }
                    retry_after = asked;
                }
            }
        }
        Finish::DeadLettered(DeadLetterReason::AttemptsExhausted)
    }

    /// Records and announces when `attempt` is due.
    fn schedule(&self, attempt: u32, delay: Duration) {
        let due = self
            .shared
            .clock
            .unix_now_ms()
            .saturating_add(millis(delay));
        self.shared.set_next_attempt(&self.key, Some(due));
        if attempt > 1 {
            let (event_id, endpoint) = (&self.key.0, &self.key.1);
            self.shared.observe(WebhookObservation::RetryScheduled {
                endpoint,
                event_id,
                attempt,
                after: delay,
            });
            tracing::debug!(target: TRACE_TARGET, %endpoint, %event_id, attempt, ?delay, "retry");
        }
    }

    /// Sleeps `delay`; false when the endpoint is (or becomes) disabled meanwhile.
    async fn wait(&self, delay: Duration) -> bool {
        let disabled = self.disabled.notified();
        tokio::pin!(disabled);
        disabled.as_mut().enable();
        if !self.endpoint_enabled() {
            return false;
        }
        tokio::select! {
            biased;
            _ = &mut disabled => false,
            _ = tokio::time::sleep(delay) => self.endpoint_enabled(),
        }
    }

    /// Waits while the breaker is open; false when the endpoint is disabled meanwhile.
    ///
    /// The loop ends when the breaker admits the attempt or the endpoint is disabled: an open
    /// breaker lets a probe through every `open_for`, and an endpoint whose probes keep
    /// failing is disabled once it has failed for `disable_after`.
    async fn pass_breaker(&self, attempt: u32) -> bool {
        loop {
            let now = self.shared.clock.now();
            let admission = {
                let mut state = self.shared.lock();
                let Some(slot) = state.endpoints.get_mut(&self.key.1) else {
                    return false;
                };
                let admission = slot.breaker.admit(now);
                if let Admission::Deferred(_) = admission {
                    slot.counts.deferrals += 1;
                }
                admission
            };
            let Admission::Deferred(until) = admission else {
                return true;
            };
            let after = until.saturating_duration_since(now);
            let (event_id, endpoint) = (&self.key.0, &self.key.1);
            self.shared.observe(WebhookObservation::DeferredByBreaker {
                endpoint,
                event_id,
                attempt,
                after,
            });
            if !self.wait(after).await {
                return false;
            }
        }
    }

    /// Makes one attempt; `None` when the endpoint was disabled before it could start.
    async fn attempt(&self, attempt: u32) -> Option<Verdict> {
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self.in_flight.acquire().await.ok()?;
        let now = self.shared.clock.now();
        let (url, secrets) = {
            let mut state = self.shared.lock();
            let slot = state.endpoints.get_mut(&self.key.1)?;
            if !slot.endpoint.enabled {
                slot.breaker.record_abandoned();
                return None;
            }
            slot.counts.attempts += 1;
            slot.counts.in_flight += 1;
            (
                slot.endpoint.url.clone(),
                slot.endpoint.signing_secrets(now),
            )
        };

        let webhook_id = self.webhook_id(attempt);
        let timestamp_secs = i64::try_from(self.shared.clock.unix_now().as_secs()).unwrap_or(0);
        let secrets: Vec<_> = secrets.iter().collect();
        let signature =
            signing::signature_header(&secrets, &webhook_id, timestamp_secs, &self.body);
        let mut request = OutgoingRequest::new(url, self.body.clone());
        request.headers = headers(&webhook_id, timestamp_secs, &signature);
        request.timeout = self.shared.settings.request_timeout;

        let (event_id, endpoint) = (&self.key.0, &self.key.1);
        let started_at_unix_ms = self.shared.clock.unix_now_ms();
        self.shared.observe(WebhookObservation::AttemptStarted {
            endpoint,
            event_id,
            webhook_id: &webhook_id,
            attempt,
        });
        let result = self.shared.sender.send(request).await;

        let mut record = self.record(attempt, webhook_id, started_at_unix_ms, &result);
        let verdict = verdict(&result, &mut record, timestamp_secs);
        self.after_attempt(&record, &verdict);
        Some(verdict)
    }

    /// Records the attempt and feeds the breaker and the failure clock.
    fn after_attempt(&self, record: &WebhookAttempt, verdict: &Verdict) {
        let now = self.shared.clock.now();
        self.shared.record_attempt(&self.key, record);
        {
            let mut state = self.shared.lock();
            if let Some(slot) = state.endpoints.get_mut(&self.key.1) {
                if let Verdict::Success = verdict {
                    slot.breaker.record_success();
                    slot.failing_since = None;
                } else {
                    slot.breaker.record_failure(now);
                    slot.failing_since.get_or_insert(now);
                }
            }
        }
        let (event_id, endpoint) = (&self.key.0, &self.key.1);
        self.shared.observe(WebhookObservation::AttemptEnded {
            endpoint,
            event_id,
            record,
        });
        tracing::debug!(
            target: TRACE_TARGET,
            %endpoint,
            %event_id,
            attempt = record.attempt,
            status = record.status,
            kind = %record.kind,
            reason = %record.reason,
            "attempt ended"
        );
    }

    /// True when the endpoint has failed every attempt for at least `disable_after`.
    fn failed_too_long(&self) -> bool {
        let now = self.shared.clock.now();
        let state = self.shared.lock();
        let since = state
            .endpoints
            .get(&self.key.1)
            .and_then(|s| s.failing_since);
        since.is_some_and(|since| {
            now.saturating_duration_since(since) >= self.shared.settings.disable_after
        })
    }

    fn endpoint_enabled(&self) -> bool {
        let state = self.shared.lock();
        state
            .endpoints
            .get(&self.key.1)
            .is_some_and(|s| s.endpoint.enabled)
    }

    /// The `webhook-id` for `attempt`: the event id, on every attempt.
    fn webhook_id(&self, attempt: u32) -> String {
        #[cfg(feature = "mutants")]
        if attempt > 1
            && self
                .shared
                .settings
                .mutants
                .is_on(crate::mutants::Mutant::NewWebhookIdPerRetry)
        {
            return format!("{}_{attempt}", self.event.id());
        }
        let _ = attempt;
        self.event.id().as_str().to_owned()
    }

    fn record(
        &self,
        attempt: u32,
        webhook_id: String,
        started_at_unix_ms: u64,
        result: &Result<Response, SendError>,
    ) -> WebhookAttempt {
        let ended_at_unix_ms = self.shared.clock.unix_now_ms();
        let (status, body, truncated) = match result {
            Ok(response) => {
                let body = String::from_utf8_lossy(&response.body).into_owned();
                (Some(response.status), body, response.truncated)
            }
            Err(_) => (None, String::new(), false),
        };
        WebhookAttempt {
            attempt,
            webhook_id,
            started_at_unix_ms,
            ended_at_unix_ms,
            status,
            kind: String::new(),
            reason: String::new(),
            response_body: body,
            response_truncated: truncated,
        }
    }
}

/// Classifies an answer, filling in the record's kind and reason.
fn verdict(
    result: &Result<Response, SendError>,
    record: &mut WebhookAttempt,
    now_unix_secs: i64,
) -> Verdict {
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            record.kind = error.kind().to_owned();
            record.reason = error.reason();
            return Verdict::Retry { retry_after: None };
        }
    };
    let status = response.status;
    let (kind, reason, verdict) = match status {
        200..=299 => ("ok", "delivered".to_owned(), Verdict::Success),
        410 => (
            "gone",
            "status 410: endpoint gone".to_owned(),
            Verdict::Gone,
        ),
        300..=399 => {
            let location = response.location.as_deref().unwrap_or("nowhere");
            let reason = format!("status {status}: redirect to {location:?} not followed");
            ("redirect", reason, Verdict::Retry { retry_after: None })
        }
        _ => {
            let (retry_after, note) = retry_after(response, now_unix_secs);
            let reason = format!("status {status}{note}");
            ("status", reason, Verdict::Retry { retry_after })
        }
    };
    record.kind = kind.to_owned();
    record.reason = reason;
    verdict
}

/// The endpoint's `Retry-After`, and a note for the reason when it could not be read.
fn retry_after(response: &Response, now_unix_secs: i64) -> (Option<Duration>, String) {
    let Some(text) = response.retry_after.as_deref() else {
        return (None, String::new());
    };
    match parse_retry_after(text, now_unix_secs) {
        Ok(wait) => (Some(wait), format!(", retry-after {}s", wait.as_secs())),
        Err(error) => (None, format!(", {error}")),
    }
}

fn headers(webhook_id: &str, timestamp_secs: i64, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let values = [
        (HEADER_ID, webhook_id.to_owned()),
        (HEADER_TIMESTAMP, timestamp_secs.to_string()),
        (HEADER_SIGNATURE, signature.to_owned()),
    ];
    for (name, value) in values {
        // Event ids, digits and base64 are always valid header values; stay total anyway.
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
