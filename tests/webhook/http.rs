//! Against a real HTTP server on loopback (wiremock), in real time, with a short schedule.

use std::collections::BTreeSet;

use eventgate::bus::DeadLetterReason;
use eventgate::webhook::signing::{self, verify};
use eventgate::webhook::{DeliveryOutcome, EndpointUpdate, WebhookSecret};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Harness, Seen, gaps_ms, schedule_ms, secret};

/// 0 ms, then 50 ms, then 50 ms: three attempts.
fn short() -> eventgate::webhook::RetrySchedule {
    schedule_ms(&[0, 50, 50])
}

fn header(request: &Request, name: &str) -> String {
    let value = request.headers.get(name).and_then(|v| v.to_str().ok());
    value.unwrap_or_default().to_owned()
}

fn verify_request(request: &Request, secret: &WebhookSecret) -> Result<(), signing::VerifyError> {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("fits");
    verify(
        secret,
        &header(request, "webhook-id"),
        &header(request, "webhook-timestamp"),
        &header(request, "webhook-signature"),
        &request.body,
        now,
    )
}

async fn server_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

#[test]
fn published_test_vector_signs_and_verifies_through_the_public_api() {
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
    let (id, timestamp, body) = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    let signature = signing::sign(&secret, id, timestamp, body);
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert_eq!(
        verify(&secret, id, "1614265330", &signature, body, timestamp),
        Ok(())
    );
}

#[tokio::test]
async fn every_request_carries_headers_that_verify_and_the_envelope() {
    let server = server_answering(200).await;
    let harness = Harness::real_time(short());
    harness.register(&format!("{}/hook", server.uri()));
    let event_id = harness.publish(1);
    harness.settle().await;

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.url.path(), "/hook");
    assert_eq!(header(request, "webhook-id"), event_id.as_str());
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(verify_request(request, &secret()), Ok(()));

    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(body["id"], event_id.as_str());
    assert_eq!(body["type"], "job_completed");
    assert_eq!(body["key"], "job_completed:1");
    assert_eq!(body["data"]["job_id"], 1);
    assert!(body["timestamp"].as_str().expect("text").ends_with('Z'));
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_during_the_grace_period() {
    let server = server_answering(200).await;
    let harness = Harness::real_time(short());
    let endpoint = harness.register(&server.uri());
    let new_secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("ok");
    let update = EndpointUpdate {
        secret: Some(new_secret.clone()),
        ..Default::default()
    };
    harness.service.update(&endpoint, update).expect("updated");
    assert!(
        harness
            .service
            .endpoint(&endpoint)
            .expect("listed")
            .rotating_secret
    );

    harness.publish(1);
    harness.settle().await;
    let requests = server.received_requests().await.expect("recording");
    let signature = header(&requests[0], "webhook-signature");
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    assert_eq!(verify_request(&requests[0], &secret()), Ok(()));
    assert_eq!(verify_request(&requests[0], &new_secret), Ok(()));
}

