//! Test harness shared by the integration test binaries (included with `#[path]`).
//!
//! - [`TestNode`]: a node in this process on ephemeral ports, with its fault points.
//! - [`ProcessNode`]: the real `spanlake` binary as a child process (for `kill -9`).
//! - [`clients`]: real OTLP gRPC / HTTP clients and Tempo API readers.
//! - [`spans`]: generated spans using every OTLP field.
//! - [`oracle`]: acknowledged spans, and the exactly-once check.
//! - [`s3`]: a real S3 API (moto's server) on a loopback port.
//! - [`shop`]: a deterministic microservice-shop dataset with known content.
//! - [`reference`]: a naive TraceQL search evaluator written from the spec.

#![allow(dead_code)]

pub mod clients;
pub mod cluster;
pub mod exporters;
pub mod load;
pub mod oracle;
pub mod reference;
pub mod s3;
pub mod shop;
pub mod spans;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use spanlake::{Config, Node};
use tokio::time::Instant;

/// Polls `condition` until it holds or `deadline` passes; panics with `description` then.
pub async fn wait_for<F, Fut>(description: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    loop {
        if condition().await {
            return;
        }
        assert!(Instant::now() < until, "timed out after {deadline:?} waiting for: {description}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Installs a test log subscriber once (`RUST_LOG` controls it).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// A config for tests: loopback, ephemeral ports, data under `dir`.
pub fn test_config(dir: &Path) -> Config {
    let yaml = format!(
        r#"
server:
  http_listen_address: 127.0.0.1
  http_listen_port: 0
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: 0
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: 127.0.0.1:0
        http:
          endpoint: 127.0.0.1:0
    jaeger:
      protocols:
        thrift_http:
          endpoint: 127.0.0.1:0
        grpc:
          endpoint: 127.0.0.1:0
        thrift_compact:
          endpoint: 127.0.0.1:0
        thrift_binary:
          endpoint: 127.0.0.1:0
    zipkin:
      endpoint: 127.0.0.1:0
storage:
  trace:
    wal:
      path: {}
    local:
      path: {}
supervision:
  backoff_initial: 10ms
  backoff_max: 100ms
"#,
        dir.join("wal").display(),
        dir.join("blocks").display()
    );
    Config::load(Some(&yaml), &Default::default()).expect("test config is valid")
}

/// A node running in the test process.
pub struct TestNode {
    pub node: Option<Node>,
    pub config: Config,
    pub dir: tempfile::TempDir,
}

impl TestNode {
    /// Starts a node with the test config.
    pub async fn start() -> TestNode {
        TestNode::start_with(|_| {}).await
    }

    /// Starts a node after `adjust` has edited the test config.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestNode {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let node = Node::start(config.clone()).await.expect("node starts");
        TestNode { node: Some(node), config, dir }
    }

    /// The running node.
    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("node is running")
    }

    /// `http://127.0.0.1:port` of the query API.
    pub fn query_url(&self) -> String {
        format!("http://{}", self.node().addrs().http)
    }

    /// `http://127.0.0.1:port/v1/traces`.
    pub fn otlp_http_url(&self) -> String {
        format!("http://{}/v1/traces", self.node().addrs().otlp_http.expect("OTLP/HTTP enabled"))
    }

    /// `http://127.0.0.1:port` of OTLP/gRPC.
    pub fn otlp_grpc_url(&self) -> String {
        format!("http://{}", self.node().addrs().otlp_grpc.expect("OTLP/gRPC enabled"))
    }

    /// A Tempo API reader for this node.
    pub fn tempo(&self) -> clients::TempoClient {
        clients::TempoClient::new(self.query_url())
    }
}

/// Picks a free loopback port (bound then released; std sets SO_REUSEADDR).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// The `spanlake` binary as a child process, restartable on the same data directory.
pub struct ProcessNode {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub http: SocketAddr,
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
}

impl ProcessNode {
    /// Writes a config with fixed free ports and starts the binary; waits for `/ready`.
    pub async fn start() -> ProcessNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocks = dir.path().join("blocks");
        ProcessNode::start_in(dir, 0, &blocks, "").await
    }

    /// A process whose cluster service listens on `cluster_port`, storing blocks in `blocks`,
    /// with `extra` YAML appended to its config (e.g. a `cluster:` section).
    pub async fn start_with(cluster_port: u16, blocks: &Path, extra: &str) -> ProcessNode {
        let dir = tempfile::tempdir().expect("temp dir");
        ProcessNode::start_in(dir, cluster_port, blocks, extra).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        cluster_port: u16,
        blocks: &Path,
        extra: &str,
    ) -> ProcessNode {
        init_logging();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let otlp_grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let otlp_http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let config_path = dir.path().join("spanlake.yaml");
        let yaml = format!(
            "server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: {}\n  grpc_listen_address: 127.0.0.1\n  grpc_listen_port: {cluster_port}\n\
             distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n          endpoint: {otlp_grpc}\n        http:\n          endpoint: {otlp_http}\n\
             \x20   jaeger:\n      protocols:\n        thrift_http:\n          enabled: false\n        grpc:\n          enabled: false\n        thrift_compact:\n          enabled: false\n        thrift_binary:\n          enabled: false\n\
             \x20   zipkin:\n      enabled: false\n\
             storage:\n  trace:\n    wal:\n      path: {}\n    local:\n      path: {}\n{extra}",
            http.port(),
            dir.path().join("wal").display(),
            blocks.display()
        );
        std::fs::write(&config_path, yaml).expect("write config");
        let mut node = ProcessNode { child: None, dir, config_path, http, otlp_grpc, otlp_http };
        node.spawn().await;
        node
    }

    /// Starts the binary on the existing data directory and waits until it is ready.
    pub async fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(env!("CARGO_BIN_EXE_spanlake"))
            .arg(format!("-config.file={}", self.config_path.display()))
            .env("RUST_LOG", "warn,openraft=error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn spanlake");
        self.child = Some(child);
        let ready_url = format!("http://{}/ready", self.http);
        let client = reqwest::Client::new();
        wait_for("the spanlake process to be ready", Duration::from_secs(60), || {
            let request = client.get(&ready_url).send();
            async move { matches!(request.await, Ok(response) if response.status() == 200) }
        })
        .await;
    }

    /// SIGKILLs the process (no shutdown, no flush) and reaps it.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        }
    }

    /// The write-ahead-log directory of partition `n`.
    pub fn wal_dir(&self, partition: u32) -> PathBuf {
        self.dir.path().join("wal").join(format!("p{partition}"))
    }

    /// A Tempo API reader for this node.
    pub fn tempo(&self) -> clients::TempoClient {
        clients::TempoClient::new(format!("http://{}", self.http))
    }

    /// `http://host:port` of OTLP/gRPC.
    pub fn otlp_grpc_url(&self) -> String {
        format!("http://{}", self.otlp_grpc)
    }

    /// `http://host:port/v1/traces`.
    pub fn otlp_http_url(&self) -> String {
        format!("http://{}/v1/traces", self.otlp_http)
    }
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Makes blocks appear within a fraction of a second: short idle period and checks, and no
/// recent window, so flushed traces leave memory at once and reads come from blocks.
pub fn flush_blocks_quickly(config: &mut Config) {
    use spanlake::config::HumanDuration;
    config.block_builder.trace_idle_period = HumanDuration::from_millis(150);
    config.block_builder.flush_check_period = HumanDuration::from_millis(50);
    config.live_store.recent_window = HumanDuration::ZERO;
}

