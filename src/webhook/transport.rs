//! The HTTP transport under the webhook subscriber: one bounded POST per call, carried over a
//! pluggable [`Connector`].
//!
//! # Design
//!
//! The same request code runs over three kinds of byte stream: real TCP (with rustls for
//! https), turmoil's simulated TCP, and an in-process `tokio::io::duplex` pipe. A [`Connector`]
//! turns a parsed [`Target`] into a boxed stream, and [`HttpSender`] speaks HTTP/1.1 over it
//! with hyper's low-level connection API. The higher-level pooled client in `hyper-util` was
//! rejected: a pool keeps sockets alive between attempts, so one attempt's state (a half-dead
//! connection, a simulated crash) would leak into the next, and its connector abstraction is a
//! tower service that turmoil streams do not fit without adapters.
//!
//! Every exchange is bounded so that a hostile or broken receiver costs at most one timeout:
//!
//! - one connection per request, closed when [`HttpSender::send`] returns or is cancelled;
//! - connect, request and body read together share a single [`RequestTimeout`], measured with
//!   `tokio::time` so paused test time and turmoil drive it;
//! - the response body is read up to a byte limit and then abandoned, never buffered whole;
//! - redirects are never followed: a 3xx is an answer like any other.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::sync::oneshot;

use super::tls::{self, TlsConfigError};

#[cfg(test)]
mod tests;

const TRACE_TARGET: &str = "eventgate::webhook::transport";

/// Time allowed for a whole exchange when the caller does not choose one.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(15);

/// Longest timeout a caller may configure; a longer one is refused, not clamped.
pub const REQUEST_TIMEOUT_MAX: Duration = Duration::from_secs(30);

/// Response body bytes kept when the sender is not configured otherwise.
pub const RESPONSE_BODY_LIMIT_BYTES_DEFAULT: usize = 20 * 1024;

/// Capacity of each direction of an [`InProcessConnector`] pipe.
pub const IN_PROCESS_BUFFER_BYTES: usize = 64 * 1024;

/// Longest text [`SendError::reason`] returns, so a history entry stays small.
pub const REASON_LEN_MAX: usize = 200;

/// The `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("eventgate/", env!("CARGO_PKG_VERSION"));

/// URL schemes the transport can deliver to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The port used when a URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a URL cannot be delivered to.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// The URL is relative.
    #[error("missing scheme")]
    MissingScheme,
    /// The scheme is neither `http` nor `https`.
    #[error("unsupported scheme {scheme:?}, expected http or https")]
    UnsupportedScheme {
        /// The scheme as written in the URL.
        scheme: String,
    },
    /// The URL has no host, or an empty one.
    #[error("missing host")]
    MissingHost,
}

/// Where a connector should connect: the parts of a URL that choose the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Whether the stream must be wrapped in TLS.
    pub scheme: Scheme,
    /// Host name or IP address, without the brackets an IPv6 literal has in a URL.
    pub host: String,
    /// Port, filled in from the scheme when the URL names none.
    pub port: u16,
}

impl Target {
    /// Extracts the peer from an absolute `http` or `https` URL.
    pub fn from_uri(uri: &Uri) -> Result<Self, UrlError> {
        let scheme = match uri.scheme_str() {
            None => return Err(UrlError::MissingScheme),
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(s) => {
                return Err(UrlError::UnsupportedScheme {
                    scheme: s.to_owned(),
                });
            }
        };
        let host = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'));
        let host = host
            .filter(|h| !h.is_empty())
            .ok_or(UrlError::MissingHost)?;
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        Ok(Target {
            scheme,
            host: host.to_owned(),
            port,
        })
    }

    /// The `Host` header value: the port is left out when it is the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Why a [`RequestTimeout`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeoutError {
    /// A zero timeout would fail every request before it starts.
    #[error("request timeout must be positive")]
    Zero,
    /// Longer than [`REQUEST_TIMEOUT_MAX`].
    #[error("request timeout {requested:?} exceeds the maximum {max:?}")]
    TooLong {
        /// The refused value.
        requested: Duration,
        /// The largest accepted value.
        max: Duration,
    },
}

