//! What `spanlake bench search` measured, and the table it prints.
//!
//! Throughput is measured on full scans only (a limited search stops early): the block bytes
//! searched (`totalBlockBytes`, every block in the window) over the wall time of the request,
//! and over the CPU time the node process used meanwhile (`MB/s/core`): one core at 100% for
//! one second is one CPU second. `inspectedBytes` (what push-down actually fetched) is shown
//! beside it.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::bench::search::{FULL_SCAN_LIMIT, QueryCase};
use crate::bench::search_dataset::{Dataset, IngestTimes};
use crate::proto::tempopb;

/// Below this much node CPU time (two clock ticks) per query, MB/s per core is noise.
const MIN_CPU_SECONDS: f64 = 0.02;

/// The measurements of one query case.
#[derive(Debug, Clone)]
pub(super) struct CaseResult {
    /// What was asked.
    pub case: QueryCase,
    /// Why the case stopped early, if it did.
    pub error: Option<String>,
    latencies: Vec<Duration>,
    /// Node CPU seconds per run; `None` where `/proc` could not be read.
    cpu_seconds: Vec<Option<f64>>,
    traces: Vec<u64>,
    inspected_bytes: Vec<u64>,
    total_block_bytes: u64,
    total_blocks: u32,
}

impl CaseResult {
    /// No runs yet.
    pub(super) fn new(case: QueryCase) -> CaseResult {
        CaseResult {
            case,
            error: None,
            latencies: Vec::new(),
            cpu_seconds: Vec::new(),
            traces: Vec::new(),
            inspected_bytes: Vec::new(),
            total_block_bytes: 0,
            total_blocks: 0,
        }
    }

    /// Records one measured run.
    pub(super) fn add_run(
        &mut self,
        wall: Duration,
        cpu_seconds: Option<f64>,
        traces: u64,
        metrics: Option<tempopb::SearchMetrics>,
    ) {
        let metrics = metrics.unwrap_or_default();
        self.latencies.push(wall);
        self.cpu_seconds.push(cpu_seconds);
        self.traces.push(traces);
        self.inspected_bytes.push(metrics.inspected_bytes);
        self.total_block_bytes = metrics.total_block_bytes;
        self.total_blocks = metrics.total_blocks;
    }

    fn wall_seconds(&self) -> f64 {
        self.latencies.iter().map(Duration::as_secs_f64).sum()
    }

    /// Summed node CPU time, if every run could read it.
    fn cpu_total(&self) -> Option<f64> {
        self.cpu_seconds.iter().copied().sum()
    }

    /// What is wrong with this case's answers, if anything.
    fn problems(&self) -> Vec<String> {
        let name = format!("{} (limit {})", self.case.name, self.case.limit);
        if let Some(error) = &self.error {
            return vec![format!("{name}: {error}")];
        }
        let mut problems = Vec::new();
        if self.total_blocks == 0 {
            problems.push(format!("{name}: the answer reports no blocks searched (totalBlocks 0)"));
        }
        if let Some(traces) = self.traces.iter().find(|&&traces| traces != self.case.expected) {
            problems.push(format!(
                "{name}: returned {traces} traces, the generator made {} that match",
                self.case.expected
            ));
        }
        problems
    }

    fn row(&self) -> String {
        let limit = if self.case.limit >= FULL_SCAN_LIMIT {
            "full".to_string()
        } else {
            self.case.limit.to_string()
        };
        let head = format!("{:<11} {limit:>5}", self.case.name);
        if let Some(error) = &self.error {
            return format!("{head}  FAILED: {error}");
        }
        let mut latencies = self.latencies.clone();
        latencies.sort();
        let median = |values: &[u64]| {
            let mut sorted = values.to_vec();
            sorted.sort_unstable();
            sorted.get(sorted.len() / 2).copied().unwrap_or(0)
        };
        let ms = |duration: Option<&Duration>| {
            duration.map_or(0.0, |duration| duration.as_secs_f64() * 1e3)
        };
        let runs = self.latencies.len().max(1) as f64;
        let full_scan = self.case.limit >= FULL_SCAN_LIMIT;
        let megabytes = self.total_block_bytes as f64 * runs / 1e6;
        let cpu_ms =
            self.cpu_total().map_or("-".to_string(), |cpu| format!("{:.0}", cpu / runs * 1e3));
        let per_core = match self.cpu_total() {
            Some(cpu) if full_scan && cpu >= MIN_CPU_SECONDS => rate(megabytes / cpu),
            _ => "-".to_string(),
        };
        let per_wall = if full_scan {
            rate(megabytes / self.wall_seconds().max(1e-9))
        } else {
            "-".to_string()
        };
        format!(
            "{head} {:>9.1} {:>9.1} {:>7} {:>8} {:>9.1} {:>9.1} {cpu_ms:>7} {:>8} {per_core:>9}",
            ms(latencies.get(latencies.len() / 2)),
            ms(latencies.first()),
            self.traces.last().copied().unwrap_or(0),
            self.case.expected,
            median(&self.inspected_bytes) as f64 / 1e6,
            self.total_block_bytes as f64 / 1e6,
            per_wall,
        )
    }
}

