//! Reading the `Retry-After` header of a webhook response.
//!
//! An endpoint that answers 429 or 503 may say how long to wait, either as a number of seconds
//! (`Retry-After: 120`) or as an HTTP date (`Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`, or
//! one of the two obsolete date forms HTTP still asks recipients to accept). This module turns
//! either into a [`Duration`] from a caller-supplied "now", so it reads no clock and a
//! simulation can replay it.
//!
//! The value comes from a server we do not control, so nothing here panics on it: numbers too
//! large for `u64` and waits longer than [`RETRY_AFTER_MAX`] are cut to [`RETRY_AFTER_MAX`],
//! which keeps the result safe to add to an `Instant`. The retry schedule (`super::schedule`)
//! then clamps it again to its own bounds.

use std::time::{Duration, UNIX_EPOCH};

use thiserror::Error;

/// The longest wait this parser returns; longer requests are cut to it.
///
/// A year is far beyond any retry schedule, and small enough that adding it to an `Instant`
/// cannot overflow.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The longest excerpt of a bad value that an error message repeats.
pub(super) const EXCERPT_CHARS_MAX: usize = 64;

/// Why a `Retry-After` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RetryAfterError {
    /// The value is empty or only whitespace.
    #[error("retry-after value is empty")]
    Empty,
    /// The value is neither delta-seconds nor an HTTP date.
    #[error("retry-after value is neither delta-seconds nor an http-date: {excerpt:?}")]
    Malformed {
        /// The start of the value received, at most 64 characters (then marked with `…`).
        excerpt: String,
    },
}

/// Parses a `Retry-After` value into the wait it asks for, counted from `now_unix_secs`.
///
/// Leading and trailing ASCII whitespace is ignored. Delta-seconds must be ASCII digits only
/// (no sign, no fraction). A date in the past, or equal to now, gives a zero wait. Any wait
/// above [`RETRY_AFTER_MAX`] gives [`RETRY_AFTER_MAX`].
pub fn parse_retry_after(value: &str, now_unix_secs: i64) -> Result<Duration, RetryAfterError> {
    let trimmed = value.trim_ascii();
    if trimmed.is_empty() {
        return Err(RetryAfterError::Empty);
    }

    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(delta_seconds(trimmed));
    }

    match httpdate::parse_http_date(trimmed) {
        Ok(date) => Ok(wait_until(date, now_unix_secs)),
        Err(_) => Err(RetryAfterError::Malformed {
            excerpt: excerpt(value),
        }),
    }
}

/// Reads ASCII digits as seconds, cutting at [`RETRY_AFTER_MAX`].
fn delta_seconds(digits: &str) -> Duration {
    // The only parse failure left for ASCII digits is overflow, which is "very long" too.
    let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(RETRY_AFTER_MAX)
}

/// The wait from `now_unix_secs` until `date`, zero if it has passed.
fn wait_until(date: std::time::SystemTime, now_unix_secs: i64) -> Duration {
    // httpdate only yields years 1970 to 9999, so this is never before the epoch; saying
    // "already passed" is the safe answer should that ever change.
    let date_secs = date
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());

    // In i128 the difference of a u64 and an i64 cannot overflow.
    let ahead_secs = i128::from(date_secs) - i128::from(now_unix_secs);
    let ahead_secs = u64::try_from(ahead_secs.max(0)).unwrap_or(u64::MAX);
    Duration::from_secs(ahead_secs).min(RETRY_AFTER_MAX)
}

