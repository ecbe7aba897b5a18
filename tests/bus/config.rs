//! Bad input gets a typed error at the call, and nothing already accepted is lost.

use std::time::Duration;

use eventgate::bus::{BusConfig, PublishError, SubscribeError};
use eventgate::event::EventError;
use eventgate::{EventBus, InMemoryEventBus, NewEvent, SubscriberConfig};

use crate::common::{self, Runs};

#[tokio::test(start_paused = true)]
async fn bad_subscriber_configurations_are_refused_with_typed_errors() {
    let bus = common::bus();
    let runs = Runs::default();
    let base = || SubscriberConfig::new("s", ["t"]);
    let cases = [
        (SubscriberConfig::new("", ["t"]), SubscribeError::EmptyName),
        (
            SubscriberConfig::new("s", Vec::<String>::new()),
            SubscribeError::NoTopics("s".into()),
        ),
        (
            SubscriberConfig::new("s", [""]),
            SubscribeError::EmptyTopic("s".into()),
        ),
        (base().queue_capacity(0), SubscribeError::ZeroQueueCapacity),
        (base().lease(Duration::ZERO), SubscribeError::ZeroLease),
        (base().ttl(Duration::ZERO), SubscribeError::ZeroTtl),
        (base().attempts_max(0), SubscribeError::ZeroAttempts),
        (
            base().handler_timeout(Duration::ZERO),
            SubscribeError::ZeroHandlerTimeout,
        ),
        (
            base().lease(Duration::from_secs(10)),
            SubscribeError::LeaseNotLongerThanTimeout {
                lease: Duration::from_secs(10),
                handler_timeout: Duration::from_secs(10),
            },
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(bus.subscribe(config, runs.ok()), Err(expected));
    }
    assert!(bus.topology().topics.is_empty(), "nothing was registered");
}

#[tokio::test(start_paused = true)]
async fn second_subscriber_with_the_same_name_is_refused_and_the_first_kept() {
    let bus = common::bus();
    let (first, second) = (Runs::default(), Runs::default());
    bus.subscribe(SubscriberConfig::new("s", ["t"]), first.ok())
        .unwrap();
    let again = bus.subscribe(SubscriberConfig::new("s", ["u"]), second.ok());
    assert_eq!(again, Err(SubscribeError::DuplicateName("s".into())));

    bus.publish(common::event("t", "k", 1)).unwrap();
    bus.idle().await;
    assert_eq!((first.total(), second.total()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn bad_events_are_refused_and_nothing_queued_is_lost() {
    let bus = InMemoryEventBus::with_config(
        BusConfig::default()
            .clock(common::clock())
            .payload_limit_bytes(64),
    );
    let runs = Runs::default();
    bus.subscribe(SubscriberConfig::new("s", ["t"]), runs.ok())
        .unwrap();
    bus.publish(common::event("t", "good", 1)).unwrap();

    let empty_topic = bus.publish(NewEvent::raw("", "k", "1".into()));
    assert!(matches!(
        empty_topic,
        Err(PublishError::Invalid(EventError::EmptyTopic))
    ));
    let empty_key = bus.publish(NewEvent::raw("t", "", "1".into()));
    assert!(matches!(
        empty_key,
        Err(PublishError::Invalid(EventError::EmptyKey))
    ));
    let big = bus.publish(NewEvent::raw("t", "k", "1".repeat(65)));
    assert!(matches!(
        big,
        Err(PublishError::Invalid(EventError::PayloadTooLarge {
            size_bytes: 65,
            limit_bytes: 64
        }))
    ));
    bus.idle().await;

    assert_eq!(runs.order(), ["good"]);
}

#[test]
fn subscribing_outside_a_runtime_is_a_typed_error() {
    let bus = InMemoryEventBus::new();
    let runs = Runs::default();
    let result = bus.subscribe(SubscriberConfig::new("s", ["t"]), runs.ok());
    assert_eq!(result, Err(SubscribeError::NoRuntime));
}
