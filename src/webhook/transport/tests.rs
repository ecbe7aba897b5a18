//! Tests for the webhook transport: well-behaved and hostile receivers over an in-process pipe
//! (with paused time for the timing cases), then real loopback TCP and TLS, then turmoil.

use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::*;
use crate::webhook::tls;

type TestResult = Result<(), Box<dyn Error + Send + Sync>>;
type HttpResponse = http::Response<Full<Bytes>>;

const PAYLOAD: &[u8] = br#"{"event":"order.created"}"#;

fn post(url: &str) -> OutgoingRequest {
    let url: Uri = url.parse().expect("test urls are valid");
    OutgoingRequest::new(url, Bytes::from_static(PAYLOAD))
}

fn post_with_timeout(url: &str, limit: Duration) -> OutgoingRequest {
    let mut request = post(url);
    request.timeout = RequestTimeout::new(limit).expect("test timeouts are in range");
    request
}

fn sender(connector: impl Connector) -> HttpSender {
    HttpSender::new(Arc::new(connector))
}

fn reply(status: StatusCode, body: &'static [u8]) -> HttpResponse {
    let mut response = http::Response::new(Full::new(Bytes::from_static(body)));
    *response.status_mut() = status;
    response
}

/// Serves one HTTP/1 connection with `handler`; ends when the peer goes away.
async fn serve<S, F, Fut>(stream: S, handler: F)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let handler = Arc::new(handler);
    let service = service_fn(move |request| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler(request).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new();
    let _ = connection
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// An in-process receiver that answers every request with `handler` through hyper.
fn hyper_receiver<F, Fut>(handler: F) -> InProcessConnector
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    InProcessConnector::new(move |_target, stream| {
        tokio::spawn(serve(stream, handler.clone()));
    })
}

/// An in-process receiver that runs `script` on the raw bytes of each connection.
fn raw_receiver<F, Fut>(script: F) -> InProcessConnector
where
    F: Fn(DuplexStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    InProcessConnector::new(move |_target, stream| {
        tokio::spawn(script(stream));
    })
}

/// Reads until the end of the request head, so raw replies follow a sent request.
async fn read_request_head(stream: &mut DuplexStream) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Holds the sending half of a oneshot so a `Fn` closure can fire it once.
type Slot<T> = Arc<Mutex<Option<oneshot::Sender<T>>>>;

fn one_shot<T>() -> (Slot<T>, oneshot::Receiver<T>) {
    let (tx, rx) = oneshot::channel();
    (Arc::new(Mutex::new(Some(tx))), rx)
}

/// Sends `value` the first time; later calls are ignored.
fn fire<T>(slot: &Slot<T>, value: T) {
    if let Some(tx) = slot.lock().expect("test mutex is not poisoned").take() {
        let _ = tx.send(value);
    }
}