/// The first [`EXCERPT_CHARS_MAX`] characters of `text`, marked when cut (also used by
/// `signing` for its error messages).
pub(super) fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let mut cut: String = chars.by_ref().take(EXCERPT_CHARS_MAX).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sun, 06 Nov 1994 08:49:37 GMT, the example date of the HTTP specifications.
    const EXAMPLE_DATE_SECS: i64 = 784_111_777;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn malformed(value: &str) -> Result<Duration, RetryAfterError> {
        Err(RetryAfterError::Malformed {
            excerpt: value.to_owned(),
        })
    }

    #[test]
    fn delta_seconds_are_read_as_given() {
        assert_eq!(parse_retry_after("0", 0), Ok(Duration::ZERO));
        assert_eq!(parse_retry_after("120", 0), Ok(secs(120)));
        assert_eq!(parse_retry_after("007", 0), Ok(secs(7)));
    }

    #[test]
    fn delta_seconds_do_not_depend_on_now() {
        for now in [i64::MIN, 0, EXAMPLE_DATE_SECS, i64::MAX] {
            assert_eq!(parse_retry_after("30", now), Ok(secs(30)));
        }
    }

    #[test]
    fn imf_fixdate_gives_wait_until_that_instant() {
        let value = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            parse_retry_after(value, EXAMPLE_DATE_SECS - 90),
            Ok(secs(90))
        );
    }

    #[test]
    fn obsolete_rfc850_and_asctime_dates_are_accepted() {
        let now = EXAMPLE_DATE_SECS - 60;
        for value in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(parse_retry_after(value, now), Ok(secs(60)), "{value:?}");
        }
    }

    #[test]
    fn date_now_or_in_the_past_gives_zero() {
        let value = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            parse_retry_after(value, EXAMPLE_DATE_SECS),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(value, EXAMPLE_DATE_SECS + 1),
            Ok(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(value, i64::MAX), Ok(Duration::ZERO));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(parse_retry_after("  120\t", 0), Ok(secs(120)));
        let value = " Sun, 06 Nov 1994 08:49:37 GMT \r\n";
        assert_eq!(parse_retry_after(value, EXAMPLE_DATE_SECS - 5), Ok(secs(5)));
    }

    #[test]
    fn empty_and_blank_values_have_their_own_error() {
        for value in ["", " ", "\t \r\n"] {
            assert_eq!(
                parse_retry_after(value, 0),
                Err(RetryAfterError::Empty),
                "{value:?}"
            );
        }
    }

    #[test]
    fn signed_fractional_and_spaced_numbers_are_malformed() {
        for value in ["-5", "+5", "1.5", "1e3", "1 2", "0x10", "５"] {
            assert_eq!(parse_retry_after(value, 0), malformed(value), "{value:?}");
        }
    }

    #[test]
    fn garbage_and_near_dates_are_malformed() {
        let bad = [
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "1994-11-06T08:49:37Z",
            "Søn, 06 Nov 1994 08:49:37 GMT",
            "\u{0}",
        ];
        for value in bad {
            assert_eq!(parse_retry_after(value, 0), malformed(value), "{value:?}");
        }
    }

    #[test]
    fn error_excerpt_is_cut_at_64_characters() {
        let value = "x".repeat(10_000);
        let Err(RetryAfterError::Malformed { excerpt }) = parse_retry_after(&value, 0) else {
            panic!("garbage must be refused");
        };
        assert_eq!(excerpt, format!("{}…", "x".repeat(64)));
    }

    #[test]
    fn error_excerpt_cuts_on_character_boundaries() {
        let value = "ü".repeat(100);
        let Err(RetryAfterError::Malformed { excerpt }) = parse_retry_after(&value, 0) else {
            panic!("garbage must be refused");
        };
        assert_eq!(excerpt.chars().count(), 65);
    }

    #[test]
    fn error_message_is_lowercase_and_names_the_value() {
        let message = parse_retry_after("later please", 0)
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("retry-after"), "{message}");
        assert!(message.contains("later please"), "{message}");
    }

    #[test]
    fn huge_delta_seconds_are_cut_to_the_maximum() {
        let beyond_u64 = "9".repeat(1_000);
        for value in [
            "31536001",
            "18446744073709551615",
            "18446744073709551616",
            &beyond_u64,
        ] {
            assert_eq!(parse_retry_after(value, 0), Ok(RETRY_AFTER_MAX), "{value}");
        }
        assert_eq!(parse_retry_after("31536000", 0), Ok(RETRY_AFTER_MAX));
        assert_eq!(parse_retry_after("31535999", 0), Ok(secs(31_535_999)));
    }

    #[test]
    fn far_future_date_and_extreme_now_are_cut_to_the_maximum() {
        let value = "Fri, 31 Dec 9999 23:59:59 GMT";
        assert_eq!(parse_retry_after(value, 0), Ok(RETRY_AFTER_MAX));
        assert_eq!(parse_retry_after(value, i64::MIN), Ok(RETRY_AFTER_MAX));
    }
}
