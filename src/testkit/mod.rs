//! The test kit shared by the property tests, the fuzz targets and the corpus replay: event
//! operation sequences ([`op`]), a small reference model of the bus and gate ([`model`]), and
//! a runner that plays a sequence against the real [`crate::InMemoryEventBus`] and
//! [`crate::gate::MemoryStore`] under paused tokio time, comparing with the model after every
//! step ([`runner`]).
//!
//! It lives in the library behind the `testkit` feature, not in `tests/`, because three
//! consumers need the same code: `tests/` (proptest), `fuzz/` (a separate crate, which can
//! only reach the library) and the stable corpus replay. A file `include!`d by each was the
//! rejected alternative: it compiles the model three times in three contexts and hides it from
//! clippy's view of the library. Not API: hidden from the docs, changed at will.

pub mod fuzz;
pub mod model;
pub mod op;
pub mod runner;

pub use model::Model;
pub use op::{Advance, Behaviour, Mode, Op, Publish, Then};
pub use runner::{Divergence, run_ops, run_ops_with};
