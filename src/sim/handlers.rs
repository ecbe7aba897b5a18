//! In-process subscribers whose handlers misbehave as the seed says: panic, return an error,
//! hang past the timeout, or run slowly.
//!
//! Each call's behaviour is a pure function of the seed, the subscriber, the event id and how
//! many times this handler has been called (so a retried event can behave differently on its
//! next attempt). The call count is the only state, and calls happen in the simulation's
//! deterministic order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::bus::{Handler, HandlerError, HandlerFuture};
use crate::event::Event;

use super::faults::{FaultKind, FaultPlan};
use super::mix::{chance, mix, name};

/// The text every planted panic starts with, so the runner's panic hook can keep them quiet.
pub const PLANTED_PANIC: &str = "planted handler panic";

/// What one handler call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Succeeds at once.
    Succeed,
    /// Returns an error.
    Fail,
    /// Panics.
    Panic,
    /// Never finishes; the bus's timeout ends it.
    Hang,
    /// Succeeds after a pause.
    Slow(Duration),
}

/// A handler that misbehaves per the seed and the fault plan.
#[derive(Debug)]
pub struct Misbehaving {
    seed: u64,
    subscriber: u64,
    plan: FaultPlan,
    slow_max: Duration,
    per_event: Duration,
    calls: AtomicU64,
    healed: Arc<AtomicBool>,
}

impl Misbehaving {
    /// A handler for `subscriber` in the run of `seed`; it behaves once `healed` is set
    /// (faults stop at the heal, handler faults included).
    pub fn new(
        seed: u64,
        subscriber: &str,
        plan: &FaultPlan,
        slow_max: Duration,
        healed: Arc<AtomicBool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            seed,
            subscriber: name(subscriber),
            plan: plan.clone(),
            slow_max,
            per_event: Duration::ZERO,
            calls: AtomicU64::new(0),
            healed,
        })
    }

    /// A handler that always takes `per_event` and never fails (the slow consumer).
    pub fn slow(seed: u64, subscriber: &str, per_event: Duration) -> Arc<Self> {
        Arc::new(Self {
            seed,
            subscriber: name(subscriber),
            plan: FaultPlan::none(),
            slow_max: per_event,
            per_event,
            calls: AtomicU64::new(0),
            healed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// What the next call on `event` does.
    pub fn decide(&self, event: &Event) -> Behaviour {
        if !self.per_event.is_zero() {
            return Behaviour::Slow(self.per_event);
        }
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        if self.healed.load(Ordering::SeqCst) {
            return Behaviour::Succeed;
        }
        let roll = |kind: FaultKind| {
            let value = mix(&[
                self.seed,
                self.subscriber,
                name(event.id().as_str()),
                call,
                kind as u64,
            ]);
            chance(value, self.plan.rate(kind)).then_some(value)
        };
        if roll(FaultKind::HandlerPanic).is_some() {
            return Behaviour::Panic;
        }
        if roll(FaultKind::HandlerError).is_some() {
            return Behaviour::Fail;
        }
        if roll(FaultKind::HandlerHang).is_some() {
            return Behaviour::Hang;
        }
        match roll(FaultKind::HandlerSlow) {
            Some(value) => {
                let max_ms = self.slow_max.as_millis().max(1) as u64;
                Behaviour::Slow(Duration::from_millis(1 + (value >> 12) % max_ms))
            }
            None => Behaviour::Succeed,
        }
    }
}

impl Handler for Misbehaving {
    fn handle(&self, event: Event) -> HandlerFuture {
        let behaviour = self.decide(&event);
        Box::pin(async move {
            match behaviour {
                Behaviour::Succeed => Ok(()),
                Behaviour::Fail => Err(HandlerError::new("planted handler error")),
                Behaviour::Panic => panic!("{PLANTED_PANIC} on {}", event.id()),
                Behaviour::Hang => std::future::pending().await,
                Behaviour::Slow(pause) => {
                    tokio::time::sleep(pause).await;
                    Ok(())
                }
            }
        })
    }
}

/// Installs a panic hook that keeps planted handler panics quiet and passes every other panic
/// to the hook that was installed before. Call once per process (the runner does).
pub fn quiet_planted_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !text.starts_with(PLANTED_PANIC) {
                previous(info);
            }
        }));
    });
}
