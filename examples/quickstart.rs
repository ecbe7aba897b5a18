//! Quick start: one bus, a job service, two subscribers (one of which fails every time),
//! and a duplicate publish that the gate suppresses.
//!
//! Run with `cargo run --example quickstart`.

use std::sync::Arc;

use eventgate::bus::{HandlerError, typed};
use eventgate::jobs::{InMemoryJobStore, JobCompleted, JobService};
use eventgate::{DeliveryMode, EventBus, InMemoryEventBus, NewEvent, SubscriberConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let bus = InMemoryEventBus::new();

    // At most once per job, whatever happens to duplicates.
    let notify = typed(|job: JobCompleted| async move {
        println!("notify: job {} of kind {} completed", job.job_id, job.kind);
        Ok::<(), HandlerError>(())
    });
    bus.subscribe(SubscriberConfig::new("notify", ["job_completed"]), notify)?;

    // A flaky side effect, retried with backoff, then dead-lettered.
    let flaky = typed(|_job: JobCompleted| async move {
        Err::<(), _>(HandlerError::new("the reporting service is down"))
    });
    let retried = SubscriberConfig::new("report", ["job_completed"])
        .mode(DeliveryMode::AtLeastOnce)
        .attempts_max(3);
    bus.subscribe(retried, flaky)?;

    let jobs = JobService::new(bus.clone(), Arc::new(InMemoryJobStore::new()), bus.clock());
    let job = jobs.create("thumbnail").await?;
    jobs.start(job.id).await?;
    let update = jobs
        .complete(job.id, serde_json::json!({ "pixels": 4096 }))
        .await?;
    println!(
        "completed job {}: queued for {} subscribers",
        job.id, update.published?.queued
    );

    // A retry of the same publish: same key, same payload. The gate suppresses it.
    let completed = JobCompleted {
        job_id: job.id,
        kind: update.job.kind.clone(),
        output: update.job.output.clone().unwrap_or_default(),
        completed_at_unix_ms: update.job.updated_at_unix_ms,
    };
    bus.publish(NewEvent::typed(&completed)?)?;

    bus.idle().await;
    print!("\n{}", bus.topology());
    for letter in bus.dead_letters() {
        println!(
            "dead letter: {} for {} ({}, {} attempts)",
            letter.event.key(),
            letter.subscriber,
            letter.reason,
            letter.attempts.len()
        );
    }
    Ok(())
}
