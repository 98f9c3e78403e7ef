//! What the benchmarks that drive a node share: the node as a child process, a minimal HTTP
//! client, OTLP/gRPC export of pre-encoded requests, and waiting until spans are in blocks.
//!
//! ```text
//!  bench (this process) ── OTLP/gRPC export ──► node (child process: WAL, live store, blocks)
//!        │                ◄── GET /metrics ────  spans flushed, live traces
//!        └─────────────── GET /api/… ─────────►  what the bench measures
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use thiserror::Error;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// gRPC path of OTLP trace export.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Export attempts before a refused request fails the benchmark.
const EXPORT_ATTEMPTS: u32 = 20;

/// Why the benchmark could not run.
#[derive(Debug, Error)]
pub enum BenchError {
    /// Starting or reaching the node failed.
    #[error("benchmark setup failed: {0}")]
    Setup(String),
    /// Too many requests failed to measure anything meaningful.
    #[error("{failed} of {total} requests failed; first error: {first}")]
    Requests {
        /// Failed requests.
        failed: u64,
        /// All requests.
        total: u64,
        /// The first failure.
        first: String,
    },
}

/// Sends one pre-encoded `ExportTraceServiceRequest`; the gRPC status text on refusal.
pub(super) async fn export(
    client: &mut tonic::client::Grpc<Channel>,
    payload: Bytes,
) -> Result<(), String> {
    client.ready().await.map_err(|error| error.to_string())?;
    let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
    client
        .unary::<Bytes, ExportTraceServiceResponse, _>(
            tonic::Request::new(payload),
            path,
            PreEncodedCodec,
        )
        .await
        .map(|_| ())
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}

/// Sends one pre-encoded request, retrying a refusal (the node pushes back while its live
/// store is full or a partition is busy) for a few seconds before giving up.
pub(super) async fn export_with_retry(
    client: &mut tonic::client::Grpc<Channel>,
    payload: Bytes,
) -> Result<(), BenchError> {
    let mut attempts = 0;
    loop {
        match export(client, payload.clone()).await {
            Ok(()) => return Ok(()),
            Err(error) if attempts < EXPORT_ATTEMPTS => {
                attempts += 1;
                tracing::debug!(%error, attempts, "export refused, retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(BenchError::Setup(format!("export failed: {error}"))),
        }
    }
}

/// An OTLP/gRPC channel to the node.
pub(super) async fn connect_otlp(node: &BenchNode) -> Result<Channel, BenchError> {
    Channel::from_shared(format!("http://{}", node.otlp_grpc))
        .map_err(|error| BenchError::Setup(error.to_string()))?
        .connect()
        .await
        .map_err(|error| BenchError::Setup(format!("cannot connect to the node: {error}")))
}

/// Sends pre-encoded bytes as the request message; decodes the response normally.
#[derive(Debug, Clone, Copy)]
struct PreEncodedCodec;

impl Codec for PreEncodedCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = PreEncodedCodec;
    type Decoder = PreEncodedCodec;

    fn encoder(&mut self) -> Self::Encoder {
        PreEncodedCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        PreEncodedCodec
    }
}

impl Encoder for PreEncodedCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for PreEncodedCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }
}

/// The node under test, as a child process.
pub(super) struct BenchNode {
    child: Option<Child>,
    pub(super) http: std::net::SocketAddr,
    pub(super) otlp_grpc: std::net::SocketAddr,
}

impl BenchNode {
    /// Starts the node on `data` (log and blocks under it); `recent_window` is how long
    /// flushed traces stay in memory; `extra_yaml` adds top-level sections.
    pub(super) async fn start(
        binary: &Path,
        data: &Path,
        partitions: u32,
        recent_window: &str,
        extra_yaml: &str,
    ) -> Result<BenchNode, BenchError> {
        let blocks = data.join("blocks");
        BenchNode::launch(binary, data, &blocks, partitions, recent_window, 0, extra_yaml).await
    }