#[tokio::test]
async fn post_sends_required_headers_and_returns_the_body() -> TestResult {
    let receiver = hyper_receiver(|request: Request<Incoming>| async move {
        let headers = request.headers().clone();
        let path = request.uri().to_string();
        let body = request.into_body().collect().await.map(|b| b.to_bytes());
        let ok = path == "/hooks?tenant=7"
            && headers[header::HOST] == "receiver.test:8080"
            && headers[header::CONTENT_TYPE] == "application/json"
            && headers[header::USER_AGENT] == USER_AGENT
            && headers["webhook-id"] == "msg_1"
            && body.as_ref().is_ok_and(|b| b == PAYLOAD);
        let status = if ok {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        reply(status, b"accepted")
    });
    let mut request = post("http://receiver.test:8080/hooks?tenant=7");
    request
        .headers
        .insert("webhook-id", HeaderValue::from_static("msg_1"));
    request
        .headers
        .insert(header::USER_AGENT, HeaderValue::from_static("spoofed"));

    let response = sender(receiver).send(request).await?;

    assert_eq!(response.status, 200);
    assert_eq!(response.body, Bytes::from_static(b"accepted"));
    assert!(!response.truncated);
    Ok(())
}

#[tokio::test]
async fn retry_after_header_is_returned_with_the_status() -> TestResult {
    let receiver = hyper_receiver(|_request| async {
        let mut response = reply(StatusCode::SERVICE_UNAVAILABLE, b"");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        response
    });

    let response = sender(receiver).send(post("http://receiver.test/")).await?;

    assert_eq!(response.status, 503);
    assert_eq!(response.retry_after.as_deref(), Some("120"));
    Ok(())
}

#[tokio::test]
async fn redirect_is_returned_as_is_and_not_followed() -> TestResult {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let receiver = hyper_receiver(move |_request| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            let mut response = reply(StatusCode::FOUND, b"");
            let location = HeaderValue::from_static("http://elsewhere.test/");
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
    });

    let response = sender(receiver).send(post("http://receiver.test/")).await?;

    assert_eq!(response.status, 302);
    assert_eq!(response.location.as_deref(), Some("http://elsewhere.test/"));
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn huge_body_is_truncated_at_the_limit_and_not_read_further() -> TestResult {
    const BODY_BYTES: usize = 1024 * 1024;
    let (written_slot, written) = one_shot::<usize>();
    let receiver = raw_receiver(move |mut stream| {
        let written_slot = written_slot.clone();
        async move {
            read_request_head(&mut stream).await;
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {BODY_BYTES}\r\n\r\n");
            let mut sent = 0;
            if stream.write_all(head.as_bytes()).await.is_ok() {
                let chunk = [b'x'; 1024];
                while sent < BODY_BYTES && stream.write_all(&chunk).await.is_ok() {
                    sent += chunk.len();
                }
            }
            fire(&written_slot, sent);
        }
    });

    let response = sender(receiver).send(post("http://receiver.test/")).await?;

    assert_eq!(response.status, 200);
    assert!(response.truncated);
    assert_eq!(response.body.len(), RESPONSE_BODY_LIMIT_BYTES_DEFAULT);
    // The receiver's writes fail once the client closes; it never gets the whole body out.
    assert!(written.await? < BODY_BYTES);
    Ok(())
}

#[tokio::test]
async fn body_longer_than_a_configured_limit_is_cut_to_it() -> TestResult {
    let receiver = hyper_receiver(|_request| async { reply(StatusCode::OK, b"0123456789abc") });
    let sender = sender(receiver).with_response_body_limit_bytes(10);

    let response = sender.send(post("http://receiver.test/")).await?;

    assert_eq!(response.body, Bytes::from_static(b"0123456789"));
    assert!(response.truncated);
    Ok(())
}

#[tokio::test]
async fn body_exactly_at_the_limit_is_not_marked_truncated() -> TestResult {
    let receiver = hyper_receiver(|_request| async { reply(StatusCode::OK, b"0123456789") });
    let sender = sender(receiver).with_response_body_limit_bytes(10);

    let response = sender.send(post("http://receiver.test/")).await?;

    assert_eq!(response.body, Bytes::from_static(b"0123456789"));
    assert!(!response.truncated);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn unfinished_body_times_out_after_exactly_the_timeout_and_closes() -> TestResult {
    let limit = Duration::from_secs(7);
    let (closed_slot, closed) = one_shot::<()>();
    let receiver = raw_receiver(move |mut stream| {
        let closed_slot = closed_slot.clone();
        async move {
            read_request_head(&mut stream).await;
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b";
            let _ = stream.write_all(head).await;
            // Never send the other 90 bytes; wait for the client to hang up instead.
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            fire(&closed_slot, ());
        }
    });
    let start = Instant::now();

    let outcome = sender(receiver)
        .send(post_with_timeout("http://receiver.test/", limit))
        .await;

    assert!(matches!(outcome, Err(SendError::TimedOut { limit: l }) if l == limit));
    assert_eq!(start.elapsed(), limit);
    closed.await?;
    Ok(())
}

/// A connector whose connect never completes, like a SYN into a black hole.
struct BlackHole;

impl Connector for BlackHole {
    fn connect<'a>(&'a self, _target: &'a Target) -> ConnectFuture<'a> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn hanging_connect_times_out_after_exactly_the_timeout() {
    let limit = Duration::from_secs(3);
    let start = Instant::now();

    let outcome = sender(BlackHole)
        .send(post_with_timeout("http://receiver.test/", limit))
        .await;

    assert!(matches!(outcome, Err(SendError::TimedOut { limit: l }) if l == limit));
    assert_eq!(start.elapsed(), limit);
}

#[tokio::test(start_paused = true)]
async fn default_timeout_is_fifteen_seconds() {
    let start = Instant::now();

    let outcome = sender(BlackHole).send(post("http://receiver.test/")).await;

    let error = outcome.expect_err("a black hole never answers");
    assert_eq!(start.elapsed(), REQUEST_TIMEOUT_DEFAULT);
    assert_eq!(error.kind(), "timeout");
    assert_eq!(error.reason(), "timed out after 15s");
}

#[tokio::test]
async fn garbage_status_line_is_a_protocol_error() {
    let receiver = raw_receiver(|mut stream| async move {
        read_request_head(&mut stream).await;
        let _ = stream
            .write_all(b"220 smtp.example ESMTP ready\r\n\r\n")
            .await;
    });

    let outcome = sender(receiver).send(post("http://receiver.test/")).await;

    let error = outcome.expect_err("a non-http answer must fail");
    assert!(matches!(
        error,
        SendError::Protocol {
            stage: Stage::ResponseHead,
            ..
        }
    ));
    assert!(
        error
            .reason()
            .starts_with("protocol error awaiting response head: ")
    );
}

#[tokio::test]
async fn connection_closed_mid_body_is_a_protocol_error() {
    let receiver = raw_receiver(|mut stream| async move {
        read_request_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial";
        let _ = stream.write_all(head).await;
    });

    let outcome = sender(receiver).send(post("http://receiver.test/")).await;

    let error = outcome.expect_err("a cut body must fail");
    assert!(matches!(
        error,
        SendError::Protocol {
            stage: Stage::ResponseBody,
            ..
        }
    ));
}

#[tokio::test]
async fn unsupported_scheme_is_refused_before_connecting() {
    let connects = Arc::new(AtomicUsize::new(0));
    let counter = connects.clone();
    let receiver = InProcessConnector::new(move |_target, _stream| {
        counter.fetch_add(1, Ordering::SeqCst);
    });

    let outcome = sender(receiver).send(post("ftp://receiver.test/")).await;

    let expected = UrlError::UnsupportedScheme {
        scheme: "ftp".to_owned(),
    };
    assert!(matches!(outcome, Err(SendError::InvalidUrl(e)) if e == expected));
    assert_eq!(connects.load(Ordering::SeqCst), 0);
}

#[test]
fn relative_url_is_invalid() {
    let uri: Uri = "/hooks".parse().expect("a path is a valid uri");
    assert_eq!(Target::from_uri(&uri), Err(UrlError::MissingScheme));
}

#[test]
fn target_fills_default_ports_and_strips_ipv6_brackets() {
    let https: Uri = "https://receiver.test/x".parse().expect("valid uri");
    let ipv6: Uri = "http://[::1]:8080/x".parse().expect("valid uri");

    let https = Target::from_uri(&https).expect("https url is deliverable");
    let ipv6 = Target::from_uri(&ipv6).expect("ipv6 url is deliverable");

    assert_eq!((https.scheme, https.port), (Scheme::Https, 443));
    assert_eq!(https.host_header(), "receiver.test");
    assert_eq!(ipv6.host, "::1");
    assert_eq!(ipv6.host_header(), "[::1]:8080");
}

#[test]
fn timeout_above_the_maximum_is_refused() {
    let requested = REQUEST_TIMEOUT_MAX + Duration::from_millis(1);
    let max = REQUEST_TIMEOUT_MAX;
    assert_eq!(
        RequestTimeout::new(requested),
        Err(TimeoutError::TooLong { requested, max })
    );
}

#[test]
fn timeout_at_the_maximum_is_accepted() {
    let accepted = RequestTimeout::new(REQUEST_TIMEOUT_MAX).map(RequestTimeout::get);
    assert_eq!(accepted, Ok(REQUEST_TIMEOUT_MAX));
}

#[test]
fn zero_timeout_is_refused() {
    assert_eq!(RequestTimeout::new(Duration::ZERO), Err(TimeoutError::Zero));
}

#[test]
fn reason_is_cut_to_the_maximum_length() {
    let scheme = "x".repeat(REASON_LEN_MAX * 2);
    let error = SendError::from(UrlError::UnsupportedScheme { scheme });
    assert_eq!(error.reason().chars().count(), REASON_LEN_MAX);
    assert!(
        error
            .reason()
            .starts_with("invalid url: unsupported scheme")
    );
}

async fn echo_handler(request: Request<Incoming>) -> HttpResponse {
    match request.into_body().collect().await {
        Ok(body) => http::Response::new(Full::new(body.to_bytes())),
        Err(_) => reply(StatusCode::BAD_REQUEST, b""),
    }
}

#[tokio::test]
async fn loopback_tcp_post_returns_200_with_the_echoed_body() -> TestResult {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            serve(stream, echo_handler).await;
        }
    });
    let sender = sender(TcpConnector::with_webpki_roots()?);

    let response = sender
        .send(post(&format!("http://127.0.0.1:{port}/hook")))
        .await?;

    assert_eq!(response.status, 200);
    assert_eq!(response.body, Bytes::from_static(PAYLOAD));
    server.await?;
    Ok(())
}

