//! The JSON body of a webhook: the event in the Standard Webhooks envelope.
//!
//! ```json
//! {"id":"evt_...","type":"job_completed","key":"job_completed:7",
//!  "timestamp":"2024-05-01T12:00:00.000Z","data":{...}}
//! ```
//!
//! The body is built once per delivery, so every attempt carries the same bytes; only the
//! `webhook-timestamp` header and the signature over it change. The timestamp is the event's
//! publication time in RFC 3339, computed here rather than with a date crate: it is a dozen
//! lines of well-known calendar arithmetic.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::event::Event;

/// The body POSTed for `event`.
pub fn envelope(event: &Event) -> Bytes {
    // A payload that is not JSON (a `NewEvent::raw` mistake) is sent as a string, not lost.
    let data = serde_json::from_str::<Value>(event.payload())
        .unwrap_or_else(|_| Value::String(event.payload().to_owned()));
    let body = json!({
        "id": event.id().as_str(),
        "type": event.topic(),
        "key": event.key(),
        "timestamp": rfc3339_from_unix_ms(event.published_at_unix_ms()),
        "data": data,
    });
    Bytes::from(body.to_string())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a unix time in milliseconds.
pub fn rfc3339_from_unix_ms(unix_ms: u64) -> String {
    let (secs, millis) = (unix_ms / 1000, unix_ms % 1000);
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (day_secs / 3600, day_secs % 3600 / 60, day_secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (eras of 400 years).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339_from_unix_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_from_unix_ms(1_614_265_330_123),
            "2021-02-25T15:02:10.123Z"
        );
        // A leap day.
        assert_eq!(
            rfc3339_from_unix_ms(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_from_unix_ms(1_735_689_599_000),
            "2024-12-31T23:59:59.000Z"
        );
    }
}
