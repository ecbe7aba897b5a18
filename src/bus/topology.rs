//! Introspection: who handles what, without reading code.
//!
//! [`Topology`] lists each topic with its subscribers, their delivery mode, queue depth and
//! counters. It serialises to JSON and prints as a table.

use std::fmt;

use serde::Serialize;

use super::config::DeliveryMode;
use super::counters::CounterSnapshot;

/// Every topic and its subscribers, topics in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// One entry per topic with at least one subscriber.
    pub topics: Vec<TopicInfo>,
}

/// One topic and its subscribers, in subscription order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicInfo {
    /// The topic.
    pub topic: String,
    /// Its subscribers.
    pub subscribers: Vec<SubscriberInfo>,
}

/// One subscriber as introspection shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriberInfo {
    /// The subscriber's name.
    pub name: String,
    /// Its delivery mode.
    pub mode: DeliveryMode,
    /// Events waiting in its queue.
    pub queue_depth: usize,
    /// Its queue's bound.
    pub queue_capacity: usize,
    /// Its counters.
    pub counters: CounterSnapshot,
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:<20} {:<13} {:>11} {:>8} {:>10} {:>7} {:>13}",
            "topic",
            "subscriber",
            "mode",
            "queue",
            "handled",
            "suppressed",
            "failed",
            "dead-lettered"
        )?;
        for topic in &self.topics {
            for s in &topic.subscribers {
                let mode = format!("{:?}", s.mode);
                let queue = format!("{}/{}", s.queue_depth, s.queue_capacity);
                let c = &s.counters;
                writeln!(
                    f,
                    "{:<20} {:<20} {:<13} {:>11} {:>8} {:>10} {:>7} {:>13}",
                    topic.topic,
                    s.name,
                    mode,
                    queue,
                    c.handled,
                    c.suppressed,
                    c.failed,
                    c.dead_lettered
                )?;
            }
        }
        Ok(())
    }
}
