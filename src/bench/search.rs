//! `spanlake bench search`: TraceQL search over millions of spans in blocks, through the
//! HTTP API Grafana uses.
//!
//! ```text
//!  1. dataset: the generated shop (shop.rs), N spans over OTLP/gRPC into a node (child
//!     process, local blocks), then wait until every span is in a block and out of memory;
//!     with --data-dir, a dataset made earlier with the same spans and seed is searched again
//!  2. per query, with limit 20 and with a full-scan limit: a warm-up, then `runs` timed
//!     GET /api/search (a window over all the data, so blocks are searched), reading the
//!     node's CPU time (/proc/<pid>/stat) around each
//!  3. a table (search_report.rs): latency p50/min, traces found vs what the generator
//!     knows match, inspected/total block bytes, MB/s of wall time and per node CPU second
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use prost::Message;

use crate::bench::common::{
    BenchError, BenchNode, disk_usage, http_get_response, tempdir, wait_until_in_blocks,
};
use crate::bench::search_dataset::{DataDirState, Dataset, ingest, inspect_data_dir};
use crate::bench::search_report::{CaseResult, SearchBenchReport};
use crate::bench::shop::{BASE_UNIX_NANOS, ORDER_ID_KEY, TRACE_SPACING_NANOS, rare_order_id};
use crate::proto::tempopb;

/// Grafana's default `limit`.
const GRAFANA_LIMIT: u32 = 20;
/// The largest limit the node accepts by default (`max_result_limit`): no query reaches it,
/// so every block is read.
pub(super) const FULL_SCAN_LIMIT: u32 = 262_144;
/// How long a reused node may take to settle (replay and flush what its log still holds).
const SETTLE_DEADLINE: Duration = Duration::from_secs(600);

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct SearchBenchOptions {
    /// Spans to generate.
    pub spans: u64,
    /// Seed of the generated dataset.
    pub seed: u64,
    /// Timed runs per query (after one warm-up).
    pub runs: usize,
    /// Keeps the node's data here, and reuses a dataset already made here.
    pub data_dir: Option<PathBuf>,
    /// Requests in flight while ingesting.
    pub concurrency: usize,
    /// Partitions of the node.
    pub partitions: u32,
    /// The `spanlake` binary to start as the node.
    pub node_binary: PathBuf,
}

/// One measured query.
#[derive(Debug, Clone)]
pub(super) struct QueryCase {
    /// Short name, one word (the table's first column).
    pub name: &'static str,
    /// TraceQL text.
    pub query: String,
    /// `limit` sent.
    pub limit: u32,
    /// Traces the answer must hold, as the generator knows.
    pub expected: u64,
}

/// Runs the benchmark end to end.
pub async fn run_search_bench(
    options: &SearchBenchOptions,
) -> Result<SearchBenchReport, BenchError> {
    let (data, keep) = match &options.data_dir {
        Some(dir) => (dir.clone(), true),
        None => (tempdir()?, false),
    };
    let result = bench_in(options, &data).await;
    if !keep {
        let _ = std::fs::remove_dir_all(&data);
    }
    result
}