#[tokio::test]
async fn a_500_then_200_delivers_on_the_second_attempt_with_the_same_webhook_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let harness = Harness::real_time(short());
    let endpoint = harness.register(&server.uri());
    let event_id = harness.publish(1);
    harness.settle().await;

    let requests = server.received_requests().await.expect("recording");
    let ids: BTreeSet<String> = requests.iter().map(|r| header(r, "webhook-id")).collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(ids, BTreeSet::from([event_id.to_string()]));

    let delivery = harness
        .service
        .delivery(&event_id, &endpoint)
        .expect("recorded");
    assert_eq!(delivery.outcome, DeliveryOutcome::Delivered);
    let statuses: Vec<_> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(200)]);
    // The second attempt waited the jittered 50 ms: at least 40 ms on the recorded times.
    assert!(
        gaps_ms(&delivery.attempts)[0] >= 40,
        "{:?}",
        delivery.attempts
    );
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_dead_letters_what_follows() {
    let server = server_answering(410).await;
    let harness = Harness::real_time(short());
    let endpoint = harness.register(&server.uri());
    let first = harness.publish(1);
    harness.settle().await;
    let second = harness.publish(2);
    harness.settle().await;

    let info = harness.service.endpoint(&endpoint).expect("listed");
    assert!(!info.enabled);
    assert_eq!(
        server.received_requests().await.expect("recording").len(),
        1
    );
    let letters = harness.service.dead_letters();
    let reasons: Vec<_> = letters
        .iter()
        .map(|l| (l.event.id().clone(), l.reason))
        .collect();
    let disabled = DeadLetterReason::EndpointDisabled;
    assert_eq!(reasons, [(first, disabled), (second, disabled)]);
    assert!(harness.recorder.all().contains(&Seen::Disabled {
        endpoint: endpoint.to_string()
    }));
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let server = MockServer::start().await;
    let target = format!("{}/elsewhere", server.uri());
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", target.as_str()))
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let harness = Harness::real_time(short());
    let endpoint = harness.register(&format!("{}/hook", server.uri()));
    let event_id = harness.publish(1);
    harness.settle().await;

    let requests = server.received_requests().await.expect("recording");
    assert!(
        requests.iter().all(|r| r.url.path() == "/hook"),
        "followed a redirect"
    );
    let delivery = harness
        .service
        .delivery(&event_id, &endpoint)
        .expect("recorded");
    assert_eq!(delivery.attempts.len(), 3);
    assert!(delivery.attempts.iter().all(|a| a.kind == "redirect"));
    assert!(
        delivery.attempts[0].reason.contains("elsewhere"),
        "{}",
        delivery.attempts[0].reason
    );
}

#[tokio::test]
async fn the_last_failed_attempt_dead_letters_with_every_attempt() {
    let server = server_answering(503).await;
    let harness = Harness::real_time(short());
    let endpoint = harness.register(&server.uri());
    let event_id = harness.publish(1);
    harness.settle().await;

    let letters = harness.service.dead_letters();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.reason, DeadLetterReason::AttemptsExhausted);
    assert_eq!(letter.endpoint, endpoint);
    let numbers: Vec<u32> = letter.attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(
        letter
            .attempts
            .iter()
            .all(|a| a.status == Some(503) && a.reason == "status 503")
    );
    assert!(gaps_ms(&letter.attempts).iter().all(|gap| *gap >= 40));
    let delivery = harness
        .service
        .delivery(&event_id, &endpoint)
        .expect("recorded");
    let exhausted = DeliveryOutcome::DeadLettered(DeadLetterReason::AttemptsExhausted);
    assert_eq!(delivery.outcome, exhausted);
    assert_eq!(delivery.next_attempt_at_unix_ms, None);
}

#[tokio::test]
async fn redrive_bypasses_the_gate_and_keeps_the_webhook_id() {
    let server = server_answering(500).await;
    let harness = Harness::real_time(short());
    let endpoint = harness.register(&server.uri());
    let event_id = harness.publish(1);
    harness.settle().await;
    let letter = harness.service.dead_letters()[0].clone();

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    // Publishing the same key again is suppressed by the gate: no new delivery.
    harness.publish(1);
    harness.settle().await;
    assert!(
        server
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );

    harness.service.redrive(letter.id).expect("re-driven");
    harness.settle().await;
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 1);
    assert_eq!(header(&requests[0], "webhook-id"), event_id.as_str());
    let delivery = harness
        .service
        .delivery(&event_id, &endpoint)
        .expect("recorded");
    assert_eq!(
        (delivery.outcome, delivery.redrives),
        (DeliveryOutcome::Delivered, 1)
    );
    let redriven = Seen::Redriven {
        endpoint: endpoint.to_string(),
        event_id: event_id.to_string(),
    };
    assert!(harness.recorder.all().contains(&redriven));
    let again = harness.service.redrive(letter.id);
    assert_eq!(
        again,
        Err(eventgate::webhook::RedriveError::AlreadyRedriven(letter.id))
    );
}
