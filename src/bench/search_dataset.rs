//! The dataset of `spanlake bench search`: the generated shop ingested into a node, or found
//! again in a `--data-dir` made by an earlier run.
//!
//! ```text
//!  generator (blocking thread) ── encoded requests ──► `concurrency` OTLP/gRPC exports ──► node
//!        │ facts: spans, traces, traces matching each query                       │
//!        └──────────────► marker file in the data dir ◄── once every span is in a block
//! ```
//!
//! The marker is written last, so a directory holding one holds a complete dataset; its
//! facts (what each query should find) let a later run check answers without generating
//! the data again.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::bench::common::{
    BenchError, BenchNode, connect_otlp, export_with_retry, wait_until_in_blocks,
};
use crate::bench::shop::{ShopBatch, generate_trace};

/// File in the data dir describing the finished dataset.
pub(super) const MARKER_FILE: &str = "spanlake-bench-search.dataset";
/// Bumped whenever the generator changes what a seed gives, so old data dirs are refused.
const GENERATOR_VERSION: u64 = 1;
/// Spans per export request (whole traces, so a little more).
const SPANS_PER_REQUEST: u64 = 1_000;
/// Longest wait for the last spans to reach blocks.
const FLUSH_DEADLINE: Duration = Duration::from_secs(3600);

/// What a dataset is and what the generator knows about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Dataset {
    /// `--spans` asked for.
    pub spans_asked: u64,
    /// `--seed`.
    pub seed: u64,
    /// Partitions of the node that holds it.
    pub partitions: u32,
    /// Spans generated (whole traces: at least `spans_asked`).
    pub spans: u64,
    /// Traces generated.
    pub traces: u64,
    /// OTLP protobuf bytes sent.
    pub wire_bytes: u64,
    /// Blocks the builders wrote.
    pub blocks: u64,
    /// Traces with a span whose `http.status_code` is 500.
    pub traces_with_500: u64,
    /// Traces with an error span below a server span.
    pub traces_error_below_server: u64,
}

impl Dataset {
    fn to_marker(&self) -> String {
        format!(
            "generator={GENERATOR_VERSION}\nspans_asked={}\nseed={}\npartitions={}\nspans={}\n\
             traces={}\nwire_bytes={}\nblocks={}\ntraces_with_500={}\ntraces_error_below_server={}\n",
            self.spans_asked,
            self.seed,
            self.partitions,
            self.spans,
            self.traces,
            self.wire_bytes,
            self.blocks,
            self.traces_with_500,
            self.traces_error_below_server
        )
    }

    /// Reads a marker; `None` when it is not one of this generator version.
    fn from_marker(text: &str) -> Option<Dataset> {
        let value = |key: &str| -> Option<u64> {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(name, _)| *name == key)
                .and_then(|(_, value)| value.trim().parse().ok())
        };
        if value("generator")? != GENERATOR_VERSION {
            return None;
        }
        Some(Dataset {
            spans_asked: value("spans_asked")?,
            seed: value("seed")?,
            partitions: u32::try_from(value("partitions")?).ok()?,
            spans: value("spans")?,
            traces: value("traces")?,
            wire_bytes: value("wire_bytes")?,
            blocks: value("blocks")?,
            traces_with_500: value("traces_with_500")?,
            traces_error_below_server: value("traces_error_below_server")?,
        })
    }
}

/// What the data dir holds before the node starts.
#[derive(Debug)]
pub(super) enum DataDirState {
    /// Nothing yet: ingest.
    Empty,
    /// The same dataset, complete: search only.
    Ready(Dataset),
}

/// Looks at `dir`: empty (created if missing), or holding the dataset asked for. Anything
/// else is refused rather than deleted: the directory is the user's.
pub(super) fn inspect_data_dir(
    dir: &Path,
    spans: u64,
    seed: u64,
    partitions: u32,
) -> Result<DataDirState, BenchError> {
    std::fs::create_dir_all(dir)
        .map_err(|error| BenchError::Setup(format!("cannot create {}: {error}", dir.display())))?;
    let refuse = |what: String| {
        BenchError::Setup(format!(
            "{} {what}; delete it or choose another --data-dir",
            dir.display()
        ))
    };
    match std::fs::read_to_string(dir.join(MARKER_FILE)) {
        Ok(text) => match Dataset::from_marker(&text) {
            Some(dataset)
                if (dataset.spans_asked, dataset.seed, dataset.partitions)
                    == (spans, seed, partitions) =>
            {
                Ok(DataDirState::Ready(dataset))
            }
            Some(dataset) => Err(refuse(format!(
                "holds a dataset of {} spans, seed {}, {} partitions (asked: {spans}, {seed}, {partitions})",
                dataset.spans_asked, dataset.seed, dataset.partitions
            ))),
            None => Err(refuse("holds a dataset of another generator version".to_string())),
        },
        Err(_) => {
            let has_entries =
                std::fs::read_dir(dir).map(|mut entries| entries.next().is_some()).unwrap_or(false);
            if has_entries {
                Err(refuse("is not empty but holds no finished dataset".to_string()))
            } else {
                Ok(DataDirState::Empty)
            }
        }
    }
}

/// How long making the dataset took.
#[derive(Debug, Clone, Copy)]
pub(super) struct IngestTimes {
    /// From the first export to the last acknowledgement.
    pub ingest: Duration,
    /// From then until every span was in a block.
    pub flush_wait: Duration,
}