/// MB/s with the digits that matter.
fn rate(megabytes_per_second: f64) -> String {
    match megabytes_per_second {
        rate if rate >= 100.0 => format!("{rate:.0}"),
        rate if rate >= 1.0 => format!("{rate:.1}"),
        rate => format!("{rate:.2}"),
    }
}

/// The machine the benchmark ran on.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Cores available to processes.
    pub cores: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
}

impl Machine {
    /// This machine.
    pub fn this() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".to_string());
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        Machine { cores, cpu_model }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct SearchBenchReport {
    dataset: Dataset,
    ingest: Option<IngestTimes>,
    /// (data.parquet bytes, every block object's bytes).
    disk: (u64, u64),
    results: Vec<CaseResult>,
    runs: usize,
    node_peak_rss: Option<u64>,
    data_dir: Option<PathBuf>,
    machine: Machine,
}

impl SearchBenchReport {
    /// Gathers the figures.
    pub(super) fn new(
        dataset: Dataset,
        ingest: Option<IngestTimes>,
        disk: (u64, u64),
        results: Vec<CaseResult>,
        runs: usize,
        node_peak_rss: Option<u64>,
        data_dir: Option<PathBuf>,
    ) -> SearchBenchReport {
        SearchBenchReport {
            dataset,
            ingest,
            disk,
            results,
            runs,
            node_peak_rss,
            data_dir,
            machine: Machine::this(),
        }
    }

    /// Answers that were wrong or failed: the table's figures cannot be trusted for them.
    pub fn problems(&self) -> Vec<String> {
        self.results.iter().flat_map(CaseResult::problems).collect()
    }

