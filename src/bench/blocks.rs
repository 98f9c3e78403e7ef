//! `spanlake bench blocks`: what blocks cost and how fast trace-by-id is served from them.
//!
//! ```text
//!  1. ingest N unique spans over OTLP/gRPC into a node (child process, local blocks)
//!  2. wait until every span is in a block and out of memory (recent window 0)
//!  3. bytes per span on disk (data objects; all objects) vs OTLP protobuf on the wire;
//!     block build throughput from the builders' own metrics
//!  4. trace by id (v2, protobuf) for random ingested traces: warm-up, then p50/p99/max
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;

use crate::bench::common::{
    BenchError, BenchNode, connect_otlp, disk_usage, export_with_retry, http_get_bytes, tempdir,
    wait_until_in_blocks,
};
use crate::bench::ingest::{IngestBenchOptions, bench_trace_id, build_request};
use crate::model::ids::hex_lower;
use crate::proto::tempopb;

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct BlocksBenchOptions {
    /// Spans to ingest.
    pub spans: u64,
    /// Spans per request.
    pub spans_per_request: usize,
    /// Spans per trace.
    pub spans_per_trace: usize,
    /// Requests in flight while ingesting.
    pub concurrency: usize,
    /// Trace-by-id lookups measured (after as many warm-up lookups).
    pub lookups: usize,
    /// Partitions of the node.
    pub partitions: u32,
    /// The `spanlake` binary to start as the node.
    pub node_binary: PathBuf,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct BlocksBenchReport {
    /// Spans acknowledged.
    pub spans: u64,
    /// OTLP protobuf bytes sent.
    pub wire_bytes: u64,
    /// Ingest wall time.
    pub ingest: Duration,
    /// From the last ack until every span was in blocks.
    pub flush_wait: Duration,
    /// Blocks written.
    pub blocks: f64,
    /// Spans written into blocks.
    pub spans_flushed: f64,
    /// Summed flush time.
    pub flush_seconds: f64,
    /// Bytes of `data.parquet` objects; of every block object.
    pub data_bytes: u64,
    /// Bytes of every block object.
    pub block_bytes: u64,
    /// Lookup latency: cold (first pass) p50/p99, warm p50/p99/max.
    pub lookups_cold: [Duration; 2],
    /// Warm lookup latency.
    pub lookups_warm: [Duration; 3],
    /// Lookups that found the expected number of spans.
    pub lookups_complete: usize,
    /// Peak RSS of the node.
    pub node_peak_rss: Option<u64>,
}

impl BlocksBenchReport {
    /// A plain-text table.
    pub fn table(&self, options: &BlocksBenchOptions) -> String {
        let spans = self.spans.max(1) as f64;
        let ms = |duration: Duration| format!("{:.2} ms", duration.as_secs_f64() * 1e3);
        let mut rows = vec![
            ("spans ingested", format!("{} ({} per trace)", self.spans, options.spans_per_trace)),
            (
                "ingest",
                format!(
                    "{:.1} s ({:.0} spans/s)",
                    self.ingest.as_secs_f64(),
                    spans / self.ingest.as_secs_f64().max(1e-9)
                ),
            ),
            ("wait until all in blocks", format!("{:.1} s", self.flush_wait.as_secs_f64())),
            ("blocks", format!("{:.0}", self.blocks)),
            (
                "block build throughput",
                format!(
                    "{:.0} spans/s per builder (one flush at a time per partition)",
                    self.spans_flushed / self.flush_seconds.max(1e-9)
                ),
            ),
            ("OTLP protobuf bytes/span", format!("{:.1}", self.wire_bytes as f64 / spans)),
            ("data.parquet bytes/span", format!("{:.1}", self.data_bytes as f64 / spans)),
            ("all block objects bytes/span", format!("{:.1}", self.block_bytes as f64 / spans)),
            (
                "compression vs OTLP protobuf",
                format!("{:.1}x", self.wire_bytes as f64 / self.block_bytes.max(1) as f64),
            ),
            (
                "trace by id, cold p50 / p99",
                format!("{} / {}", ms(self.lookups_cold[0]), ms(self.lookups_cold[1])),
            ),
            (
                "trace by id, warm p50 / p99 / max",
                format!(
                    "{} / {} / {}",
                    ms(self.lookups_warm[0]),
                    ms(self.lookups_warm[1]),
                    ms(self.lookups_warm[2])
                ),
            ),
            ("lookups complete", format!("{} of {}", self.lookups_complete, options.lookups * 2)),
        ];
        if let Some(rss) = self.node_peak_rss {
            rows.push(("node peak RSS", format!("{:.0} MiB", rss as f64 / (1024.0 * 1024.0))));
        }
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        rows.iter().map(|(name, value)| format!("{name:<width$}  {value}\n")).collect()
    }
}

/// Runs the benchmark end to end.
pub async fn run_blocks_bench(
    options: &BlocksBenchOptions,
) -> Result<BlocksBenchReport, BenchError> {
    let data = tempdir()?;
    let builder = "block_builder:\n  trace_idle_period: 2s\n  flush_check_period: 250ms\n";
    let mut node =
        BenchNode::start(&options.node_binary, &data, options.partitions, "0s", builder).await?;
    let result = measure(options, &node, &data).await;
    let peak = node.peak_rss();
    node.stop();
    let _ = std::fs::remove_dir_all(&data);
    let mut report = result?;
    report.node_peak_rss = peak;
    Ok(report)
}

async fn measure(
    options: &BlocksBenchOptions,
    node: &BenchNode,
    data: &Path,
) -> Result<BlocksBenchReport, BenchError> {
    let ingest_options = IngestBenchOptions {
        duration: Duration::ZERO,
        concurrency: options.concurrency,
        connections: 4,
        nodes: 1,
        spans_per_request: options.spans_per_request,
        spans_per_trace: options.spans_per_trace,
        partitions: options.partitions,
        node_binary: options.node_binary.clone(),
    };
    let requests = options.spans.div_ceil(options.spans_per_request.max(1) as u64);
    let progress = indicatif::ProgressBar::new(requests);
    progress.set_style(
        indicatif::ProgressStyle::with_template("ingest {bar:40} {pos}/{len} requests {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let channel = connect_otlp(node).await?;
    let next = Arc::new(AtomicU64::new(0));
    let wire_bytes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.max(1) {
        let (channel, next, wire_bytes, progress) =
            (channel.clone(), next.clone(), wire_bytes.clone(), progress.clone());
        let ingest_options = ingest_options.clone();
        workers.push(tokio::spawn(async move {
            let mut client = tonic::client::Grpc::new(channel);
            loop {
                let number = next.fetch_add(1, Ordering::Relaxed);
                if number >= requests {
                    return Ok(());
                }
                let payload = Bytes::from(build_request(number, &ingest_options).encode_to_vec());
                let size = payload.len() as u64;
                export_with_retry(&mut client, payload).await?;
                wire_bytes.fetch_add(size, Ordering::Relaxed);
                progress.inc(1);
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|error| BenchError::Setup(error.to_string()))??;
    }
    progress.finish_and_clear();
    let ingest = started.elapsed();
    let spans = requests * options.spans_per_request as u64;

    let waiting = Instant::now();
    let flushed = wait_until_in_blocks(node, spans, Duration::from_secs(1800)).await?;
    let flush_wait = waiting.elapsed();
    let (data_bytes, block_bytes) = disk_usage(&data.join("blocks"));

    let traces_per_request =
        (options.spans_per_request / options.spans_per_trace.max(1)).max(1) as u64;
    let traces = requests * traces_per_request;
    let mut random = xorshift(0x5eed_cafe);
    let expected_spans = options.spans_per_trace;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut complete = 0;
    let lookup_bar = indicatif::ProgressBar::new((options.lookups * 2) as u64);
    for pass in 0..2 {
        for _ in 0..options.lookups {
            let trace = random() % traces.max(1);
            let trace_hex = hex_lower(&bench_trace_id(trace));
            let sent = Instant::now();
            let body = http_get_bytes(
                node.http,
                &format!("/api/v2/traces/{trace_hex}"),
                "application/protobuf",
            )
            .await;
            let elapsed = sent.elapsed();
            let found = body
                .and_then(|body| tempopb::TraceByIdResponse::decode(body.as_slice()).ok())
                .and_then(|response| response.trace)
                .map(|trace| {
                    trace
                        .resource_spans
                        .iter()
                        .flat_map(|rs| &rs.scope_spans)
                        .map(|ss| ss.spans.len())
                        .sum::<usize>()
                })
                .unwrap_or(0);
            if found == expected_spans {
                complete += 1;
            }
            if pass == 0 {
                cold.push(elapsed)
            } else {
                warm.push(elapsed)
            }
            lookup_bar.inc(1);
        }
    }
    lookup_bar.finish_and_clear();
    cold.sort();
    warm.sort();
    let at = |values: &[Duration], p: f64| {
        values.get(((values.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
    };
    Ok(BlocksBenchReport {
        spans,
        wire_bytes: wire_bytes.load(Ordering::Relaxed),
        ingest,
        flush_wait,
        blocks: flushed.blocks,
        spans_flushed: flushed.spans_flushed,
        flush_seconds: flushed.flush_seconds,
        data_bytes,
        block_bytes,
        lookups_cold: [at(&cold, 0.5), at(&cold, 0.99)],
        lookups_warm: [at(&warm, 0.5), at(&warm, 0.99), at(&warm, 1.0)],
        lookups_complete: complete,
        node_peak_rss: None,
    })
}

/// A tiny deterministic generator (no rand dependency for one benchmark).
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.max(1);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