/// Generates `spans` spans of dataset `seed`, ingests them into `node`, waits until they are
/// all in blocks and writes the marker into `data_dir`.
pub(super) async fn ingest(
    node: &BenchNode,
    data_dir: &Path,
    spans: u64,
    seed: u64,
    partitions: u32,
    concurrency: usize,
) -> Result<(Dataset, IngestTimes), BenchError> {
    let channel = connect_otlp(node).await?;
    let concurrency = concurrency.max(1);
    let (sender, receiver) = mpsc::channel::<(Bytes, u64)>(concurrency * 2);
    let generator = tokio::task::spawn_blocking(move || generate(spans, seed, partitions, sender));
    let progress = indicatif::ProgressBar::new(spans);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "ingest {bar:40} {pos}/{len} spans {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut acknowledged = ReceiverStream::new(receiver)
        .map(|(payload, request_spans)| {
            let mut client = tonic::client::Grpc::new(channel.clone());
            async move { export_with_retry(&mut client, payload).await.map(|()| request_spans) }
        })
        .buffer_unordered(concurrency);
    while let Some(outcome) = acknowledged.next().await {
        // On a failure the stream is dropped, which stops the generator too.
        progress.inc(outcome?);
    }
    drop(acknowledged);
    progress.finish_and_clear();
    let ingest_time = started.elapsed();
    let mut dataset = generator
        .await
        .map_err(|error| BenchError::Setup(format!("the generator failed: {error}")))?;

    let waiting = Instant::now();
    let flushed = wait_until_in_blocks(node, dataset.spans, FLUSH_DEADLINE).await?;
    dataset.blocks = flushed.blocks as u64;
    std::fs::write(data_dir.join(MARKER_FILE), dataset.to_marker())
        .map_err(|error| BenchError::Setup(format!("cannot write the dataset marker: {error}")))?;
    Ok((dataset, IngestTimes { ingest: ingest_time, flush_wait: waiting.elapsed() }))
}

/// Makes the dataset's export requests in order, whole traces each, and what it knows
/// about them. Blocking: run it on its own thread.
fn generate(
    spans: u64,
    seed: u64,
    partitions: u32,
    requests: mpsc::Sender<(Bytes, u64)>,
) -> Dataset {
    let mut dataset = Dataset { spans_asked: spans, seed, partitions, ..Dataset::default() };
    while dataset.spans < spans {
        let mut batch = ShopBatch::default();
        while batch.spans < SPANS_PER_REQUEST && dataset.spans + batch.spans < spans {
            let trace = generate_trace(seed, dataset.traces);
            dataset.traces += 1;
            dataset.traces_with_500 += u64::from(trace.has_status_500());
            dataset.traces_error_below_server += u64::from(trace.has_error_below_server());
            batch.add(trace);
        }
        let batch_spans = batch.spans;
        let payload = Bytes::from(batch.into_request(seed).encode_to_vec());
        dataset.spans += batch_spans;
        dataset.wire_bytes += payload.len() as u64;
        if requests.blocking_send((payload, batch_spans)).is_err() {
            break; // the exporters stopped on an error, which they report
        }
    }
    dataset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_reads_back() {
        let dataset = Dataset {
            spans_asked: 1000,
            seed: 7,
            partitions: 4,
            spans: 1012,
            traces: 44,
            wire_bytes: 300_000,
            blocks: 4,
            traces_with_500: 1,
            traces_error_below_server: 2,
        };
        assert_eq!(Dataset::from_marker(&dataset.to_marker()), Some(dataset.clone()));
        let other_version = dataset.to_marker().replace("generator=1", "generator=0");
        assert_eq!(Dataset::from_marker(&other_version), None);
    }

    #[test]
    fn a_data_dir_is_used_only_when_empty_or_holding_the_same_dataset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        assert!(matches!(inspect_data_dir(&data, 100, 1, 4), Ok(DataDirState::Empty)));
        let dataset = Dataset { spans_asked: 100, seed: 1, partitions: 4, ..Dataset::default() };
        std::fs::write(data.join(MARKER_FILE), dataset.to_marker()).expect("write");
        assert!(
            matches!(inspect_data_dir(&data, 100, 1, 4), Ok(DataDirState::Ready(found)) if found == dataset)
        );
        let error = inspect_data_dir(&data, 100, 2, 4).expect_err("another seed");
        assert!(error.to_string().contains("seed 1"), "{error}");
        std::fs::remove_file(data.join(MARKER_FILE)).expect("remove");
        std::fs::write(data.join("wal"), "").expect("write");
        let error = inspect_data_dir(&data, 100, 1, 4).expect_err("leftovers");
        assert!(error.to_string().contains("no finished dataset"), "{error}");
    }

    #[test]
    fn generation_stops_at_the_asked_spans_in_whole_traces() {
        let (sender, mut receiver) = mpsc::channel(1_000);
        let dataset = generate(5_000, 1, 4, sender);
        let mut sent = 0;
        while let Ok((_, spans)) = receiver.try_recv() {
            sent += spans;
        }
        assert_eq!(sent, dataset.spans);
        let sizes: Vec<u64> = (0..dataset.traces)
            .map(|number| generate_trace(1, number).spans.len() as u64)
            .collect();
        assert_eq!(sizes.iter().sum::<u64>(), dataset.spans);
        let last = sizes.last().copied().unwrap_or_default();
        assert!(dataset.spans >= 5_000 && dataset.spans - last < 5_000, "{}", dataset.spans);
    }
}
