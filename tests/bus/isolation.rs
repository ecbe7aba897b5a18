//! Publisher isolation: a subscriber that fails, panics or hangs never blocks or fails the
//! publisher, and never holds up another subscriber.

use std::sync::Arc;
use std::time::Duration;

use eventgate::bus::DeadLetterReason;
use eventgate::jobs::{InMemoryJobStore, JobService};
use eventgate::{EventBus, SubscriberConfig};
use tokio::time::Instant;

use crate::common::{self, Runs};

const JOBS: usize = 10_000;

#[tokio::test(start_paused = true)]
async fn failing_panicking_and_hanging_subscribers_never_reach_the_publisher() {
    common::quiet_planted_panics();
    let bus = common::bus();
    let (healthy, erring) = (Runs::default(), Runs::default());
    let topic = ["job_completed"];
    bus.subscribe(SubscriberConfig::new("panics", topic), common::panicking)
        .unwrap();
    bus.subscribe(SubscriberConfig::new("hangs", topic), common::hanging)
        .unwrap();
    bus.subscribe(SubscriberConfig::new("errs", topic), erring.failing())
        .unwrap();
    bus.subscribe(SubscriberConfig::new("healthy", topic), healthy.ok())
        .unwrap();
    let jobs = JobService::new(bus.clone(), Arc::new(InMemoryJobStore::new()), bus.clock());

    for n in 0..JOBS {
        let job = jobs.create("work").await.unwrap();
        jobs.start(job.id).await.unwrap();
        let before = Instant::now();
        let update = jobs
            .complete(job.id, serde_json::json!({ "n": n }))
            .await
            .unwrap();
        assert_eq!(
            before.elapsed(),
            Duration::ZERO,
            "virtual time passed inside complete"
        );
        let receipt = update
            .published
            .expect("publish never fails because of a subscriber");
        assert_eq!(receipt.queued + receipt.overflowed, 4);
        tokio::task::yield_now().await;
    }
    bus.idle().await;

    assert_eq!(
        healthy.total(),
        JOBS,
        "the healthy subscriber handled every event"
    );
    assert_eq!(healthy.per_key().len(), JOBS);
    let panics = bus.subscriber("panics").unwrap().counters;
    assert_eq!(panics.failed + panics.overflowed, JOBS as u64);
    let errs = bus.subscriber("errs").unwrap().counters;
    assert_eq!(errs.failed + errs.overflowed, JOBS as u64);
    let hangs = bus.subscriber("hangs").unwrap().counters;
    assert_eq!(
        hangs.failed + hangs.overflowed,
        JOBS as u64,
        "every event timed out or overflowed"
    );
    assert!(
        hangs.overflowed > 0,
        "the hung subscriber's queue overflowed: {hangs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn hung_handler_is_abandoned_at_its_timeout_and_the_worker_goes_on() {
    let bus = common::bus();
    let runs = Runs::default();
    let timeout = Duration::from_secs(2);
    let config = SubscriberConfig::new("s", ["t"]).handler_timeout(timeout);
    let slow = runs.slow(Duration::from_secs(3_600));
    bus.subscribe(config, slow).unwrap();

    let start = Instant::now();
    bus.publish(common::event("t", "a", 1)).unwrap();
    bus.publish(common::event("t", "b", 2)).unwrap();
    bus.idle().await;

    assert_eq!(
        start.elapsed(),
        timeout * 2,
        "each run was cut at the timeout"
    );
    assert_eq!(runs.order(), ["a", "b"]);
    let letters = bus.dead_letters();
    assert_eq!(letters.len(), 2);
    assert!(
        letters
            .iter()
            .all(|l| l.reason == DeadLetterReason::AttemptsExhausted)
    );
    let outcome = &letters[0].attempts[0].outcome;
    assert_eq!(outcome.label(), "timed_out");
}

#[tokio::test(start_paused = true)]
async fn slow_subscriber_does_not_delay_another() {
    let bus = common::bus();
    let (slow, fast) = (Runs::default(), Runs::default());
    bus.subscribe(
        SubscriberConfig::new("slow", ["t"]),
        slow.slow(Duration::from_secs(5)),
    )
    .unwrap();
    bus.subscribe(SubscriberConfig::new("fast", ["t"]), fast.ok())
        .unwrap();

    for n in 0..10 {
        bus.publish(common::event("t", &format!("k{n}"), n))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1)).await;

    assert_eq!(
        fast.total(),
        10,
        "the fast subscriber finished while the slow one still ran"
    );
    assert_eq!(slow.total(), 1);
    bus.idle().await;
    assert_eq!(slow.total(), 10);
}

#[tokio::test(start_paused = true)]
async fn one_payload_allocation_is_shared_by_every_subscriber() {
    let bus = common::bus();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    for name in ["a", "b", "c"] {
        let seen = seen.clone();
        let handler = move |event: eventgate::Event| {
            seen.lock().unwrap().push(event);
            async { Ok(()) }
        };
        bus.subscribe(SubscriberConfig::new(name, ["t"]), handler)
            .unwrap();
    }
    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].same_allocation(&seen[1]) && seen[1].same_allocation(&seen[2]));
}

#[tokio::test(start_paused = true)]
async fn closures_subscribed_directly_are_isolated_like_any_handler() {
    common::quiet_planted_panics();
    let bus = common::bus();
    let runs = Runs::default();
    let timeout = Duration::from_secs(2);
    let subscribe = |name: &str| SubscriberConfig::new(name, ["t"]).handler_timeout(timeout);
    bus.subscribe_fn(subscribe("ok"), runs.ok()).unwrap();
    bus.subscribe_fn(
        subscribe("panics-when-called"),
        |_event| -> std::future::Ready<_> { panic!("planted panic in the call") },
    )
    .unwrap();
    bus.subscribe_fn(subscribe("panics-when-polled"), |_event| async {
        panic!("planted panic in the future")
    })
    .unwrap();
    bus.subscribe_fn(subscribe("hangs"), |_event| {
        std::future::pending::<Result<(), eventgate::HandlerError>>()
    })
    .unwrap();

    let start = Instant::now();
    bus.publish(common::event("t", "a", 1)).unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO, "publish never waits");
    bus.idle().await;

    assert_eq!(runs.order(), ["a"]);
    let mut outcomes: Vec<(String, &str)> = bus
        .dead_letters()
        .iter()
        .map(|l| (l.subscriber.to_string(), l.attempts[0].outcome.label()))
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            ("hangs".to_owned(), "timed_out"),
            ("panics-when-called".to_owned(), "panicked"),
            ("panics-when-polled".to_owned(), "panicked"),
        ]
    );
}
