//! The history of a run: every step as a typed [`Record`], stamped with a sequence number and
//! the simulated time, serialisable as JSON lines with a stable hash.
//!
//! Records are appended by the bus observer, the job store wrapper, the driver, the
//! receivers and the world's step loop, all on the simulation's one thread, so the sequence
//! is the order things happened in. Times come from the simulation's clock
//! ([`turmoil::sim_elapsed`] inside a host, the step loop's own count outside), never from the
//! wall clock. Nothing records from `Drop`.
//!
//! The hash is SHA-256 over the JSON lines: stable across builds of the same code and
//! platforms, unlike std's hashers.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bus::DeliveryMode;
use crate::gate::HolderState;
use crate::jobs::JobState;

/// One step of a run.
///
/// Field names say what they hold (`event` is an event id, `subscriber`, `receiver` and
/// `endpoint` are names, `*_ms` are scaled durations); they are not documented one by one.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The run began.
    RunStarted {
        scenario: String,
        seed: u64,
        faults: Vec<String>,
        liveness_bound_ms: u64,
    },
    /// A subscriber was registered on the app's bus (after each app start).
    Subscribed {
        subscriber: String,
        topics: Vec<String>,
        mode: DeliveryMode,
        lease_ms: u64,
        ttl_ms: u64,
    },
    /// A host crashed (recorded by the step loop).
    Crash { host: String },
    /// A host restarted (recorded by the step loop).
    Restart { host: String },
    /// A network fault began or ended.
    Network { fault: String, receiver: String },
    /// Every fault stopped: links healed, crashed hosts restarted.
    FaultsHealed,
    /// The app's bus and webhook service went idle after the heal.
    Quiesced,
    /// A call that publishes began (a job end, or a raw re-publish).
    PublishCallBegan { call: u64, op: String, job: u64 },
    /// That call returned.
    PublishCallReturned { call: u64, error: Option<String> },
    /// The job store stored a job's new state.
    JobStored { job: u64, state: JobState },
    /// The bus accepted an event.
    Published {
        event: String,
        topic: String,
        key: String,
    },
    /// An event was queued for a subscriber.
    Enqueued { event: String, subscriber: String },
    /// A subscriber's gate claimed a key.
    Claimed {
        event: String,
        subscriber: String,
        key: String,
        lease_ms: u64,
    },
    /// A duplicate was suppressed.
    Suppressed {
        event: String,
        subscriber: String,
        key: String,
        holder: HolderState,
    },
    /// A handler attempt began.
    HandlerStarted {
        event: String,
        subscriber: String,
        key: String,
        attempt: u32,
    },
    /// A handler attempt ended.
    HandlerEnded {
        event: String,
        subscriber: String,
        key: String,
        attempt: u32,
        outcome: String,
    },
    /// A key was marked completed.
    Completed {
        event: String,
        subscriber: String,
        key: String,
        ttl_ms: u64,
    },
    /// A key was released after a failure.
    Released {
        event: String,
        subscriber: String,
        key: String,
    },
    /// A retry was scheduled.
    RetryScheduled {
        event: String,
        subscriber: String,
        attempt: u32,
        after_ms: u64,
    },
    /// A subscriber will not handle an event.
    DeadLettered {
        event: String,
        subscriber: String,
        key: String,
        reason: String,
    },
    /// The webhook service took an event into an endpoint's backlog.
    WebhookAccepted { event: String, endpoint: String },
    /// The webhook service sent one attempt.
    WebhookAttempt {
        event: String,
        endpoint: String,
        webhook_id: String,
        attempt: u32,
    },
    /// One attempt got an answer or failed.
    WebhookResponse {
        event: String,
        endpoint: String,
        attempt: u32,
        outcome: String,
    },
    /// The webhook service delivered an event to an endpoint.
    WebhookDelivered { event: String, endpoint: String },
    /// The webhook service gave up on an event for an endpoint.
    WebhookDeadLettered {
        event: String,
        endpoint: String,
        reason: String,
    },
    /// The webhook service disabled an endpoint.
    EndpointDisabled { endpoint: String, reason: String },
    /// A receiver applied an event (first time it saw this `webhook-id`).
    Received {
        receiver: String,
        event: String,
        webhook_id: String,
    },
    /// A receiver refused a request whose signature did not verify.
    Rejected {
        receiver: String,
        webhook_id: String,
        reason: String,
    },
}

/// A record with its place and time in the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The record's position, from 0.
    pub seq: u64,
    /// Simulated time since the run began, in microseconds.
    pub at_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub record: Record,
}

impl Entry {
    /// The simulated time as a duration.
    pub fn at(&self) -> Duration {
        Duration::from_micros(self.at_us)
    }
}

/// A finished history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The entries in order.
    pub entries: Vec<Entry>,
}

