//! Reading blocks from object storage: the small objects, one trace by id, or everything.
//!
//! [`ObjectReader`] is Parquet's `AsyncFileReader` over `object_store`, with the size taken
//! from `meta.json` (no HEAD request). [`BlockDataReader`] is an opened data object: its footer
//! and page index parsed once and its schema checked; keep one per block and clone it per
//! lookup. A trace lookup reads only the row ranges the index names: the offset index maps
//! them to pages, so each column contributes the pages covering those rows.

use std::ops::{ControlFlow, Range};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::ArrowError;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, RowFilter, RowSelection, RowSelector,
};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::schema::types::SchemaDescriptor;

use super::bloom::{TraceIdBloom, shard_for};
use super::decode::{SpanBatchColumns, TraceAssembler};
use super::meta::BlockMeta;
use super::schema::{filter_schema_v1, schema_v1};
use super::tag_dictionary::TagDictionary;
use super::trace_index::TraceIndex;
use super::writer::{BlockInputTrace, BuiltBlock};
use super::{BlockError, bloom_path, data_path, index_path, meta_path, tags_path};
use crate::model::ids::{TenantId, TraceId};

/// Rows per decoded batch.
pub(super) const READ_BATCH_ROWS: usize = 8_192;
/// Bytes of the file end fetched in one request when reading the footer.
const FOOTER_PREFETCH_BYTES: usize = 64 * 1024;

/// Parquet's `AsyncFileReader` over one object of an `ObjectStore`.
#[derive(Clone)]
pub(crate) struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    /// Bytes of data fetched through this reader and its clones, when counted.
    fetched: Option<Arc<AtomicU64>>,
}

impl ObjectReader {
    /// A reader of `path`, whose size the caller knows.
    pub(crate) fn new(store: Arc<dyn ObjectStore>, path: Path, size: u64) -> ObjectReader {
        ObjectReader { store, path, size, fetched: None }
    }

    /// The same reader, adding the size of every range it fetches to `fetched`.
    pub(crate) fn counting(&self, fetched: Arc<AtomicU64>) -> ObjectReader {
        ObjectReader { fetched: Some(fetched), ..self.clone() }
    }

