//! Block round trips through an object store: everything written reads back equal.

use std::sync::Arc;
use std::time::Instant;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use proptest::prelude::*;
use prost::Message;

use super::reader::{load_bloom_for, load_index, load_meta, upload_block};
use super::test_traces::{arb_block_input, realistic_traces};
use super::*;
use crate::model::ids::{LogIndex, PartitionId, TraceId};

fn tenant() -> TenantId {
    TenantId::new("acme")
}

fn block_id() -> BlockId {
    BlockId::for_log_range(PartitionId(1), LogIndex(5), LogIndex(9))
}

fn build(traces: Vec<BlockInputTrace>, options: &BlockBuildOptions) -> BuiltBlock {
    build_block(block_id(), &tenant(), PartitionId(1), LogIndex(5), LogIndex(9), traces, options)
        .expect("the block builds")
}

/// Each span with its resource and scope as one encoded `ResourceSpans`, sorted: the
/// comparison the format promises (grouping into `ResourceSpans` may differ).
fn span_set(resource_spans: &[ResourceSpans]) -> Vec<Vec<u8>> {
    let mut set: Vec<Vec<u8>> = resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter().map(move |ss| (rs, ss)))
        .flat_map(|(rs, ss)| ss.spans.iter().map(move |span| (rs, ss, span)))
        .map(|(rs, ss, span)| {
            ResourceSpans {
                resource: rs.resource.clone(),
                schema_url: rs.schema_url.clone(),
                scope_spans: vec![ScopeSpans {
                    scope: ss.scope.clone(),
                    schema_url: ss.schema_url.clone(),
                    spans: vec![span.clone()],
                }],
            }
            .encode_to_vec()
        })
        .collect();
    set.sort();
    set
}

