//! Builds a block from the traces of a log range: the data object, the index, the bloom
//! shards, the tag dictionary and the meta, all in memory; the caller uploads them (meta
//! last).
//!
//! ```text
//! traces ──sort by id, merge repeats──► per trace: flatten, sort spans (start, span id),
//!        nested set, summary ──► rows ──► ArrowWriter (row group cut between traces)
//!                                  └──► (trace id, rows) runs ──► index, bloom shards, meta
//!        per trace: names and values ──► tag dictionary (tags.json)
//! ```
//!
//! Deterministic: the same input gives the same data, index and bloom bytes (the meta differs
//! only in `created_at_unix_nano`), so a builder that crashed can rebuild the same block.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use prost::Message;

use super::BlockError;
use super::bloom::TraceIdBloom;
use super::meta::{BlockId, BlockMeta, FORMAT_VERSION};
use super::rows::{ResourceContext, ScopeContext, SpanBatchBuilder, SpanRow, TraceSummary};
use super::schema::{DURATION_NANO, PARENT_SPAN_ID, SPAN_ID, START_UNIX_NANO, TRACE_ID, schema_v1};
use super::tag_dictionary::TagDictionaryBuilder;
use super::trace_index::TraceIndex;
use crate::model::ids::{LogIndex, PartitionId, SpanId, TenantId, TraceId};
use crate::model::nested_set::{SpanLink, nested_set};

/// Record batches handed to the Parquet writer stay under this size, far from Arrow's 2 GiB
/// offset limit even when attributes are large.
const BATCH_BYTES: usize = 32 * 1024 * 1024;
/// zstd level of every column. Level 1 builds ~40% faster than 3 for 0.5% more bytes
/// (measured on realistic spans); the high-entropy columns (ids, times) dominate the size.
const ZSTD_LEVEL: i32 = 1;
/// A column chunk's dictionary stops growing here (Parquet falls back to plain): every trace
/// lookup reads the dictionary pages of its row group, so they stay small.
const DICTIONARY_PAGE_BYTES: usize = 256 * 1024;

/// Tuning of [`build_block`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BlockBuildOptions {
    /// Upper bound of rows per Parquet row group; row groups are cut between traces when
    /// possible.
    pub row_group_spans: usize,
    /// Rows per data page and per index chunk: the unit a trace lookup decodes.
    pub page_rows: usize,
    /// Target false-positive rate of the bloom filter, in (0, 1).
    pub bloom_false_positive: f64,
    /// Trace ids per bloom shard.
    pub bloom_shard_traces: usize,
}

impl Default for BlockBuildOptions {
    /// 65,536 spans per row group, 1,024 rows per page, 1% false positives, 100,000 traces
    /// per bloom shard (about 117 KiB at 1%).
    fn default() -> Self {
        BlockBuildOptions {
            row_group_spans: 65_536,
            page_rows: 1_024,
            bloom_false_positive: 0.01,
            bloom_shard_traces: 100_000,
        }
    }
}

impl BlockBuildOptions {
    /// Trace ids per shard that keep a shard near `shard_bytes` at `false_positive` (for
    /// Tempo's `bloom_filter_shard_size_bytes`): an optimal filter needs
    /// `-ln(p) / ln(2)^2` bits per item.
    pub(crate) fn bloom_shard_traces_for_bytes(shard_bytes: usize, false_positive: f64) -> usize {
        let bits_per_item = -false_positive.ln() / (std::f64::consts::LN_2.powi(2));
        ((shard_bytes as f64 * 8.0) / bits_per_item.max(1.0)).floor().max(1.0) as usize
    }

    fn validate(&self) -> Result<(), BlockError> {
        let invalid = |reason: &str| Err(BlockError::InvalidInput { reason: reason.to_string() });
        if self.row_group_spans == 0 || self.page_rows == 0 || self.bloom_shard_traces == 0 {
            return invalid("row_group_spans, page_rows and bloom_shard_traces must be positive");
        }
        if !(self.bloom_false_positive > 0.0 && self.bloom_false_positive < 1.0) {
            return invalid("bloom_false_positive must be in (0, 1)");
        }
        Ok(())
    }
}