    /// A plain-text table.
    pub fn table(&self) -> String {
        let dataset = &self.dataset;
        let spans = dataset.spans.max(1) as f64;
        let blocks = self.results.iter().map(|result| result.total_blocks).max().unwrap_or(0);
        let mut rows = vec![
            ("machine", format!("{} cores, {}", self.machine.cores, self.machine.cpu_model)),
            (
                "dataset",
                format!(
                    "{} spans in {} traces ({:.1} per trace), seed {}, {} partitions",
                    dataset.spans,
                    dataset.traces,
                    spans / dataset.traces.max(1) as f64,
                    dataset.seed,
                    dataset.partitions
                ),
            ),
            (
                "blocks",
                format!(
                    "{blocks} blocks, {:.1} MB on disk ({:.1} MB data.parquet)",
                    self.disk.1 as f64 / 1e6,
                    self.disk.0 as f64 / 1e6
                ),
            ),
            (
                "bytes per span",
                format!(
                    "{:.1} on disk, {:.1} as OTLP protobuf",
                    self.disk.1 as f64 / spans,
                    dataset.wire_bytes as f64 / spans
                ),
            ),
        ];
        match (&self.ingest, &self.data_dir) {
            (Some(times), _) => rows.push((
                "ingest",
                format!(
                    "{:.1} s ({:.0} spans/s), all in blocks {:.1} s later",
                    times.ingest.as_secs_f64(),
                    spans / times.ingest.as_secs_f64().max(1e-9),
                    times.flush_wait.as_secs_f64()
                ),
            )),
            (None, Some(dir)) => {
                rows.push(("ingest", format!("none: dataset reused from {}", dir.display())))
            }
            (None, None) => {}
        }
        if let Some(rss) = self.node_peak_rss {
            rows.push(("node peak RSS", format!("{:.0} MiB", rss as f64 / (1024.0 * 1024.0))));
        }
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut table: String =
            rows.iter().map(|(name, value)| format!("{name:<width$}  {value}\n")).collect();
        let _ = writeln!(
            table,
            "\n{:<11} {:>5} {:>9} {:>9} {:>7} {:>8} {:>9} {:>9} {:>7} {:>8} {:>9}",
            "query",
            "limit",
            "p50 ms",
            "min ms",
            "traces",
            "expected",
            "insp. MB",
            "block MB",
            "cpu ms",
            "MB/s",
            "MB/s/core"
        );
        for result in &self.results {
            let _ = writeln!(table, "{}", result.row());
        }
        let _ = writeln!(
            table,
            "\ntimed runs per query: {}, after a warm-up; full = limit {FULL_SCAN_LIMIT} (the node's \
             max_result_limit).\nMB/s = block MB searched / wall time; MB/s/core = block MB / \
             node CPU time (user + system from /proc, 100 ticks/s assumed), full scans only;\n\
             insp. MB = bytes the search fetched (push-down skips the rest); cpu ms per query.\n\
             Goals on full scans: simple filters >= 1000 MB/s/core, structural >= 300 MB/s/core.",
            self.runs
        );
        let mut shown = Vec::new();
        for result in &self.results {
            if !shown.contains(&result.case.name) {
                shown.push(result.case.name);
                let _ = writeln!(table, "  {:<11} {}", result.case.name, result.case.query);
            }
        }
        let problems = self.problems();
        if !problems.is_empty() {
            let _ = writeln!(table, "\nPROBLEMS");
            for problem in problems {
                let _ = writeln!(table, "  {problem}");
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &'static str, limit: u32, expected: u64) -> QueryCase {
        QueryCase { name, query: "{ }".to_string(), limit, expected }
    }

    fn metrics(inspected: u64) -> Option<tempopb::SearchMetrics> {
        Some(tempopb::SearchMetrics {
            inspected_bytes: inspected,
            total_block_bytes: 4_000_000,
            total_blocks: 4,
            ..Default::default()
        })
    }

    #[test]
    fn a_row_shows_latency_and_throughput_per_wall_and_cpu_second() {
        let mut result = CaseResult::new(case("status-500", FULL_SCAN_LIMIT, 7));
        result.add_run(Duration::from_millis(100), Some(0.2), 7, metrics(4_000_000));
        result.add_run(Duration::from_millis(300), Some(0.2), 7, metrics(4_000_000));
        let row = result.row();
        let columns: Vec<&str> = row.split_whitespace().collect();
        // name, limit, p50, min, traces, expected, inspected, block, cpu ms, MB/s, MB/s/core
        assert_eq!(
            columns,
            ["status-500", "full", "300.0", "100.0", "7", "7", "4.0", "4.0", "200", "20.0", "20.0"]
        );
        let mut limited = CaseResult::new(case("status-500", 20, 7));
        limited.add_run(Duration::from_millis(100), Some(0.2), 7, metrics(1_000_000));
        let columns: Vec<String> = limited.row().split_whitespace().map(str::to_string).collect();
        assert_eq!(
            columns[6..],
            ["1.0", "4.0", "200", "-", "-"].map(str::to_string),
            "no throughput for a search that may stop early"
        );
        assert!(result.problems().is_empty());
    }

    #[test]
    fn wrong_answers_and_unsearched_blocks_are_problems() {
        let mut result = CaseResult::new(case("rare-value", 20, 1));
        result.add_run(Duration::from_millis(1), Some(0.0), 0, None);
        let problems = result.problems().join("\n");
        assert!(problems.contains("no blocks searched"), "{problems}");
        assert!(problems.contains("returned 0 traces"), "{problems}");
        assert!(result.row().ends_with('-'), "too little CPU for a per-core figure");

        let mut failed = CaseResult::new(case("no-match", 20, 0));
        failed.error = Some("HTTP 504: search timed out".to_string());
        assert!(failed.row().contains("FAILED: HTTP 504"));
        assert_eq!(failed.problems().len(), 1);
    }
}
