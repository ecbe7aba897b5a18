//! The app host: a bus with its in-process subscribers and a job service, started afresh on
//! every (re)start of the host, with the driver running on it.
//!
//! What survives an app crash is what would survive in production: the job store (it stands
//! for a database) and the driver's progress (it stands for the outside world asking for
//! jobs). The bus's queues and gate records do not survive: the design does not promise it,
//! and the checkers know a crash ends what it interrupted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bus::{BusConfig, DeliveryMode, EventBus, InMemoryEventBus};
use crate::bus::{NoObserver, Observer};
use crate::bus::{SubscribeError, SubscriberConfig};
use crate::clock::{Clock, TokioClock};
use crate::event::EventIds;
use crate::gate::MemoryStore;
use crate::jobs::{InMemoryJobStore, JobService};

use super::config::SimConfig;
use super::handlers::Misbehaving;
use super::history::{HistoryLog, Record};
use super::mix::{mix, name};
use super::recorder::{Recorder, RecordingJobStore};
use super::webhooks;
use crate::webhook::{WebhookSecret, WebhookService};

/// The topics the job service publishes on.
pub const JOB_TOPICS: [&str; 2] = ["job_completed", "job_failed"];

/// What the world's step loop and the app host share; it outlives app crashes.
#[derive(Debug)]
pub struct Shared {
    /// The run's configuration.
    pub config: SimConfig,
    /// The history.
    pub log: HistoryLog,
    /// Unix time at simulated time zero.
    pub epoch: Duration,
    /// The durable job store.
    pub jobs: Arc<InMemoryJobStore>,
    /// The driver's progress.
    pub progress: Mutex<Progress>,
    /// Set by the driver when every job has ended.
    pub driver_done: AtomicBool,
    /// Set by the step loop when every fault has stopped.
    pub healed: Arc<AtomicBool>,
    /// Set by the app once its bus and webhook service went idle after the heal.
    pub quiesced: AtomicBool,
    /// Each receiver host with the secret its endpoint signs with.
    pub endpoints: Vec<(String, WebhookSecret)>,
}

/// Where the driver is; kept across app restarts.
#[derive(Debug, Default)]
pub struct Progress {
    /// The next job to run, from 0.
    pub next_job: u32,
    /// App starts so far.
    pub incarnation: u64,
    /// Publish calls so far (call numbers stay unique across restarts).
    pub calls: u64,
}

impl Shared {
    /// The shared state of a run.
    pub fn new(
        config: SimConfig,
        log: HistoryLog,
        epoch: Duration,
        endpoints: Vec<(String, WebhookSecret)>,
    ) -> Self {
        Self {
            config,
            log,
            epoch,
            jobs: Arc::new(InMemoryJobStore::new()),
            progress: Mutex::new(Progress::default()),
            driver_done: AtomicBool::new(false),
            healed: Arc::new(AtomicBool::new(false)),
            quiesced: AtomicBool::new(false),
            endpoints,
        }
    }

    /// Locks the driver's progress.
    pub fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A subscriber was refused.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// The webhook service could not be set up.
    #[error(transparent)]
    Webhooks(#[from] webhooks::SetupError),
}

/// One start of the app: its bus, webhook service and job service.
pub struct App {
    /// The bus.
    pub bus: InMemoryEventBus,
    /// The job service over the durable store.
    pub jobs: JobService<InMemoryEventBus, RecordingJobStore>,
    /// The webhook service, one endpoint per receiver.
    pub webhooks: WebhookService,
    /// Which start this is, from 1.
    pub incarnation: u64,
}

impl App {
    /// Builds the bus, subscribes the in-process subscribers and the job service.
    pub fn start(shared: &Shared) -> Result<Self, StartError> {
        let incarnation = {
            let mut progress = shared.progress();
            progress.incarnation += 1;
            progress.incarnation
        };
        let config = &shared.config;
        let now = shared.epoch + turmoil::sim_elapsed().unwrap_or_default();
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::with_epoch(now));
        let observer: Arc<dyn Observer> = match shared.log.is_on() {
            true => Arc::new(Recorder::new(shared.log.clone())),
            false => Arc::new(NoObserver),
        };
        let store = MemoryStore::new(clock.clone()).with_mutants(config.mutants);
        let ids = EventIds::with_prefix(mix(&[config.seed, name("event ids"), incarnation]));
        let bus_config = BusConfig::default()
            .clock(clock.clone())
            .store(Arc::new(store))
            .observer(observer)
            .ids(ids)
            .mutants(config.mutants);
        let bus = InMemoryEventBus::with_config(bus_config);
        subscribe_all(shared, &bus)?;
        let webhooks = webhooks::start(shared, &bus, clock.clone(), incarnation)?;
        let store = Arc::new(RecordingJobStore::new(
            shared.jobs.clone(),
            shared.log.clone(),
        ));
        let jobs = JobService::new(bus.clone(), store, clock).with_mutants(config.mutants);
        Ok(Self {
            bus,
            jobs,
            webhooks,
            incarnation,
        })
    }
}

