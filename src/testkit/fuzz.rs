//! The oracles of the fuzz targets, as plain functions of bytes, so that the targets in
//! `fuzz/` (nightly, libFuzzer) and the corpus replay in `tests/fuzz_corpus.rs` (stable,
//! every `cargo test`) run exactly the same code on an input.
//!
//! - [`event_ops`]: the bytes decode (with `arbitrary`) into an operation sequence, played
//!   against the bus and the reference model by [`super::run_ops`].
//! - [`webhook_parsing`]: the bytes decode into hostile header values for
//!   [`crate::webhook::signing::verify`], [`crate::webhook::retry_after::parse_retry_after`]
//!   and [`crate::webhook::secret::WebhookSecret::parse`]. None may panic; `verify` may
//!   accept only a header holding the right MAC; a correctly signed message must verify;
//!   a `Retry-After` wait never exceeds its cap.

use arbitrary::{Arbitrary, Unstructured};

use super::op::Op;
use crate::webhook::retry_after::{RETRY_AFTER_MAX, parse_retry_after};
use crate::webhook::secret::WebhookSecret;
use crate::webhook::signing::{SIGNATURE_ENTRIES_MAX, TIMESTAMP_TOLERANCE, sign, verify};

/// The operation sequence `bytes` decode into, as the `event_ops` target sees it.
pub fn decode_ops(bytes: &[u8]) -> Vec<Op> {
    Vec::<Op>::arbitrary_take_rest(Unstructured::new(bytes)).unwrap_or_default()
}

/// The `event_ops` oracle: the bus agrees with the model on the sequence `bytes` encode.
pub fn event_ops(bytes: &[u8]) -> Result<(), String> {
    super::run_ops(&decode_ops(bytes)).map_err(|divergence| divergence.to_string())
}

/// Hostile input for the webhook receiver's parsers.
#[derive(Debug, Arbitrary)]
pub struct WebhookInput {
    secret_text: String,
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    now_unix_secs: i64,
    retry_after: String,
}

/// The key the oracle verifies with when the input's secret text does not parse.
const KNOWN_KEY_TEXT: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The `webhook_parsing` oracle on the input `bytes` encode.
pub fn webhook_parsing(bytes: &[u8]) -> Result<(), String> {
    let Ok(input) = WebhookInput::arbitrary_take_rest(Unstructured::new(bytes)) else {
        return Ok(());
    };
    let known = WebhookSecret::parse(KNOWN_KEY_TEXT).map_err(|e| format!("known secret: {e}"))?;
    let secret = WebhookSecret::parse(&input.secret_text).unwrap_or(known);
    check_retry_after(&input)?;
    check_verify_refuses_without_mac(&secret, &input)?;
    check_verify_accepts_right_mac(&secret, &input)
}

fn check_retry_after(input: &WebhookInput) -> Result<(), String> {
    match parse_retry_after(&input.retry_after, input.now_unix_secs) {
        Ok(wait) if wait > RETRY_AFTER_MAX => Err(format!("retry-after {wait:?} past its cap")),
        _ => Ok(()),
    }
}

/// `verify` accepts only a fresh timestamp and a header entry equal to the right MAC.
fn check_verify_refuses_without_mac(
    secret: &WebhookSecret,
    input: &WebhookInput,
) -> Result<(), String> {
    let WebhookInput {
        id,
        timestamp,
        signature,
        body,
        now_unix_secs,
        ..
    } = input;
    if verify(secret, id, timestamp, signature, body, *now_unix_secs).is_err() {
        return Ok(());
    }
    let digits = !timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit());
    let Some(timestamp_secs) = timestamp.parse::<i64>().ok().filter(|_| digits) else {
        return Err(format!("verify accepted the timestamp {timestamp:?}"));
    };
    let skew = (i128::from(timestamp_secs) - i128::from(*now_unix_secs)).unsigned_abs();
    if skew > u128::from(TIMESTAMP_TOLERANCE.as_secs()) {
        return Err(format!("verify accepted a timestamp {skew} s off"));
    }
    let expected = sign(secret, id, timestamp_secs, body);
    let mut entries = signature
        .split_ascii_whitespace()
        .take(SIGNATURE_ENTRIES_MAX);
    if entries.any(|entry| entry == expected) {
        Ok(())
    } else {
        Err(format!(
            "verify accepted {signature:?} without the right MAC"
        ))
    }
}

/// A message signed with the secret at the receiver's own time verifies.
fn check_verify_accepts_right_mac(
    secret: &WebhookSecret,
    input: &WebhookInput,
) -> Result<(), String> {
    let now = input.now_unix_secs;
    if now < 0 {
        return Ok(());
    }
    let header = format!(
        "{} {}",
        input.signature.trim(),
        sign(secret, &input.id, now, &input.body)
    );
    let first_entries = header.split_ascii_whitespace().count();
    if first_entries > SIGNATURE_ENTRIES_MAX {
        return Ok(());
    }
    verify(
        secret,
        &input.id,
        &now.to_string(),
        &header,
        &input.body,
        now,
    )
    .map_err(|error| format!("a correctly signed message was refused: {error}"))
}
