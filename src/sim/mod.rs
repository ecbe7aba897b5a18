//! The deterministic simulation harness: the production bus, job service and webhook
//! subscriber run unchanged inside a turmoil world driven by one seed, with faults injected;
//! the whole run is recorded as a [`history::History`] and [`checkers`] decide from that
//! history alone whether each guarantee of the crate held.
//!
//! # The parts
//!
//! - [`config`]: one seed's world: job count, hosts, scaled durations, mutants, the tick.
//! - [`faults`]: the fault kinds and the swarm plan a seed picks (which kinds are on, how
//!   often they strike), and the timeline of network and crash faults drawn from it.
//! - [`history`]: the typed records, JSON lines and the stable hash.
//! - [`recorder`]: the bus [`crate::bus::Observer`] and the job store wrapper that append to
//!   the history.
//! - [`handlers`]: in-process subscribers whose handlers misbehave as the seed says.
//! - [`receiver`]: the HTTP receiver hosts that verify Standard Webhooks signatures and
//!   deduplicate on `webhook-id`.
//! - [`webhooks`]: the webhook service in the app, one endpoint per receiver, and its
//!   recorder.
//! - [`app`] and [`driver`]: the app host, and the task on it that creates and ends jobs and
//!   re-publishes duplicates.
//! - [`world`]: builds the turmoil simulation and steps it through the fault phase, the
//!   final heal and the quiesce phase.
//! - [`checkers`]: one file per guarantee; [`minimise`]: shrinking a failing seed;
//!   [`runner`]: seeds in parallel across OS threads, with the determinism sample.
//!
//! # Determinism
//!
//! One seed decides everything: turmoil's RNG and epoch, the fault plan, the driver's and the
//! handlers' choices, event id prefixes and webhook secrets. History times are simulated time
//! ([`turmoil::sim_elapsed`]); nothing reads the wall clock, nothing iterates a `HashMap` into
//! the history, and nothing records from `Drop` (a crashed host's tasks are dropped outside
//! its runtime). The same seed on the same build gives a byte-identical history.

pub mod app;
pub mod checkers;
pub mod config;
pub mod driver;
pub mod faults;
pub mod handlers;
pub mod history;
pub mod minimise;
pub mod mix;
pub mod receiver;
pub mod recorder;
pub mod runner;
pub mod scenario;
pub mod task_ids;
pub mod webhooks;
pub mod world;

pub use config::{SimConfig, Timings};
pub use faults::{FaultKind, FaultPlan};
pub use history::{Entry, History, Record};
pub use runner::{RunReport, SeedResult, SweepReport};
pub use scenario::Scenario;
pub use world::{HarnessError, RunOutput};
