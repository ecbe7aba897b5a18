//! A webhook receiver: verifies each request with `eventgate::webhook::signing::verify`,
//! deduplicates on `webhook-id`, and prints what it received.
//!
//! ```text
//! cargo run --example webhook_receiver -- --secret whsec_... --port 8787 [--fail-first 2]
//! ```
//!
//! `--fail-first N` answers 500 to the first N requests, to watch the sender retry with the
//! same `webhook-id`. A request that does not verify gets 401; a duplicate gets 200 and is
//! not applied again.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use eventgate::webhook::WebhookSecret;
use eventgate::webhook::signing::verify;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The most webhook ids remembered for deduplication (a demo bound).
const SEEN_IDS_MAX: usize = 100_000;

#[derive(Parser, Debug)]
#[command(about = "Receive, verify and deduplicate webhooks")]
struct Args {
    /// The shared secret, `whsec_` then base64.
    #[arg(long)]
    secret: String,
    /// The port to listen on (loopback).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Answer 500 to this many requests first.
    #[arg(long, default_value_t = 0)]
    fail_first: u64,
}

struct Receiver {
    secret: WebhookSecret,
    seen: Mutex<BTreeSet<String>>,
    requests: Mutex<u64>,
    fail_first: u64,
}

impl Receiver {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let header = |name: &str| {
            let value = request.headers().get(name).and_then(|v| v.to_str().ok());
            value.unwrap_or_default().to_owned()
        };
        let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
        let signature = header("webhook-signature");
        let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
            return status(StatusCode::BAD_REQUEST);
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        if let Err(error) = verify(&self.secret, &id, &timestamp, &signature, &body, now) {
            println!("rejected  {id}: {error}");
            return status(StatusCode::UNAUTHORIZED);
        }
        let count = {
            let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            *requests += 1;
            *requests
        };
        if count <= self.fail_first {
            println!("failing   {id} on purpose ({count} of {})", self.fail_first);
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
        self.apply(&id, &body);
        status(StatusCode::NO_CONTENT)
    }

    fn apply(&self, id: &str, body: &[u8]) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(id) {
            println!("duplicate {id}: already applied");
            return;
        }
        if seen.len() >= SEEN_IDS_MAX {
            seen.clear();
        }
        seen.insert(id.to_owned());
        let envelope: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        println!(
            "received  {id}: {} {}",
            envelope["type"].as_str().unwrap_or("?"),
            envelope["data"]
        );
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let receiver = Arc::new(Receiver {
        secret: WebhookSecret::parse(&args.secret).context("bad --secret")?,
        seen: Mutex::new(BTreeSet::new()),
        requests: Mutex::new(0),
        fail_first: args.fail_first,
    });
    let address = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .context("cannot listen")?;
    println!("listening on http://{address}/");
    loop {
        let (stream, _) = listener.accept().await?;
        let receiver = receiver.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let receiver = receiver.clone();
                async move { Ok::<_, Infallible>(receiver.handle(request).await) }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