/// Time allowed for one whole exchange: connect, send, and read the response body.
///
/// Values above [`REQUEST_TIMEOUT_MAX`] are refused rather than clamped, so a configuration
/// mistake is reported where it is made instead of silently changing behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTimeout(Duration);

impl RequestTimeout {
    /// Accepts a timeout in `(0, REQUEST_TIMEOUT_MAX]`.
    pub fn new(limit: Duration) -> Result<Self, TimeoutError> {
        if limit.is_zero() {
            return Err(TimeoutError::Zero);
        }
        if limit > REQUEST_TIMEOUT_MAX {
            let max = REQUEST_TIMEOUT_MAX;
            return Err(TimeoutError::TooLong {
                requested: limit,
                max,
            });
        }
        Ok(RequestTimeout(limit))
    }

    /// The accepted duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl Default for RequestTimeout {
    fn default() -> Self {
        RequestTimeout(REQUEST_TIMEOUT_DEFAULT)
    }
}

/// Why a connector could not produce a stream.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Name resolution or the TCP connect failed (refused, unreachable, reset).
    #[error("tcp connect failed")]
    Io(#[source] io::Error),
    /// The TLS handshake failed, for example on an untrusted certificate.
    #[error("tls handshake failed")]
    Tls(#[source] io::Error),
    /// The host cannot be sent as SNI or matched against a certificate.
    #[error("host {host:?} is not a valid tls server name")]
    InvalidServerName {
        /// The host from the URL.
        host: String,
    },
    /// The connector cannot carry this scheme, for example https over simulated TCP.
    #[error("{connector} connector does not support {scheme}")]
    SchemeUnsupported {
        /// Which connector refused.
        connector: &'static str,
        /// The refused scheme.
        scheme: Scheme,
    },
}

/// A bidirectional byte stream a connector hands to the HTTP layer.
pub trait IoStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T> IoStream for T where T: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

/// An owned, type-erased [`IoStream`].
pub type BoxedStream = Box<dyn IoStream>;

/// The future a [`Connector`] returns; boxed so the trait stays object-safe.
pub type ConnectFuture<'a> =
    Pin<Box<dyn Future<Output = Result<BoxedStream, ConnectError>> + Send + 'a>>;

/// Opens a stream to a target: real TCP, simulated TCP, or an in-process pipe.
pub trait Connector: Send + Sync + 'static {
    /// Connects to `target`, completing any TLS handshake its scheme calls for.
    fn connect<'a>(&'a self, target: &'a Target) -> ConnectFuture<'a>;
}

/// Connects over the operating system's TCP, adding rustls for https.
///
/// Host names are resolved by tokio, which runs the system resolver on its blocking pool.
#[derive(Clone, Debug)]
pub struct TcpConnector {
    tls: Arc<ClientConfig>,
}

impl TcpConnector {
    /// Trusts the Mozilla roots compiled in through `webpki-roots`.
    pub fn with_webpki_roots() -> Result<Self, TlsConfigError> {
        Ok(Self::with_tls_config(tls::webpki_client_config()?))
    }

    /// Uses `tls` for https, for example one trusting a private or self-signed root.
    pub fn with_tls_config(tls: Arc<ClientConfig>) -> Self {
        TcpConnector { tls }
    }
}

impl Connector for TcpConnector {
    fn connect<'a>(&'a self, target: &'a Target) -> ConnectFuture<'a> {
        Box::pin(async move {
            let address = (target.host.as_str(), target.port);
            let tcp = tokio::net::TcpStream::connect(address)
                .await
                .map_err(ConnectError::Io)?;
            over_tcp(self.tls.clone(), target, tcp).await
        })
    }
}