impl History {
    /// The history as JSON lines, one entry a line.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::with_capacity(self.entries.len() * 120);
        for entry in &self.entries {
            // Serialising plain records to a string cannot fail.
            out.push_str(&serde_json::to_string(entry).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// SHA-256 of the JSON lines, in hex.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.to_jsonl().as_bytes());
        digest
            .iter()
            .fold(String::with_capacity(64), |mut out, byte| {
                let _ = write!(out, "{byte:02x}");
                out
            })
    }

    /// The entries from `from` up to `to` (exclusive), as readable lines.
    pub fn excerpt(&self, from: usize, to: usize) -> String {
        let to = to.min(self.entries.len());
        let mut out = String::new();
        for entry in &self.entries[from.min(to)..to] {
            out.push_str(&readable(entry));
            out.push('\n');
        }
        out
    }

    /// The excerpt of up to `radius` entries on either side of `seq`.
    pub fn around(&self, seq: u64, radius: usize) -> String {
        let at = usize::try_from(seq).unwrap_or(usize::MAX);
        self.excerpt(at.saturating_sub(radius), at.saturating_add(radius + 1))
    }

    /// The whole history as readable lines (what the snapshots keep).
    pub fn readable(&self) -> String {
        self.excerpt(0, self.entries.len())
    }
}

/// One entry as a short line: `#seq  t=1.234s  kind  field=value ...`.
pub fn readable(entry: &Entry) -> String {
    let value = serde_json::to_value(&entry.record).unwrap_or_default();
    let mut line = format!("#{:<5} t={:>9.3}s ", entry.seq, entry.at_us as f64 / 1e6);
    if let serde_json::Value::Object(fields) = value {
        let kind = fields.get("kind").and_then(|k| k.as_str()).unwrap_or("?");
        line.push_str(kind);
        for (name, field) in fields.iter().filter(|(name, _)| *name != "kind") {
            let shown = match field {
                serde_json::Value::String(text) => short_id(text),
                other => other.to_string(),
            };
            let _ = write!(line, " {name}={shown}");
        }
    }
    line
}

/// Event ids are `evt_` plus 24 hex digits; the readable form keeps the last 8 of the prefix
/// and the sequence, enough to tell events apart within one run.
fn short_id(text: &str) -> String {
    match text.strip_prefix("evt_") {
        Some(hex) if hex.len() == 24 => format!("evt_{}{}", &hex[12..16], &hex[16..]),
        _ => text.to_owned(),
    }
}

/// Entries reserved up front: a steady seed of 100 jobs leaves about this many.
const ENTRIES_RESERVED: usize = 4_096;

/// Where records are appended while a run goes on; cheap to clone, shared by every host.
#[derive(Debug, Clone)]
pub struct HistoryLog {
    inner: Option<Arc<Mutex<Vec<Entry>>>>,
}

impl HistoryLog {
    /// A log that keeps records.
    pub fn recording() -> Self {
        Self {
            inner: Some(Arc::new(Mutex::new(Vec::with_capacity(ENTRIES_RESERVED)))),
        }
    }

    /// A log that drops every record (to measure a run without recording).
    pub fn off() -> Self {
        Self { inner: None }
    }

    /// True when records are kept.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Appends `record` at the current host's simulated time.
    pub fn record(&self, record: Record) {
        if self.inner.is_some() {
            let at = turmoil::sim_elapsed().unwrap_or_default();
            self.record_at(at, record);
        }
    }

    /// Appends `record` at `at` (for the step loop, which runs outside any host).
    pub fn record_at(&self, at: Duration, record: Record) {
        let Some(inner) = &self.inner else { return };
        let mut entries = inner.lock().unwrap_or_else(|poison| poison.into_inner());
        let seq = entries.len() as u64;
        let at_us = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
        entries.push(Entry { seq, at_us, record });
    }

    /// Takes the entries out, leaving the log empty (the end of a run: no copy).
    pub fn take(&self) -> History {
        let entries = match &self.inner {
            Some(inner) => std::mem::take(&mut *inner.lock().unwrap_or_else(|p| p.into_inner())),
            None => Vec::new(),
        };
        History { entries }
    }

    /// A copy of the entries so far.
    pub fn snapshot(&self) -> History {
        let entries = match &self.inner {
            Some(inner) => inner
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .clone(),
            None => Vec::new(),
        };
        History { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_records_give_same_hash_and_other_records_another() {
        let log = |seed| {
            let log = HistoryLog::recording();
            log.record_at(
                Duration::ZERO,
                Record::RunStarted {
                    scenario: "s".into(),
                    seed,
                    faults: vec![],
                    liveness_bound_ms: 1,
                },
            );
            log.snapshot()
        };
        assert_eq!(log(1).hash(), log(1).hash());
        assert_ne!(log(1).hash(), log(2).hash());
        assert_eq!(log(1).hash().len(), 64);
    }

    #[test]
    fn jsonl_has_kind_seq_and_time_on_each_line() {
        let log = HistoryLog::recording();
        log.record_at(Duration::from_millis(5), Record::FaultsHealed);
        let line = log.snapshot().to_jsonl();
        assert_eq!(
            line,
            "{\"seq\":0,\"at_us\":5000,\"kind\":\"faults_healed\"}\n"
        );
    }

    #[test]
    fn a_log_that_is_off_keeps_nothing() {
        let log = HistoryLog::off();
        log.record_at(Duration::ZERO, Record::Quiesced);
        assert!(log.snapshot().entries.is_empty());
    }
}
