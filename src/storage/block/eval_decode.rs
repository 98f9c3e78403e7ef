//! Pass 2 of a block search: candidate rows decoded straight into the engine's trace model,
//! from only the columns the query reads.
//!
//! ```text
//!  SearchPlan::read_fields ──EvalNeeds──► per unit, with its key dictionaries: UnitRead
//!    always:      ids, tree (nested set), name, kind, status, start, duration
//!    per scope:   nothing │ the dedicated columns of the keys asked for │ the generic list
//!    (span, res.)           with its positions and every dedicated column of the scope
//!    when read:   status message, instrumentation scope, events, links
//!  candidate rows ──► EvalSpan (attributes: the keys asked for) ──per trace──► EvalTrace
//! ```
//!
//! The trace built this way answers every lookup the query makes as the whole trace would:
//! each key it reads is there with the value the whole list gives (the first usable one).
//! The generic list is left out only when the unit's exhaustive key dictionaries show it holds
//! none of the keys; then the dedicated columns alone have them. `service.name` of the
//! resource is always read (a hit reports the root service and per-service counts).
//!
//! Spans come in row order (by start time) with resources and scopes kept once per run of
//! equal ones, where decoding a whole trace groups spans by resource: only the order of spans
//! inside a result can differ.

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;

use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, BinaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use futures::TryStreamExt;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::RowSelection;

use super::BlockError;
use super::Malformed;
use super::attributes::AttributeListColumn;
use super::decode::{EventColumns, LinkColumns, binary, column, fixed, primitive, string};
use super::dedicated::{DedicatedColumns, DedicatedSubset};
pub(crate) use super::eval_needs::{AttrRead, EvalNeeds, UnitRead};
use super::reader::{BlockDataReader, ObjectReader, READ_BATCH_ROWS, RowScan, read_error};
use super::schema::*;
use crate::model::ids::TraceId;
use crate::traceql::ast::Status;
use crate::traceql::eval::{
    Attrs, EvalScope, EvalSpan, EvalTrace, eval_event, eval_link, eval_scope, id8, index_u32,
    kind_from_code, status_from_code,
};

impl BlockDataReader {
    /// Pass 2: the rows of `row_groups` (those `selection` picks) as evaluation traces with
    /// what `needs` asks for, in row order. `on_trace` may stop the scan.
    pub(super) async fn scan_eval(
        &self,
        reader: ObjectReader,
        row_groups: Vec<usize>,
        selection: Option<RowSelection>,
        needs: &EvalNeeds,
        read: UnitRead,
        on_trace: &mut impl FnMut(EvalTrace) -> ControlFlow<()>,
    ) -> Result<RowScan, BlockError> {
        let projection = needs.projection(self.metadata.parquet_schema(), &read);
        let mut builder =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, self.metadata.clone())
                .with_row_groups(row_groups)
                .with_projection(projection)
                .with_batch_size(READ_BATCH_ROWS);
        if let Some(selection) = selection {
            builder = builder.with_row_selection(selection);
        }
        let mut stream = builder.build().map_err(|error| read_error(&self.object, error))?;
        let malformed = |error: Malformed| error.in_object(&self.object);
        let mut scan = RowScan::default();
        let mut current: Option<TraceBuilder> = None;
        while let Some(batch) =
            stream.try_next().await.map_err(|error| read_error(&self.object, error))?
        {
            scan.rows += batch.num_rows() as u64;
            let columns = EvalBatch::new(&batch, needs, read).map_err(malformed)?;
            for row in 0..batch.num_rows() {
                let trace_id = columns.trace_id(row);
                if current.as_ref().is_some_and(|trace| trace.trace_id != trace_id)
                    && let Some(done) = current.take()
                {
                    scan.traces += 1;
                    if on_trace(done.finish().map_err(malformed)?).is_break() {
                        scan.stopped = true;
                        return Ok(scan);
                    }
                }
                let trace = current.get_or_insert_with(|| TraceBuilder::new(trace_id));
                columns.push_row(row, trace).map_err(malformed)?;
            }
        }
        if let Some(done) = current.take() {
            scan.traces += 1;
            scan.stopped = on_trace(done.finish().map_err(malformed)?).is_break();
        }
        Ok(scan)
    }
}

/// Where one scope's attributes come from in a batch.
enum AttrColumns<'a> {
    Nothing,
    Dedicated(DedicatedSubset<'a>),
    Full {
        generic: AttributeListColumn<'a>,
        positions: &'a BinaryArray,
        dedicated: DedicatedColumns<'a>,
    },
}

