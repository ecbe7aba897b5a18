//! At-least-once delivery: a failing handler is retried with backoff up to its bound, then
//! dead-lettered with every attempt; a waiting retry does not hold up other keys.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventgate::bus::{DeadLetterReason, DeliveryMode, HandlerError};
use eventgate::{Event, EventBus, SubscriberConfig};
use tokio::time::Instant;

use crate::common::{self, Runs};

fn at_least_once(attempts: u32) -> SubscriberConfig {
    SubscriberConfig::new("s", ["t"])
        .mode(DeliveryMode::AtLeastOnce)
        .attempts_max(attempts)
        .backoff(Duration::from_millis(100), Duration::from_secs(60))
}

#[tokio::test(start_paused = true)]
async fn failing_handler_is_retried_exactly_up_to_its_bound_then_dead_lettered() {
    let bus = common::bus();
    let times = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let recorded = times.clone();
    let handler = move |_event: Event| {
        recorded.lock().unwrap().push(start.elapsed());
        async { Err::<(), _>(HandlerError::new("planted failure")) }
    };
    bus.subscribe(at_least_once(4), handler).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    let ms = Duration::from_millis;
    assert_eq!(
        *times.lock().unwrap(),
        [ms(0), ms(100), ms(300), ms(700)],
        "doubling backoff"
    );
    let letters = bus.dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].reason, DeadLetterReason::AttemptsExhausted);
    let attempts: Vec<u32> = letters[0].attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    let counters = bus.subscriber("s").unwrap().counters;
    assert_eq!(
        (counters.failed, counters.retried, counters.dead_lettered),
        (4, 3, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn handler_that_fails_twice_then_succeeds_is_handled_once() {
    let bus = common::bus();
    let calls = Arc::new(Mutex::new(0u32));
    let counted = calls.clone();
    let handler = move |_event: Event| {
        let mut calls = counted.lock().unwrap();
        *calls += 1;
        let result = if *calls <= 2 {
            Err(HandlerError::new("not yet"))
        } else {
            Ok(())
        };
        async move { result }
    };
    bus.subscribe(at_least_once(5), handler).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;
    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    assert_eq!(
        *calls.lock().unwrap(),
        3,
        "the duplicate after success was suppressed"
    );
    let counters = bus.subscriber("s").unwrap().counters;
    assert_eq!(
        (
            counters.handled,
            counters.suppressed,
            counters.dead_lettered
        ),
        (1, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn event_waiting_out_its_backoff_does_not_hold_up_other_keys() {
    let bus = common::bus();
    let runs = Runs::default();
    let recorder = runs.clone();
    let handler = move |event: Event| {
        recorder.record(&event);
        let fails = event.key() == "bad";
        async move {
            if fails {
                Err(HandlerError::new("planted failure"))
            } else {
                Ok(())
            }
        }
    };
    let config = at_least_once(3).backoff(Duration::from_secs(10), Duration::from_secs(10));
    bus.subscribe(config, handler).unwrap();

    bus.publish(common::event("t", "bad", 1)).unwrap();
    for n in 0..5 {
        bus.publish(common::event("t", &format!("good{n}"), n))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(
        runs.order(),
        ["bad", "good0", "good1", "good2", "good3", "good4"]
    );
    bus.idle().await;
    assert_eq!(runs.of("bad"), 3);
}

#[tokio::test(start_paused = true)]
async fn panics_and_timeouts_count_as_failed_attempts() {
    common::quiet_planted_panics();
    let bus = common::bus();
    bus.subscribe(at_least_once(2), common::panicking).unwrap();
    let config = SubscriberConfig::new("h", ["t"])
        .mode(DeliveryMode::AtLeastOnce)
        .attempts_max(2)
        .handler_timeout(Duration::from_secs(1));
    bus.subscribe(config, common::hanging).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    let mut labels: Vec<(String, Vec<&str>)> = Vec::new();
    let letters = bus.dead_letters();
    for letter in &letters {
        let outcomes = letter.attempts.iter().map(|a| a.outcome.label()).collect();
        labels.push((letter.subscriber.to_string(), outcomes));
    }
    labels.sort();
    assert_eq!(
        labels,
        [
            ("h".to_owned(), vec!["timed_out", "timed_out"]),
            ("s".to_owned(), vec!["panicked", "panicked"])
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn attempt_records_carry_the_unix_time_each_attempt_started() {
    let bus = common::bus();
    let handler = |_event: Event| async {
        tokio::time::sleep(Duration::from_millis(250)).await;
        Err::<(), _>(HandlerError::new("planted failure after a while"))
    };
    bus.subscribe(at_least_once(2), handler).unwrap();

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;

    let letters = bus.dead_letters();
    let started: Vec<u64> = letters[0]
        .attempts
        .iter()
        .map(|a| a.started_at_unix_ms)
        .collect();
    let epoch_ms = common::EPOCH.as_millis() as u64;
    // The first attempt starts at once; the second after 250 ms of running and 100 of backoff.
    assert_eq!(started, [epoch_ms, epoch_ms + 350]);
}