    fn count(&self, bytes: u64) {
        if let Some(fetched) = &self.fetched {
            fetched.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

fn store_error(error: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(error))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            let bytes = self.store.get_range(&self.path, range).await.map_err(store_error)?;
            self.count(bytes.len() as u64);
            Ok(bytes)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            let parts = self.store.get_ranges(&self.path, &ranges).await.map_err(store_error)?;
            self.count(parts.iter().map(|part| part.len() as u64).sum());
            Ok(parts)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(FOOTER_PREFETCH_BYTES))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// An opened data object: parsed footer and page index, checked schema. Cheap to clone.
#[derive(Clone)]
pub(crate) struct BlockDataReader {
    pub(super) reader: ObjectReader,
    pub(super) metadata: ArrowReaderMetadata,
    /// The same, with the tested strings read as dictionaries (`schema::filter_schema_v1`).
    pub(super) filter_metadata: ArrowReaderMetadata,
    pub(super) object: String,
}

impl BlockDataReader {
    /// Reads the footer and page index of `path` (size from `meta`) and checks the schema.
    pub(crate) async fn open(
        store: Arc<dyn ObjectStore>,
        path: &Path,
        meta: &BlockMeta,
    ) -> Result<BlockDataReader, BlockError> {
        let object = path.to_string();
        let mut reader = ObjectReader::new(store, path.clone(), meta.data_bytes);
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let metadata = ArrowReaderMetadata::load_async(&mut reader, options)
            .await
            .map_err(|error| read_error(&object, error))?;
        let expected = schema_v1();
        let same_schema = metadata.schema().fields().len() == expected.fields().len()
            && metadata.schema().fields().iter().zip(expected.fields()).all(|(found, wanted)| {
                found.name() == wanted.name() && found.data_type() == wanted.data_type()
            });
        if !same_schema {
            return Err(BlockError::Decode {
                object,
                reason: "the data object's schema is not block format v1".to_string(),
            });
        }
        let filter_options = ArrowReaderOptions::new().with_schema(filter_schema_v1());
        let filter_metadata =
            ArrowReaderMetadata::try_new(Arc::clone(metadata.metadata()), filter_options)
                .map_err(|error| read_error(&object, error))?;
        Ok(BlockDataReader { reader, metadata, filter_metadata, object })
    }

    /// The parsed Parquet metadata (row groups, statistics, page index).
    pub(crate) fn parquet_metadata(&self) -> &Arc<ParquetMetaData> {
        self.metadata.metadata()
    }

    /// The spans of `trace_id`, grouped by resource and scope; empty when the block lacks it.
    pub(crate) async fn read_trace(
        &self,
        index: &TraceIndex,
        trace_id: TraceId,
    ) -> Result<Vec<ResourceSpans>, BlockError> {
        let plan = index.lookup(trace_id);
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        let row_groups = self.metadata.metadata().row_groups();
        let mut selectors = Vec::new();
        for rows in &plan {
            let Some(group) = row_groups.get(rows.row_group) else {
                return Err(
                    self.index_mismatch(format!("row group {} does not exist", rows.row_group))
                );
            };
            let group_rows = group.num_rows() as usize;
            let mut position = 0;
            for range in &rows.ranges {
                if range.end > group_rows || range.start < position {
                    return Err(self.index_mismatch(format!(
                        "rows {range:?} of row group {}",
                        rows.row_group
                    )));
                }
                if range.start > position {
                    selectors.push(RowSelector::skip(range.start - position));
                }
                selectors.push(RowSelector::select(range.len()));
                position = range.end;
            }
            if position < group_rows {
                selectors.push(RowSelector::skip(group_rows - position));
            }
        }
        let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
            self.reader.clone(),
            self.metadata.clone(),
        )
        .with_row_groups(plan.iter().map(|rows| rows.row_group).collect())
        .with_row_selection(RowSelection::from(selectors))
        .with_row_filter(trace_id_filter(self.metadata.parquet_schema(), trace_id))
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|error| read_error(&self.object, error))?;
        let mut assembler = TraceAssembler::default();
        while let Some(batch) =
            stream.try_next().await.map_err(|error| read_error(&self.object, error))?
        {
            let columns =
                SpanBatchColumns::new(&batch).map_err(|error| error.in_object(&self.object))?;
            for row in 0..batch.num_rows() {
                if columns.trace_id(row) == trace_id {
                    assembler
                        .push(columns.row(row).map_err(|error| error.in_object(&self.object))?);
                }
            }
        }
        assembler.finish().map_err(|error| error.in_object(&self.object))
    }