impl<'a> AttrColumns<'a> {
    fn new(
        batch: &'a RecordBatch,
        how: AttrRead,
        keys: &BTreeSet<String>,
        (list, positions, table): (&str, &str, &'static [DedicatedColumn]),
    ) -> Result<Self, Malformed> {
        Ok(match how {
            AttrRead::Nothing => AttrColumns::Nothing,
            AttrRead::Dedicated => {
                AttrColumns::Dedicated(DedicatedSubset::new(batch, table, |key| {
                    keys.contains(key)
                })?)
            }
            AttrRead::Full => AttrColumns::Full {
                generic: AttributeListColumn::new(column(batch, list)?, list)?,
                positions: binary(batch, positions)?,
                dedicated: DedicatedColumns::new(batch, table)?,
            },
        })
    }

    /// The wanted attributes of `row`; a null list (no resource) has none.
    fn attrs(&self, row: usize, keys: &BTreeSet<String>) -> Result<Attrs, Malformed> {
        Ok(match self {
            AttrColumns::Nothing => Attrs::default(),
            AttrColumns::Dedicated(subset) => Attrs(subset.values(row)),
            AttrColumns::Full { generic, positions, dedicated } => {
                let Some(list) = generic.list(row)? else {
                    return Ok(Attrs::default());
                };
                let mut list = dedicated.merge(row, list, positions.value(row))?;
                list.retain(|attribute| keys.contains(&attribute.key));
                Attrs::from_otlp(list)
            }
        })
    }
}

/// Typed views of the columns pass 2 read.
struct EvalBatch<'a> {
    needs: &'a EvalNeeds,
    trace_id: &'a FixedSizeBinaryArray,
    span_id: &'a FixedSizeBinaryArray,
    parent_span_id: &'a BinaryArray,
    name: &'a StringArray,
    kind: &'a Int32Array,
    status_code: &'a Int32Array,
    status_message: Option<&'a StringArray>,
    start: &'a UInt64Array,
    duration: &'a Int64Array,
    nested_left: &'a UInt32Array,
    nested_parent: &'a UInt32Array,
    span_attributes: AttrColumns<'a>,
    resource_attributes: AttrColumns<'a>,
    scope: Option<(&'a StringArray, &'a StringArray, AttributeListColumn<'a>)>,
    events: Option<EventColumns<'a>>,
    links: Option<LinkColumns<'a>>,
}

impl<'a> EvalBatch<'a> {
    fn new(
        batch: &'a RecordBatch,
        needs: &'a EvalNeeds,
        read: UnitRead,
    ) -> Result<Self, Malformed> {
        let scope = if needs.scope {
            let attributes =
                AttributeListColumn::new(column(batch, SCOPE_ATTRIBUTES)?, SCOPE_ATTRIBUTES)?;
            Some((string(batch, SCOPE_NAME)?, string(batch, SCOPE_VERSION)?, attributes))
        } else {
            None
        };
        Ok(EvalBatch {
            needs,
            trace_id: fixed(batch, TRACE_ID, 16)?,
            span_id: fixed(batch, SPAN_ID, 8)?,
            parent_span_id: binary(batch, PARENT_SPAN_ID)?,
            name: string(batch, NAME)?,
            kind: primitive::<Int32Type>(batch, KIND)?,
            status_code: primitive::<Int32Type>(batch, STATUS_CODE)?,
            status_message: needs
                .status_message
                .then(|| string(batch, STATUS_MESSAGE))
                .transpose()?,
            start: primitive::<UInt64Type>(batch, START_UNIX_NANO)?,
            duration: primitive::<Int64Type>(batch, DURATION_NANO)?,
            nested_left: primitive::<UInt32Type>(batch, NESTED_SET_LEFT)?,
            nested_parent: primitive::<UInt32Type>(batch, NESTED_SET_PARENT)?,
            span_attributes: AttrColumns::new(
                batch,
                read.span,
                &needs.span_keys,
                (ATTRIBUTES, DEDICATED_POSITIONS, SPAN_DEDICATED),
            )?,
            resource_attributes: AttrColumns::new(
                batch,
                read.resource,
                &needs.resource_keys,
                (RESOURCE_ATTRIBUTES, RESOURCE_DEDICATED_POSITIONS, RESOURCE_DEDICATED),
            )?,
            scope,
            events: needs.events.then(|| EventColumns::new(batch)).transpose()?,
            links: needs.links.then(|| LinkColumns::new(batch)).transpose()?,
        })
    }

