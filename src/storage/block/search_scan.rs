//! Searching some row groups of a block with push-down: only the traces a search may match
//! are decoded.
//!
//! ```text
//!  row groups ──units──► runs of groups that share a trace (a trace is never split by a skip)
//!   per unit:  statistics, then dictionaries ──ScanFilter::may_match──► skip the unit
//!              pass 1: trace id + the filter's columns, every row ──► candidate traces
//!                      (row ranges), the rest never decoded
//!              pass 2: the columns the query reads (eval_decode), candidate rows only
//!                      (RowSelection; the page index turns it into page reads)
//!                      ──► evaluation traces ──► on_trace
//! ```
//!
//! Pass 1 reads a few columns of every row (a `kind` or a status code is a few bits per row
//! once decoded from its dictionary); pass 2 reads, for candidate traces only, the ids, tree,
//! intrinsics and the attributes the query names. A filter that keeps everything (`{ }`)
//! skips pass 1.
//! `on_trace` may stop the scan (enough results, or the search is cancelled).

use std::ops::{ControlFlow, Range};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, FixedSizeBinaryArray};
use futures::TryStreamExt;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::RowSelection;
use parquet::file::statistics::Statistics;

use super::dictionaries::read_dictionary;
use super::eval_decode::{EvalNeeds, UnitRead};
use super::reader::{BlockDataReader, ObjectReader, READ_BATCH_ROWS, read_error};
use super::scan_filter::{AbsentKeys, GroupDictionaries, GroupView, ScanFilter};
use super::schema::{TRACE_END_UNIX_NANO, TRACE_ID, TRACE_START_UNIX_NANO};
use super::{BlockError, Malformed};
use crate::traceql::eval::EvalTrace;

/// What a filtered scan read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanCounts {
    /// Rows looked at (by the filter, or decoded when nothing could be filtered).
    pub rows: u64,
    /// Traces looked at.
    pub traces: u64,
    /// Bytes fetched from storage.
    pub bytes: u64,
}

/// The row ranges of equal consecutive trace ids in a batch (16-byte ids compared as one
/// integer: pass 1 looks at every row, so this loop is hot).
fn trace_runs(ids: &FixedSizeBinaryArray) -> Vec<Range<usize>> {
    let as_int = |row: usize| -> u128 {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(ids.value(row));
        u128::from_ne_bytes(bytes)
    };
    let mut runs = Vec::new();
    let mut start = 0;
    let rows = ids.len();
    while start < rows {
        let id = as_int(start);
        let mut end = start + 1;
        while end < rows && as_int(end) == id {
            end += 1;
        }
        runs.push(start..end);
        start = end;
    }
    runs
}

/// What a unit's statistics and dictionaries told about it.
struct UnitKnowledge {
    /// Generic lists lacking a key the filter tests.
    absent: AbsentKeys,
    /// How pass 2 reads its attributes.
    read: UnitRead,
}

/// A trace being tracked through pass 1.
struct Tracked {
    id: [u8; 16],
    first_row: usize,
    held: Vec<bool>,
    bounds: Option<(u64, u64)>,
}

impl BlockDataReader {
    /// Streams the traces of `row_groups` that `filter` keeps, in row order, built with what
    /// `needs` asks for (see the module documentation). A trace the filter keeps still has
    /// to be evaluated by the caller.
    pub(crate) async fn scan_filtered(
        &self,
        row_groups: Vec<usize>,
        filter: &ScanFilter,
        needs: &EvalNeeds,
        mut on_trace: impl FnMut(EvalTrace) -> ControlFlow<()>,
    ) -> Result<ScanCounts, BlockError> {
        let fetched = Arc::new(AtomicU64::new(0));
        let reader = self.reader.counting(Arc::clone(&fetched));
        let metadata = self.metadata.metadata();
        let everything = filter.keeps_everything();
        let mut counts = ScanCounts::default();
        for unit in self.units(&row_groups) {
            let Some(known) = self.unit_may_match(&reader, &unit, filter, needs).await? else {
                continue;
            };
            let selection = if everything {
                None
            } else {
                let (candidates, rows, traces) =
                    self.candidates(reader.clone(), &unit, filter, &known.absent).await?;
                counts.rows += rows;
                counts.traces += traces;
                if candidates.is_empty() {
                    continue;
                }
                let total: usize =
                    unit.iter().map(|&group| metadata.row_group(group).num_rows() as usize).sum();
                Some(RowSelection::from_consecutive_ranges(candidates.into_iter(), total))
            };
            let scan = self
                .scan_eval(reader.clone(), unit, selection, needs, known.read, &mut on_trace)
                .await?;
            if everything {
                counts.rows += scan.rows;
                counts.traces += scan.traces;
            }
            if scan.stopped {
                break;
            }
        }
        counts.bytes = fetched.load(Ordering::Relaxed);
        Ok(counts)
    }

