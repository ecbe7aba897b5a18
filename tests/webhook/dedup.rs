//! Receiver-side at-most-once: the sender's responses are lost after the receiver processed
//! each request, so the sender retries; a receiver that deduplicates on `webhook-id` still
//! applies the event once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use eventgate::webhook::DeliveryOutcome;
use eventgate::webhook::transport::InProcessConnector;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::support::{Harness, Received, reply, schedule_ms};

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
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    })
}

#[tokio::test(start_paused = true)]
async fn a_deduplicating_receiver_applies_each_event_once_when_responses_are_lost() {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let schedule = schedule_ms(&[0, 1_000, 1_000, 1_000]);
    let harness = Harness::in_process(schedule, lossy_receiver(ledger.clone(), 2), |c| c);
    let endpoint = harness.register("http://receiver.test/");
    let events: Vec<_> = (1..=2).map(|n| harness.publish(n)).collect();
    harness.settle().await;

    let ledger = ledger.lock().expect("not poisoned");
    assert!(ledger.requests >= 3, "responses were not lost: {}", ledger.requests);
    for event_id in &events {
        let delivery = harness.service.delivery(event_id, &endpoint).expect("recorded");
        assert_eq!(delivery.outcome, DeliveryOutcome::Delivered);
        assert_eq!(ledger.applied.get(event_id.as_str()), Some(&1), "{:?}", ledger.applied);
    }
}
