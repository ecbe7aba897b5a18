//! Shared helpers: a bus and a webhook service wired to a recording observer, in-process
//! receivers (hyper over `tokio::io::duplex`) and a few constants.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use eventgate::bus::{BusConfig, DeadLetterReason};
use eventgate::clock::{Clock, TokioClock};
use eventgate::webhook::transport::{Connector, InProcessConnector};
use eventgate::webhook::{
    DeliveryInfo, EndpointConfig, EndpointId, RetrySchedule, WebhookConfig, WebhookObservation,
    WebhookObserver, WebhookSecret, WebhookService,
};
use eventgate::{EventBus, EventId, InMemoryEventBus, NewEvent};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream};

/// The unix time paused-time tests start at (2021-02-25T15:02:10Z).
pub const EPOCH_SECS: u64 = 1_614_265_330;

/// A fixed 32-byte secret.
pub fn secret() -> WebhookSecret {
    WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("valid")
}

/// A schedule from whole milliseconds.
pub fn schedule_ms(delays: &[u64]) -> RetrySchedule {
    let delays = delays.iter().map(|ms| Duration::from_millis(*ms)).collect();
    RetrySchedule::new(delays).expect("valid test schedule")
}

/// What the recorder keeps of each observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Accepted {
        endpoint: String,
        event_id: String,
    },
    AttemptStarted {
        endpoint: String,
        event_id: String,
        webhook_id: String,
        attempt: u32,
    },
    AttemptEnded {
        endpoint: String,
        event_id: String,
        attempt: u32,
        kind: String,
    },
    RetryScheduled {
        endpoint: String,
        attempt: u32,
        after: Duration,
    },
    Deferred {
        endpoint: String,
        attempt: u32,
        after: Duration,
    },
    Delivered {
        endpoint: String,
        event_id: String,
        attempts: u32,
    },
    DeadLettered {
        endpoint: String,
        event_id: String,
        reason: DeadLetterReason,
    },
    Disabled {
        endpoint: String,
    },
    Redriven {
        endpoint: String,
        event_id: String,
    },
}

/// Keeps every observation in order.
#[derive(Default)]
pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

impl WebhookObserver for Recorder {
    fn observe(&self, observation: WebhookObservation<'_>) {
        use WebhookObservation as O;
        let s = |id: &EndpointId| id.to_string();
        let seen = match observation {
            O::Accepted { endpoint, event } => Seen::Accepted {
                endpoint: s(endpoint),
                event_id: event.id().to_string(),
            },
            O::AttemptStarted {
                endpoint,
                event_id,
                webhook_id,
                attempt,
            } => Seen::AttemptStarted {
                endpoint: s(endpoint),
                event_id: event_id.to_string(),
                webhook_id: webhook_id.to_owned(),
                attempt,
            },
            O::AttemptEnded {
                endpoint,
                event_id,
                record,
            } => Seen::AttemptEnded {
                endpoint: s(endpoint),
                event_id: event_id.to_string(),
                attempt: record.attempt,
                kind: record.kind.clone(),
            },
            O::RetryScheduled {
                endpoint,
                attempt,
                after,
                ..
            } => Seen::RetryScheduled {
                endpoint: s(endpoint),
                attempt,
                after,
            },
            O::DeferredByBreaker {
                endpoint,
                attempt,
                after,
                ..
            } => Seen::Deferred {
                endpoint: s(endpoint),
                attempt,
                after,
            },
            O::Delivered {
                endpoint,
                event_id,
                attempts,
            } => Seen::Delivered {
                endpoint: s(endpoint),
                event_id: event_id.to_string(),
                attempts,
            },
            O::DeadLettered {
                endpoint,
                event_id,
                reason,
                ..
            } => Seen::DeadLettered {
                endpoint: s(endpoint),
                event_id: event_id.to_string(),
                reason,
            },
            O::EndpointDisabled { endpoint, .. } => Seen::Disabled {
                endpoint: s(endpoint),
            },
            O::Redriven {
                endpoint, event_id, ..
            } => Seen::Redriven {
                endpoint: s(endpoint),
                event_id: event_id.to_string(),
            },
        };
        self.seen.lock().expect("not poisoned").push(seen);
    }
}

/// A bus, a service on it, and the service's recorder.
pub struct Harness {
    pub bus: InMemoryEventBus,
    pub service: WebhookService,
    pub recorder: Arc<Recorder>,
    pub clock: Arc<dyn Clock>,
}

/// A test configuration: private addresses allowed, seed 7, `schedule`, recorder attached.
pub fn config(
    schedule: RetrySchedule,
    clock: Arc<dyn Clock>,
    recorder: Arc<Recorder>,
) -> WebhookConfig {
    WebhookConfig {
        schedule,
        allow_private_addresses: true,
        seed: 7,
        clock,
        observer: recorder,
        ..WebhookConfig::default()
    }
}

impl Harness {
    /// Real time, real TCP: for wiremock.
    pub fn real_time(schedule: RetrySchedule) -> Self {
        Self::build(schedule, Arc::new(TokioClock::system()), None, |c| c)
    }

