//! `spanlake bench ingest`: durable-ingest throughput, as an OpenTelemetry Collector would load
//! a node.
//!
//! ```text
//!  loader (this process)                          node (child process, temporary data dir)
//!  pre-encoded ExportTraceServiceRequests ──►  OTLP/gRPC :4317 ──► distributor ──► WAL fsync ──► ack
//!  `concurrency` requests in flight over `connections` HTTP/2 connections; latency per ack
//! ```
//!
//! Payloads are encoded before the clock starts, so the loader spends its CPU on the wire, not
//! on protobuf encoding. The node runs as its own process so its peak RSS is its own; the
//! loader shares the machine with it, as the issue asks. Prints spans/s, MB/s, acknowledgement
//! latency percentiles, fsync width and the node's peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use thiserror::Error;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// gRPC path of OTLP trace export.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Distinct pre-encoded requests cycled through by the loader.
const PAYLOAD_POOL: usize = 512;

/// Settings of one benchmark run.
#[derive(Debug, Clone)]
pub struct IngestBenchOptions {
    /// How long to measure.
    pub duration: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// HTTP/2 connections they share.
    pub connections: usize,
    /// Spans per request.
    pub spans_per_request: usize,
    /// Spans per trace.
    pub spans_per_trace: usize,
    /// Partitions of the node under test.
    pub partitions: u32,
    /// The `spanlake` binary to start as the node.
    pub node_binary: PathBuf,
}

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

/// What a run measured.
#[derive(Debug, Clone)]
pub struct IngestBenchReport {
    /// Measured wall time.
    pub elapsed: Duration,
    /// Requests acknowledged.
    pub requests: u64,
    /// Spans acknowledged.
    pub spans: u64,
    /// Wire bytes acknowledged.
    pub bytes: u64,
    /// Acknowledgement latency percentiles (p50, p90, p99, max).
    pub latency: [Duration; 4],
    /// Peak resident memory of the node process, bytes.
    pub node_peak_rss: Option<u64>,
    /// fsyncs performed and requests they served, from the node's `/metrics`.
    pub fsyncs: Option<(f64, f64)>,
}

