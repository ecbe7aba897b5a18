//! [`Padded`]: a value alone on its cache lines.
//!
//! The publisher and a subscriber's worker run on different threads. State one side writes
//! on every event (the queue, the enqueued counter) is kept off the cache lines the other
//! side writes or reads on every event (the worker's counters, the subscriber's settings), so
//! neither side's writes evict what the other is using ("false sharing").

use std::ops::Deref;

/// `T` aligned to 128 bytes: two 64-byte lines, since x86 prefetches lines in adjacent pairs.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_padded_values_never_share_a_line() {
        let pair = [Padded(0u8), Padded(1u8)];
        let gap = std::ptr::from_ref(&pair[1]) as usize - std::ptr::from_ref(&pair[0]) as usize;
        assert!(gap >= 128);
        assert_eq!(*pair[1], 1);
    }
}