/// The spans a block holds for one trace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BlockInputTrace {
    /// The trace; every span's `trace_id` must equal it.
    pub trace_id: TraceId,
    /// The spans, grouped as received.
    pub resource_spans: Vec<ResourceSpans>,
}

/// A built block, ready to upload.
#[derive(Debug, Clone)]
pub(crate) struct BuiltBlock {
    /// `meta.json` contents; upload last.
    pub meta: BlockMeta,
    /// `data.parquet`.
    pub data: Bytes,
    /// `index`.
    pub index: Bytes,
    /// `bloom-0` …, in shard order.
    pub blooms: Vec<Bytes>,
    /// `tags.json`: upload before the meta, so a registered block always has it.
    pub tags: Bytes,
}

/// Builds a block from `traces` (any order; a trace id given twice is merged).
///
/// Synchronous and CPU-bound: the caller runs it in `spawn_blocking`.
pub(crate) fn build_block(
    block_id: BlockId,
    tenant: &TenantId,
    partition: PartitionId,
    first: LogIndex,
    last: LogIndex,
    traces: Vec<BlockInputTrace>,
    options: &BlockBuildOptions,
) -> Result<BuiltBlock, BlockError> {
    options.validate()?;
    let traces = sort_and_merge(traces);
    let mut writer =
        ArrowWriter::try_new(Vec::new(), schema_v1(), Some(writer_properties(options)?))
            .map_err(parquet_error)?;
    let mut batch = SpanBatchBuilder::default();
    let mut batch_bytes = 0usize;
    let mut runs: Vec<(TraceId, u64)> = Vec::with_capacity(traces.len());
    let (mut start_unix_nano, mut end_unix_nano) = (u64::MAX, 0u64);
    let mut tags = TagDictionaryBuilder::new();

    for trace in &traces {
        let resources: Vec<ResourceContext<'_>> = trace
            .resource_spans
            .iter()
            .map(|resource_spans| {
                ResourceContext::new(resource_spans.resource.as_ref(), &resource_spans.schema_url)
            })
            .collect();
        let resource_bytes: Vec<usize> = trace
            .resource_spans
            .iter()
            .map(|resource_spans| resource_spans.resource.as_ref().map_or(0, Message::encoded_len))
            .collect();
        let spans = flatten_and_sort(trace)?;
        let links: Vec<SpanLink<'_>> = spans
            .iter()
            .map(|flat| SpanLink {
                span_id: &flat.span.span_id,
                parent_span_id: &flat.span.parent_span_id,
                start_unix_nano: flat.span.start_time_unix_nano,
            })
            .collect();
        let numbers = nested_set(&links);
        let summary = summarize(&spans, &trace.resource_spans);
        tags.add_trace(
            &trace.resource_spans,
            summary.root_span_name.as_deref(),
            summary.root_service_name.as_deref(),
        );
        start_unix_nano = start_unix_nano.min(summary.start_unix_nano);
        end_unix_nano = end_unix_nano.max(summary.end_unix_nano);

        // Cut the row group between traces rather than inside one.
        let buffered_rows = writer.in_progress_rows() + batch.rows();
        if buffered_rows > 0 && buffered_rows + spans.len() > options.row_group_spans {
            write_batch(&mut writer, &mut batch, &mut batch_bytes)?;
            writer.flush().map_err(parquet_error)?;
        }
        for (flat, nested) in spans.iter().zip(numbers) {
            batch.append(&SpanRow {
                trace_id: trace.trace_id,
                resource: &resources[flat.resource],
                scope: flat.scope,
                span: flat.span,
                nested_set: nested,
                trace: &summary,
            })?;
            batch_bytes += flat.span.encoded_len() + resource_bytes[flat.resource];
            if batch_bytes >= BATCH_BYTES {
                write_batch(&mut writer, &mut batch, &mut batch_bytes)?;
            }
        }
        runs.push((trace.trace_id, spans.len() as u64));
    }
    write_batch(&mut writer, &mut batch, &mut batch_bytes)?;
    writer.flush().map_err(parquet_error)?;
    let row_group_rows: Vec<u64> =
        writer.flushed_row_groups().iter().map(|group| group.num_rows() as u64).collect();
    let data = Bytes::from(writer.into_inner().map_err(parquet_error)?);

    let index = TraceIndex::build(&runs, &row_group_rows, options.page_rows)?;
    let trace_ids: Vec<TraceId> = runs.iter().map(|(trace_id, _)| *trace_id).collect();
    let blooms = TraceIdBloom::build_shards(
        &trace_ids,
        options.bloom_false_positive,
        options.bloom_shard_traces,
    );
    let span_count: u64 = runs.iter().map(|(_, rows)| rows).sum();
    let meta = BlockMeta {
        format_version: FORMAT_VERSION,
        block_id,
        tenant: tenant.as_str().to_string(),
        partition: partition.0,
        first_index: first.0,
        last_index: last.0,
        start_unix_nano: if span_count == 0 { 0 } else { start_unix_nano },
        end_unix_nano,
        span_count,
        trace_count: runs.len() as u64,
        data_bytes: data.len() as u64,
        row_groups: row_group_rows.len() as u32,
        bloom_shards: blooms.len() as u32,
        compaction_level: 0,
        created_at_unix_nano: now_unix_nano(),
    };
    Ok(BuiltBlock { meta, data, index: index.encode(), blooms, tags: tags.finish().encode() })
}

