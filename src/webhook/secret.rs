//! The shared secret a webhook endpoint and its sender sign with.
//!
//! Standard Webhooks writes a secret as `whsec_` followed by the standard base64 (with
//! padding) of the raw key bytes. [`WebhookSecret`] holds the decoded key and is the only way
//! the rest of the crate touches it, so that the places where the secret can leave the process
//! are few and easy to find:
//!
//! - [`WebhookSecret::key_bytes`] hands the key to the HMAC in `super::signing`;
//! - [`WebhookSecret::expose`] gives back the `whsec_...` text, for a caller that must show or
//!   store it, and is named so that a reviewer sees it.
//!
//! Everything else (`Debug`, `Display`, `Serialize`) prints a fixed redacted form, so a secret
//! cannot reach a log line or an endpoint listing by accident.
//!
//! The key is not wiped from memory on drop: that would need a `zeroize` dependency, and an
//! in-process bus keeps the secret in its configuration for its whole life anyway.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::{Serialize, Serializer};
use thiserror::Error;

/// The text every encoded secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// The shortest key accepted, in bytes (192 bits).
pub const KEY_LEN_MIN: usize = 24;

/// The longest key accepted, in bytes (512 bits, one SHA-256 block).
pub const KEY_LEN_MAX: usize = 64;

/// The length of a key made by [`WebhookSecret::generate`], in bytes.
pub const GENERATED_KEY_LEN: usize = 32;

/// What `Debug`, `Display` and `Serialize` show in place of the secret.
const REDACTED: &str = "WebhookSecret(whsec_***)";

/// Why a `whsec_...` text was refused.
///
/// No variant carries any part of the input: a malformed secret is still mostly secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    /// The text does not start with `whsec_` (the check is case-sensitive).
    #[error("webhook secret must start with `whsec_` (input is {len} bytes)")]
    MissingPrefix {
        /// Length of the whole input, in bytes.
        len: usize,
    },
    /// The text after the prefix is not standard, padded base64.
    #[error("webhook secret is not standard base64 after `whsec_` ({encoded_len} bytes)")]
    BadBase64 {
        /// Length of the text after the prefix, in bytes.
        encoded_len: usize,
    },
    /// The decoded key is shorter than [`KEY_LEN_MIN`].
    #[error("webhook secret key is {len} bytes, at least {min} are required")]
    TooShort {
        /// Length of the decoded key, in bytes.
        len: usize,
        /// The required minimum, in bytes.
        min: usize,
    },
    /// The decoded key is longer than [`KEY_LEN_MAX`].
    #[error("webhook secret key is {len} bytes, at most {max} are allowed")]
    TooLong {
        /// Length of the decoded key, in bytes.
        len: usize,
        /// The allowed maximum, in bytes.
        max: usize,
    },
}

/// A decoded Standard Webhooks signing key.
///
/// `PartialEq` compares the key bytes in ordinary, early-exit time. That is safe because
/// equality only ever compares secrets the operator configured (for instance to notice that a
/// rotation changed nothing); an attacker-supplied value is never compared with a secret here.
/// Checking a signature, where timing would matter, goes through the MAC's constant-time
/// `verify_slice` in `super::signing`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    /// Parses `whsec_` followed by the standard base64 of a key of
    /// [`KEY_LEN_MIN`]`..=`[`KEY_LEN_MAX`] bytes.
    ///
    /// The text must be exact: no surrounding whitespace, padding present where base64 needs
    /// it.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix { len: text.len() })?;

        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::BadBase64 {
                encoded_len: encoded.len(),
            })?;

        Self::from_key(key)
    }

    /// Makes a fresh secret of [`GENERATED_KEY_LEN`] bytes drawn from `rng`.
    ///
    /// The caller chooses the generator: a seeded one in simulations, an OS-backed one in
    /// production.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut key = vec![0u8; GENERATED_KEY_LEN];
        rng.fill_bytes(&mut key);
        Self { key }
    }

    /// Returns the secret in its `whsec_...` text form: this is where the secret leaves.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The decoded key, for the HMAC.
    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }

    fn from_key(key: Vec<u8>) -> Result<Self, SecretError> {
        let len = key.len();
        if len < KEY_LEN_MIN {
            return Err(SecretError::TooShort {
                len,
                min: KEY_LEN_MIN,
            });
        }
        if len > KEY_LEN_MAX {
            return Err(SecretError::TooLong {
                len,
                max: KEY_LEN_MAX,
            });
        }
        Ok(Self { key })
    }
}

