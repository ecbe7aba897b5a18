//! How a worker starts its subscriber's handler: [`Runner`], over a [`Handler`] trait object
//! (whose every run returns a boxed future) or over a closure whose future type is known, so
//! the worker holds each run's future in its own state instead of allocating it.
//!
//! The worker is generic over its runner; `subscribe_arc` gives it a trait object, and
//! [`crate::InMemoryEventBus::subscribe_fn`] a closure.

use std::future::Future;
use std::sync::Arc;

use super::handler::{Handler, HandlerError, HandlerFuture};
use crate::event::Event;

/// Starts one run of a subscriber's handler.
pub(crate) trait Runner: Send + Sync + 'static {
    /// One run's future.
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'static;

    /// Calls the handler on `event`.
    fn start(&self, event: Event) -> Self::Future;
}

impl Runner for Arc<dyn Handler> {
    type Future = HandlerFuture;

    fn start(&self, event: Event) -> HandlerFuture {
        self.handle(event)
    }
}

/// A closure handler, called directly.
pub(crate) struct FnRunner<F>(pub(crate) F);

impl<F, Fut> Runner for FnRunner<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    type Future = Fut;

    fn start(&self, event: Event) -> Fut {
        (self.0)(event)
    }
}
