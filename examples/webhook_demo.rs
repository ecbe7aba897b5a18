//! Creates and completes N jobs and delivers each `job_completed` to one webhook endpoint
//! with the default retry schedule, printing one line per delivery.
//!
//! ```text
//! cargo run --example webhook_receiver -- --secret whsec_... --port 8787
//! cargo run --example webhook_demo -- --endpoint http://127.0.0.1:8787/hook \
//!     --secret whsec_... --jobs 5 --deadline 120
//! ```
//!
//! Exits 0 only when every job's event was delivered before the deadline. The demo allows
//! loopback and private endpoints (the service refuses them by default) and says so.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use eventgate::jobs::{InMemoryJobStore, JobService};
use eventgate::webhook::{
    EndpointConfig, WebhookConfig, WebhookObservation, WebhookObserver, WebhookSecret,
    WebhookService,
};
use eventgate::{EventBus, InMemoryEventBus};

/// How often the demo checks whether every delivery has ended.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Parser, Debug)]
#[command(about = "Deliver job_completed webhooks to one endpoint")]
struct Args {
    /// The endpoint URL (http or https).
    #[arg(long)]
    endpoint: String,
    /// The endpoint's secret, `whsec_` then base64.
    #[arg(long)]
    secret: String,
    /// How many jobs to create and complete.
    #[arg(long, default_value_t = 3)]
    jobs: u64,
    /// Seconds to wait for every delivery.
    #[arg(long, default_value_t = 120)]
    deadline: u64,
}

/// Prints one line per finished delivery, and each failed attempt.
struct Printer;

impl WebhookObserver for Printer {
    fn observe(&self, observation: WebhookObservation<'_>) {
        match observation {
            WebhookObservation::Delivered {
                event_id, attempts, ..
            } => {
                println!("delivered     {event_id} after {attempts} attempt(s)");
            }
            WebhookObservation::DeadLettered {
                event_id, reason, ..
            } => {
                println!("dead-lettered {event_id}: {reason}");
            }
            WebhookObservation::AttemptEnded {
                event_id, record, ..
            } if !record.is_success() => {
                println!(
                    "attempt {} of {event_id} failed: {}",
                    record.attempt, record.reason
                );
            }
            WebhookObservation::RetryScheduled {
                event_id,
                attempt,
                after,
                ..
            } => {
                println!("retrying      {event_id}: attempt {attempt} in {after:.1?}");
            }
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let secret = WebhookSecret::parse(&args.secret).context("bad --secret")?;

    let bus = InMemoryEventBus::new();
    let config = WebhookConfig {
        allow_private_addresses: true,
        observer: Arc::new(Printer),
        ..WebhookConfig::default()
    };
    println!("note: this demo allows loopback and private endpoints (off by default)");
    let bus_handle: Arc<dyn EventBus> = Arc::new(bus.clone());
    let service = WebhookService::new(bus_handle, config)?;
    let endpoint = service
        .register(EndpointConfig::new(
            &args.endpoint,
            secret,
            ["job_completed"],
        ))
        .context("endpoint refused")?;

    let jobs = JobService::new(bus.clone(), Arc::new(InMemoryJobStore::new()), bus.clock());
    for n in 0..args.jobs {
        let job = jobs.create("demo").await?;
        jobs.start(job.id).await?;
        jobs.complete(job.id, serde_json::json!({ "n": n })).await?;
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.deadline);
    let counts = loop {
        bus.idle().await;
        let counts = service
            .endpoint(&endpoint)
            .context("endpoint vanished")?
            .counts;
        let finished = counts.delivered + counts.dead_lettered >= args.jobs;
        if finished || tokio::time::Instant::now() >= deadline {
            break counts;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    println!(
        "delivered {}, retrying {}, dead-lettered {}",
        counts.delivered, counts.pending, counts.dead_lettered
    );
    Ok(if counts.delivered == args.jobs {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