fn subscribe_all(shared: &Shared, bus: &InMemoryEventBus) -> Result<(), SubscribeError> {
    let config = &shared.config;
    let (seed, plan, slow_max) = (config.seed, &config.plan, config.timings.slow_max);
    let capacity = config.timings.queue_capacity;
    let healed = &shared.healed;
    let ledger = Misbehaving::new(seed, "ledger", plan, slow_max, healed.clone());
    subscribe(
        shared,
        bus,
        ("ledger", DeliveryMode::AtMostOnce, capacity),
        ledger,
    )?;
    let mailer = Misbehaving::new(seed, "mailer", plan, slow_max, healed.clone());
    subscribe(
        shared,
        bus,
        ("mailer", DeliveryMode::AtLeastOnce, capacity),
        mailer,
    )?;
    if let Some(slow) = config.slow_consumer {
        let archive = Misbehaving::slow(seed, "archive", slow.per_event);
        let shape = ("archive", DeliveryMode::Ungated, slow.queue_capacity);
        subscribe(shared, bus, shape, archive)?;
    }
    Ok(())
}

/// Subscribes one in-process subscriber, named with its mode and queue capacity, and records
/// what the checkers need to know about it.
fn subscribe(
    shared: &Shared,
    bus: &InMemoryEventBus,
    (name, mode, capacity): (&str, DeliveryMode, usize),
    handler: Arc<Misbehaving>,
) -> Result<(), SubscribeError> {
    let t = &shared.config.timings;
    let config = SubscriberConfig::new(name, JOB_TOPICS)
        .mode(mode)
        .queue_capacity(capacity)
        .handler_timeout(t.handler_timeout)
        .lease(t.lease)
        .ttl(t.ttl)
        .attempts_max(t.attempts_max)
        .backoff(t.backoff_initial, t.backoff_max);
    shared.log.record(Record::Subscribed {
        subscriber: name.to_owned(),
        topics: JOB_TOPICS.iter().map(|t| (*t).to_owned()).collect(),
        mode,
        lease_ms: t.lease.as_millis() as u64,
        ttl_ms: t.ttl.as_millis() as u64,
    });
    bus.subscribe_arc(config, handler)
}

/// The app host's software: start, drive, wait for the heal, quiesce, then idle.
pub async fn run(shared: Arc<Shared>) -> turmoil::Result {
    let app = App::start(&shared)?;
    super::driver::run(&shared, &app).await?;
    shared.driver_done.store(true, Ordering::SeqCst);
    while !shared.healed.load(Ordering::SeqCst) {
        tokio::time::sleep(shared.config.tick).await;
    }
    // The webhook service may still be retrying after the bus went idle, and a retry cannot
    // enqueue bus work, so bus then webhooks, then bus once more for good measure.
    app.bus.idle().await;
    app.webhooks.idle().await;
    app.bus.idle().await;
    shared.log.record(Record::Quiesced);
    shared.quiesced.store(true, Ordering::SeqCst);
    std::future::pending::<()>().await;
    Ok(())
}