impl FromStr for WebhookSecret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serializes as the redacted text, never the key, so that endpoint listings are safe to
/// return. There is deliberately no `Deserialize`: a redacted value cannot be read back, and
/// configuration should go through [`WebhookSecret::parse`].
impl Serialize for WebhookSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    /// The secret of the published Standard Webhooks test vector (a 24-byte key).
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn encoded_key_of_len(len: usize) -> String {
        let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
    }

    #[test]
    fn parse_accepts_published_test_vector_secret() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).expect("vector secret parses");
        assert_eq!(secret.key_bytes().len(), 24);
    }

    #[test]
    fn expose_gives_back_the_parsed_text() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).expect("vector secret parses");
        assert_eq!(secret.expose(), VECTOR_SECRET);
    }

    #[test]
    fn from_str_agrees_with_parse() {
        let parsed: WebhookSecret = VECTOR_SECRET.parse().expect("vector secret parses");
        assert_eq!(parsed, WebhookSecret::parse(VECTOR_SECRET).expect("parses"));
    }

    #[test]
    fn text_without_prefix_is_refused_with_its_length() {
        let err = WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert_eq!(err, SecretError::MissingPrefix { len: 32 });
    }

    #[test]
    fn prefix_is_case_sensitive() {
        let err = WebhookSecret::parse("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert!(matches!(err, SecretError::MissingPrefix { .. }));
    }

    #[test]
    fn surrounding_whitespace_is_refused() {
        let padded = format!(" {VECTOR_SECRET}");
        assert!(WebhookSecret::parse(&padded).is_err());
        let trailing = format!("{VECTOR_SECRET}\n");
        assert!(WebhookSecret::parse(&trailing).is_err());
    }

    #[test]
    fn non_base64_is_refused_with_the_encoded_length() {
        let err = WebhookSecret::parse("whsec_not*base64!").unwrap_err();
        assert_eq!(err, SecretError::BadBase64 { encoded_len: 11 });
    }

    #[test]
    fn url_safe_alphabet_is_refused() {
        // `-` and `_` belong to the URL-safe alphabet, not the standard one.
        let err = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-_Sw").unwrap_err();
        assert!(matches!(err, SecretError::BadBase64 { .. }));
    }

    #[test]
    fn missing_padding_is_refused() {
        let padded = encoded_key_of_len(32);
        assert!(padded.ends_with('='));
        let unpadded = padded.trim_end_matches('=');
        let err = WebhookSecret::parse(unpadded).unwrap_err();
        assert!(matches!(err, SecretError::BadBase64 { .. }));
    }

    #[test]
    fn empty_key_is_too_short() {
        let err = WebhookSecret::parse("whsec_").unwrap_err();
        assert_eq!(
            err,
            SecretError::TooShort {
                len: 0,
                min: KEY_LEN_MIN
            }
        );
    }

    #[test]
    fn key_one_byte_under_minimum_is_too_short() {
        let err = WebhookSecret::parse(&encoded_key_of_len(KEY_LEN_MIN - 1)).unwrap_err();
        assert_eq!(err, SecretError::TooShort { len: 23, min: 24 });
    }

    #[test]
    fn key_lengths_at_both_limits_are_accepted() {
        for len in [KEY_LEN_MIN, KEY_LEN_MAX] {
            let secret = WebhookSecret::parse(&encoded_key_of_len(len)).expect("in range");
            assert_eq!(secret.key_bytes().len(), len);
        }
    }

    #[test]
    fn key_one_byte_over_maximum_is_too_long() {
        let err = WebhookSecret::parse(&encoded_key_of_len(KEY_LEN_MAX + 1)).unwrap_err();
        assert_eq!(err, SecretError::TooLong { len: 65, max: 64 });
    }

    #[test]
    fn error_messages_are_lowercase_and_never_echo_the_input() {
        let inputs = [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_MfKQ9r8GKYqrTwj*",
            "whsec_AAAA",
        ];
        for input in inputs {
            let message = WebhookSecret::parse(input).unwrap_err().to_string();
            assert!(message.starts_with(char::is_lowercase), "{message}");
            assert!(!message.contains("MfKQ9"), "{message}");
            assert!(!message.contains("AAAA"), "{message}");
        }
    }

    #[test]
    fn debug_display_and_serialize_are_redacted() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).expect("vector secret parses");
        let json = serde_json::to_string(&secret).expect("serializes");
        let shown = [format!("{secret:?}"), format!("{secret}"), json];
        for text in shown {
            assert!(text.contains("WebhookSecret(whsec_***)"), "{text}");
            assert!(!text.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{text}");
        }
    }

    #[test]
    fn debug_of_a_containing_struct_stays_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)] // The field is only read through `Debug`.
        struct Endpoint {
            secret: WebhookSecret,
        }
        let endpoint = Endpoint {
            secret: WebhookSecret::parse(VECTOR_SECRET).expect("parses"),
        };
        let text = format!("{endpoint:#?}");
        assert!(!text.contains("MfKQ9"), "{text}");
    }

    #[test]
    fn generated_secret_has_32_bytes_and_round_trips() {
        let mut rng = SmallRng::seed_from_u64(7);
        let secret = WebhookSecret::generate(&mut rng);
        assert_eq!(secret.key_bytes().len(), GENERATED_KEY_LEN);
        assert_eq!(
            WebhookSecret::parse(&secret.expose()).expect("round trips"),
            secret
        );
    }

    #[test]
    fn generate_is_determined_by_the_rng_seed() {
        let first = WebhookSecret::generate(&mut SmallRng::seed_from_u64(1));
        let again = WebhookSecret::generate(&mut SmallRng::seed_from_u64(1));
        let other = WebhookSecret::generate(&mut SmallRng::seed_from_u64(2));
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn clones_are_equal_and_different_keys_are_not() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).expect("parses");
        let other = WebhookSecret::parse(&encoded_key_of_len(24)).expect("parses");
        assert_eq!(secret.clone(), secret);
        assert_ne!(secret, other);
    }
}
