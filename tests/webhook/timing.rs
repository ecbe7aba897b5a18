//! Timing behaviour under paused tokio time over an in-process connector: every duration
//! checked here is exact virtual time, read from the recorded attempt times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use eventgate::bus::DeadLetterReason;
use eventgate::webhook::transport::RequestTimeout;
use eventgate::webhook::{BreakerConfig, DeliveryOutcome, DisableReason, RetrySchedule};

use crate::support::{Harness, Seen, gaps_ms, raw_receiver, read_request_head, receiver, reply};

const URL: &str = "http://receiver.test/hook";

/// Answers `statuses[n]` (with its Retry-After) to the n-th request, then 200.
fn scripted(
    script: Vec<(u16, Option<&'static str>)>,
) -> eventgate::webhook::transport::InProcessConnector {
    let calls = Arc::new(AtomicU32::new(0));
    receiver(move |_request| {
        let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
        let (status, retry_after) = script.get(n).copied().unwrap_or((200, None));
        async move {
            let mut response = reply(status);
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", value.parse().expect("ascii"));
            }
            response
        }
    })
}

/// A receiver that reads each request and never answers.
fn hung() -> eventgate::webhook::transport::InProcessConnector {
    raw_receiver(|mut stream| async move {
        read_request_head(&mut stream).await;
        std::future::pending::<()>().await;
        drop(stream);
    })
}

#[tokio::test(start_paused = true)]
async fn a_request_that_never_answers_times_out_at_the_configured_limit() {
    let harness = Harness::in_process(crate::support::schedule_ms(&[0]), hung(), |mut config| {
        config.request_timeout = RequestTimeout::new(Duration::from_secs(2)).expect("in range");
        config
    });
    let delivery = harness.deliver_one(URL).await;
    let attempt = &delivery.attempts[0];
    assert_eq!(attempt.kind, "timeout");
    assert_eq!(attempt.ended_at_unix_ms - attempt.started_at_unix_ms, 2_000);
    let exhausted = DeliveryOutcome::DeadLettered(DeadLetterReason::AttemptsExhausted);
    assert_eq!(delivery.outcome, exhausted);
}