    /// Whether a unit may hold a matching trace: statistics first, then (when they cannot
    /// tell) the dictionaries of the string columns the filter tests. When it may, also
    /// the attribute keys its generic lists lack (those lists are not read) and how pass 2
    /// reads its attributes (by the key dictionaries).
    async fn unit_may_match(
        &self,
        reader: &ObjectReader,
        unit: &[usize],
        filter: &ScanFilter,
        needs: &EvalNeeds,
    ) -> Result<Option<UnitKnowledge>, BlockError> {
        let mut read: Vec<GroupDictionaries> =
            unit.iter().map(|_| GroupDictionaries::new()).collect();
        if !filter.may_match(&self.views(unit, &read)) {
            return Ok(None);
        }
        // The filter's dictionaries first: when they rule the unit out, pass 2's key
        // dictionaries are never fetched.
        let filter_columns = filter.dictionary_columns();
        if !filter_columns.is_empty() {
            self.read_dictionaries(reader, unit, &filter_columns, &mut read).await?;
            let views = self.views(unit, &read);
            if !filter.may_match(&views) {
                return Ok(None);
            }
        }
        let key_columns: Vec<_> = needs
            .key_dictionary_columns()
            .into_iter()
            .filter(|column| !filter_columns.contains(column))
            .collect();
        self.read_dictionaries(reader, unit, &key_columns, &mut read).await?;
        let views = self.views(unit, &read);
        Ok(Some(UnitKnowledge {
            absent: filter.absent_keys(&views),
            read: needs.unit_read(&views),
        }))
    }

    /// Adds the exhaustive dictionaries of `columns` (list or column, leaf) of each group of
    /// `unit` to `into` (one map per group).
    async fn read_dictionaries(
        &self,
        reader: &ObjectReader,
        unit: &[usize],
        columns: &[(&'static str, &'static str)],
        into: &mut [GroupDictionaries],
    ) -> Result<(), BlockError> {
        if columns.is_empty() {
            return Ok(());
        }
        let metadata = self.metadata.metadata();
        for (&group, dictionaries) in unit.iter().zip(into.iter_mut()) {
            for chunk in metadata.row_group(group).columns() {
                let parts = chunk.column_descr().path().parts();
                let (Some(top), Some(leaf)) = (parts.first(), parts.last()) else {
                    continue;
                };
                let Some(&key) = columns.iter().find(|(t, l)| t == top && l == leaf) else {
                    continue;
                };
                let dictionary = read_dictionary(&mut reader.clone(), chunk)
                    .await
                    .map_err(|error| read_error(&self.object, error))?;
                if let Some(dictionary) = dictionary {
                    dictionaries.insert(key, dictionary);
                }
            }
        }
        Ok(())
    }

    fn views<'a>(&'a self, unit: &[usize], read: &'a [GroupDictionaries]) -> Vec<GroupView<'a>> {
        let metadata = self.metadata.metadata();
        unit.iter()
            .zip(read)
            .map(|(&group, dictionaries)| GroupView {
                meta: metadata.row_group(group),
                dictionaries,
            })
            .collect()
    }

