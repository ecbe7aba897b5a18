//! Memory under a hung subscriber: publishes 1,000,000 events of 256 bytes while one of two
//! subscribers never finishes its handler, and reports the process's peak and current
//! resident memory as it goes.
//!
//! The hung subscriber's queue fills at its capacity and every later event overflows into
//! the dead-letter list, which keeps at most `defaults::DEAD_LETTERS_MAX` letters (payloads
//! included) and counts each later one as dropped. So memory must level off once the queue
//! and the list are full, and not grow with the event count. The publisher waits for the
//! healthy subscriber to drain its queue every few hundred events, so that subscriber
//! handles every event and only the hung one overflows. The run fails (exit status 1) when the
//! peak grows by more than [`GROWTH_ALLOWED_KIB`] between the first report after the list
//! filled and the end.
//!
//! Run with `cargo run --release --example memory_flat` (Linux: it reads `/proc/self/status`).

use std::time::Duration;

use eventgate::bus::SubscriberInfo;
use eventgate::{DeliveryMode, Event, EventBus, HandlerError, InMemoryEventBus, NewEvent};
use eventgate::{SubscriberConfig, defaults};

/// Events published in all.
const EVENTS: u64 = 1_000_000;

/// Events between two memory reports.
const REPORT_EVERY_EVENTS: u64 = 100_000;

/// Events published between two waits for the healthy subscriber's queue to drain.
const DRAIN_EVERY_EVENTS: u64 = 256;

/// How long the healthy subscriber may take to drain its queue before the run gives up.
const DRAIN_WAIT_MAX: Duration = Duration::from_secs(5);

/// How much the peak may still grow once the queues and the dead-letter list are full: the
/// allocator's slack, not a per-event cost.
const GROWTH_ALLOWED_KIB: u64 = 4 * 1024;

/// The payload size, in bytes.
const PAYLOAD_BYTES: usize = 256;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let bus = InMemoryEventBus::new();
    subscribe(&bus)?;
    let filler = "x".repeat(PAYLOAD_BYTES - 2);
    let mut settled_peak_kib = None;
    report(&bus, 0)?;
    for published in 1..=EVENTS {
        let payload = format!("\"{filler}\"");
        let key = format!("order:{published}");
        bus.publish(NewEvent::raw("order_placed", key, payload))?;
        if published % DRAIN_EVERY_EVENTS == 0 {
            healthy_drained(&bus).await?;
        }
        if published % REPORT_EVERY_EVENTS == 0 {
            let peak_kib = report(&bus, published)?;
            let filled = published > (defaults::DEAD_LETTERS_MAX + defaults::QUEUE_CAPACITY) as u64;
            if filled && settled_peak_kib.is_none() {
                settled_peak_kib = Some(peak_kib);
            }
        }
    }
    let settled = settled_peak_kib.unwrap_or_default();
    let end = status_kib("VmHWM")?;
    println!(
        "peak grew by {} KiB after the queues and dead letters filled",
        end - settled
    );
    if end > settled + GROWTH_ALLOWED_KIB {
        anyhow::bail!("memory grew with the event count: {settled} KiB -> {end} KiB");
    }
    bus.shutdown(Duration::from_millis(10)).await;
    Ok(())
}

/// Waits, yielding, until the healthy subscriber's queue is empty; an error after
/// [`DRAIN_WAIT_MAX`].
async fn healthy_drained(bus: &InMemoryEventBus) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    while subscriber(bus, "healthy")?.queue_depth > 0 {
        if started.elapsed() > DRAIN_WAIT_MAX {
            anyhow::bail!("the healthy subscriber did not drain its queue in {DRAIN_WAIT_MAX:?}");
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// What the bus reports of the subscriber `name`; an error once it is gone.
fn subscriber(bus: &InMemoryEventBus, name: &str) -> anyhow::Result<SubscriberInfo> {
    bus.subscriber(name)
        .ok_or_else(|| anyhow::anyhow!("{name} is gone"))
}

/// A healthy subscriber and one whose handler never returns.
fn subscribe(bus: &InMemoryEventBus) -> anyhow::Result<()> {
    let healthy = |_event: Event| std::future::ready(Ok::<(), HandlerError>(()));
    bus.subscribe(
        SubscriberConfig::new("healthy", ["order_placed"]).mode(DeliveryMode::Ungated),
        healthy,
    )?;
    let hung_timeout = Duration::from_secs(60 * 60);
    let hung = |_event: Event| std::future::pending::<Result<(), HandlerError>>();
    let config = SubscriberConfig::new("hung", ["order_placed"])
        .mode(DeliveryMode::Ungated)
        .handler_timeout(hung_timeout)
        .lease(2 * hung_timeout);
    bus.subscribe(config, hung)?;
    Ok(())
}

/// Prints one line of memory figures; returns the peak resident set in KiB.
fn report(bus: &InMemoryEventBus, published: u64) -> anyhow::Result<u64> {
    let peak_kib = status_kib("VmHWM")?;
    let resident_kib = status_kib("VmRSS")?;
    let (hung, healthy) = (subscriber(bus, "hung")?, subscriber(bus, "healthy")?);
    let dead_lettered = hung.counters.dead_lettered + healthy.counters.dead_lettered;
    let dropped = bus.dead_letters_dropped();
    println!(
        "published {published:>9}  peak {peak_kib:>7} KiB  resident {resident_kib:>7} KiB  \
         hung queue {:>5}  healthy handled {:>7} overflowed {:>7}  \
         dead letters {dead_lettered:>7}  kept {:>6}  dropped {dropped:>7}",
        hung.queue_depth,
        healthy.counters.handled,
        healthy.counters.overflowed,
        bus.dead_letters().len(),
    );
    Ok(peak_kib)
}

/// One `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .ok_or_else(|| anyhow::anyhow!("no {field} in /proc/self/status"))?;
    let kib = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib)
}