#[tokio::test]
async fn loopback_tcp_to_a_closed_port_is_a_connect_error() -> TestResult {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let sender = sender(TcpConnector::with_webpki_roots()?);

    let outcome = sender
        .send(post(&format!("http://127.0.0.1:{port}/hook")))
        .await;

    assert!(matches!(
        outcome,
        Err(SendError::Connect(ConnectError::Io(_)))
    ));
    Ok(())
}

struct SelfSigned {
    root: CertificateDer<'static>,
    server: Arc<ServerConfig>,
}

fn self_signed_localhost() -> Result<SelfSigned, Box<dyn Error + Send + Sync>> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let root = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![root.clone()], PrivateKeyDer::Pkcs8(key))?;
    Ok(SelfSigned {
        root,
        server: Arc::new(server),
    })
}

/// Accepts one TLS connection on loopback and serves it with [`echo_handler`].
async fn tls_echo_server(
    server: Arc<ServerConfig>,
) -> std::io::Result<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let task = tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        if let Ok(stream) = acceptor.accept(tcp).await {
            serve(stream, echo_handler).await;
        }
    });
    Ok((port, task))
}

#[tokio::test]
async fn loopback_tls_to_a_trusted_self_signed_cert_returns_200() -> TestResult {
    let cert = self_signed_localhost()?;
    let (port, server) = tls_echo_server(cert.server).await?;
    let mut roots = RootCertStore::empty();
    roots.add(cert.root)?;
    let sender = sender(TcpConnector::with_tls_config(
        tls::client_config_with_roots(roots)?,
    ));

    let response = sender
        .send(post(&format!("https://localhost:{port}/hook")))
        .await?;

    assert_eq!(response.status, 200);
    assert_eq!(response.body, Bytes::from_static(PAYLOAD));
    server.await?;
    Ok(())
}

