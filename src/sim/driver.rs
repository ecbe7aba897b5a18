//! The driver: the task on the app host that creates, starts and ends jobs, and re-publishes
//! their events as duplicates (same key and payload; same key and another payload; the same
//! again once the key's TTL has passed).
//!
//! Every call that publishes is wrapped in a "publish call began" and a "publish call
//! returned" record, in the same poll as the call, so the publisher isolation checker can see
//! whether anything else ran in between. The driver's choices come from a generator seeded by
//! the run's seed and the app's incarnation; its progress (the next job) survives app
//! crashes, so a restarted app goes on with the next job, and the job a crash interrupted
//! stays unfinished, as it would in production.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::bus::EventBus;
use crate::event::NewEvent;
use crate::jobs::{Job, JobCompleted, JobError, JobFailed, JobState, JobUpdate};

use super::app::{App, Shared};
use super::faults::FaultKind;
use super::history::Record;
use super::mix::{mix, name};

/// One job in five fails instead of completing.
const FAIL_PER_MILLE: u32 = 200;

/// A re-publish waiting for its time, by (due simulated time, order of scheduling).
type Later = BTreeMap<(Duration, u64), (u64, NewEvent)>;

/// Runs the jobs not yet run, then the re-publishes still waiting.
pub async fn run(shared: &Shared, app: &App) -> Result<(), JobError> {
    let seed = mix(&[shared.config.seed, name("driver"), app.incarnation]);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut later = Later::new();
    loop {
        let index = {
            let mut progress = shared.progress();
            let index = progress.next_job;
            progress.next_job += 1;
            index
        };
        if index >= shared.config.jobs {
            break;
        }
        let update = run_job(shared, app, &mut rng).await?;
        schedule_duplicates(shared, app, &mut rng, &update.job, &mut later);
        flush_due(shared, app, &mut later, false).await;
    }
    flush_due(shared, app, &mut later, true).await;
    Ok(())
}

async fn run_job(shared: &Shared, app: &App, rng: &mut SmallRng) -> Result<JobUpdate, JobError> {
    let job = app.jobs.create("render").await?;
    app.jobs.start(job.id).await?;
    let gap_ms = shared.config.job_gap_max.as_millis().max(1) as u64;
    tokio::time::sleep(Duration::from_millis(rng.gen_range(0..gap_ms))).await;
    let fail = rng.gen_range(0..1_000) < FAIL_PER_MILLE;
    let op = if fail { "fail_job" } else { "complete_job" };
    let call = begin(shared, op, job.id.0);
    let update = match fail {
        true => app.jobs.fail(job.id, "planted job failure").await,
        false => {
            app.jobs
                .complete(job.id, serde_json::json!({ "frames": job.id.0 }))
                .await
        }
    };
    let error = match &update {
        Ok(update) => update.published.as_ref().err().map(ToString::to_string),
        Err(error) => Some(error.to_string()),
    };
    shared
        .log
        .record(Record::PublishCallReturned { call, error });
    update
}

fn begin(shared: &Shared, op: &str, job: u64) -> u64 {
    let call = {
        let mut progress = shared.progress();
        progress.calls += 1;
        progress.calls
    };
    shared.log.record(Record::PublishCallBegan {
        call,
        op: op.to_owned(),
        job,
    });
    call
}

/// Decides which re-publishes of `job`'s event to make, and queues them.
fn schedule_duplicates(
    shared: &Shared,
    app: &App,
    rng: &mut SmallRng,
    job: &Job,
    later: &mut Later,
) {
    let plan = &shared.config.plan;
    let now = turmoil::sim_elapsed().unwrap_or_default();
    let mut roll = |kind: FaultKind| rng.gen_range(0..1_000) < plan.rate(kind);
    let same = end_event(job, None);
    if roll(FaultKind::Duplicate) {
        republish(shared, app, job.id.0, same.clone());
    }
    if roll(FaultKind::ConflictingDuplicate) {
        republish(shared, app, job.id.0, end_event(job, Some(job.id.0)));
    }
    if roll(FaultKind::DuplicateAfterTtl) {
        let due = now + shared.config.timings.ttl + shared.config.timings.ttl / 4;
        let order = later.len() as u64;
        later.insert((due, order), (job.id.0, same));
    }
}

/// Publishes the queued re-publishes that are due, or, when `all`, every one (waiting for
/// each in turn).
async fn flush_due(shared: &Shared, app: &App, later: &mut Later, all: bool) {
    while let Some((&(due, _), _)) = later.first_key_value() {
        let now = turmoil::sim_elapsed().unwrap_or_default();
        if due > now {
            if !all {
                return;
            }
            tokio::time::sleep(due - now).await;
        }
        if let Some((_, (job, event))) = later.pop_first() {
            republish(shared, app, job, event);
        }
    }
}

fn republish(shared: &Shared, app: &App, job: u64, event: NewEvent) {
    let call = begin(shared, "republish", job);
    let error = app.bus.publish(event).err().map(|error| error.to_string());
    shared
        .log
        .record(Record::PublishCallReturned { call, error });
}

/// The event the job service publishes for `job`'s end, byte for byte; with `conflict`, the
/// same key with another payload.
fn end_event(job: &Job, conflict: Option<u64>) -> NewEvent {
    let output = match conflict {
        Some(n) => serde_json::json!({ "conflicting": n }),
        None => job.output.clone().unwrap_or(serde_json::Value::Null),
    };
    let event = match job.state {
        JobState::Completed => NewEvent::typed(&JobCompleted {
            job_id: job.id,
            kind: job.kind.clone(),
            output,
            completed_at_unix_ms: job.updated_at_unix_ms,
        }),
        _ => NewEvent::typed(&JobFailed {
            job_id: job.id,
            kind: job.kind.clone(),
            error: match conflict {
                Some(n) => format!("conflicting {n}"),
                None => job.error.clone().unwrap_or_default(),
            },
            failed_at_unix_ms: job.updated_at_unix_ms,
        }),
    };
    // Encoding these plain structs cannot fail; a null event would show up in every checker.
    event.unwrap_or_else(|_| NewEvent::raw("job_encode_failed", "none", "null".to_owned()))
}
