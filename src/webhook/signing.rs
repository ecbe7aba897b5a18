//! Standard Webhooks signatures: making them on the sending side, checking them on the
//! receiving side.
//!
//! A message is signed over the text `{webhook-id}.{webhook-timestamp}.{body}`, where the
//! timestamp is decimal unix seconds, with HMAC-SHA256 keyed by the decoded secret. The
//! `webhook-signature` header carries `v1,` followed by the standard base64 of the MAC; during a
//! secret rotation the sender puts one such entry per secret, separated by spaces, and a
//! receiver accepts the message if any entry matches a secret it holds.
//!
//! Everything here is pure: the current time comes in as an argument, so the simulation can
//! drive verification with its own clock. [`verify`] takes header values as received from the
//! network and must never panic on them, whatever their size, spacing or encoding; timestamp
//! arithmetic is done in `i128`, where no pair of `i64` values can overflow.
//!
//! The verifier re-formats the parsed timestamp before computing the MAC (as the reference
//! implementations do) rather than hashing the header text as received, so `0001614265330`
//! and `1614265330` verify alike. Both denote the same instant, so this gives an attacker
//! nothing.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

use super::secret::WebhookSecret;

/// Header carrying the message id, the same on every attempt of one message.
pub const HEADER_ID: &str = "webhook-id";

/// Header carrying the send time in decimal unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";

/// Header carrying one or more space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a message's timestamp may lie from the receiver's clock, in either direction.
pub const TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The most signature entries [`verify`] looks at; later entries are ignored.
///
/// A rotation needs two or three entries. The bound keeps the work one hostile header can
/// cause (one HMAC comparison per entry) small whatever the header's size.
pub const SIGNATURE_ENTRIES_MAX: usize = 16;

/// The version prefix of the one signature scheme this module speaks.
const VERSION_PREFIX: &str = "v1,";

/// Longest base64 text worth decoding: a padded SHA-256 MAC is 44 characters.
const MAC_BASE64_LEN_MAX: usize = 44;

#[cfg(test)]
use super::retry_after::EXCERPT_CHARS_MAX;
use super::retry_after::excerpt;

type HmacSha256 = Hmac<Sha256>;

/// Why a received message failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// The timestamp header is not a decimal number of unix seconds that fits an `i64`.
    #[error("webhook-timestamp is not decimal unix seconds: {excerpt:?}")]
    InvalidTimestamp {
        /// The start of the value received, at most 64 characters.
        excerpt: String,
    },
    /// The timestamp lies further in the past than [`TIMESTAMP_TOLERANCE`].
    #[error("webhook-timestamp is {}s in the past, beyond the tolerance", skew.as_secs())]
    TooOld {
        /// How far in the past the timestamp lies.
        skew: Duration,
    },
    /// The timestamp lies further in the future than [`TIMESTAMP_TOLERANCE`].
    #[error("webhook-timestamp is {}s in the future, beyond the tolerance", skew.as_secs())]
    TooNew {
        /// How far in the future the timestamp lies.
        skew: Duration,
    },
    /// The signature header holds no entries at all.
    #[error("webhook-signature header is empty")]
    EmptySignatureHeader,
    /// No `v1` entry of the signature header matches the secret.
    #[error("no webhook-signature entry matches")]
    NoMatchingSignature,
}

/// Signs one message with one secret and returns the `v1,<base64>` header entry.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let tag = keyed_mac(secret, id, timestamp_secs, body)
        .finalize()
        .into_bytes();
    format!("{VERSION_PREFIX}{}", STANDARD.encode(tag))
}

/// Builds the whole `webhook-signature` value: one entry per secret, space-separated, in the
/// order given.
///
/// Several secrets are passed while a secret is being rotated, so that receivers holding
/// either the old or the new one accept the message. An empty slice gives an empty string,
/// which every receiver refuses.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> String {
    let entries: Vec<String> = secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp_secs, body))
        .collect();
    entries.join(" ")
}