    /// A node of a cluster: its cluster service on `cluster_port`, blocks in the shared
    /// `blocks` directory, `cluster_yaml` its `cluster:` section.
    pub(super) async fn start_clustered(
        binary: &Path,
        data: &Path,
        blocks: &Path,
        partitions: u32,
        cluster_port: u16,
        cluster_yaml: &str,
    ) -> Result<BenchNode, BenchError> {
        BenchNode::launch(binary, data, blocks, partitions, "30s", cluster_port, cluster_yaml).await
    }

    /// `GET /api/admin/cluster` with the admin token, as JSON.
    pub(super) async fn admin_cluster(&self, token: &str) -> Option<serde_json::Value> {
        let body = http_get_with(self.http, "/api/admin/cluster", Some(token)).await?;
        serde_json::from_str(&body).ok()
    }

    async fn launch(
        binary: &Path,
        data: &Path,
        blocks: &Path,
        partitions: u32,
        recent_window: &str,
        cluster_port: u16,
        extra_yaml: &str,
    ) -> Result<BenchNode, BenchError> {
        let http = free_loopback_addr()?;
        let otlp_grpc = free_loopback_addr()?;
        let config = format!(
            "server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: {}\n  grpc_listen_port: {cluster_port}\n  log_level: warn\n\
             distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n          endpoint: {otlp_grpc}\n        http:\n          enabled: false\n\
             \x20   jaeger:\n      protocols:\n        thrift_http:\n          enabled: false\n        grpc:\n          enabled: false\n        thrift_compact:\n          enabled: false\n        thrift_binary:\n          enabled: false\n\
             \x20   zipkin:\n      enabled: false\n\
             partitions:\n  count: {partitions}\n\
             storage:\n  trace:\n    wal:\n      path: {}\n    local:\n      path: {}\n\
             live_store:\n  max_bytes_per_tenant: 17179869184\n  recent_window: {recent_window}\n\
             overrides:\n  defaults:\n    ingestion:\n      max_traces_per_user: 100000000\n{extra_yaml}",
            http.port(),
            data.join("wal").display(),
            blocks.display()
        );
        let config_path = data.join("spanlake.yaml");
        std::fs::write(&config_path, config)
            .map_err(|error| BenchError::Setup(error.to_string()))?;
        let child = Command::new(binary)
            .arg(format!("-config.file={}", config_path.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| {
                BenchError::Setup(format!("cannot start {}: {error}", binary.display()))
            })?;
        let node = BenchNode { child: Some(child), http, otlp_grpc };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if http_get(http, "/ready").await.is_some_and(|body| body.starts_with("ready")) {
                return Ok(node);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(BenchError::Setup("the node did not become ready within 60 s".to_string()))
    }

    /// The node's `/metrics` text.
    pub(super) async fn metrics(&self) -> Option<String> {
        http_get(self.http, "/metrics").await
    }

    /// `VmHWM` of the node process (Linux).
    pub(super) fn peak_rss(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// CPU time (user + system) the node process has used so far, from `/proc/<pid>/stat`
    /// (Linux). Clock ticks are taken as 100 per second: the `_SC_CLK_TCK` of every
    /// mainstream Linux build, and reading it would need `libc`.
    pub(super) fn cpu_seconds(&self) -> Option<f64> {
        const TICKS_PER_SECOND: f64 = 100.0;
        let pid = self.child.as_ref()?.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces; count after it.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_name.split_whitespace();
        // After the name: state is field 3, utime field 14, stime field 15.
        let utime: u64 = fields.nth(11)?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some((utime + stime) as f64 / TICKS_PER_SECOND)
    }

    /// Kills the node and waits for it to exit.
    pub(super) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for BenchNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal HTTP/1.0 GET over loopback (the benchmark needs no HTTP client crate).
pub(super) async fn http_get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    let body = http_get_bytes(addr, path, "*/*").await?;
    String::from_utf8(body).ok()
}

/// A minimal HTTP/1.0 GET returning the body of a 200 answer.
pub(super) async fn http_get_bytes(
    addr: std::net::SocketAddr,
    path: &str,
    accept: &str,
) -> Option<Vec<u8>> {
    let (status, body) = http_get_response(addr, path, accept).await.ok()?;
    (status == 200).then_some(body)
}

/// A minimal HTTP/1.0 GET: the status code and body of any answer.
pub(super) async fn http_get_response(
    addr: std::net::SocketAddr,
    path: &str,
    accept: &str,
) -> Result<(u16, Vec<u8>), String> {
    http_request(addr, path, accept, "").await
}

/// [`http_get`] with a bearer token.
pub(super) async fn http_get_with(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
) -> Option<String> {
    let header =
        token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let (status, body) = http_request(addr, path, "*/*", &header).await.ok()?;
    (status == 200).then_some(body).and_then(|body| String::from_utf8(body).ok())
}

/// A minimal HTTP/1.0 GET with extra header lines (each ending in CRLF).
async fn http_request(
    addr: std::net::SocketAddr,
    path: &str,
    accept: &str,
    headers: &str,
) -> Result<(u16, Vec<u8>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|error| format!("cannot connect to {addr}: {error}"))?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|error| error.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|error| error.to_string())?;
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("an HTTP answer without a header end")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("an HTTP answer without a status: {head}"))?;
    Ok((status, response[split + 4..].to_vec()))
}

