//! Where the Redis tests get their Redis, shared by every test file that needs one.
//!
//! - The shared Redis is at `REDIS_URL` (default `redis://127.0.0.1:6379`, where `.ci/run`
//!   starts it). Each test writes under its own key prefix (test name, process id, time) and
//!   deletes its keys at the end; every key it writes also carries an expiry, so a test that
//!   panics before its cleanup leaves nothing behind for long.
//! - When Redis does not answer, a test is skipped with a printed notice, unless `CI` is set:
//!   then it fails, so CI can never pass by skipping the Redis tests.
//! - Tests that must kill and restart a server start a *private* `redis-server` on a free
//!   port ([`PrivateRedis`]); the shared one is never restarted, since tests run beside each
//!   other.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventgate::gate::{RedisConfig, RedisStore};
use redis::aio::MultiplexedConnection;

/// How long the check that Redis is there may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a private server may take to answer its first PING.
const PRIVATE_START_DEADLINE: Duration = Duration::from_secs(10);

/// The pause between two PINGs while a private server starts.
const PRIVATE_START_PAUSE: Duration = Duration::from_millis(20);

/// The shared Redis's URL.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// True when running under CI, where a missing Redis is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// Skips (prints and returns `None`) or, under CI, fails.
fn missing<T>(test: &str, what: &str) -> Option<T> {
    if in_ci() {
        panic!("{test}: {what}; CI is set, so the Redis tests must run (see .ci/services.sh)");
    }
    eprintln!("note: skipping {test}: {what} (set CI=1 to make this a failure)");
    None
}

/// A key prefix no other test or run uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("eventgate-test:{test}:{}:{nanos}:", std::process::id())
}

/// The shared Redis, seen by one test under its own prefix.
pub struct TestRedis {
    /// Where it is.
    pub url: String,
    /// This test's key prefix.
    pub prefix: String,
    /// A connection for the test's own commands.
    pub connection: MultiplexedConnection,
}

impl TestRedis {
    /// The shared Redis if it answers PING; see the module docs for what happens if not.
    pub async fn connect(test: &str) -> Option<Self> {
        let url = redis_url();
        match probe(&url).await {
            Ok(connection) => Some(Self {
                prefix: unique_prefix(test),
                url,
                connection,
            }),
            Err(reason) => missing(test, &format!("no Redis answers at {url}: {reason}")),
        }
    }

    /// A store on this Redis under this test's prefix.
    pub fn store(&self) -> RedisStore {
        self.store_with(|config| config)
    }

    /// A store on this Redis under this test's prefix, configured further by `adjust`.
    pub fn store_with(&self, adjust: impl FnOnce(RedisConfig) -> RedisConfig) -> RedisStore {
        let config = RedisConfig::new(self.url.clone()).key_prefix(self.prefix.clone());
        RedisStore::open(adjust(config)).expect("a redis store opens")
    }

    /// Deletes every key under this test's prefix.
    pub async fn cleanup(mut self) {
        delete_prefix(&mut self.connection, &self.prefix).await;
    }
}

/// Deletes every key that starts with `prefix`.
pub async fn delete_prefix(connection: &mut MultiplexedConnection, prefix: &str) {
    let pattern = format!("{prefix}*");
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1_000)
            .query_async(connection)
            .await
            .expect("SCAN answers");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(connection)
                .await
                .unwrap();
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Connects to `url` and PINGs it, within [`PROBE_TIMEOUT`].
pub async fn probe(url: &str) -> Result<MultiplexedConnection, String> {
    let connect = async {
        let client = redis::Client::open(url).map_err(|error| error.to_string())?;
        let connecting = client.get_multiplexed_async_connection();
        let mut connection = connecting.await.map_err(|error| error.to_string())?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| e.to_string())?;
        if pong != "PONG" {
            return Err(format!("PING answered {pong:?}"));
        }
        Ok(connection)
    };
    tokio::time::timeout(PROBE_TIMEOUT, connect)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")))
}

/// A port on 127.0.0.1 that nothing listens on (taken from the OS, then let go).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    listener.local_addr().expect("a local address").port()
}

/// The `redis-server` binary, if installed (skips, or fails under CI, when it is not).
pub fn redis_server_binary(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => Some(path),
        None => missing(test, "no redis-server binary on PATH"),
    }
}

/// A `redis-server` this test started on its own port; killed when dropped.
pub struct PrivateRedis {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts a server on a free port and waits until it answers PING.
    pub async fn start(binary: PathBuf) -> Self {
        let mut server = Self {
            binary,
            port: free_port(),
            child: None,
        };
        server.restart().await;
        server
    }

    /// This server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and waits until it answers PING.
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let started = tokio::time::Instant::now();
        while started.elapsed() < PRIVATE_START_DEADLINE {
            if probe(&self.url()).await.is_ok() {
                return;
            }
            tokio::time::sleep(PRIVATE_START_PAUSE).await;
        }
        panic!(
            "private redis-server on port {} did not answer PING",
            self.port
        );
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