    /// Splits `row_groups` into runs that must be read together: consecutive groups where
    /// one ends with the trace the next starts with (by the trace-id statistics; without
    /// them, assume they share one).
    fn units(&self, row_groups: &[usize]) -> Vec<Vec<usize>> {
        let metadata = self.metadata.metadata();
        let trace_id_column = 0; // the first leaf column (schema order is part of the format)
        let bound = |group: usize, max: bool| -> Option<Vec<u8>> {
            let chunk = metadata.row_group(group).columns().get(trace_id_column)?;
            let Statistics::FixedLenByteArray(stats) = chunk.statistics()? else {
                return None;
            };
            let value = if max { stats.max_opt()? } else { stats.min_opt()? };
            let exact = if max { stats.max_is_exact() } else { stats.min_is_exact() };
            exact.then(|| value.data().to_vec())
        };
        let mut units: Vec<Vec<usize>> = Vec::new();
        for &group in row_groups {
            let joined = match units.last().and_then(|unit| unit.last()) {
                Some(&previous) if previous + 1 == group => {
                    match (bound(previous, true), bound(group, false)) {
                        (Some(last), Some(first)) => last == first,
                        _ => true,
                    }
                }
                _ => false,
            };
            match units.last_mut() {
                Some(unit) if joined => unit.push(group),
                _ => units.push(vec![group]),
            }
        }
        units
    }

    /// Pass 1 over one unit: the row ranges (unit-relative) of the traces `filter` keeps,
    /// with the rows and traces looked at.
    async fn candidates(
        &self,
        reader: ObjectReader,
        unit: &[usize],
        filter: &ScanFilter,
        absent: &AbsentKeys,
    ) -> Result<(Vec<Range<usize>>, u64, u64), BlockError> {
        let projection = filter.projection(self.metadata.parquet_schema(), absent);
        let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
            reader,
            self.filter_metadata.clone(),
        )
        .with_row_groups(unit.to_vec())
        .with_projection(projection)
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|error| read_error(&self.object, error))?;
        let malformed = |error: Malformed| error.in_object(&self.object);
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let mut traces = 0u64;
        let mut offset = 0usize;
        let mut current: Option<Tracked> = None;
        let mut finish = |tracked: Tracked, end: usize, ranges: &mut Vec<Range<usize>>| {
            traces += 1;
            if filter.trace_may_match(&tracked.held, tracked.bounds) {
                match ranges.last_mut() {
                    Some(last) if last.end == tracked.first_row => last.end = end,
                    _ => ranges.push(tracked.first_row..end),
                }
            }
        };
        while let Some(batch) =
            stream.try_next().await.map_err(|error| read_error(&self.object, error))?
        {
            let ids = batch
                .column_by_name(TRACE_ID)
                .and_then(|column| column.as_fixed_size_binary_opt())
                .filter(|ids| ids.value_length() == 16)
                .ok_or_else(|| malformed(Malformed("trace_id is not 16-byte binary".into())))?;
            let bounds = if filter.has_window() {
                let column = |name: &str| {
                    batch
                        .column_by_name(name)
                        .and_then(|column| column.as_primitive_opt::<UInt64Type>())
                        .ok_or_else(|| malformed(Malformed(format!("{name} is not UInt64"))))
                };
                Some((column(TRACE_START_UNIX_NANO)?, column(TRACE_END_UNIX_NANO)?))
            } else {
                None
            };
            let masks = filter.span_masks(&batch, absent).map_err(malformed)?;
            for run in trace_runs(ids) {
                let id = ids.value(run.start);
                let same = current.as_ref().is_some_and(|tracked| tracked.id == id);
                if !same {
                    if let Some(done) = current.take() {
                        finish(done, offset + run.start, &mut ranges);
                    }
                    let mut tracked_id = [0u8; 16];
                    tracked_id.copy_from_slice(id);
                    current = Some(Tracked {
                        id: tracked_id,
                        first_row: offset + run.start,
                        held: vec![false; filter.span_cond_count()],
                        bounds: bounds
                            .map(|(starts, ends)| (starts.value(run.start), ends.value(run.start))),
                    });
                }
                if let Some(tracked) = current.as_mut() {
                    for (held, mask) in tracked.held.iter_mut().zip(&masks) {
                        *held = *held || mask[run.clone()].contains(&true);
                    }
                }
            }
            offset += batch.num_rows();
        }
        if let Some(done) = current.take() {
            finish(done, offset, &mut ranges);
        }
        Ok((ranges, offset as u64, traces))
    }
}
