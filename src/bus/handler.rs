//! What a subscriber runs: the [`Handler`] trait, its error, and the typed adapter.
//!
//! Any `Fn(Event) -> impl Future<Output = Result<(), HandlerError>>` is a handler. A handler
//! for a [`TypedEvent`] is made with [`typed`], which decodes the shared payload into the
//! subscriber's own value, so neither side writes JSON by hand.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use crate::event::{Event, TypedEvent};

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;

/// A side effect run for each event a subscriber receives.
pub trait Handler: Send + Sync + 'static {
    /// Handles one event. An error, a panic or running past the subscriber's timeout all count
    /// as a failed attempt of this subscriber alone.
    fn handle(&self, event: Event) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    fn handle(&self, event: Event) -> HandlerFuture {
        Box::pin(self(event))
    }
}

/// Why a handler failed: a message, kept in the attempt record and the dead letter.
///
/// Any error type converts into it with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    message: String,
}

impl HandlerError {
    /// A handler error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        Self::new(error.to_string())
    }
}

/// A handler that receives `T` decoded from each event's payload.
///
/// ```
/// use eventgate::{bus::typed, HandlerError, jobs::JobCompleted};
///
/// let handler = typed(|job: JobCompleted| async move {
///     println!("job {} finished", job.job_id);
///     Ok::<(), HandlerError>(())
/// });
/// # let _ = handler;
/// ```
pub fn typed<T, F, Fut>(handler: F) -> TypedHandler<T, F>
where
    T: TypedEvent,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    TypedHandler {
        handler,
        _event: PhantomData,
    }
}

/// See [`typed`].
pub struct TypedHandler<T, F> {
    handler: F,
    _event: PhantomData<fn() -> T>,
}

impl<T, F, Fut> Handler for TypedHandler<T, F>
where
    T: TypedEvent,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    fn handle(&self, event: Event) -> HandlerFuture {
        match event.decode::<T>() {
            Ok(value) => Box::pin((self.handler)(value)),
            Err(error) => Box::pin(std::future::ready(Err(HandlerError::new(
                error.to_string(),
            )))),
        }
    }
}
