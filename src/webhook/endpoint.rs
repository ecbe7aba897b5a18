//! Webhook endpoints: what an operator registers, how it is checked, and what a listing shows.
//!
//! An endpoint is a URL, a secret, the topics it wants and an enabled flag. Registration and
//! update check everything a caller can get wrong (scheme, host, topics, private addresses)
//! and answer with a typed [`EndpointError`]; a secret is already checked by
//! [`WebhookSecret::parse`]. A listing ([`EndpointInfo`]) carries no secret at all, and the
//! `Debug` of every type here shows secrets redacted.
//!
//! Rotating a secret keeps the previous one for a grace period: until it ends, every attempt
//! is signed with both, so a receiver can switch secrets at its own pace.

use std::collections::BTreeSet;
use std::fmt;

use http::Uri;
use serde::Serialize;
use tokio::time::Instant;

use super::secret::WebhookSecret;
use super::ssrf::{self, SsrfError};
use super::transport::{Target, UrlError};

/// An endpoint's id, handed out by the service in registration order (`ep_1`, `ep_2`, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EndpointId(pub(crate) String);

impl EndpointId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the bus subscriber that feeds this endpoint: `webhook:<id>`.
    pub fn subscriber_name(&self) -> String {
        format!("webhook:{}", self.0)
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an endpoint was refused or could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The URL does not parse.
    #[error("endpoint url does not parse")]
    UrlSyntax,
    /// The URL is not an absolute http(s) URL with a host.
    #[error("endpoint url is not deliverable: {0}")]
    Url(#[from] UrlError),
    /// The URL points into a private network and private addresses are not allowed.
    #[error("endpoint url refused: {0}")]
    PrivateAddress(#[from] SsrfError),
    /// The endpoint names no topic.
    #[error("endpoint names no topic")]
    NoTopics,
    /// A topic the service does not publish.
    #[error("unknown topic {topic:?}; known: {known}")]
    UnknownTopic {
        /// The topic given.
        topic: String,
        /// The known topics, comma-separated.
        known: String,
    },
    /// No endpoint has that id.
    #[error("no endpoint with id {0:?}")]
    UnknownEndpoint(String),
    /// The bus refused the endpoint's subscriber.
    #[error("bus refused the endpoint's subscriber: {0}")]
    Subscribe(#[from] crate::bus::SubscribeError),
    /// The service has reached its endpoint bound.
    #[error("at most {max} endpoints may be registered")]
    TooManyEndpoints {
        /// The bound.
        max: usize,
    },
}

/// What an operator registers.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The http or https URL POSTed to.
    pub url: String,
    /// The signing secret (shown redacted by `Debug`).
    pub secret: WebhookSecret,
    /// The topics delivered to this endpoint.
    pub topics: Vec<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
}

impl EndpointConfig {
    /// An enabled endpoint at `url` for `topics`.
    pub fn new<T: Into<String>>(
        url: impl Into<String>,
        secret: WebhookSecret,
        topics: impl IntoIterator<Item = T>,
    ) -> Self {
        EndpointConfig {
            url: url.into(),
            secret,
            topics: topics.into_iter().map(Into::into).collect(),
            enabled: true,
        }
    }
}

/// A change to an endpoint; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    /// A new URL.
    pub url: Option<String>,
    /// A new secret; the old one keeps signing alongside it for the rotation grace period.
    pub secret: Option<WebhookSecret>,
    /// New topics.
    pub topics: Option<Vec<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// Checks a URL and returns it parsed, refusing private hosts unless `allow_private`.
pub(crate) fn check_url(url: &str, allow_private: bool) -> Result<Uri, EndpointError> {
    let uri: Uri = url.parse().map_err(|_| EndpointError::UrlSyntax)?;
    let target = Target::from_uri(&uri)?;
    if !allow_private {
        ssrf::check_host(&target.host)?;
    }
    Ok(uri)
}

/// Checks topics against the known ones and returns them as a set.
pub(crate) fn check_topics(
    topics: &[String],
    known: &BTreeSet<String>,
) -> Result<BTreeSet<String>, EndpointError> {
    if topics.is_empty() {
        return Err(EndpointError::NoTopics);
    }
    if let Some(unknown) = topics.iter().find(|t| !known.contains(*t)) {
        let known = known.iter().cloned().collect::<Vec<_>>().join(", ");
        return Err(EndpointError::UnknownTopic {
            topic: unknown.clone(),
            known,
        });
    }
    Ok(topics.iter().cloned().collect())
}

/// A secret being rotated out, and when it stops signing.
#[derive(Clone)]
pub(crate) struct RetiringSecret {
    pub(crate) secret: WebhookSecret,
    pub(crate) until: Instant,
}

/// An endpoint as the service holds it.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) id: EndpointId,
    pub(crate) url: Uri,
    pub(crate) secret: WebhookSecret,
    pub(crate) retiring: Option<RetiringSecret>,
    pub(crate) topics: BTreeSet<String>,
    pub(crate) enabled: bool,
}

impl Endpoint {
    /// The secrets to sign with at `now`: the current one, then one retiring within its grace.
    pub(crate) fn signing_secrets(&self, now: Instant) -> Vec<WebhookSecret> {
        let mut secrets = vec![self.secret.clone()];
        if let Some(retiring) = self.retiring.as_ref().filter(|r| now < r.until) {
            secrets.push(retiring.secret.clone());
        }
        secrets
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &self.secret)
            .field("rotating", &self.retiring.is_some())
            .field("topics", &self.topics)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// Why an endpoint was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisableReason {
    /// An operator disabled it.
    Operator,
    /// It answered 410 Gone.
    Gone,
    /// It failed every attempt for the configured period.
    FailingContinuously,
}

/// The breaker's state as a listing shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    /// Attempts flow.
    Closed,
    /// Attempts are deferred until the open period ends.
    Open,
    /// One probe attempt is allowed through.
    HalfOpen,
}