async fn bench_in(
    options: &SearchBenchOptions,
    data: &std::path::Path,
) -> Result<SearchBenchReport, BenchError> {
    let state = inspect_data_dir(data, options.spans, options.seed, options.partitions)?;
    let builder = "block_builder:\n  trace_idle_period: 2s\n  flush_check_period: 250ms\n";
    let mut node =
        BenchNode::start(&options.node_binary, data, options.partitions, "0s", builder).await?;
    let (dataset, ingest_times) = match state {
        DataDirState::Empty => {
            let (dataset, times) = ingest(
                &node,
                data,
                options.spans,
                options.seed,
                options.partitions,
                options.concurrency,
            )
            .await?;
            (dataset, Some(times))
        }
        DataDirState::Ready(dataset) => {
            wait_until_in_blocks(&node, 0, SETTLE_DEADLINE).await?;
            (dataset, None)
        }
    };
    let rare = rare_order_id(dataset.seed, dataset.traces);
    let cases = query_cases(&dataset, rare.as_ref().map(|(_, id)| id.as_str()));
    let window = search_window(&dataset);
    let progress = indicatif::ProgressBar::new((cases.len() * (options.runs + 1)) as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("search {bar:40} {pos}/{len} searches {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut results = Vec::new();
    for case in cases {
        progress.set_message(format!("{} limit {}", case.name, case.limit));
        results.push(measure_case(&node, case, window, options.runs, &progress).await);
    }
    progress.finish_and_clear();
    let peak_rss = node.peak_rss();
    node.stop();
    Ok(SearchBenchReport::new(
        dataset,
        ingest_times,
        disk_usage(&data.join("blocks")),
        results,
        options.runs,
        peak_rss,
        options.data_dir.clone(),
    ))
}

/// The queries the issue asks for, each with Grafana's limit and as a full scan; `{ }`
/// with Grafana's limit only (a full scan would return every trace).
pub(super) fn query_cases(dataset: &Dataset, rare_order_id: Option<&str>) -> Vec<QueryCase> {
    let mut queries = vec![
        ("no-match", "{ resource.service.name = \"no-such-service\" }".to_string(), 0),
        ("status-500", "{ span.http.status_code = 500 }".to_string(), dataset.traces_with_500),
        (
            "structural",
            "{ kind = server } >> { status = error }".to_string(),
            dataset.traces_error_below_server,
        ),
    ];
    if let Some(order_id) = rare_order_id {
        queries.push(("rare-value", format!("{{ span.{ORDER_ID_KEY} = \"{order_id}\" }}"), 1));
    }
    let mut cases = Vec::new();
    for (name, query, matching) in queries {
        for limit in [GRAFANA_LIMIT, FULL_SCAN_LIMIT] {
            let expected = matching.min(u64::from(limit));
            cases.push(QueryCase { name, query: query.clone(), limit, expected });
        }
    }
    cases.push(QueryCase {
        name: "match-all",
        query: "{ }".to_string(),
        limit: GRAFANA_LIMIT,
        expected: dataset.traces.min(u64::from(GRAFANA_LIMIT)),
    });
    cases
}

/// `start`/`end` (Unix seconds) around every generated trace.
fn search_window(dataset: &Dataset) -> (u64, u64) {
    let first = BASE_UNIX_NANOS / 1_000_000_000;
    let last = (BASE_UNIX_NANOS + dataset.traces * TRACE_SPACING_NANOS) / 1_000_000_000;
    (first - 60, last + 3600)
}

/// A warm-up search, then `runs` measured ones.
async fn measure_case(
    node: &BenchNode,
    case: QueryCase,
    window: (u64, u64),
    runs: usize,
    progress: &indicatif::ProgressBar,
) -> CaseResult {
    let mut result = CaseResult::new(case);
    let warm_up = search(node, &result.case, window).await;
    progress.inc(1);
    if let Err(error) = warm_up {
        result.error = Some(error);
        return result;
    }
    for _ in 0..runs.max(1) {
        let cpu_before = node.cpu_seconds();
        let started = Instant::now();
        let answer = search(node, &result.case, window).await;
        let wall = started.elapsed();
        let cpu_after = node.cpu_seconds();
        progress.inc(1);
        match answer {
            Ok(answer) => {
                let cpu = cpu_before.zip(cpu_after).map(|(before, after)| after - before);
                result.add_run(wall, cpu, answer.traces.len() as u64, answer.metrics);
            }
            Err(error) => {
                result.error = Some(error);
                return result;
            }
        }
    }
    result
}

/// One `GET /api/search` (protobuf answer, as Grafana asks for streaming off).
async fn search(
    node: &BenchNode,
    case: &QueryCase,
    (start, end): (u64, u64),
) -> Result<tempopb::SearchResponse, String> {
    let path = format!(
        "/api/search?q={}&start={start}&end={end}&limit={}",
        percent_encode(&case.query),
        case.limit
    );
    let (status, body) = http_get_response(node.http, &path, "application/protobuf").await?;
    if status != 200 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body).trim()));
    }
    tempopb::SearchResponse::decode(body.as_slice())
        .map_err(|error| format!("undecodable search answer: {error}"))
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay).
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("{ span.a = \"x y\" } >> {}"),
            "%7B%20span.a%20%3D%20%22x%20y%22%20%7D%20%3E%3E%20%7B%7D"
        );
    }

    #[test]
    fn every_query_is_valid_traceql_and_expects_what_the_limit_allows() {
        let dataset = Dataset {
            traces: 1000,
            traces_with_500: 30,
            traces_error_below_server: 12,
            ..Dataset::default()
        };
        let cases = query_cases(&dataset, Some("ord-0123456789abcdef"));
        assert_eq!(cases.len(), 9);
        for case in &cases {
            assert!(crate::traceql::parse_and_validate(&case.query).is_ok(), "{}", case.query);
        }
        let expected = |name: &str, limit: u32| {
            cases.iter().find(|c| c.name == name && c.limit == limit).map(|c| c.expected)
        };
        assert_eq!(expected("status-500", GRAFANA_LIMIT), Some(20));
        assert_eq!(expected("status-500", FULL_SCAN_LIMIT), Some(30));
        assert_eq!(expected("structural", GRAFANA_LIMIT), Some(12));
        assert_eq!(expected("rare-value", FULL_SCAN_LIMIT), Some(1));
        assert_eq!(expected("match-all", GRAFANA_LIMIT), Some(20));
    }

    #[test]
    fn the_window_covers_every_trace_and_stays_within_a_week() {
        let dataset = Dataset { traces: 400_000, ..Dataset::default() };
        let (start, end) = search_window(&dataset);
        assert!(start * 1_000_000_000 < BASE_UNIX_NANOS);
        assert!(end * 1_000_000_000 > BASE_UNIX_NANOS + 400_000 * TRACE_SPACING_NANOS);
        assert!(end - start < 168 * 3600);
    }
}
