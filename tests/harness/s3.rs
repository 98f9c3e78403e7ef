//! A real S3 API for tests: moto's server (`moto_server`, a Python package that `make test`
//! installs into a virtualenv and names in `MOTO_SERVER`), on a free loopback port,
//! with one bucket created. Killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use spanlake::Config;
use spanlake::config::{StorageBackend, TraceStorageConfig};
use tokio::time::Instant;

/// The variable naming the `moto_server` executable. It is outside the `SPANLAKE_` namespace on
/// purpose: those variables are config keys, and spanlake refuses unknown ones.
pub const MOTO_SERVER_ENV: &str = "MOTO_SERVER";

/// The bucket every server starts with.
pub const BUCKET: &str = "spanlake-test";

/// How long moto may take to answer after it was started.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Ports tried before giving up (another process may take a free port first).
const PORT_ATTEMPTS: usize = 3;

/// A running moto S3 server with [`BUCKET`] created.
pub struct S3Server {
    child: Child,
    port: u16,
    /// Holds moto's log, shown when it fails to start.
    log_dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts `$MOTO_SERVER -H 127.0.0.1 -p <free port>`, waits until it answers and
    /// creates [`BUCKET`]. Panics, saying how to install moto, when the variable is not set.
    pub async fn start() -> S3Server {
        let program = moto_server_path();
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = super::free_port();
            let log_dir = tempfile::tempdir().expect("temp dir for moto's log");
            let log_path = log_dir.path().join("moto.log");
            let log = std::fs::File::create(&log_path).expect("create moto's log");
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| {
                    panic!("cannot run {MOTO_SERVER_ENV}={}: {error}", program.display())
                });
            let mut server = S3Server { child, port, log_dir };
            match server.wait_until_answering().await {
                Ok(()) => {
                    server.create_bucket(BUCKET).await;
                    return server;
                }
                // Most likely the port was taken meanwhile: try another one.
                Err(failure) => last_failure = failure,
            }
        }
        panic!("moto did not start after {PORT_ATTEMPTS} attempts: {last_failure}");
    }

    /// `127.0.0.1:port`, the way Tempo writes `storage.trace.s3.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.endpoint())
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// Points `config`'s trace storage at this server: `backend: s3`, the endpoint and bucket,
    /// dummy keys, plain HTTP, path-style requests, region `us-east-1`.
    pub fn configure(&self, config: &mut Config) {
        self.configure_trace_storage(&mut config.storage.trace);
    }

    /// Like [`S3Server::configure`], on the `storage.trace` section alone.
    pub fn configure_trace_storage(&self, trace: &mut TraceStorageConfig) {
        trace.backend = StorageBackend::S3;
        let s3 = &mut trace.s3;
        s3.bucket = BUCKET.to_owned();
        s3.endpoint = self.endpoint();
        s3.region = "us-east-1".to_owned();
        s3.access_key = "spanlake-test".to_owned();
        s3.secret_key = "spanlake-test-secret".to_owned();
        s3.insecure = true;
        s3.forcepathstyle = true;
    }

    /// Creates another bucket.
    pub async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.url()))
            .send()
            .await
            .unwrap_or_else(|error| panic!("create bucket {bucket}: {error}"));
        assert!(
            response.status().is_success(),
            "create bucket {bucket}: HTTP {}\n{}",
            response.status(),
            self.log_tail()
        );
    }

    /// Polls until moto answers `GET /`; fails early when it exits.
    async fn wait_until_answering(&mut self) -> Result<(), String> {
        let client = reqwest::Client::new();
        let until = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("moto exited with {status}\n{}", self.log_tail()));
            }
            let answered = client.get(self.url()).send().await;
            if answered.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(format!(
                    "moto did not answer on {} within {START_DEADLINE:?}\n{}",
                    self.url(),
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The end of moto's log.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_dir.path().join("moto.log")).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let tail = log.get(start..).unwrap_or(&log);
        format!("--- moto log ---\n{tail}")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `moto_server` executable; panics with install instructions when it is not configured.
fn moto_server_path() -> PathBuf {
    match std::env::var_os(MOTO_SERVER_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{MOTO_SERVER_ENV} is not set: the S3 tests need moto's S3 server. Run the tests \
             with `make test`, which installs it into a virtualenv and sets the variable, or \
             `pip install 'moto[server]'` and set {MOTO_SERVER_ENV} to the `moto_server` it \
             installed."
        ),
    }
}