async fn store_with(block: &BuiltBlock) -> Arc<dyn ObjectStore> {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    upload_block(store.as_ref(), &tenant(), block).await.expect("upload");
    store
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

/// Checks that every trace reads back equal through every path, and absent ids read empty.
async fn assert_round_trip(input: &[BlockInputTrace], options: &BlockBuildOptions) {
    let block = build(input.to_vec(), options);
    let store = store_with(&block).await;
    let meta = load_meta(store.as_ref(), &tenant(), &block_id()).await.unwrap();
    assert_eq!(meta, block.meta);
    let index = load_index(store.as_ref(), &meta).await.unwrap();
    let data = data_path(&tenant(), &block_id());
    let reader = BlockDataReader::open(Arc::clone(&store), &data, &meta).await.unwrap();

    let mut expected: Vec<&BlockInputTrace> = input.iter().collect();
    expected.sort_by_key(|trace| trace.trace_id);
    assert_eq!(meta.trace_count as usize, expected.len());
    for trace in &expected {
        let bloom = load_bloom_for(store.as_ref(), &meta, trace.trace_id).await.unwrap();
        assert!(bloom.may_contain(trace.trace_id), "bloom misses {}", trace.trace_id);
        let read = reader.read_trace(&index, trace.trace_id).await.unwrap();
        assert_eq!(span_set(&read), span_set(&trace.resource_spans), "trace {}", trace.trace_id);
    }
    for absent in [TraceId([0; 16]), TraceId([0xff; 16]), TraceId([0x80; 16])] {
        if expected.iter().all(|trace| trace.trace_id != absent) {
            assert!(reader.read_trace(&index, absent).await.unwrap().is_empty());
        }
    }
    let all = read_all(Arc::clone(&store), &data, &meta).await.unwrap();
    assert_eq!(all.len(), expected.len());
    for (read, trace) in all.iter().zip(&expected) {
        assert_eq!(read.trace_id, trace.trace_id);
        assert_eq!(span_set(&read.resource_spans), span_set(&trace.resource_spans));
    }
}

fn arb_options() -> impl Strategy<Value = BlockBuildOptions> {
    (1..40usize, 1..12usize, 1..4usize).prop_map(|(row_group_spans, page_rows, shard_traces)| {
        BlockBuildOptions {
            row_group_spans,
            page_rows,
            bloom_false_positive: 0.01,
            bloom_shard_traces: shard_traces,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Random traces (every attribute type, nesting, unicode, empty and ~100 KB values,
    /// events, links, absent resources and scopes, dangling parents) read back equal, by id
    /// and in full, for any row-group, page and shard sizes.
    #[test]
    fn random_traces_read_back_equal(input in arb_block_input(), options in arb_options()) {
        runtime().block_on(assert_round_trip(&input, &options));
    }
}

#[test]
fn default_options_round_trip_realistic_traces() {
    runtime().block_on(assert_round_trip(&realistic_traces(60, 1), &BlockBuildOptions::default()));
}

#[test]
fn building_twice_gives_identical_bytes() {
    let options = BlockBuildOptions { row_group_spans: 500, page_rows: 64, ..Default::default() };
    let first = build(realistic_traces(200, 7), &options);
    let mut shuffled = realistic_traces(200, 7);
    shuffled.reverse();
    let second = build(shuffled, &options);
    assert_eq!(first.data, second.data);
    assert_eq!(first.index, second.index);
    assert_eq!(first.blooms, second.blooms);
    let without_clock = |meta: &BlockMeta| BlockMeta { created_at_unix_nano: 0, ..meta.clone() };
    assert_eq!(without_clock(&first.meta), without_clock(&second.meta));
}

#[test]
fn row_groups_are_cut_between_traces() {
    let traces = realistic_traces(400, 3);
    let options =
        BlockBuildOptions { row_group_spans: 1_000, page_rows: 100, ..Default::default() };
    let block = build(traces.clone(), &options);
    assert!(block.meta.row_groups > 2, "{} row groups", block.meta.row_groups);
    let index = TraceIndex::decode(&block.index, "index").unwrap();
    for trace in &traces {
        let plan = index.lookup(trace.trace_id);
        assert_eq!(plan.len(), 1, "trace {} spans row groups", trace.trace_id);
        assert_eq!(plan[0].ranges.len(), 1);
        assert!(plan[0].ranges[0].len() <= 100);
    }
}

#[test]
fn a_trace_given_twice_is_merged_and_an_empty_block_builds() {
    let mut traces = realistic_traces(2, 4);
    let mut second_half = traces[0].clone();
    second_half.resource_spans = traces[0].resource_spans.split_off(1);
    traces.push(second_half);
    let block = build(traces, &BlockBuildOptions::default());
    assert_eq!(block.meta.trace_count, 2);

    let empty = build(Vec::new(), &BlockBuildOptions::default());
    assert_eq!((empty.meta.span_count, empty.meta.trace_count, empty.blooms.len()), (0, 0, 1));
    runtime().block_on(assert_round_trip(&[], &BlockBuildOptions::default()));
}

#[test]
fn spans_filed_under_another_trace_or_with_bad_ids_are_refused() {
    let mut traces = realistic_traces(1, 5);
    traces[0].resource_spans[0].scope_spans[0].spans[0].trace_id = vec![9; 16];
    let error = build_block(
        block_id(),
        &tenant(),
        PartitionId(1),
        LogIndex(5),
        LogIndex(9),
        traces,
        &BlockBuildOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(error, BlockError::InvalidInput { .. }), "{error}");

    let mut traces = realistic_traces(1, 5);
    traces[0].resource_spans[0].scope_spans[0].spans[0].span_id = vec![1; 4];
    let options = BlockBuildOptions::default();
    let result = build_block(
        block_id(),
        &tenant(),
        PartitionId(1),
        LogIndex(5),
        LogIndex(9),
        traces,
        &options,
    );
    assert!(matches!(result, Err(BlockError::InvalidInput { .. })));
}

#[test]
fn missing_and_damaged_objects_are_reported() {
    runtime().block_on(async {
        let block = build(realistic_traces(20, 6), &BlockBuildOptions::default());
        let store = store_with(&block).await;
        let other = BlockId::for_log_range(PartitionId(9), LogIndex(1), LogIndex(2));
        assert!(load_meta(store.as_ref(), &tenant(), &other).await.unwrap_err().is_not_found());

        let data = data_path(&tenant(), &block_id());
        let mut truncated = block.data.to_vec();
        truncated.truncate(truncated.len() / 2);
        store.put(&data, truncated.into()).await.unwrap();
        let error = BlockDataReader::open(Arc::clone(&store), &data, &block.meta).await.err();
        assert!(error.is_some(), "a truncated data object must not open");

        let index = index_path(&tenant(), &block_id());
        let mut damaged = block.index.to_vec();
        damaged[20] ^= 1;
        store.put(&index, damaged.into()).await.unwrap();
        assert!(load_index(store.as_ref(), &block.meta).await.unwrap_err().is_corrupt());
    });
}

/// Size and speed over ~100k realistic spans (`SPANLAKE_REPORT_TRACES` traces, default 6,000,
/// ~17 spans each). Run with
/// `cargo test --release --lib storage::block::tests::size_and_speed_report -- --ignored --nocapture`.
#[test]
#[ignore = "report, not a check"]
fn size_and_speed_report() {
    let trace_count = std::env::var("SPANLAKE_REPORT_TRACES")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(6_000);
    let traces = realistic_traces(trace_count, 11);
    let spans: usize = traces
        .iter()
        .flat_map(|trace| &trace.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    let otlp_bytes: usize = traces
        .iter()
        .map(|trace| {
            opentelemetry_proto::tonic::trace::v1::TracesData {
                resource_spans: trace.resource_spans.clone(),
            }
            .encoded_len()
        })
        .sum();
    let started = Instant::now();
    let block = build(traces.clone(), &BlockBuildOptions::default());
    let build_seconds = started.elapsed().as_secs_f64();
    println!(
        "spans {spans}, traces {}, otlp {otlp_bytes} B ({:.1} B/span), data {} B ({:.1} B/span, \
         {:.1}x smaller), index {} B, blooms {} B, build {:.0} spans/s",
        traces.len(),
        otlp_bytes as f64 / spans as f64,
        block.data.len(),
        block.data.len() as f64 / spans as f64,
        otlp_bytes as f64 / block.data.len() as f64,
        block.index.len(),
        block.blooms.iter().map(bytes::Bytes::len).sum::<usize>(),
        spans as f64 / build_seconds,
    );

    print_column_sizes(&block.data, spans);

    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(directory.path()).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        upload_block(store.as_ref(), &tenant(), &block).await.unwrap();
        let meta = load_meta(store.as_ref(), &tenant(), &block_id()).await.unwrap();
        let index = load_index(store.as_ref(), &meta).await.unwrap();
        let data = data_path(&tenant(), &block_id());
        let reader = BlockDataReader::open(Arc::clone(&store), &data, &meta).await.unwrap();
        let mut latencies = Vec::new();
        let mut bloom_time = std::time::Duration::ZERO;
        for trace in traces.iter().step_by(7) {
            let started = Instant::now();
            let bloom = load_bloom_for(store.as_ref(), &meta, trace.trace_id).await.unwrap();
            assert!(bloom.may_contain(trace.trace_id));
            bloom_time += started.elapsed();
            let read = reader.read_trace(&index, trace.trace_id).await.unwrap();
            latencies.push(started.elapsed());
            assert!(!read.is_empty());
        }
        println!("bloom loads: {:?} per lookup", bloom_time / latencies.len() as u32);
        latencies.sort();
        let at = |quantile: f64| latencies[((latencies.len() - 1) as f64 * quantile) as usize];
        println!(
            "read_trace from local disk (bloom shard + rows; meta, index, footer cached): \
             p50 {:?}, p99 {:?}, max {:?} over {} lookups",
            at(0.5),
            at(0.99),
            at(1.0),
            latencies.len()
        );
        let memory = store_with(&block).await;
        let memory_reader = BlockDataReader::open(Arc::clone(&memory), &data, &meta).await.unwrap();
        let started = Instant::now();
        for trace in traces.iter().step_by(7) {
            memory_reader.read_trace(&index, trace.trace_id).await.unwrap();
        }
        println!(
            "read_trace from memory: {:?} per lookup",
            started.elapsed() / traces.iter().step_by(7).count() as u32
        );
        let started = Instant::now();
        let all = reader.read_all().await.unwrap();
        println!("read_all: {} traces in {:?}", all.len(), started.elapsed());
    });
}

/// Compressed bytes per span of each top-level column, largest first.
fn print_column_sizes(data: &bytes::Bytes, spans: usize) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(data.clone()).unwrap();
    let mut sizes: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for group in reader.metadata().row_groups() {
        for column in group.columns() {
            let root = column.column_path().string();
            let entry = sizes.entry(root).or_default();
            entry.0 += column.compressed_size();
            entry.1 += column
                .dictionary_page_offset()
                .map_or(0, |offset| column.data_page_offset() - offset);
        }
    }
    let mut sizes: Vec<_> = sizes.into_iter().collect();
    sizes.sort_by_key(|(_, (bytes, _))| -bytes);
    for (column, (bytes, dictionary)) in sizes.iter().take(40) {
        println!(
            "  {column:32} {:6.2} B/span (dictionary pages {:6.2})",
            *bytes as f64 / spans as f64,
            *dictionary as f64 / spans as f64
        );
    }
}
