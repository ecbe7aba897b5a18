//! Bad input: registrations that must be refused with a typed error, and hostile endpoints
//! whose every trick must end as a failed attempt with a recorded reason, never a panic or a
//! stuck delivery.

use std::sync::Arc;
use std::time::Duration;

use eventgate::bus::DeadLetterReason;
use eventgate::webhook::endpoint::EndpointError;
use eventgate::webhook::secret::SecretError;
use eventgate::webhook::ssrf::SsrfError;
use eventgate::webhook::transport::{InProcessConnector, UrlError};
use eventgate::webhook::{
    DeliveryOutcome, EndpointConfig, WebhookAttempt, WebhookConfig, WebhookConfigError,
    WebhookSecret, WebhookService,
};
use eventgate::{EventBus, InMemoryEventBus};
use tokio::io::{AsyncWriteExt, DuplexStream};

use crate::support::{Harness, raw_receiver, read_request_head, schedule_ms, secret};

/// A service with the production defaults: private addresses refused.
fn guarded_service() -> WebhookService {
    let bus: Arc<dyn EventBus> = Arc::new(InMemoryEventBus::new());
    WebhookService::new(bus, WebhookConfig::default()).expect("tls config builds")
}

fn register(service: &WebhookService, url: &str, topics: &[&str]) -> Result<(), EndpointError> {
    let config = EndpointConfig::new(url, secret(), topics.iter().copied());
    service.register(config).map(|_| ())
}

#[tokio::test]
async fn zero_bounds_in_the_service_configuration_are_refused_by_name() {
    let bus: Arc<dyn EventBus> = Arc::new(InMemoryEventBus::new());
    let config = WebhookConfig {
        backlog_max: 0,
        ..WebhookConfig::default()
    };
    let refused = WebhookService::new(bus, config).map(|_| ());
    assert!(matches!(
        refused,
        Err(WebhookConfigError::ZeroBound {
            setting: "backlog_max"
        })
    ));
}

#[tokio::test]
async fn urls_that_are_not_http_or_have_no_host_are_refused() {
    let service = guarded_service();
    let unsupported = register(&service, "ftp://example.com/x", &["job_completed"]);
    assert!(matches!(
        unsupported,
        Err(EndpointError::Url(UrlError::UnsupportedScheme { .. }))
    ));
    let relative = register(&service, "/hook", &["job_completed"]);
    assert_eq!(relative, Err(EndpointError::Url(UrlError::MissingScheme)));
    let hostless = register(&service, "http:///hook", &["job_completed"]);
    assert!(hostless.is_err(), "{hostless:?}");
    let garbage = register(&service, "not a url at all", &["job_completed"]);
    assert_eq!(garbage, Err(EndpointError::UrlSyntax));
    assert!(service.endpoints().is_empty());
}

#[test]
fn malformed_or_short_secrets_are_refused() {
    assert!(matches!(
        WebhookSecret::parse("s3cr3t"),
        Err(SecretError::MissingPrefix { .. })
    ));
    assert!(matches!(
        WebhookSecret::parse("whsec_!!!"),
        Err(SecretError::BadBase64 { .. })
    ));
    // 16 bytes: below the 24-byte minimum.
    let short = WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODw==");
    assert!(matches!(short, Err(SecretError::TooShort { len: 16, .. })));
}

#[tokio::test]
async fn unknown_or_missing_topics_are_refused() {
    let service = guarded_service();
    let unknown = register(&service, "https://example.com/", &["job_started"]);
    let Err(EndpointError::UnknownTopic { topic, known }) = unknown else {
        panic!("an unknown topic must be refused: {unknown:?}");
    };
    assert_eq!(
        (topic.as_str(), known.as_str()),
        ("job_started", "job_completed, job_failed")
    );
    assert_eq!(
        register(&service, "https://example.com/", &[]),
        Err(EndpointError::NoTopics)
    );
}

#[tokio::test]
async fn private_addresses_are_refused_without_the_opt_in() {
    let service = guarded_service();
    for url in [
        "http://127.0.0.1:8080/",
        "http://10.0.0.7/",
        "http://[::1]/",
        "http://169.254.169.254/",
    ] {
        let result = register(&service, url, &["job_completed"]);
        assert!(
            matches!(
                result,
                Err(EndpointError::PrivateAddress(
                    SsrfError::PrivateAddress { .. }
                ))
            ),
            "{url}: {result:?}"
        );
    }
    let localhost = register(&service, "http://localhost:3000/", &["job_completed"]);
    assert!(matches!(
        localhost,
        Err(EndpointError::PrivateAddress(SsrfError::Localhost { .. }))
    ));
    assert!(register(&service, "https://hooks.example.com/", &["job_completed"]).is_ok());
}