    /// Paused time over `connector`, with `tweak` applied to the configuration.
    pub fn in_process(
        schedule: RetrySchedule,
        connector: InProcessConnector,
        tweak: impl FnOnce(WebhookConfig) -> WebhookConfig,
    ) -> Self {
        let clock = Arc::new(TokioClock::with_epoch(Duration::from_secs(EPOCH_SECS)));
        Self::build(schedule, clock, Some(Arc::new(connector)), tweak)
    }

    fn build(
        schedule: RetrySchedule,
        clock: Arc<dyn Clock>,
        connector: Option<Arc<dyn Connector>>,
        tweak: impl FnOnce(WebhookConfig) -> WebhookConfig,
    ) -> Self {
        let recorder = Arc::new(Recorder::default());
        let bus = InMemoryEventBus::with_config(BusConfig::default().clock(clock.clone()));
        let config = tweak(config(schedule, clock.clone(), recorder.clone()));
        let bus_arc: Arc<dyn EventBus> = Arc::new(bus.clone());
        let service = match connector {
            Some(connector) => WebhookService::with_connector(bus_arc, config, connector)
                .expect("the test configuration is valid"),
            None => WebhookService::new(bus_arc, config).expect("tls config builds"),
        };
        Harness {
            bus,
            service,
            recorder,
            clock,
        }
    }

    /// Registers an endpoint at `url` for `job_completed`.
    pub fn register(&self, url: &str) -> EndpointId {
        let endpoint = EndpointConfig::new(url, secret(), ["job_completed"]);
        self.service.register(endpoint).expect("valid endpoint")
    }

    /// Publishes a `job_completed` event about job `n`.
    pub fn publish(&self, n: u64) -> EventId {
        let payload = serde_json::json!({ "job_id": n, "kind": "resize" });
        let event = NewEvent::json("job_completed", format!("job_completed:{n}"), &payload)
            .expect("encodes");
        self.bus.publish(event).expect("published").event_id
    }

    /// Waits until the bus and the service are both idle.
    pub async fn settle(&self) {
        self.bus.idle().await;
        self.service.idle().await;
    }

    /// Registers one endpoint at `url`, publishes one event to it, waits until everything is
    /// idle, and returns that event's delivery record.
    pub async fn deliver_one(&self, url: &str) -> DeliveryInfo {
        self.deliver_one_to(url).await.1
    }

    /// [`Harness::deliver_one`], also returning the endpoint's id.
    pub async fn deliver_one_to(&self, url: &str) -> (EndpointId, DeliveryInfo) {
        let endpoint = self.register(url);
        let event_id = self.publish(1);
        self.settle().await;
        let delivery = self
            .service
            .delivery(&event_id, &endpoint)
            .expect("recorded");
        (endpoint, delivery)
    }

    /// The unix milliseconds of the clock now.
    pub fn now_ms(&self) -> u64 {
        self.clock.unix_now_ms()
    }
}

/// A request as an in-process receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub webhook_id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Bytes,
}

impl Received {
    pub async fn read(request: Request<Incoming>) -> Self {
        let header = |name: &str| {
            let value = request.headers().get(name);
            value
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (webhook_id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
        let signature = header("webhook-signature");
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Received {
            webhook_id,
            timestamp,
            signature,
            body,
        }
    }

    /// The event id inside the body.
    pub fn event_id(&self) -> String {
        let value: serde_json::Value = serde_json::from_slice(&self.body).expect("json body");
        value["id"].as_str().expect("id").to_owned()
    }
}

pub type HttpResponse = http::Response<Full<Bytes>>;

pub fn reply(status: u16) -> HttpResponse {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
    response
}

/// Serves one HTTP/1 connection with `handler`.
pub async fn serve<S, F, Fut>(stream: S, handler: F)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let handler = Arc::new(handler);
    let service = service_fn(move |request| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler(request).await) }
    });
    let builder = hyper::server::conn::http1::Builder::new();
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// An in-process receiver answering with `handler`.
pub fn receiver<F, Fut>(handler: F) -> InProcessConnector
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    InProcessConnector::new(move |_target, stream| {
        tokio::spawn(serve(stream, handler.clone()));
    })
}

/// An in-process receiver running `script` on each connection's raw bytes.
pub fn raw_receiver<F, Fut>(script: F) -> InProcessConnector
where
    F: Fn(DuplexStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    InProcessConnector::new(move |_target, stream| {
        tokio::spawn(script(stream));
    })
}

/// Reads until the end of the request head.
pub async fn read_request_head(stream: &mut DuplexStream) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The gaps between one attempt's end and the next one's start, in milliseconds.
pub fn gaps_ms(attempts: &[eventgate::webhook::WebhookAttempt]) -> Vec<u64> {
    attempts
        .windows(2)
        .map(|pair| pair[1].started_at_unix_ms - pair[0].ended_at_unix_ms)
        .collect()
}
