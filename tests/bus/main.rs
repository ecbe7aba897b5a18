//! Integration tests of the bus, the gate and the job service, under paused tokio time (the
//! wake-up tests alone run on a multi-thread runtime in real time).
//!
//! Each module states one area's guarantees as tests that fail when the guarantee breaks.
//! Time is tokio's paused clock: a hung handler costs no real time, and "no virtual time
//! passes inside publish" is an exact assertion, not a race.

mod common;

mod accounting;
mod config;
mod gate;
mod isolation;
mod lifecycle;
mod retries;
mod wakeups;
