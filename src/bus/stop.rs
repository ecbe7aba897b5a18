//! A one-shot stop signal for a subscriber's worker, carrying why it stopped.
//!
//! The worker waits on it beside its queue and its running handler, so an unsubscribe or a
//! shutdown deadline interrupts a hung handler instead of waiting for it.

use std::sync::OnceLock;

use tokio::sync::Notify;

use super::dead_letter::DeadLetterReason;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct StopSignal {
    /// Set once; read (one atomic load) before every event and every handler run.
    reason: OnceLock<DeadLetterReason>,
    notify: Notify,
}

impl StopSignal {
    /// Stops the worker for `reason`; the first reason given wins.
    pub(crate) fn stop(&self, reason: DeadLetterReason) {
        // A later reason is refused: the first stays.
        let _ = self.reason.set(reason);
        self.notify.notify_waiters();
    }

    /// The reason, once stopped.
    pub(crate) fn reason(&self) -> Option<DeadLetterReason> {
        self.reason.get().copied()
    }

    /// Resolves with the reason once the worker is told to stop.
    pub(crate) async fn stopped(&self) -> DeadLetterReason {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(reason) = self.reason() {
                return reason;
            }
            notified.await;
        }
    }
}