#[tokio::test(start_paused = true)]
async fn the_default_request_timeout_is_15_seconds() {
    let harness = Harness::in_process(crate::support::schedule_ms(&[0]), hung(), |c| c);
    let attempt = &harness.deliver_one(URL).await.attempts[0];
    assert_eq!(
        attempt.ended_at_unix_ms - attempt.started_at_unix_ms,
        15_000
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_within_one_and_two_nominal_delays() {
    let script = vec![(429, Some("1")), (429, Some("15")), (503, Some("3600"))];
    let schedule = crate::support::schedule_ms(&[0, 10_000, 10_000, 10_000]);
    let harness = Harness::in_process(schedule, scripted(script), |c| c);
    let delivery = harness.deliver_one(URL).await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Delivered);
    // Asked 1 s: clamped up to the nominal 10 s. Asked 15 s: used. Asked 1 h: clamped to 20 s.
    assert_eq!(gaps_ms(&delivery.attempts), [10_000, 15_000, 20_000]);
    assert!(
        delivery.attempts[1].reason.contains("retry-after 15s"),
        "{:?}",
        delivery.attempts
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_retry_after_falls_back_to_the_jittered_schedule_and_is_recorded() {
    let script = vec![(503, Some("soon, I promise"))];
    let schedule = crate::support::schedule_ms(&[0, 10_000]);
    let harness = Harness::in_process(schedule, scripted(script), |c| c);
    let delivery = harness.deliver_one(URL).await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Delivered);
    let gap = gaps_ms(&delivery.attempts)[0];
    assert!((8_000..=12_000).contains(&gap), "{gap}");
    assert!(
        delivery.attempts[0].reason.contains("retry-after"),
        "{}",
        delivery.attempts[0].reason
    );
}

#[tokio::test(start_paused = true)]
async fn the_default_schedule_waits_its_documented_delays_within_jitter() {
    let always_failing = receiver(|_request| async { reply(500) });
    let harness = Harness::in_process(RetrySchedule::default(), always_failing, |c| c);
    let delivery = harness.deliver_one(URL).await;
    let nominal_ms = [
        5_000u64, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ];
    let gaps = gaps_ms(&delivery.attempts);
    assert_eq!(gaps.len(), nominal_ms.len());
    for (gap, nominal) in gaps.iter().zip(nominal_ms) {
        let (low, high) = (nominal * 8 / 10, nominal * 12 / 10);
        assert!(
            (low..=high).contains(gap),
            "gap {gap} outside {low}..={high}"
        );
    }
    assert!(
        gaps.iter()
            .zip(nominal_ms)
            .any(|(gap, nominal)| *gap != nominal),
        "no jitter"
    );
    let exhausted = DeliveryOutcome::DeadLettered(DeadLetterReason::AttemptsExhausted);
    assert_eq!(delivery.outcome, exhausted);
}

#[tokio::test(start_paused = true)]
async fn a_hung_endpoint_does_not_delay_deliveries_to_another() {
    let harness = Harness::in_process(crate::support::schedule_ms(&[0]), routed(), |c| c);
    let slow = harness.register("http://hung.test/");
    let fast = harness.register("http://ok.test/");
    let start_ms = harness.now_ms();
    let events: Vec<_> = (1..=3).map(|n| harness.publish(n)).collect();
    harness.settle().await;

    for event_id in &events {
        let delivered = harness.service.delivery(event_id, &fast).expect("recorded");
        assert_eq!(delivered.outcome, DeliveryOutcome::Delivered);
        assert_eq!(
            delivered.attempts[0].ended_at_unix_ms, start_ms,
            "fast endpoint waited"
        );
        let stuck = harness.service.delivery(event_id, &slow).expect("recorded");
        assert_eq!(stuck.attempts[0].ended_at_unix_ms, start_ms + 15_000);
    }
}

/// Routes `hung.test` to a receiver that never answers and everything else to a 200.
fn routed() -> eventgate::webhook::transport::InProcessConnector {
    eventgate::webhook::transport::InProcessConnector::new(|target, mut stream| {
        if target.host == "hung.test" {
            tokio::spawn(async move {
                read_request_head(&mut stream).await;
                std::future::pending::<()>().await;
                drop(stream);
            });
        } else {
            tokio::spawn(crate::support::serve(stream, |_request| async {
                reply(200)
            }));
        }
    })
}

/// An endpoint answering 500 once then 200, behind a breaker that opens on one failure for
/// 60 s, on a two-attempt schedule (at once, then after 1 s).
fn breaker_opening_on_first_failure() -> Harness {
    let breaker = BreakerConfig {
        failures_to_open: 1,
        open_for: Duration::from_secs(60),
    };
    let schedule = crate::support::schedule_ms(&[0, 1_000]);
    Harness::in_process(schedule, scripted(vec![(500, None)]), |mut config| {
        config.breaker = breaker;
        config
    })
}

#[tokio::test(start_paused = true)]
async fn a_deferral_by_the_open_breaker_does_not_use_up_an_attempt() {
    let harness = breaker_opening_on_first_failure();
    let (endpoint, delivery) = harness.deliver_one_to(URL).await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Delivered);
    assert_eq!(delivery.attempts.len(), 2);
    // Attempt 2 was due after about 1 s but waited for the breaker's 60 s.
    assert_eq!(gaps_ms(&delivery.attempts), [60_000]);
    let deferred = harness
        .recorder
        .all()
        .into_iter()
        .any(|seen| matches!(seen, Seen::Deferred { attempt: 2, .. }));
    assert!(deferred, "{:?}", harness.recorder.all());
    let info = harness.service.endpoint(&endpoint).expect("listed");
    assert_eq!((info.counts.attempts, info.counts.deferrals), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_failing_for_the_disable_period_is_disabled() {
    let always_failing = receiver(|_request| async { reply(500) });
    let schedule = crate::support::schedule_ms(&[0, 300_000, 300_000, 300_000, 300_000, 300_000]);
    let disable_after = Duration::from_secs(13 * 60);
    let harness = Harness::in_process(schedule, always_failing, |mut config| {
        config.disable_after = disable_after;
        config.breaker.failures_to_open = 100;
        config
    });
    let (endpoint, delivery) = harness.deliver_one_to(URL).await;
    let disabled = DeliveryOutcome::DeadLettered(DeadLetterReason::EndpointDisabled);
    assert_eq!(delivery.outcome, disabled);
    let first = delivery.attempts[0].ended_at_unix_ms;
    let failing_ms: Vec<u64> = delivery
        .attempts
        .iter()
        .map(|a| a.ended_at_unix_ms - first)
        .collect();
    let limit_ms = 13 * 60 * 1000;
    let (last, earlier) = failing_ms.split_last().expect("attempts");
    assert!(
        *last >= limit_ms && earlier.iter().all(|t| *t < limit_ms),
        "{failing_ms:?}"
    );
    let info = harness.service.endpoint(&endpoint).expect("listed");
    assert_eq!(
        info.disabled_reason,
        Some(DisableReason::FailingContinuously)
    );

    // What arrives afterwards is dead-lettered at once, with no attempt.
    let later = harness.publish(2);
    harness.settle().await;
    let after = harness
        .service
        .delivery(&later, &endpoint)
        .expect("recorded");
    assert_eq!((after.outcome, after.attempts.len()), (disabled, 0));
}

#[tokio::test(start_paused = true)]
async fn the_observer_sees_every_step_in_order_with_the_true_event_id() {
    let harness = breaker_opening_on_first_failure();
    let endpoint = harness.register(URL).to_string();
    let event_id = harness.publish(1).to_string();
    harness.settle().await;

    let seen = harness.recorder.all();
    let steps: Vec<String> = seen
        .iter()
        .map(|step| match step {
            Seen::Accepted { .. } => "accepted".to_owned(),
            Seen::AttemptStarted {
                attempt,
                webhook_id,
                ..
            } => {
                assert_eq!(webhook_id, &event_id);
                format!("started {attempt}")
            }
            Seen::AttemptEnded { attempt, kind, .. } => format!("ended {attempt} {kind}"),
            Seen::RetryScheduled { attempt, .. } => format!("retry {attempt}"),
            Seen::Deferred { attempt, after, .. } => format!("deferred {attempt} {after:?}"),
            Seen::Delivered { attempts, .. } => format!("delivered {attempts}"),
            other => format!("{other:?}"),
        })
        .collect();
    let expected = [
        "accepted",
        "started 1",
        "ended 1 status",
        "retry 2",
        "deferred 2 59s",
        "started 2",
        "ended 2 ok",
        "delivered 2",
    ];
    // The deferral lasts what is left of the 60 s after the ~1 s retry wait.
    assert_eq!(steps.len(), expected.len(), "{steps:?}");
    for (step, want) in steps.iter().zip(expected) {
        if want.starts_with("deferred") {
            assert!(step.starts_with("deferred 2 5"), "{steps:?}");
        } else {
            assert_eq!(step, want, "{steps:?}");
        }
    }
    assert!(seen.iter().all(|step| match step {
        Seen::Accepted {
            endpoint: e,
            event_id: id,
        }
        | Seen::AttemptStarted {
            endpoint: e,
            event_id: id,
            ..
        }
        | Seen::AttemptEnded {
            endpoint: e,
            event_id: id,
            ..
        }
        | Seen::Delivered {
            endpoint: e,
            event_id: id,
            ..
        } => e == &endpoint && id == &event_id,
        _ => true,
    }));
}