    /// Every trace of the block, in row (trace-id) order.
    pub(crate) async fn read_all(&self) -> Result<Vec<BlockInputTrace>, BlockError> {
        let groups = (0..self.metadata.metadata().num_row_groups()).collect();
        let mut traces = Vec::new();
        self.scan_traces(groups, |trace| {
            traces.push(trace);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(traces)
    }

    /// Streams the traces of some row groups, in row order, one at a time (memory stays at
    /// one batch plus one trace). `on_trace` can stop the scan. Returns the rows read.
    /// Row groups are cut between traces, so a trace is whole unless it alone exceeds a
    /// row group.
    pub(crate) async fn scan_traces(
        &self,
        row_groups: Vec<usize>,
        mut on_trace: impl FnMut(BlockInputTrace) -> ControlFlow<()>,
    ) -> Result<u64, BlockError> {
        let scan = self.scan_rows(self.reader.clone(), row_groups, None, &mut on_trace).await?;
        Ok(scan.rows)
    }

    /// [`Self::scan_traces`] through `reader`, reading only the `selection` of the rows of
    /// `row_groups` when given.
    pub(super) async fn scan_rows(
        &self,
        reader: ObjectReader,
        row_groups: Vec<usize>,
        selection: Option<RowSelection>,
        on_trace: &mut impl FnMut(BlockInputTrace) -> ControlFlow<()>,
    ) -> Result<RowScan, BlockError> {
        let mut builder =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, self.metadata.clone())
                .with_row_groups(row_groups)
                .with_batch_size(READ_BATCH_ROWS);
        if let Some(selection) = selection {
            builder = builder.with_row_selection(selection);
        }
        let mut stream = builder.build().map_err(|error| read_error(&self.object, error))?;
        let mut scan = RowScan::default();
        let mut current: Option<(TraceId, TraceAssembler)> = None;
        while let Some(batch) =
            stream.try_next().await.map_err(|error| read_error(&self.object, error))?
        {
            scan.rows += batch.num_rows() as u64;
            let columns =
                SpanBatchColumns::new(&batch).map_err(|error| error.in_object(&self.object))?;
            for row in 0..batch.num_rows() {
                let trace_id = columns.trace_id(row);
                let decoded = columns.row(row).map_err(|error| error.in_object(&self.object))?;
                match &mut current {
                    Some((current_id, assembler)) if *current_id == trace_id => {
                        assembler.push(decoded)
                    }
                    _ => {
                        if let Some((done_id, assembler)) = current.take() {
                            let resource_spans = assembler
                                .finish()
                                .map_err(|error| error.in_object(&self.object))?;
                            scan.traces += 1;
                            let trace = BlockInputTrace { trace_id: done_id, resource_spans };
                            if on_trace(trace).is_break() {
                                scan.stopped = true;
                                return Ok(scan);
                            }
                        }
                        let mut assembler = TraceAssembler::default();
                        assembler.push(decoded);
                        current = Some((trace_id, assembler));
                    }
                }
            }
        }
        if let Some((trace_id, assembler)) = current.filter(|(_, assembler)| !assembler.is_empty())
        {
            let resource_spans =
                assembler.finish().map_err(|error| error.in_object(&self.object))?;
            scan.traces += 1;
            scan.stopped = on_trace(BlockInputTrace { trace_id, resource_spans }).is_break();
        }
        Ok(scan)
    }

    fn index_mismatch(&self, reason: String) -> BlockError {
        BlockError::Corrupt {
            object: self.object.clone(),
            reason: format!("the index names rows the data object lacks: {reason}"),
        }
    }
}

/// What a row scan did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RowScan {
    /// Rows read.
    pub rows: u64,
    /// Traces handed to the callback.
    pub traces: u64,
    /// Whether the callback stopped the scan.
    pub stopped: bool,
}

/// Keeps the rows of `trace_id`: evaluated on the trace-id column first, so the other
/// columns decode only the trace's own rows.
fn trace_id_filter(schema: &SchemaDescriptor, trace_id: TraceId) -> RowFilter {
    // The trace id is the first leaf column.
    let projection = ProjectionMask::leaves(schema, [0]);
    let predicate = ArrowPredicateFn::new(projection, move |batch: RecordBatch| {
        let ids = batch.column(0).as_fixed_size_binary_opt().ok_or_else(|| {
            ArrowError::SchemaError("trace_id is not fixed-size binary".to_string())
        })?;
        Ok(ids.iter().map(|id| Some(id == Some(trace_id.0.as_slice()))).collect::<BooleanArray>())
    });
    RowFilter::new(vec![Box::new(predicate)])
}

/// A Parquet read error: the store's own error when it is one, so the caller can classify it.
pub(super) fn read_error(object: &str, error: ParquetError) -> BlockError {
    match error {
        ParquetError::External(source) => match source.downcast::<object_store::Error>() {
            Ok(source) => BlockError::Io { object: object.to_string(), source: *source },
            Err(other) => {
                BlockError::Decode { object: object.to_string(), reason: other.to_string() }
            }
        },
        other => BlockError::Decode { object: object.to_string(), reason: other.to_string() },
    }
}

/// Reads the spans of one trace: opens the data object, then [`BlockDataReader::read_trace`].
/// A querier looking up many traces should keep the opened reader instead.
pub(crate) async fn read_trace(
    store: Arc<dyn ObjectStore>,
    data_path: &Path,
    meta: &BlockMeta,
    index: &TraceIndex,
    trace_id: TraceId,
) -> Result<Vec<ResourceSpans>, BlockError> {
    BlockDataReader::open(store, data_path, meta).await?.read_trace(index, trace_id).await
}