#[tokio::test]
async fn loopback_tls_to_an_untrusted_cert_is_a_tls_error() -> TestResult {
    let cert = self_signed_localhost()?;
    let (port, _server) = tls_echo_server(cert.server).await?;
    let sender = sender(TcpConnector::with_webpki_roots()?);

    let outcome = sender
        .send(post(&format!("https://localhost:{port}/hook")))
        .await;

    let error = outcome.expect_err("a self-signed cert is not in the webpki roots");
    assert_eq!(error.kind(), "tls");
    Ok(())
}

#[tokio::test]
async fn turmoil_connector_refuses_https() {
    let outcome = sender(TurmoilConnector)
        .send(post("https://receiver.test/"))
        .await;

    let error = outcome.expect_err("https cannot be simulated");
    let refused = ConnectError::SchemeUnsupported {
        connector: "turmoil",
        scheme: Scheme::Https,
    };
    assert_eq!(error.reason(), refused.to_string());
    assert!(matches!(
        error,
        SendError::Connect(ConnectError::SchemeUnsupported { .. })
    ));
}

/// Bound on connect attempts while the simulated receiver may not have bound yet.
const SIM_CONNECT_ATTEMPTS_MAX: u32 = 10;

async fn send_when_bound(sender: &HttpSender, url: &str) -> Result<Response, SendError> {
    let mut attempt = 1;
    loop {
        match sender.send(post(url)).await {
            Err(SendError::Connect(_)) if attempt < SIM_CONNECT_ATTEMPTS_MAX => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            outcome => return outcome,
        }
    }
}