fn writer_properties(options: &BlockBuildOptions) -> Result<WriterProperties, BlockError> {
    let zstd = ZstdLevel::try_new(ZSTD_LEVEL).map_err(parquet_error)?;
    let schema = schema_v1();
    // Leaf indexes equal field indexes here: no nested column precedes these two.
    let leaf = |name: &str| schema.index_of(name).map(|index| index as i32).unwrap_or_default();
    let sorted_by = |name: &str| SortingColumn {
        column_idx: leaf(name),
        descending: false,
        nulls_first: false,
    };
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_dictionary_enabled(true)
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(options.page_rows)
        .set_write_batch_size(options.page_rows.min(1_024))
        .set_max_row_group_row_count(Some(options.row_group_spans))
        .set_sorting_columns(Some(vec![sorted_by(TRACE_ID), sorted_by(START_UNIX_NANO)]));
    // Unique or nearly unique per row: a dictionary only costs (and every lookup would read
    // it). zstd still finds the repeats of per-trace values.
    for column in NO_DICTIONARY {
        builder = builder.set_column_dictionary_enabled(column_path(column), false);
    }
    // Durations are random in their low bytes and constant in their high ones.
    builder = builder.set_column_encoding(column_path(DURATION_NANO), Encoding::BYTE_STREAM_SPLIT);
    Ok(builder.build())
}

/// Columns written without a dictionary. The per-trace columns (trace id, trace bounds) keep
/// theirs: a row group holds a few thousand traces, so the dictionary is small and the rows
/// become runs of one index, which a search's pass 1 decodes far faster than plain values.
const NO_DICTIONARY: &[&str] = &[
    SPAN_ID,
    PARENT_SPAN_ID,
    START_UNIX_NANO,
    DURATION_NANO,
    "events.list.item.time_unix_nano",
    "links.list.item.trace_id",
    "links.list.item.span_id",
];

fn column_path(dotted: &str) -> ColumnPath {
    ColumnPath::new(dotted.split('.').map(str::to_string).collect())
}

