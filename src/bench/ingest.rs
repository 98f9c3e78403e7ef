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

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

pub use crate::bench::common::BenchError;
use crate::bench::common::{BenchNode, connect_otlp, export, tempdir};

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
    /// Nodes forming the cluster under test (replication factor min(3, nodes)).
    pub nodes: usize,
    /// Spans per request.
    pub spans_per_request: usize,
    /// Spans per trace.
    pub spans_per_trace: usize,
    /// Partitions of the node under test.
    pub partitions: u32,
    /// The `spanlake` binary to start as the node.
    pub node_binary: PathBuf,
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
            (
                "nodes / replication factor",
                format!("{} / {}", options.nodes.max(1), options.nodes.clamp(1, 3)),
            ),
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
    let mut nodes = start_nodes(options, &data).await?;
    let report = load(options, &nodes).await;
    let mut fsyncs: Option<(f64, f64)> = None;
    let mut node_peak_rss = None;
    for node in &mut nodes {
        if let Some((count, requests)) = node.metrics().await.as_deref().and_then(fsync_figures) {
            let (total_count, total_requests) = fsyncs.unwrap_or((0.0, 0.0));
            fsyncs = Some((total_count + count, total_requests + requests));
        }
        node_peak_rss = node_peak_rss.max(node.peak_rss());
        node.stop();
    }
    let _ = std::fs::remove_dir_all(&data);
    let mut report = report?;
    report.node_peak_rss = node_peak_rss;
    report.fsyncs = fsyncs;
    Ok(report)
}

/// Starts the node, or a cluster of `options.nodes` processes joined through the first one,
/// and waits until every partition is replicated and led.
async fn start_nodes(
    options: &IngestBenchOptions,
    data: &std::path::Path,
) -> Result<Vec<BenchNode>, BenchError> {
    if options.nodes <= 1 {
        let node =
            BenchNode::start(&options.node_binary, data, options.partitions, "30s", "").await?;
        return Ok(vec![node]);
    }
    let token = "bench-admin-token";
    let blocks = data.join("blocks");
    let mut nodes: Vec<BenchNode> = Vec::new();
    let mut seed = None;
    for position in 0..options.nodes {
        let node_data = data.join(format!("node{position}"));
        std::fs::create_dir_all(&node_data)
            .map_err(|error| BenchError::Setup(error.to_string()))?;
        let cluster_port = crate::bench::common::free_loopback_addr()?.port();
        let seeds = seed.as_ref().map(|seed| format!("  seeds: [{seed}]\n")).unwrap_or_default();
        let cluster = format!("cluster:\n  secret: bench-secret\n  admin_token: {token}\n{seeds}");
        let node = BenchNode::start_clustered(
            &options.node_binary,
            &node_data,
            &blocks,
            options.partitions,
            cluster_port,
            &cluster,
        )
        .await?;
        seed.get_or_insert(format!("127.0.0.1:{cluster_port}"));
        nodes.push(node);
    }
    let replicas = options.nodes.min(3);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(view) = nodes[0].admin_cluster(token).await
            && let Some(partitions) = view["partitions"].as_array()
            && partitions.len() == options.partitions as usize
            && partitions.iter().all(|p| {
                p["state"] == "active"
                    && !p["leader"].is_null()
                    && p["replicas"].as_array().map(Vec::len) == Some(replicas)
            })
        {
            return Ok(nodes);
        }
        if Instant::now() > deadline {
            return Err(BenchError::Setup(
                "the cluster did not replicate its partitions within 120 s".to_string(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Drives the node for `options.duration` and measures.
async fn load(
    options: &IngestBenchOptions,
    nodes: &[BenchNode],
) -> Result<IngestBenchReport, BenchError> {
    let payloads: Arc<Vec<Bytes>> = Arc::new(
        (0..PAYLOAD_POOL)
            .map(|number| Bytes::from(build_request(number as u64, options).encode_to_vec()))
            .collect(),
    );
    let mut channels = Vec::new();
    for connection in 0..options.connections.max(1) {
        channels.push(connect_otlp(&nodes[connection % nodes.len()]).await?);
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
            nodes: 1,
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