/// Finishes a connection on an established TCP stream: no Nagle delay, and TLS for `https`
/// (shared by [`TcpConnector`] and the address-guarded connector).
pub(crate) async fn over_tcp(
    tls: Arc<rustls::ClientConfig>,
    target: &Target,
    tcp: tokio::net::TcpStream,
) -> Result<BoxedStream, ConnectError> {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(target: TRACE_TARGET, %error, "cannot disable nagle");
    }
    match target.scheme {
        Scheme::Http => Ok(Box::new(tcp) as BoxedStream),
        Scheme::Https => {
            let stream = tls::handshake(tls, &target.host, tcp).await?;
            Ok(Box::new(stream) as BoxedStream)
        }
    }
}

/// Connects over turmoil's simulated TCP; must run inside a turmoil host.
///
/// https is refused: the simulation has no certificates, and pretending to encrypt would hide
/// the difference from the caller.
#[derive(Clone, Copy, Debug, Default)]
pub struct TurmoilConnector;

impl Connector for TurmoilConnector {
    fn connect<'a>(&'a self, target: &'a Target) -> ConnectFuture<'a> {
        Box::pin(async move {
            if target.scheme != Scheme::Http {
                let scheme = target.scheme;
                return Err(ConnectError::SchemeUnsupported {
                    connector: "turmoil",
                    scheme,
                });
            }
            let address = (target.host.as_str(), target.port);
            let stream = turmoil::net::TcpStream::connect(address).await;
            Ok(Box::new(stream.map_err(ConnectError::Io)?) as BoxedStream)
        })
    }
}

type AcceptFn = dyn Fn(Target, DuplexStream) + Send + Sync;

/// Connects through an in-memory pipe, for tests and simulations.
///
/// Each connect creates a `tokio::io::duplex` pair, keeps one end, and hands the other end and
/// the target to the `accept` closure, which typically spawns a hyper server on it. No TLS is
/// done for either scheme: the target's scheme is passed along for the server to inspect.
/// Because no socket is involved, paused tokio time drives timeouts exactly.
#[derive(Clone)]
pub struct InProcessConnector {
    accept: Arc<AcceptFn>,
}

impl InProcessConnector {
    /// Serves every new connection by calling `accept` with the server end of the pipe.
    pub fn new(accept: impl Fn(Target, DuplexStream) + Send + Sync + 'static) -> Self {
        InProcessConnector {
            accept: Arc::new(accept),
        }
    }
}

impl fmt::Debug for InProcessConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessConnector").finish_non_exhaustive()
    }
}

impl Connector for InProcessConnector {
    fn connect<'a>(&'a self, target: &'a Target) -> ConnectFuture<'a> {
        let (client, server) = tokio::io::duplex(IN_PROCESS_BUFFER_BYTES);
        (self.accept)(target.clone(), server);
        Box::pin(std::future::ready(Ok(Box::new(client) as BoxedStream)))
    }
}

/// One POST to deliver.
#[derive(Clone, Debug)]
pub struct OutgoingRequest {
    /// Absolute `http` or `https` URL.
    pub url: Uri,
    /// Extra headers. `Host`, `Content-Type` and `User-Agent` are set by the sender and replace
    /// any given here; framing headers (`Content-Length`, `Transfer-Encoding`) are dropped.
    pub headers: HeaderMap,
    /// The JSON payload.
    pub body: Bytes,
    /// Bound on the whole exchange.
    pub timeout: RequestTimeout,
}

impl OutgoingRequest {
    /// A request with no extra headers and the default timeout.
    pub fn new(url: Uri, body: Bytes) -> Self {
        let headers = HeaderMap::new();
        OutgoingRequest {
            url,
            headers,
            body,
            timeout: RequestTimeout::default(),
        }
    }
}

/// What the endpoint answered, whatever the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code; 3xx is returned as-is since redirects are not followed.
    pub status: u16,
    /// The `Retry-After` header, if present and visible ASCII.
    pub retry_after: Option<String>,
    /// The `Location` header, if present and visible ASCII, so a redirect can be recorded.
    pub location: Option<String>,
    /// The body, at most the sender's limit.
    pub body: Bytes,
    /// Whether the body went on past the limit and the rest was not read.
    pub truncated: bool,
}

