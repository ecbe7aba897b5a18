//! Subscribe, unsubscribe, shutdown and idle; ordering; typed events; introspection; the job
//! service's transitions.

use std::sync::Arc;
use std::time::Duration;

use eventgate::bus::{DeadLetterReason, PublishError, typed};
use eventgate::jobs::{InMemoryJobStore, JobCompleted, JobError, JobService, JobState};
use eventgate::{EventBus, HandlerError, SubscriberConfig};
use tokio::time::Instant;

use crate::common::{self, Runs};

#[tokio::test(start_paused = true)]
async fn first_attempts_reach_a_subscriber_in_publish_order() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(
        SubscriberConfig::new("s", ["t"]),
        runs.slow(Duration::from_millis(3)),
    )
    .unwrap();

    let keys: Vec<String> = (0..100).map(|n| format!("k{n:03}")).collect();
    for (n, key) in keys.iter().enumerate() {
        bus.publish(common::event("t", key, n as u32)).unwrap();
    }
    bus.idle().await;

    assert_eq!(runs.order(), keys);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_until_its_deadline_then_dead_letters_the_rest() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(
        SubscriberConfig::new("s", ["t"]),
        runs.slow(Duration::from_secs(1)),
    )
    .unwrap();
    for n in 0..10 {
        bus.publish(common::event("t", &format!("k{n}"), n))
            .unwrap();
    }

    let start = Instant::now();
    let report = bus.shutdown(Duration::from_millis(3_500)).await;

    assert_eq!(start.elapsed(), Duration::from_millis(3_500));
    assert!(!report.drained_before_deadline);
    assert_eq!(
        runs.total(),
        4,
        "three runs finished, the fourth was running at the deadline"
    );
    assert_eq!(report.undelivered.get("s"), Some(&7));
    let letters = bus.dead_letters();
    assert_eq!(letters.len(), 7);
    assert!(
        letters
            .iter()
            .all(|l| l.reason == DeadLetterReason::Shutdown)
    );
    assert_eq!(letters[0].attempts[0].outcome.label(), "cancelled");
    assert!(matches!(
        bus.publish(common::event("t", "late", 0)),
        Err(PublishError::ShutDown)
    ));
}

#[tokio::test(start_paused = true)]
async fn shutdown_of_an_idle_bus_returns_at_once_with_nothing_undelivered() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(SubscriberConfig::new("s", ["t"]), runs.ok())
        .unwrap();
    bus.publish(common::event("t", "k", 1)).unwrap();

    let start = Instant::now();
    let report = bus.shutdown(Duration::from_secs(30)).await;

    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(report.drained_before_deadline);
    assert_eq!(report.undelivered_total(), 0);
    assert_eq!(runs.total(), 1);
}

