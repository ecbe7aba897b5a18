//! Seed mixing: every random decision in a run is a pure function of the seed and of names
//! that identify the decision (subscriber, event id, attempt), so a decision never depends on
//! the order in which tasks happened to draw from a shared generator.

use crate::event::chain_hash;

/// Mixes `parts` into one well-spread 64-bit value (splitmix64 over each part in turn).
pub fn mix(parts: &[u64]) -> u64 {
    let mut state: u64 = 0x243F_6A88_85A3_08D3;
    for part in parts {
        state = splitmix(state ^ *part);
    }
    state
}

/// A stable 64-bit value for a name: one multiply-rotate chain over its bytes.
///
/// This is its own function, not the payload fingerprint, so that making the fingerprint
/// faster never changes which decisions a seed makes: every recorded seed replays the same
/// history.
pub fn name(text: &str) -> u64 {
    chain_hash(text.len() as u64, text.as_bytes())
}

/// True with probability `per_mille` / 1000 for the decision `value`.
pub fn chance(value: u64, per_mille: u32) -> bool {
    value % 1_000 < u64::from(per_mille)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_stable_and_order_sensitive() {
        assert_eq!(mix(&[1, 2]), mix(&[1, 2]));
        assert_ne!(mix(&[1, 2]), mix(&[2, 1]));
        assert!(chance(5, 6));
        assert!(!chance(6, 6));
    }

    #[test]
    fn names_keep_the_values_recorded_seeds_were_made_with() {
        assert_eq!(name("hello world"), 6_435_747_101_218_427_169);
        assert_ne!(name("billing"), name("shipping"));
    }
}