impl IngestBenchReport {
    /// A plain-text table of the figures.
    pub fn table(&self, options: &IngestBenchOptions) -> String {
        let seconds = self.elapsed.as_secs_f64().max(f64::EPSILON);
        let mut rows = vec![
            ("duration", format!("{seconds:.1} s")),
            (
                "concurrency / connections",
                format!("{} / {}", options.concurrency, options.connections),
            ),
            (
                "spans per request / trace",
                format!("{} / {}", options.spans_per_request, options.spans_per_trace),
            ),
            ("partitions", options.partitions.to_string()),
            ("requests acknowledged", self.requests.to_string()),
            ("spans acknowledged", self.spans.to_string()),
            ("spans/s", format!("{:.0}", self.spans as f64 / seconds)),
            ("MB/s (wire)", format!("{:.1}", self.bytes as f64 / seconds / 1e6)),
            ("ack latency p50", format!("{:.2} ms", millis(self.latency[0]))),
            ("ack latency p90", format!("{:.2} ms", millis(self.latency[1]))),
            ("ack latency p99", format!("{:.2} ms", millis(self.latency[2]))),
            ("ack latency max", format!("{:.2} ms", millis(self.latency[3]))),
        ];
        if let Some((fsyncs, requests)) = self.fsyncs {
            rows.push((
                "fsyncs",
                format!("{fsyncs:.0} ({:.1} requests each)", requests / fsyncs.max(1.0)),
            ));
        }
        if let Some(rss) = self.node_peak_rss {
            rows.push(("node peak RSS", format!("{:.0} MiB", rss as f64 / (1024.0 * 1024.0))));
        }
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        rows.iter().map(|(name, value)| format!("{name:<width$}  {value}\n")).collect()
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Runs the benchmark: starts a node, loads it, stops it, reports.
pub async fn run_ingest_bench(
    options: &IngestBenchOptions,
) -> Result<IngestBenchReport, BenchError> {
    let data = tempdir()?;
    let mut node =
        BenchNode::start(&options.node_binary, &data, options.partitions, "30s", "").await?;
    let report = load(options, &node).await;
    let metrics = node.metrics().await;
    let node_peak_rss = node.peak_rss();
    node.stop();
    let _ = std::fs::remove_dir_all(&data);
    let mut report = report?;
    report.node_peak_rss = node_peak_rss;
    report.fsyncs = metrics.as_deref().and_then(fsync_figures);
    Ok(report)
}

/// Drives the node for `options.duration` and measures.
async fn load(
    options: &IngestBenchOptions,
    node: &BenchNode,
) -> Result<IngestBenchReport, BenchError> {
    let payloads: Arc<Vec<Bytes>> = Arc::new(
        (0..PAYLOAD_POOL)
            .map(|number| Bytes::from(build_request(number as u64, options).encode_to_vec()))
            .collect(),
    );
    let mut channels = Vec::new();
    for _ in 0..options.connections.max(1) {
        let channel = Channel::from_shared(format!("http://{}", node.otlp_grpc))
            .map_err(|error| BenchError::Setup(error.to_string()))?
            .connect()
            .await
            .map_err(|error| BenchError::Setup(format!("cannot connect to the node: {error}")))?;
        channels.push(channel);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged_spans = Arc::new(AtomicU64::new(0));
    let progress = indicatif::ProgressBar::new(options.duration.as_secs());
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..options.concurrency.max(1) {
        let channel = channels[worker % channels.len()].clone();
        let payloads = payloads.clone();
        let stop = stop.clone();
        let acknowledged_spans = acknowledged_spans.clone();
        let spans_per_request = options.spans_per_request as u64;
        workers.push(tokio::spawn(async move {
            let mut client = tonic::client::Grpc::new(channel);
            let mut outcome = WorkerOutcome::default();
            let mut next = worker;
            while !stop.load(Ordering::Relaxed) {
                let payload = payloads[next % payloads.len()].clone();
                next += 7;
                let size = payload.len() as u64;
                let sent = Instant::now();
                match export(&mut client, payload).await {
                    Ok(()) => {
                        outcome.latencies_micros.push(sent.elapsed().as_micros() as u64);
                        outcome.requests += 1;
                        outcome.bytes += size;
                        acknowledged_spans.fetch_add(spans_per_request, Ordering::Relaxed);
                    }
                    Err(error) => {
                        outcome.failed += 1;
                        outcome.first_error.get_or_insert(error);
                    }
                }
            }
            outcome
        }));
    }
    let mut last_spans = 0;
    while started.elapsed() < options.duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let spans = acknowledged_spans.load(Ordering::Relaxed);
        progress.set_position(started.elapsed().as_secs());
        progress.set_message(format!("{} spans/s", spans - last_spans));
        last_spans = spans;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = WorkerOutcome::default();
    for worker in workers {
        let outcome = worker.await.map_err(|error| BenchError::Setup(error.to_string()))?;
        total.merge(outcome);
    }
    let elapsed = started.elapsed();
    progress.finish_and_clear();
    if total.failed * 100 > (total.requests + total.failed) {
        return Err(BenchError::Requests {
            failed: total.failed,
            total: total.requests + total.failed,
            first: total.first_error.unwrap_or_default(),
        });
    }
    total.latencies_micros.sort_unstable();
    let percentile = |p: f64| {
        let values = &total.latencies_micros;
        if values.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((values.len() as f64 - 1.0) * p).round() as usize;
        Duration::from_micros(values[rank.min(values.len() - 1)])
    };
    Ok(IngestBenchReport {
        elapsed,
        requests: total.requests,
        spans: total.requests * options.spans_per_request as u64,
        bytes: total.bytes,
        latency: [percentile(0.5), percentile(0.9), percentile(0.99), percentile(1.0)],
        node_peak_rss: None,
        fsyncs: None,
    })
}

#[derive(Debug, Default)]
struct WorkerOutcome {
    requests: u64,
    failed: u64,
    bytes: u64,
    latencies_micros: Vec<u64>,
    first_error: Option<String>,
}

impl WorkerOutcome {
    fn merge(&mut self, other: WorkerOutcome) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.bytes += other.bytes;
        self.latencies_micros.extend(other.latencies_micros);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

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

/// A request of `spans_per_request` spans, `spans_per_trace` per trace, unique per `number`.
pub(super) fn build_request(
    number: u64,
    options: &IngestBenchOptions,
) -> ExportTraceServiceRequest {
    let traces = (options.spans_per_request / options.spans_per_trace.max(1)).max(1) as u64;
    let attribute = |key: &str, value: any_value::Value| KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    };
    let spans = (0..options.spans_per_request as u64)
        .map(|position| {
            let trace = number * traces + position % traces;
            let trace_id = bench_trace_id(trace);
            let span_id = (number << 20 | position) | 1 << 63;
            let start = 1_700_000_000_000_000_000 + number * 1_000_000 + position * 1_000;
            Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_be_bytes().to_vec(),
                parent_span_id: if position < traces {
                    Vec::new()
                } else {
                    (span_id - 1).to_be_bytes().to_vec()
                },
                name: format!("GET /api/items/{}", position % 17),
                kind: 2,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 250_000 + position * 10,
                attributes: vec![
                    attribute("http.request.method", any_value::Value::StringValue("GET".into())),
                    attribute(
                        "http.route",
                        any_value::Value::StringValue(format!("/api/items/{}", position % 17)),
                    ),
                    attribute(
                        "http.response.status_code",
                        any_value::Value::IntValue(200 + (position % 5) as i64),
                    ),
                    attribute("db.system", any_value::Value::StringValue("postgresql".into())),
                    attribute("net.peer.port", any_value::Value::IntValue(5432)),
                ],
                status: Some(Status {
                    code: if position % 50 == 0 { 2 } else { 0 },
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    attribute(
                        "service.name",
                        any_value::Value::StringValue(format!("svc-{}", number % 8)),
                    ),
                    attribute("k8s.namespace.name", any_value::Value::StringValue("shop".into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The trace id of generated trace number `trace` (what `build_request` writes).
pub(super) fn bench_trace_id(trace: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(trace ^ 0x5eed_5eed_5eed_5eed).to_be_bytes());
    id[8..].copy_from_slice(&trace.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    id
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
        let http = free_loopback_addr()?;
        let otlp_grpc = free_loopback_addr()?;
        let config = format!(
            "server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: {}\n  log_level: warn\n\
             distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n          endpoint: {otlp_grpc}\n        http:\n          enabled: false\n\
             partitions:\n  count: {partitions}\n\
             storage:\n  trace:\n    wal:\n      path: {}\n    local:\n      path: {}\n\
             live_store:\n  max_bytes_per_tenant: 17179869184\n  recent_window: {recent_window}\n\
             overrides:\n  defaults:\n    ingestion:\n      max_traces_per_user: 100000000\n{extra_yaml}",
            http.port(),
            data.join("wal").display(),
            data.join("blocks").display()
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let split = response.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| response[split + 4..].to_vec())
}

pub(super) fn free_loopback_addr() -> Result<std::net::SocketAddr, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| BenchError::Setup(format!("no free port: {error}")))
}

pub(super) fn tempdir() -> Result<PathBuf, BenchError> {
    let path = std::env::temp_dir().join(format!("spanlake-bench-{}", std::process::id()));
    std::fs::create_dir_all(&path).map_err(|error| BenchError::Setup(error.to_string()))?;
    Ok(path)
}

/// (fsyncs, requests they served) from the node's `/metrics`.
fn fsync_figures(metrics: &str) -> Option<(f64, f64)> {
    let sum_of = |prefix: &str| -> f64 {
        metrics
            .lines()
            .filter(|line| line.starts_with(prefix))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let fsyncs = sum_of("spanlake_wal_requests_per_fsync_count");
    let requests = sum_of("spanlake_wal_requests_per_fsync_sum");
    (fsyncs > 0.0).then_some((fsyncs, requests))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_figures_sum_partitions() {
        let metrics = "spanlake_wal_requests_per_fsync_sum{partition=\"p0\"} 30.0\n\
                       spanlake_wal_requests_per_fsync_count{partition=\"p0\"} 10\n\
                       spanlake_wal_requests_per_fsync_sum{partition=\"p1\"} 10.0\n\
                       spanlake_wal_requests_per_fsync_count{partition=\"p1\"} 10\n";
        assert_eq!(fsync_figures(metrics), Some((20.0, 40.0)));
    }

    #[test]
    fn generated_requests_have_the_asked_shape() {
        let options = IngestBenchOptions {
            duration: Duration::from_secs(1),
            concurrency: 1,
            connections: 1,
            spans_per_request: 100,
            spans_per_trace: 10,
            partitions: 4,
            node_binary: PathBuf::new(),
        };
        let request = build_request(3, &options);
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 100);
        let traces: std::collections::HashSet<_> =
            spans.iter().map(|span| span.trace_id.clone()).collect();
        assert_eq!(traces.len(), 10);
        let other = build_request(4, &options);
        assert!(
            other.resource_spans[0].scope_spans[0]
                .spans
                .iter()
                .all(|span| !traces.contains(&span.trace_id))
        );
    }
}