/// Per-endpoint counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EndpointCounts {
    /// Deliveries accepted (redrives included).
    pub accepted: u64,
    /// Deliveries that got a 2xx.
    pub delivered: u64,
    /// Deliveries dead-lettered.
    pub dead_lettered: u64,
    /// Attempts made.
    pub attempts: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Times the breaker deferred an attempt.
    pub deferrals: u64,
    /// Deliveries accepted and not finished.
    pub pending: u64,
    /// Requests on the wire right now.
    pub in_flight: u64,
}

/// An endpoint as listed: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointInfo {
    /// Its id.
    pub id: EndpointId,
    /// Its URL.
    pub url: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Why it is disabled, when it is.
    pub disabled_reason: Option<DisableReason>,
    /// Whether a retiring secret still signs.
    pub rotating_secret: bool,
    /// Its breaker.
    pub breaker: BreakerState,
    /// Its counts.
    pub counts: EndpointCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        ["job_completed", "job_failed"].map(String::from).into()
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert!(check_url("https://example.com/hook", false).is_ok());
        assert!(matches!(
            check_url("ftp://example.com/", false),
            Err(EndpointError::Url(UrlError::UnsupportedScheme { .. }))
        ));
        assert!(matches!(
            check_url("/relative", false),
            Err(EndpointError::Url(UrlError::MissingScheme))
        ));
        assert!(matches!(
            check_url("http://", false),
            Err(EndpointError::UrlSyntax | EndpointError::Url(UrlError::MissingHost))
        ));
        assert_eq!(check_url("not a url", false), Err(EndpointError::UrlSyntax));
    }

    #[test]
    fn private_urls_need_the_opt_in() {
        let url = "http://127.0.0.1:8080/hook";
        assert!(matches!(
            check_url(url, false),
            Err(EndpointError::PrivateAddress(_))
        ));
        assert!(check_url(url, true).is_ok());
    }

    #[test]
    fn topics_must_be_known_and_present() {
        let ok = check_topics(&["job_failed".to_owned()], &known());
        assert_eq!(ok.map(|t| t.len()), Ok(1));
        assert_eq!(check_topics(&[], &known()), Err(EndpointError::NoTopics));
        let err = check_topics(&["job_started".to_owned()], &known()).unwrap_err();
        assert!(
            matches!(err, EndpointError::UnknownTopic { ref topic, .. } if topic == "job_started")
        );
    }
}
