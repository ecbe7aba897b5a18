//! A one-shot stop signal for a subscriber's worker, carrying why it stopped.
//!
//! The worker waits on it beside its queue and its running handler, so an unsubscribe or a
//! shutdown deadline interrupts a hung handler instead of waiting for it.

use std::sync::Mutex;

use tokio::sync::Notify;

use super::dead_letter::DeadLetterReason;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct StopSignal {
    reason: Mutex<Option<DeadLetterReason>>,
    notify: Notify,
}

impl StopSignal {
    /// Stops the worker for `reason`; the first reason given wins.
    pub(crate) fn stop(&self, reason: DeadLetterReason) {
        {
            let mut current = self
                .reason
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            current.get_or_insert(reason);
        }
        self.notify.notify_waiters();
    }

    /// The reason, once stopped.
    pub(crate) fn reason(&self) -> Option<DeadLetterReason> {
        *self
            .reason
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
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