/// Checks a received message against one secret, at the receiver's time `now_unix_secs`.
///
/// The steps, in order: the timestamp must be ASCII digits that fit an `i64`; it must lie
/// within [`TIMESTAMP_TOLERANCE`] of `now_unix_secs` (exactly the tolerance is accepted); the
/// signature header must hold at least one whitespace-separated entry; and one of its first
/// [`SIGNATURE_ENTRIES_MAX`] entries must be `v1,` plus the base64 of the right MAC. Entries
/// with another version or with malformed base64 are skipped, not refused, so that a sender
/// may add schemes this code does not know. The MAC is compared in constant time.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now_unix_secs: i64,
) -> Result<(), VerifyError> {
    let timestamp_secs = parse_timestamp(timestamp)?;
    check_skew(timestamp_secs, now_unix_secs)?;

    let mut entries = signature_header.split_ascii_whitespace().peekable();
    if entries.peek().is_none() {
        return Err(VerifyError::EmptySignatureHeader);
    }

    let expected = keyed_mac(secret, id, timestamp_secs, body);
    let matched = entries
        .take(SIGNATURE_ENTRIES_MAX)
        .filter_map(decode_v1_entry)
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// The HMAC state after absorbing the signed content, ready to finalize or compare.
fn keyed_mac(secret: &WebhookSecret, id: &str, timestamp_secs: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.key_bytes()).expect("hmac accepts keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    let invalid = || VerifyError::InvalidTimestamp {
        excerpt: excerpt(text),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse::<i64>().map_err(|_| invalid())
}

/// Refuses a timestamp more than [`TIMESTAMP_TOLERANCE`] away from `now_unix_secs`.
fn check_skew(timestamp_secs: i64, now_unix_secs: i64) -> Result<(), VerifyError> {
    // In i128 the difference of two i64 values cannot overflow.
    let ahead_secs = i128::from(timestamp_secs) - i128::from(now_unix_secs);
    let skew = Duration::from_secs(u64::try_from(ahead_secs.unsigned_abs()).unwrap_or(u64::MAX));
    if skew <= TIMESTAMP_TOLERANCE {
        Ok(())
    } else if ahead_secs < 0 {
        Err(VerifyError::TooOld { skew })
    } else {
        Err(VerifyError::TooNew { skew })
    }
}

/// The MAC bytes of a `v1,<base64>` entry, or `None` for any other kind of entry.
fn decode_v1_entry(entry: &str) -> Option<Vec<u8>> {
    let encoded = entry.strip_prefix(VERSION_PREFIX)?;
    if encoded.len() > MAC_BASE64_LEN_MAX {
        return None;
    }
    STANDARD.decode(encoded).ok()
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    // The published Standard Webhooks test vector. The expected signature was recomputed
    // independently before it was trusted; anyone can do the same by pasting this into a shell
    // (it prints the value of `VECTOR_SIGNATURE`):
    //
    //   python3 - <<'EOF'
    //   import base64, hashlib, hmac
    //   key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    //   msg = b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}'
    //   print("v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode())
    //   EOF
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn vector_secret() -> WebhookSecret {
        WebhookSecret::parse(VECTOR_SECRET).expect("vector secret parses")
    }

    fn other_secret(seed: u64) -> WebhookSecret {
        WebhookSecret::generate(&mut SmallRng::seed_from_u64(seed))
    }

    /// Verifies the test vector with a chosen header, timestamp text and clock.
    fn verify_vector(header: &str, timestamp: &str, now: i64) -> Result<(), VerifyError> {
        verify(
            &vector_secret(),
            VECTOR_ID,
            timestamp,
            header,
            VECTOR_BODY,
            now,
        )
    }

    #[test]
    fn sign_matches_published_test_vector() {
        let signature = sign(&vector_secret(), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn published_test_vector_verifies_at_its_own_time() {
        let result = verify_vector(VECTOR_SIGNATURE, "1614265330", VECTOR_TIMESTAMP);
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn header_names_are_the_standard_ones() {
        assert_eq!(HEADER_ID, "webhook-id");
        assert_eq!(HEADER_TIMESTAMP, "webhook-timestamp");
        assert_eq!(HEADER_SIGNATURE, "webhook-signature");
        assert_eq!(TIMESTAMP_TOLERANCE, Duration::from_secs(300));
    }

    #[test]
    fn rotation_header_verifies_with_either_secret_and_not_a_third() {
        let (old, new) = (vector_secret(), other_secret(1));
        let header = signature_header(&[&old, &new], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(header.split(' ').count(), 2);

        for secret in [&old, &new] {
            let result = verify(
                secret,
                VECTOR_ID,
                "1614265330",
                &header,
                VECTOR_BODY,
                1614265330,
            );
            assert_eq!(result, Ok(()));
        }
        let stranger = other_secret(2);
        let result = verify(
            &stranger,
            VECTOR_ID,
            "1614265330",
            &header,
            VECTOR_BODY,
            1614265330,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn signature_header_of_one_secret_is_its_signature() {
        let secret = vector_secret();
        let header = signature_header(&[&secret], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(header, VECTOR_SIGNATURE);
    }

    #[test]
    fn signature_header_of_no_secrets_is_empty_and_refused() {
        let header = signature_header(&[], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(header, "");
        let result = verify_vector(&header, "1614265330", VECTOR_TIMESTAMP);
        assert_eq!(result, Err(VerifyError::EmptySignatureHeader));
    }

    #[test]
    fn tampered_body_fails() {
        let body = br#"{"test": 2432232315}"#;
        let result = verify(
            &vector_secret(),
            VECTOR_ID,
            "1614265330",
            VECTOR_SIGNATURE,
            body,
            1614265330,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn tampered_id_fails() {
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJeK";
        let result = verify(
            &vector_secret(),
            id,
            "1614265330",
            VECTOR_SIGNATURE,
            VECTOR_BODY,
            1614265330,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn tampered_timestamp_within_tolerance_fails() {
        let result = verify_vector(VECTOR_SIGNATURE, "1614265331", VECTOR_TIMESTAMP);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn wrong_secret_fails() {
        let result = verify(
            &other_secret(3),
            VECTOR_ID,
            "1614265330",
            VECTOR_SIGNATURE,
            VECTOR_BODY,
            VECTOR_TIMESTAMP,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn skew_of_exactly_300_seconds_is_accepted_both_ways() {
        for now in [VECTOR_TIMESTAMP + 300, VECTOR_TIMESTAMP - 300] {
            assert_eq!(
                verify_vector(VECTOR_SIGNATURE, "1614265330", now),
                Ok(()),
                "now={now}"
            );
        }
    }

    #[test]
    fn timestamp_301_seconds_old_is_refused_as_too_old() {
        let result = verify_vector(VECTOR_SIGNATURE, "1614265330", VECTOR_TIMESTAMP + 301);
        assert_eq!(
            result,
            Err(VerifyError::TooOld {
                skew: Duration::from_secs(301)
            })
        );
    }

    #[test]
    fn timestamp_301_seconds_ahead_is_refused_as_too_new() {
        let result = verify_vector(VECTOR_SIGNATURE, "1614265330", VECTOR_TIMESTAMP - 301);
        assert_eq!(
            result,
            Err(VerifyError::TooNew {
                skew: Duration::from_secs(301)
            })
        );
    }

    #[test]
    fn skew_is_checked_before_signatures() {
        // A stale message is refused as stale even when its signature is garbage.
        let result = verify_vector("v1,garbage", "1614265330", VECTOR_TIMESTAMP + 10_000);
        assert!(matches!(result, Err(VerifyError::TooOld { .. })));
    }

    #[test]
    fn extreme_timestamps_and_clocks_do_not_overflow() {
        let max = i64::MAX.to_string();
        let too_new = verify_vector(VECTOR_SIGNATURE, &max, i64::MIN);
        let expected_skew = Duration::from_secs(u64::MAX);
        assert_eq!(
            too_new,
            Err(VerifyError::TooNew {
                skew: expected_skew
            })
        );

        let too_old = verify_vector(VECTOR_SIGNATURE, "0", i64::MAX);
        let expected_skew = Duration::from_secs(i64::MAX as u64);
        assert_eq!(
            too_old,
            Err(VerifyError::TooOld {
                skew: expected_skew
            })
        );

        let at_max = verify_vector(VECTOR_SIGNATURE, &max, i64::MAX);
        assert_eq!(at_max, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn non_numeric_timestamps_are_refused_with_an_excerpt() {
        let bad = [
            "",
            "abc",
            "-1614265330",
            "+1614265330",
            " 1614265330",
            "1614265330.5",
            "١٢",
        ];
        for text in bad {
            let result = verify_vector(VECTOR_SIGNATURE, text, VECTOR_TIMESTAMP);
            let expected = VerifyError::InvalidTimestamp {
                excerpt: text.to_owned(),
            };
            assert_eq!(result, Err(expected), "{text:?}");
        }
    }

    #[test]
    fn timestamp_too_large_for_i64_is_refused() {
        let result = verify_vector(VECTOR_SIGNATURE, "99999999999999999999", VECTOR_TIMESTAMP);
        assert!(matches!(result, Err(VerifyError::InvalidTimestamp { .. })));
    }

    #[test]
    fn leading_zeros_in_timestamp_denote_the_same_instant() {
        let result = verify_vector(VECTOR_SIGNATURE, "0001614265330", VECTOR_TIMESTAMP);
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn long_timestamp_excerpt_is_cut_at_64_characters() {
        let long = "é".repeat(1000);
        let Err(VerifyError::InvalidTimestamp { excerpt }) =
            verify_vector(VECTOR_SIGNATURE, &long, VECTOR_TIMESTAMP)
        else {
            panic!("a non-numeric timestamp must be refused");
        };
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS_MAX + 1);
        assert!(excerpt.ends_with('…'));
    }

    #[test]
    fn empty_or_blank_signature_header_has_its_own_error() {
        for header in ["", " ", "  \t "] {
            let result = verify_vector(header, "1614265330", VECTOR_TIMESTAMP);
            assert_eq!(result, Err(VerifyError::EmptySignatureHeader), "{header:?}");
        }
    }

    #[test]
    fn odd_spacing_between_entries_is_tolerated() {
        let header = format!("   v1,AAAA   {VECTOR_SIGNATURE}\t ");
        assert_eq!(
            verify_vector(&header, "1614265330", VECTOR_TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn other_versions_and_malformed_entries_are_skipped() {
        let good = VECTOR_SIGNATURE;
        let header = format!("v2,abc v1a,{good} v1,%%% v1, v1,{good}== {good}");
        assert_eq!(
            verify_vector(&header, "1614265330", VECTOR_TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn only_unknown_versions_match_nothing() {
        let mac = VECTOR_SIGNATURE.trim_start_matches("v1,");
        let header = format!("v2,{mac} v0,{mac} V1,{mac}");
        let result = verify_vector(&header, "1614265330", VECTOR_TIMESTAMP);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn truncated_signature_does_not_match() {
        let header = &VECTOR_SIGNATURE[..VECTOR_SIGNATURE.len() - 4];
        let result = verify_vector(header, "1614265330", VECTOR_TIMESTAMP);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn entries_past_the_bound_are_ignored() {
        let filler = vec!["v1,AAAA"; SIGNATURE_ENTRIES_MAX].join(" ");
        let late = format!("{filler} {VECTOR_SIGNATURE}");
        let result = verify_vector(&late, "1614265330", VECTOR_TIMESTAMP);
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));

        let filler = vec!["v1,AAAA"; SIGNATURE_ENTRIES_MAX - 1].join(" ");
        let last_in_bound = format!("{filler} {VECTOR_SIGNATURE}");
        assert_eq!(
            verify_vector(&last_in_bound, "1614265330", VECTOR_TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn huge_header_and_body_do_not_panic() {
        let header = format!("v1,{}", "A".repeat(1 << 20));
        let body = vec![0xffu8; 1 << 20];
        let result = verify(
            &vector_secret(),
            VECTOR_ID,
            "1614265330",
            &header,
            &body,
            VECTOR_TIMESTAMP,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    /// Pieces that hostile headers are assembled from: prefixes, separators, base64 and
    /// non-base64 characters, multi-byte text, digits and signs.
    const GARBAGE_PIECES: &[&str] = &[
        "v1,",
        "v2,",
        "v1",
        ",",
        " ",
        "  ",
        "\t",
        "=",
        "==",
        "+",
        "/",
        "-",
        "_",
        "A",
        "zz",
        "0",
        "9",
        "é",
        "\u{1F600}",
        "\u{0}",
        ".",
        "msg_",
        "g0hM9SsE",
        "1614265330",
        "\u{202E}",
    ];

    fn garbage(rng: &mut SmallRng) -> String {
        let pieces = rng.gen_range(0..40);
        (0..pieces)
            .map(|_| GARBAGE_PIECES[rng.gen_range(0..GARBAGE_PIECES.len())])
            .collect()
    }

    fn garbage_clock(rng: &mut SmallRng) -> i64 {
        match rng.gen_range(0..4) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => VECTOR_TIMESTAMP + rng.gen_range(-400..=400),
            _ => rng.r#gen(),
        }
    }

    #[test]
    fn garbage_inputs_never_panic_and_never_verify() {
        // Seed 0x5eed; a failure names the iteration so it can be replayed.
        let mut rng = SmallRng::seed_from_u64(0x5eed);
        let secret = vector_secret();
        for iteration in 0..5_000 {
            let (id, timestamp, header) = (garbage(&mut rng), garbage(&mut rng), garbage(&mut rng));
            let body = garbage(&mut rng);
            let now = garbage_clock(&mut rng);
            let result = verify(&secret, &id, &timestamp, &header, body.as_bytes(), now);
            assert!(
                result.is_err(),
                "iteration {iteration} verified garbage: {header:?}"
            );
        }
    }

    #[test]
    fn garbage_before_a_valid_signature_hides_it_only_past_the_bound() {
        let mut rng = SmallRng::seed_from_u64(0xbad5eed);
        let (mut found, mut hidden) = (0, 0);
        for iteration in 0..2_000 {
            let chunks = rng.gen_range(0..2 * SIGNATURE_ENTRIES_MAX);
            let noise: Vec<String> = (0..chunks)
                .map(|_| garbage(&mut rng).replace("v1,", "v9,"))
                .collect();
            let noise = noise.join(" ");
            let header = format!("{noise} {VECTOR_SIGNATURE} {}", garbage(&mut rng));

            let in_bound = noise.split_ascii_whitespace().count() < SIGNATURE_ENTRIES_MAX;
            let result = verify_vector(&header, "1614265330", VECTOR_TIMESTAMP);
            assert_eq!(
                result.is_ok(),
                in_bound,
                "iteration {iteration}: {header:?}"
            );
            if in_bound { found += 1 } else { hidden += 1 }
        }
        assert!(
            found > 100 && hidden > 100,
            "found {found}, hidden {hidden}"
        );
    }
}
