//! Wake-ups on a multi-thread runtime, the only place a worker polls its empty queue before
//! parking (see `bus::queue`): whether the worker is busy, still polling or parked, every
//! published event is handled. A lost wake-up shows as `idle` timing out with events queued.
//!
//! These tests run on real time: parking is about threads, which paused time does not model.

use std::time::Duration;

use eventgate::{EventBus, SubscriberConfig};

use crate::common::{self, Runs};

/// How long a test waits for the bus to go idle before calling a wake-up lost.
const IDLE_LIMIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_after_the_worker_parked_are_all_handled() {
    let bus = common::bus();
    let runs = Runs::default();
    bus.subscribe(SubscriberConfig::new("s", ["t"]), runs.ok())
        .unwrap();

    let mut published = 0;
    for round in 0..40usize {
        // Bursts of 1 to 7 events; between them the worker polls its queue out and parks.
        for n in 0..=round % 7 {
            bus.publish(common::event("t", &format!("r{round}-{n}"), 0))
                .unwrap();
            published += 1;
        }
        let idle = tokio::time::timeout(IDLE_LIMIT, bus.idle()).await;
        assert!(
            idle.is_ok(),
            "round {round}: a queued event was never picked up"
        );
        tokio::time::sleep(Duration::from_millis(1 + (round % 3) as u64)).await;
    }

    assert_eq!(runs.total(), published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_on_other_threads_racing_the_worker_lose_no_event() {
    let bus = common::bus();
    let runs = Runs::default();
    // Room for every event, so that a slow machine overflows nothing.
    let config = SubscriberConfig::new("s", ["t"]).queue_capacity(4_000);
    bus.subscribe(config, runs.ok()).unwrap();

    let publishers: Vec<_> = (0..2)
        .map(|publisher| {
            let bus = bus.clone();
            std::thread::spawn(move || {
                for n in 0..2_000 {
                    let key = format!("p{publisher}-{n}");
                    bus.publish(common::event("t", &key, 0)).unwrap();
                    if n % 97 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().unwrap();
    }
    let idle = tokio::time::timeout(IDLE_LIMIT, bus.idle()).await;

    assert!(idle.is_ok(), "a queued event was never picked up");
    assert_eq!(runs.total(), 4_000);
}