/// Where in the exchange the peer broke HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Setting up the HTTP/1 connection over the stream.
    Handshake,
    /// Writing the request or reading the status line and headers.
    ResponseHead,
    /// Reading the response body.
    ResponseBody,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Handshake => "during handshake",
            Stage::ResponseHead => "awaiting response head",
            Stage::ResponseBody => "reading response body",
        })
    }
}

/// Why a POST produced no response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URL cannot be delivered to; nothing was sent.
    #[error("invalid url")]
    InvalidUrl(#[from] UrlError),
    /// No stream could be opened to the endpoint.
    #[error(transparent)]
    Connect(ConnectError),
    /// The stream opened but TLS could not be established.
    #[error("tls handshake failed")]
    Tls(#[source] io::Error),
    /// The exchange did not finish within its timeout.
    #[error("timed out after {limit:?}")]
    TimedOut {
        /// The timeout that ran out.
        limit: Duration,
    },
    /// The peer broke HTTP: a malformed response, or a connection closed mid-response.
    #[error("protocol error {stage}")]
    Protocol {
        /// Where the exchange broke.
        stage: Stage,
        /// What hyper reported.
        #[source]
        source: hyper::Error,
    },
}

impl From<ConnectError> for SendError {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::Tls(source) => SendError::Tls(source),
            other => SendError::Connect(other),
        }
    }
}

impl SendError {
    /// A stable one-word label for metrics and history: `invalid_url`, `connect`, `tls`,
    /// `timeout` or `protocol`.
    pub fn kind(&self) -> &'static str {
        match self {
            SendError::InvalidUrl(_) => "invalid_url",
            SendError::Connect(_) => "connect",
            SendError::Tls(_) => "tls",
            SendError::TimedOut { .. } => "timeout",
            SendError::Protocol { .. } => "protocol",
        }
    }

    /// The error and its causes on one line, cut to [`REASON_LEN_MAX`] characters.
    pub fn reason(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            text.push_str(": ");
            text.push_str(&error.to_string());
            cause = error.source();
        }
        match text.char_indices().nth(REASON_LEN_MAX) {
            Some((cut, _)) => text[..cut].to_owned(),
            None => text,
        }
    }

    fn at(stage: Stage) -> impl FnOnce(hyper::Error) -> SendError {
        move |source| SendError::Protocol { stage, source }
    }
}

/// Sends webhook POSTs, one connection each, through a [`Connector`].
#[derive(Clone)]
pub struct HttpSender {
    connector: Arc<dyn Connector>,
    response_body_limit_bytes: usize,
}

impl fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSender")
            .field("response_body_limit_bytes", &self.response_body_limit_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpSender {
    /// A sender keeping at most [`RESPONSE_BODY_LIMIT_BYTES_DEFAULT`] bytes of each body.
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        let response_body_limit_bytes = RESPONSE_BODY_LIMIT_BYTES_DEFAULT;
        HttpSender {
            connector,
            response_body_limit_bytes,
        }
    }

    /// Keeps at most `limit` bytes of each response body; reading stops there.
    pub fn with_response_body_limit_bytes(mut self, limit: usize) -> Self {
        self.response_body_limit_bytes = limit;
        self
    }

    /// The configured body limit.
    pub fn response_body_limit_bytes(&self) -> usize {
        self.response_body_limit_bytes
    }

    /// POSTs `request` and returns the endpoint's answer, whatever its status.
    ///
    /// Errors only when no complete response head arrived or the body could not be read to
    /// its end or to the limit. Cancelling the returned future closes the connection.
    pub async fn send(&self, request: OutgoingRequest) -> Result<Response, SendError> {
        let target = Target::from_uri(&request.url)?;
        let limit = request.timeout.get();
        let outcome = match tokio::time::timeout(limit, self.exchange(&target, request)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(SendError::TimedOut { limit }),
        };
        trace_outcome(&target, &outcome);
        outcome
    }

    async fn exchange(
        &self,
        target: &Target,
        request: OutgoingRequest,
    ) -> Result<Response, SendError> {
        let stream = self.connector.connect(target).await?;
        let handshake = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await;
        let (mut sender, connection) = handshake.map_err(SendError::at(Stage::Handshake))?;
        // Dropped when this returns or the timeout cancels it, which stops the connection task.
        // Otherwise a task whose caller gave up could go on writing a large body to a slow peer.
        let _stop_connection = spawn_connection(connection);

        let head = build_request(target, request);
        let response = sender.send_request(head).await;
        let response = response.map_err(SendError::at(Stage::ResponseHead))?;

        read_response(response, self.response_body_limit_bytes).await
    }
}