/// A loopback address with a port free right now.
pub(super) fn free_loopback_addr() -> Result<std::net::SocketAddr, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| BenchError::Setup(format!("no free port: {error}")))
}

/// A fresh directory for the node's data, named after this process.
pub(super) fn tempdir() -> Result<PathBuf, BenchError> {
    let path = std::env::temp_dir().join(format!("spanlake-bench-{}", std::process::id()));
    std::fs::create_dir_all(&path).map_err(|error| BenchError::Setup(error.to_string()))?;
    Ok(path)
}

/// What the block-builders reported once every span was in a block.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FlushFigures {
    /// Blocks written.
    pub blocks: f64,
    /// Spans written into blocks.
    pub spans_flushed: f64,
    /// Summed flush time, seconds.
    pub flush_seconds: f64,
}

/// Polls the node's metrics until `spans` spans are in blocks and no trace is left in
/// memory, showing progress; gives up after `deadline`.
pub(super) async fn wait_until_in_blocks(
    node: &BenchNode,
    spans: u64,
    deadline: Duration,
) -> Result<FlushFigures, BenchError> {
    let waiting = Instant::now();
    let flush_bar = indicatif::ProgressBar::new(spans);
    flush_bar.set_style(
        indicatif::ProgressStyle::with_template("flush  {bar:40} {pos}/{len} spans in blocks")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    loop {
        let metrics = node.metrics().await.unwrap_or_default();
        let flushed = metric_sum(&metrics, "spanlake_block_builder_spans_flushed_total");
        flush_bar.set_position(flushed as u64);
        if flushed >= spans as f64 && metric_sum(&metrics, "spanlake_live_store_live_traces") == 0.0
        {
            flush_bar.finish_and_clear();
            return Ok(FlushFigures {
                blocks: metric_sum(&metrics, "spanlake_block_builder_blocks_flushed_total"),
                spans_flushed: flushed,
                flush_seconds: metric_sum(
                    &metrics,
                    "spanlake_block_builder_flush_duration_seconds_sum",
                ),
            });
        }
        if waiting.elapsed() > deadline {
            flush_bar.finish_and_clear();
            return Err(BenchError::Setup(format!(
                "only {flushed} of {spans} spans reached blocks within {} s",
                deadline.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// (data.parquet bytes, all object bytes) under a local blocks directory.
pub(super) fn disk_usage(dir: &Path) -> (u64, u64) {
    let mut data = 0;
    let mut all = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let Ok(metadata) = entry.metadata() else { continue };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                all += metadata.len();
                if entry.file_name() == "data.parquet" {
                    data += metadata.len();
                }
            }
        }
    }
    (data, all)
}

/// The sum of every series of metric `name` in Prometheus text.
pub(super) fn metric_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sum_adds_every_series_of_one_name_only() {
        let metrics = "spanlake_x_total{partition=\"p0\"} 3\n\
                       spanlake_x_total{partition=\"p1\"} 4.5\n\
                       spanlake_x_total_other 100\n\
                       spanlake_x_total 1\n";
        assert_eq!(metric_sum(metrics, "spanlake_x_total"), 8.5);
    }
}