#[tokio::test(start_paused = true)]
async fn unsubscribe_dead_letters_what_was_still_queued() {
    let bus = common::bus();
    let (gone, staying) = (Runs::default(), Runs::default());
    let slow = gone.slow(Duration::from_secs(10));
    bus.subscribe(SubscriberConfig::new("gone", ["t"]), slow)
        .unwrap();
    bus.subscribe(SubscriberConfig::new("staying", ["t"]), staying.ok())
        .unwrap();
    for n in 0..5 {
        bus.publish(common::event("t", &format!("k{n}"), n))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let report = bus.unsubscribe("gone").await.unwrap();

    assert_eq!(
        report.dead_lettered, 5,
        "one cancelled mid-run, four still queued"
    );
    assert!(
        bus.dead_letters()
            .iter()
            .all(|l| l.reason == DeadLetterReason::Unsubscribed)
    );
    assert!(bus.subscriber("gone").is_none());
    let receipt = bus.publish(common::event("t", "k9", 9)).unwrap();
    assert_eq!(
        receipt.queued, 1,
        "only the remaining subscriber receives new events"
    );
    bus.idle().await;
    assert_eq!(staying.total(), 6);
    assert!(bus.unsubscribe("gone").await.is_err());
}

#[tokio::test(start_paused = true)]
async fn typed_publish_reaches_a_typed_handler_without_hand_written_json() {
    let bus = common::bus();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let handler = typed(move |job: JobCompleted| {
        sink.lock().unwrap().push(job.job_id);
        async { Ok::<(), HandlerError>(()) }
    });
    bus.subscribe(SubscriberConfig::new("audit", ["job_completed"]), handler)
        .unwrap();
    let jobs = JobService::new(bus.clone(), Arc::new(InMemoryJobStore::new()), bus.clock());

    let job = jobs.create("resize").await.unwrap();
    jobs.start(job.id).await.unwrap();
    let update = jobs
        .complete(job.id, serde_json::json!({ "px": 64 }))
        .await
        .unwrap();
    bus.idle().await;

    assert_eq!(update.job.state, JobState::Completed);
    assert_eq!(*seen.lock().unwrap(), [job.id]);
    let key = format!("job_completed:{}", job.id);
    assert_eq!(
        bus.subscriber("audit").unwrap().counters.handled,
        1,
        "key {key}"
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_job_transitions_are_refused_and_publish_nothing() {
    let bus = common::bus();
    let runs = Runs::default();
    let topics = ["job_completed", "job_failed"];
    bus.subscribe(SubscriberConfig::new("s", topics), runs.ok())
        .unwrap();
    let jobs = JobService::new(bus.clone(), Arc::new(InMemoryJobStore::new()), bus.clock());
    let job = jobs.create("work").await.unwrap();

    let early = jobs.complete(job.id, serde_json::json!(null)).await;
    assert!(matches!(
        early,
        Err(JobError::InvalidTransition {
            from: JobState::Queued,
            ..
        })
    ));
    jobs.start(job.id).await.unwrap();
    jobs.fail(job.id, "disk full").await.unwrap();
    let twice = jobs.fail(job.id, "again").await;
    assert!(matches!(
        twice,
        Err(JobError::InvalidTransition {
            from: JobState::Failed,
            ..
        })
    ));
    let unknown = jobs.start(eventgate::jobs::JobId(999)).await;
    assert!(matches!(unknown, Err(JobError::UnknownJob(_))));
    assert!(matches!(jobs.create("").await, Err(JobError::EmptyKind)));
    bus.idle().await;

    assert_eq!(
        runs.order(),
        [format!("job_failed:{}", job.id)],
        "only the valid end published"
    );
    assert_eq!(
        jobs.get(job.id).await.unwrap().error.as_deref(),
        Some("disk full")
    );
}

#[tokio::test(start_paused = true)]
async fn topology_lists_topics_with_subscribers_modes_depths_and_counters() {
    let bus = common::bus();
    let runs = Runs::default();
    let slow = runs.slow(Duration::from_secs(1));
    bus.subscribe(
        SubscriberConfig::new("audit", ["job_completed", "job_failed"]),
        slow,
    )
    .unwrap();
    let ungated =
        SubscriberConfig::new("metrics", ["job_completed"]).mode(eventgate::DeliveryMode::Ungated);
    bus.subscribe(ungated, runs.ok()).unwrap();
    for n in 0..3 {
        bus.publish(common::event("job_completed", &format!("k{n}"), n))
            .unwrap();
    }

    let topology = bus.topology();
    let json = serde_json::to_value(&topology).unwrap();
    assert_eq!(json["topics"][0]["topic"], "job_completed");
    assert_eq!(json["topics"][0]["subscribers"][0]["name"], "audit");
    assert_eq!(json["topics"][0]["subscribers"][0]["queue_depth"], 3);
    assert_eq!(json["topics"][0]["subscribers"][1]["mode"], "ungated");
    assert_eq!(json["topics"][1]["topic"], "job_failed");
    bus.idle().await;
    let table = bus.topology().to_string();
    assert!(table.contains("metrics"), "{table}");
    assert_eq!(bus.subscriber("metrics").unwrap().counters.handled, 3);
}