fn write_batch(
    writer: &mut ArrowWriter<Vec<u8>>,
    batch: &mut SpanBatchBuilder,
    batch_bytes: &mut usize,
) -> Result<(), BlockError> {
    if batch.rows() > 0 {
        writer.write(&batch.finish()?).map_err(parquet_error)?;
    }
    *batch_bytes = 0;
    Ok(())
}

fn parquet_error(error: parquet::errors::ParquetError) -> BlockError {
    BlockError::Encode { reason: error.to_string() }
}

fn now_unix_nano() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// Sorts by trace id and merges repeated ids, keeping input order within a trace.
fn sort_and_merge(mut traces: Vec<BlockInputTrace>) -> Vec<BlockInputTrace> {
    traces.sort_by_key(|trace| trace.trace_id);
    let mut merged: Vec<BlockInputTrace> = Vec::with_capacity(traces.len());
    for trace in traces {
        match merged.last_mut() {
            Some(previous) if previous.trace_id == trace.trace_id => {
                previous.resource_spans.extend(trace.resource_spans)
            }
            _ => merged.push(trace),
        }
    }
    merged.retain(|trace| {
        trace.resource_spans.iter().any(|rs| rs.scope_spans.iter().any(|ss| !ss.spans.is_empty()))
    });
    merged
}

/// A span with the positions of its resource and scope.
struct FlatSpan<'a> {
    resource: usize,
    scope: ScopeContext<'a>,
    span: &'a Span,
}

/// The spans of a trace in row order: start time, then span id, then input order.
fn flatten_and_sort(trace: &BlockInputTrace) -> Result<Vec<FlatSpan<'_>>, BlockError> {
    let mut spans = Vec::new();
    for (resource, resource_spans) in trace.resource_spans.iter().enumerate() {
        for scope_spans in &resource_spans.scope_spans {
            let scope = ScopeContext {
                scope: scope_spans.scope.as_ref(),
                schema_url: &scope_spans.schema_url,
            };
            for span in &scope_spans.spans {
                if span.trace_id != trace.trace_id.0 {
                    return Err(BlockError::InvalidInput {
                        reason: format!(
                            "a span of trace {} is filed under {}",
                            crate::model::ids::hex_lower(&span.trace_id),
                            trace.trace_id
                        ),
                    });
                }
                if SpanId::from_slice(&span.span_id).is_none() {
                    return Err(BlockError::InvalidInput {
                        reason: format!(
                            "span id of {} bytes in trace {}",
                            span.span_id.len(),
                            trace.trace_id
                        ),
                    });
                }
                spans.push(FlatSpan { resource, scope, span });
            }
        }
    }
    spans.sort_by(|a, b| {
        (a.span.start_time_unix_nano, &a.span.span_id)
            .cmp(&(b.span.start_time_unix_nano, &b.span.span_id))
    });
    Ok(spans)
}

/// The trace-level columns: the root is the first span (in row order) without a parent id.
fn summarize(spans: &[FlatSpan<'_>], resource_spans: &[ResourceSpans]) -> TraceSummary {
    let root = spans.iter().find(|flat| flat.span.parent_span_id.is_empty());
    TraceSummary {
        root_service_name: root.map(|flat| {
            service_name(resource_spans[flat.resource].resource.as_ref()).unwrap_or_default()
        }),
        root_span_name: root.map(|flat| flat.span.name.clone()),
        start_unix_nano: spans.iter().map(|flat| flat.span.start_time_unix_nano).min().unwrap_or(0),
        end_unix_nano: spans.iter().map(|flat| flat.span.end_time_unix_nano).max().unwrap_or(0),
    }
}

/// The first string `service.name` of a resource (a trace's root service is that of its root
/// span's resource; the live-store's tag summaries use the same rule).
pub(crate) fn service_name(resource: Option<&Resource>) -> Option<String> {
    resource?.attributes.iter().find_map(|attribute| {
        match attribute.value.as_ref()?.value.as_ref()? {
            Value::StringValue(name) if attribute.key == "service.name" => Some(name.clone()),
            _ => None,
        }
    })
}