/// Drives the connection on its own task until it ends or the returned sender is dropped.
fn spawn_connection<C>(connection: C) -> oneshot::Sender<()>
where
    C: Future<Output = hyper::Result<()>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        // Biased so a simulated run picks the same branch on every replay of a seed.
        tokio::select! {
            biased;
            result = connection => {
                if let Err(error) = result {
                    tracing::trace!(target: TRACE_TARGET, %error, "connection ended");
                }
            }
            _ = stopped => {}
        }
    });
    stop
}

fn build_request(target: &Target, request: OutgoingRequest) -> Request<Full<Bytes>> {
    let root = PathAndQuery::from_static("/");
    let path = request.url.path_and_query().cloned().unwrap_or(root);

    let mut head = Request::new(Full::new(request.body));
    *head.method_mut() = Method::POST;
    *head.uri_mut() = Uri::from(path);
    *head.headers_mut() = request.headers;

    let headers = head.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    // The host came from a parsed URI, so it is always a valid header value; stay total anyway.
    if let Ok(host) = HeaderValue::from_str(&target.host_header()) {
        headers.insert(header::HOST, host);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    head
}

async fn read_response(
    response: http::Response<Incoming>,
    limit_bytes: usize,
) -> Result<Response, SendError> {
    let (parts, body) = response.into_parts();
    let (body, truncated) = read_limited(body, limit_bytes).await?;
    Ok(Response {
        status: parts.status.as_u16(),
        retry_after: header_text(&parts.headers, header::RETRY_AFTER),
        location: header_text(&parts.headers, header::LOCATION),
        body,
        truncated,
    })
}

/// Reads at most `limit_bytes`; reports `true` once a byte beyond them arrives and stops there.
async fn read_limited(mut body: Incoming, limit_bytes: usize) -> Result<(Bytes, bool), SendError> {
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(SendError::at(Stage::ResponseBody))?;
        let Ok(data) = frame.into_data() else {
            continue; // Trailers carry nothing the subscriber records.
        };
        let room = limit_bytes.saturating_sub(kept.len());
        if data.len() > room {
            kept.extend_from_slice(&data[..room]);
            return Ok((kept.freeze(), true));
        }
        kept.extend_from_slice(&data);
    }
    debug_assert!(
        kept.len() <= limit_bytes,
        "kept body must not exceed the limit"
    );
    Ok((kept.freeze(), false))
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    let value = headers.get(name)?;
    value.to_str().ok().map(str::to_owned)
}

fn trace_outcome(target: &Target, outcome: &Result<Response, SendError>) {
    let host = target.host.as_str();
    let port = target.port;
    match outcome {
        Ok(response) => tracing::debug!(
            target: TRACE_TARGET,
            host,
            port,
            status = response.status,
            truncated = response.truncated,
            "webhook answered"
        ),
        Err(error) => tracing::debug!(
            target: TRACE_TARGET,
            host,
            port,
            kind = error.kind(),
            reason = %error.reason(),
            "webhook send failed"
        ),
    }
}