    fn trace_id(&self, row: usize) -> TraceId {
        TraceId::from_slice(self.trace_id.value(row)).unwrap_or_default()
    }

    /// Decodes `row` into `trace`.
    fn push_row(&self, row: usize, trace: &mut TraceBuilder) -> Result<(), Malformed> {
        let (status, status_message) = if self.status_code.is_valid(row) {
            let message = match self.status_message {
                Some(messages) if messages.is_valid(row) => messages.value(row).to_string(),
                _ => String::new(),
            };
            (status_from_code(self.status_code.value(row)), message)
        } else {
            (Status::Unset, String::new())
        };
        let start = self.start.value(row);
        let parent = self.parent_span_id.value(row);
        let span = EvalSpan {
            span_id: id8(self.span_id.value(row)),
            parent_span_id: (!parent.is_empty()).then(|| id8(parent)),
            name: self.name.value(row).to_string(),
            kind: kind_from_code(self.kind.value(row)),
            status,
            status_message,
            start_unix_nano: start,
            end_unix_nano: start.wrapping_add(self.duration.value(row) as u64),
            attributes: self.span_attributes.attrs(row, &self.needs.span_keys)?,
            resource: 0,
            scope: 0,
            events: match &self.events {
                Some(events) => events.events(row)?.into_iter().map(eval_event).collect(),
                None => Vec::new(),
            },
            links: match &self.links {
                Some(links) => links.links(row)?.into_iter().map(eval_link).collect(),
                None => Vec::new(),
            },
            nested: None,
            child_count: 0,
        };
        let resource = self.resource_attributes.attrs(row, &self.needs.resource_keys)?;
        let scope = match &self.scope {
            Some((names, versions, attributes)) if names.is_valid(row) => {
                eval_scope(Some(InstrumentationScope {
                    name: names.value(row).to_string(),
                    version: versions.value(row).to_string(),
                    attributes: attributes.list_or_empty(row)?,
                    dropped_attributes_count: 0,
                }))
            }
            _ => EvalScope::default(),
        };
        trace.push(
            span,
            resource,
            scope,
            self.nested_left.value(row),
            self.nested_parent.value(row),
        );
        Ok(())
    }
}

/// The spans of one trace as they are read.
struct TraceBuilder {
    trace_id: TraceId,
    spans: Vec<EvalSpan>,
    /// Nested-set `left` and parent `left` per span (0: the stored parent id is the truth).
    tree: Vec<(u32, u32)>,
    resources: Vec<Attrs>,
    scopes: Vec<EvalScope>,
}

impl TraceBuilder {
    fn new(trace_id: TraceId) -> TraceBuilder {
        TraceBuilder {
            trace_id,
            spans: Vec::new(),
            tree: Vec::new(),
            resources: Vec::new(),
            scopes: Vec::new(),
        }
    }

    fn push(
        &mut self,
        mut span: EvalSpan,
        resource: Attrs,
        scope: EvalScope,
        left: u32,
        parent: u32,
    ) {
        if self.resources.last() != Some(&resource) {
            self.resources.push(resource);
        }
        if self.scopes.last() != Some(&scope) {
            self.scopes.push(scope);
        }
        span.resource = index_u32(self.resources.len() - 1);
        span.scope = index_u32(self.scopes.len() - 1);
        self.spans.push(span);
        self.tree.push((left, parent));
    }

    /// Restores the parent ids the nested set names and builds the trace.
    fn finish(mut self) -> Result<EvalTrace, Malformed> {
        if self.tree.iter().any(|&(_, parent)| parent != 0) {
            let ids: HashMap<u32, [u8; 8]> = self
                .tree
                .iter()
                .zip(&self.spans)
                .map(|(&(left, _), span)| (left, span.span_id))
                .collect();
            for (&(_, parent), span) in self.tree.iter().zip(&mut self.spans) {
                if parent == 0 {
                    continue;
                }
                if span.parent_span_id.is_some() {
                    return Err(Malformed(
                        "a span stores a parent the nested set names".to_string(),
                    ));
                }
                let id = ids.get(&parent).ok_or_else(|| {
                    Malformed(format!("nested-set parent {parent} is not in the trace"))
                })?;
                span.parent_span_id = Some(*id);
            }
        }
        Ok(EvalTrace::assemble(self.trace_id, self.spans, self.resources, self.scopes))
    }
}