/// Decodes a whole block: every trace in row order (tests, compaction).
pub(crate) async fn read_all(
    store: Arc<dyn ObjectStore>,
    data_path: &Path,
    meta: &BlockMeta,
) -> Result<Vec<BlockInputTrace>, BlockError> {
    BlockDataReader::open(store, data_path, meta).await?.read_all().await
}

async fn fetch(store: &dyn ObjectStore, path: &Path) -> Result<Bytes, BlockError> {
    let object = || path.to_string();
    let result =
        store.get(path).await.map_err(|source| BlockError::Io { object: object(), source })?;
    result.bytes().await.map_err(|source| BlockError::Io { object: object(), source })
}

/// Reads and parses a block's `meta.json`.
pub(crate) async fn load_meta(
    store: &dyn ObjectStore,
    tenant: &TenantId,
    block_id: &super::BlockId,
) -> Result<BlockMeta, BlockError> {
    let path = meta_path(tenant, block_id);
    BlockMeta::decode(&fetch(store, &path).await?, path.as_ref())
}

/// Reads and parses a block's trace-id index.
pub(crate) async fn load_index(
    store: &dyn ObjectStore,
    meta: &BlockMeta,
) -> Result<TraceIndex, BlockError> {
    let path = index_path(&TenantId::new(&meta.tenant), &meta.block_id);
    TraceIndex::decode(&fetch(store, &path).await?, path.as_ref())
}

/// Reads and parses a block's tag dictionary with its size in bytes; `None` when the block
/// has none (blocks written before tag dictionaries existed).
pub(crate) async fn load_tag_dictionary(
    store: &dyn ObjectStore,
    meta: &BlockMeta,
) -> Result<Option<(TagDictionary, u64)>, BlockError> {
    let path = tags_path(&TenantId::new(&meta.tenant), &meta.block_id);
    match fetch(store, &path).await {
        Ok(bytes) => Ok(Some((TagDictionary::decode(&bytes, path.as_ref())?, bytes.len() as u64))),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads the bloom shard that would hold `trace_id`.
pub(crate) async fn load_bloom_for(
    store: &dyn ObjectStore,
    meta: &BlockMeta,
    trace_id: TraceId,
) -> Result<TraceIdBloom, BlockError> {
    let shard = shard_for(trace_id, meta.bloom_shards);
    let path = bloom_path(&TenantId::new(&meta.tenant), &meta.block_id, shard);
    let bloom = TraceIdBloom::decode(&fetch(store, &path).await?, path.as_ref())?;
    if bloom.shard() != shard || bloom.shards() != meta.bloom_shards {
        return Err(BlockError::Corrupt {
            object: path.to_string(),
            reason: format!(
                "holds shard {} of {}, expected {shard} of {}",
                bloom.shard(),
                bloom.shards(),
                meta.bloom_shards
            ),
        });
    }
    Ok(bloom)
}

/// Uploads a built block: data, index, bloom shards and tag dictionary, then `meta.json`
/// last, so a block whose meta exists is complete. No retries: wrap the store or call again (same keys, same
/// bytes).
pub(crate) async fn upload_block(
    store: &dyn ObjectStore,
    tenant: &TenantId,
    block: &BuiltBlock,
) -> Result<(), BlockError> {
    let block_id = &block.meta.block_id;
    let mut objects = vec![
        (data_path(tenant, block_id), block.data.clone()),
        (index_path(tenant, block_id), block.index.clone()),
    ];
    for (shard, bloom) in block.blooms.iter().enumerate() {
        objects.push((bloom_path(tenant, block_id, shard as u32), bloom.clone()));
    }
    objects.push((tags_path(tenant, block_id), block.tags.clone()));
    objects.push((meta_path(tenant, block_id), block.meta.encode()));
    for (path, bytes) in objects {
        store
            .put(&path, bytes.into())
            .await
            .map_err(|source| BlockError::Io { object: path.to_string(), source })?;
    }
    Ok(())
}