#[tokio::test]
async fn listings_and_debug_never_show_the_secret() {
    let service = guarded_service();
    register(&service, "https://hooks.example.com/", &["job_completed"]).expect("registered");
    let exposed = secret().expose();
    let listing = serde_json::to_string(&service.endpoints()).expect("serializes");
    let debug = format!(
        "{:?} {:?}",
        service.endpoints(),
        EndpointConfig::new("https://x.test/", secret(), ["job_completed"])
    );
    for text in [listing, debug] {
        assert!(!text.contains(&exposed[6..]), "{text}");
    }
}

/// Runs one event against `connector` with two attempts 1 s apart; returns its attempts.
async fn attempts_against(connector: InProcessConnector) -> Vec<WebhookAttempt> {
    let harness = Harness::in_process(schedule_ms(&[0, 1_000]), connector, |mut config| {
        config.request_timeout =
            eventgate::webhook::transport::RequestTimeout::new(Duration::from_secs(5)).expect("ok");
        config
    });
    let delivery = harness.deliver_one("http://hostile.test/").await;
    let exhausted = DeliveryOutcome::DeadLettered(DeadLetterReason::AttemptsExhausted);
    assert_eq!(delivery.outcome, exhausted, "{:?}", delivery.attempts);
    assert_eq!(delivery.attempts.len(), 2);
    delivery.attempts
}

/// A receiver that reads the request, then writes `bytes` and runs `then`.
fn writes(
    bytes: &'static [u8],
    then: fn(DuplexStream) -> futures_hold::Hold,
) -> InProcessConnector {
    raw_receiver(move |mut stream| async move {
        read_request_head(&mut stream).await;
        let _ = stream.write_all(bytes).await;
        then(stream).await;
    })
}

mod futures_hold {
    use std::future::Future;
    use std::pin::Pin;

    use tokio::io::DuplexStream;

    pub type Hold = Pin<Box<dyn Future<Output = ()> + Send>>;

    /// Keeps the connection open forever.
    pub fn forever(stream: DuplexStream) -> Hold {
        Box::pin(async move {
            std::future::pending::<()>().await;
            drop(stream);
        })
    }

    /// Closes the connection at once.
    pub fn close(stream: DuplexStream) -> Hold {
        Box::pin(async move { drop(stream) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_response_that_never_ends_is_a_timed_out_attempt() {
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial";
    let attempts = attempts_against(writes(head, futures_hold::forever)).await;
    assert!(attempts.iter().all(|a| a.kind == "timeout"), "{attempts:?}");
    assert!(
        attempts
            .iter()
            .all(|a| a.ended_at_unix_ms - a.started_at_unix_ms == 5_000)
    );
}

#[tokio::test(start_paused = true)]
async fn a_huge_body_is_cut_at_the_limit_and_recorded() {
    let connector = raw_receiver(|mut stream| async move {
        read_request_head(&mut stream).await;
        let head = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 10000000\r\n\r\n";
        let _ = stream.write_all(head).await;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..160 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let attempts = attempts_against(connector).await;
    for attempt in &attempts {
        assert_eq!(attempt.status, Some(500));
        assert!(attempt.response_truncated);
        assert_eq!(attempt.response_body.len(), 20 * 1024);
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_reset_mid_response_is_a_protocol_failure() {
    let partial = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly some";
    let attempts = attempts_against(writes(partial, futures_hold::close)).await;
    assert!(
        attempts
            .iter()
            .all(|a| a.kind == "protocol" && !a.reason.is_empty()),
        "{attempts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_garbage_status_line_is_a_protocol_failure() {
    let garbage = b"HTTP/1.1 two hundred OK\r\n\r\n";
    let attempts = attempts_against(writes(garbage, futures_hold::close)).await;
    assert!(
        attempts.iter().all(|a| a.kind == "protocol"),
        "{attempts:?}"
    );
    let closed = b"";
    let attempts = attempts_against(writes(closed, futures_hold::close)).await;
    assert!(
        attempts.iter().all(|a| a.kind == "protocol"),
        "{attempts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_retry_after_on_every_answer_still_ends_the_delivery() {
    let answer = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: later-ish\r\n\
        content-length: 0\r\n\r\n";
    let attempts = attempts_against(writes(answer, futures_hold::close)).await;
    for attempt in &attempts {
        assert_eq!(attempt.status, Some(429));
        assert!(attempt.reason.contains("retry-after"), "{}", attempt.reason);
    }

    // Bytes that are not visible ASCII are not read as a Retry-After at all.
    let answer = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: \xff\xfe\r\n\
        content-length: 0\r\n\r\n";
    let attempts = attempts_against(writes(answer, futures_hold::close)).await;
    assert!(
        attempts.iter().all(|a| a.reason == "status 429"),
        "{attempts:?}"
    );
}
