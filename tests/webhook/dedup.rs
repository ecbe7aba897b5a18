//! Receiver-side at-most-once: the sender's responses are lost after the receiver processed
//! each request, so the sender retries; a receiver that deduplicates on `webhook-id` still
//! applies the event once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use eventgate::webhook::DeliveryOutcome;
use eventgate::webhook::transport::InProcessConnector;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use eventgate::webhook::signing::verify;

use crate::support::{EPOCH_SECS, Harness, Received, reply, schedule_ms, secret};

/// What the receiver did: every request seen, and how often each event was applied.
#[derive(Default)]
struct Ledger {
    seen_ids: BTreeSet<String>,
    requests: usize,
    applied: BTreeMap<String, u32>,
}

/// Processes each request (dedup on `webhook-id`), then loses the response of the first
/// `lose` requests: the service errs after processing, and hyper closes the connection
/// without answering.
fn lossy_receiver(ledger: Arc<Mutex<Ledger>>, lose: usize) -> InProcessConnector {
    InProcessConnector::new(move |_target, stream| {
        let ledger = ledger.clone();
        let service = service_fn(move |request| {
            let ledger = ledger.clone();
            async move {
                let received = Received::read(request).await;
                let now = i64::try_from(EPOCH_SECS).expect("fits");
                let verified = verify(
                    &secret(),
                    &received.webhook_id,
                    &received.timestamp,
                    &received.signature,
                    &received.body,
                    now,
                );
                if verified.is_err() {
                    return Ok(reply(400));
                }
                let mut ledger = ledger.lock().expect("not poisoned");
                ledger.requests += 1;
                if ledger.seen_ids.insert(received.webhook_id.clone()) {
                    *ledger.applied.entry(received.event_id()).or_default() += 1;
                }
                if ledger.requests <= lose {
                    return Err(std::io::Error::other("response lost"));
                }
                Ok(reply(200))
            }
        });
        tokio::spawn(async move {
            let builder = hyper::server::conn::http1::Builder::new();
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    })
}

/// Two events against a receiver losing its first two responses; returns what it applied.
async fn run(mutants: eventgate::mutants::Mutants) -> (Harness, Arc<Mutex<Ledger>>) {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let schedule = schedule_ms(&[0, 1_000, 1_000, 1_000]);
    let connector = lossy_receiver(ledger.clone(), 2);
    let harness = Harness::in_process(schedule, connector, |mut config| {
        config.mutants = mutants;
        config
    });
    (harness, ledger)
}

#[tokio::test(start_paused = true)]
async fn a_deduplicating_receiver_applies_each_event_once_when_responses_are_lost() {
    let (harness, ledger) = run(eventgate::mutants::Mutants::none()).await;
    let endpoint = harness.register("http://receiver.test/");
    let events: Vec<_> = (1..=2).map(|n| harness.publish(n)).collect();
    harness.settle().await;

    let ledger = ledger.lock().expect("not poisoned");
    assert!(
        ledger.requests >= 3,
        "responses were not lost: {}",
        ledger.requests
    );
    for event_id in &events {
        let delivery = harness
            .service
            .delivery(event_id, &endpoint)
            .expect("recorded");
        assert_eq!(delivery.outcome, DeliveryOutcome::Delivered);
        assert_eq!(
            ledger.applied.get(event_id.as_str()),
            Some(&1),
            "{:?}",
            ledger.applied
        );
    }
}

/// The planted bug `new-webhook-id-per-retry` must make the same receiver apply an event
/// twice: proof that the test above can fail.
#[cfg(feature = "mutants")]
#[tokio::test(start_paused = true)]
async fn a_new_webhook_id_per_retry_makes_the_receiver_apply_an_event_twice() {
    use eventgate::mutants::{Mutant, Mutants};

    let (harness, ledger) = run(Mutants::only(Mutant::NewWebhookIdPerRetry)).await;
    harness.register("http://receiver.test/");
    let event_id = harness.publish(1);
    harness.settle().await;
    let ledger = ledger.lock().expect("not poisoned");
    let applied = ledger.applied.get(event_id.as_str()).copied().unwrap_or(0);
    assert!(applied > 1, "the mutant was not caught: applied {applied}");
}