/// Reads a counter or gauge from a node's `/metrics`, summed over its label sets.
pub async fn metric_sum(tempo: &clients::TempoClient, name: &str) -> f64 {
    let (_, _, body) = tempo.get("/metrics", None).await;
    String::from_utf8_lossy(&body)
        .lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits (30 s deadline) until the node has flushed at least one block and holds no live
/// trace: whatever was acknowledged before is in blocks and out of memory.
pub async fn wait_until_in_blocks_and_evicted(tempo: &clients::TempoClient, what: &str) {
    wait_for(what, Duration::from_secs(30), || async {
        metric_sum(tempo, "spanlake_block_builder_blocks_flushed_total").await >= 1.0
            && metric_sum(tempo, "spanlake_live_store_live_traces").await == 0.0
    })
    .await;
}

/// Block ids under a local blocks directory, per tenant: `(partition, first, last)`.
pub fn local_block_ranges(blocks_dir: &Path) -> Vec<(String, u32, u64, u64)> {
    let mut ranges = Vec::new();
    let Ok(tenants) = std::fs::read_dir(blocks_dir) else { return ranges };
    for tenant in tenants.filter_map(Result::ok) {
        let tenant_name = tenant.file_name().to_string_lossy().to_string();
        let Ok(blocks) = std::fs::read_dir(tenant.path()) else { continue };
        for block in blocks.filter_map(Result::ok) {
            if !block.path().join("meta.json").exists() {
                continue;
            }
            let name = block.file_name().to_string_lossy().to_string();
            let parts: Vec<&str> = name.trim_start_matches('p').split('-').collect();
            if let [partition, first, last] = parts.as_slice()
                && let (Ok(partition), Ok(first), Ok(last)) =
                    (partition.parse(), first.parse(), last.parse())
            {
                ranges.push((tenant_name.clone(), partition, first, last));
            }
        }
    }
    ranges.sort();
    ranges
}

/// Asserts no two complete blocks of a tenant and partition cover overlapping log ranges (a
/// block rebuilt after a crash must replace itself, never sit beside a second copy).
pub fn assert_no_overlapping_blocks(blocks_dir: &Path) -> usize {
    let ranges = local_block_ranges(blocks_dir);
    for pair in ranges.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.0 == b.0 && a.1 == b.1 {
            assert!(a.3 < b.2, "blocks overlap: {a:?} and {b:?}");
        }
    }
    ranges.len()
}