#[test]
fn turmoil_simulation_post_returns_200() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .build_with_rng(Box::new(SmallRng::seed_from_u64(1)));
    sim.host("receiver", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 8080)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve(stream, echo_handler));
        }
    });
    sim.client("sender", async {
        let sender = HttpSender::new(Arc::new(TurmoilConnector));
        let response = send_when_bound(&sender, "http://receiver:8080/hook").await?;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, Bytes::from_static(PAYLOAD));
        Ok(())
    });
    sim.run()
}

#[tokio::test(start_paused = true)]
async fn silent_receiver_times_out_and_its_connection_is_closed() -> TestResult {
    let limit = Duration::from_secs(5);
    let (closed_slot, closed) = one_shot::<()>();
    let receiver = raw_receiver(move |mut stream| {
        let closed_slot = closed_slot.clone();
        async move {
            read_request_head(&mut stream).await;
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            fire(&closed_slot, ());
        }
    });
    let start = Instant::now();

    let outcome = sender(receiver)
        .send(post_with_timeout("http://receiver.test/", limit))
        .await;

    assert!(matches!(outcome, Err(SendError::TimedOut { limit: l }) if l == limit));
    assert_eq!(start.elapsed(), limit);
    closed.await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn request_stuck_in_a_full_pipe_times_out_and_its_connection_is_closed() -> TestResult {
    let limit = Duration::from_secs(5);
    let (go_slot, go) = one_shot::<()>();
    let (closed_slot, closed) = one_shot::<usize>();
    let go = Arc::new(Mutex::new(Some(go)));
    let receiver = raw_receiver(move |mut stream| {
        let (go, closed_slot) = (go.clone(), closed_slot.clone());
        async move {
            // Read nothing until the client has given up, so its request write blocks.
            let go = go.lock().expect("test mutex is not poisoned").take();
            if let Some(go) = go {
                let _ = go.await;
            }
            let mut received = Vec::new();
            let _ = stream.read_to_end(&mut received).await;
            fire(&closed_slot, received.len());
        }
    });
    let mut request = post_with_timeout("http://receiver.test/", limit);
    request.body = Bytes::from(vec![b'x'; 1024 * 1024]);

    let outcome = sender(receiver).send(request).await;
    fire(&go_slot, ());

    assert!(matches!(outcome, Err(SendError::TimedOut { .. })));
    let received = tokio::time::timeout(Duration::from_secs(60), closed).await??;
    assert!(received < 1024 * 1024);
    Ok(())
}
