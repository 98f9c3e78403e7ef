//! Arrow record batches of the v1 schema back to OTLP spans, and spans of one trace back into
//! `ResourceSpans` grouped by equal resource and scope.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, BinaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, ListArray, PrimitiveArray,
    RecordBatch, StringArray, StructArray, UInt32Array, UInt64Array,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use super::Malformed;
use super::attributes::AttributeListColumn;
use super::dedicated::DedicatedColumns;
use super::schema::*;
use crate::model::ids::TraceId;

/// One decoded row: a span with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DecodedRow {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's resource.
    pub resource: Option<Resource>,
    /// `ResourceSpans.schema_url`.
    pub resource_schema_url: String,
    /// The span's scope.
    pub scope: Option<InstrumentationScope>,
    /// `ScopeSpans.schema_url`.
    pub scope_schema_url: String,
    /// The span; `parent_span_id` is empty until the trace is assembled when the parent is
    /// named by the nested set.
    pub span: Span,
    /// The span's nested-set `left`.
    pub nested_set_left: u32,
    /// The parent's `left`; 0 when the stored `parent_span_id` is the whole truth.
    pub nested_set_parent: u32,
}

pub(super) fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, Malformed> {
    batch
        .column_by_name(name)
        .map(|array| array.as_ref())
        .ok_or_else(|| Malformed(format!("column {name} is missing")))
}

fn shape(name: &str) -> Malformed {
    Malformed(format!("column {name} has an unexpected type"))
}

pub(super) fn primitive<'a, T: ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a PrimitiveArray<T>, Malformed> {
    column(batch, name)?.as_primitive_opt::<T>().ok_or_else(|| shape(name))
}

pub(super) fn string<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, Malformed> {
    column(batch, name)?.as_string_opt::<i32>().ok_or_else(|| shape(name))
}

pub(super) fn binary<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a BinaryArray, Malformed> {
    column(batch, name)?.as_binary_opt::<i32>().ok_or_else(|| shape(name))
}

pub(super) fn fixed<'a>(
    batch: &'a RecordBatch,
    name: &str,
    width: i32,
) -> Result<&'a FixedSizeBinaryArray, Malformed> {
    column(batch, name)?
        .as_fixed_size_binary_opt()
        .filter(|array| array.value_length() == width)
        .ok_or_else(|| shape(name))
}

fn list<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<(&'a ListArray, &'a StructArray), Malformed> {
    let lists = column(batch, name)?.as_list_opt::<i32>().ok_or_else(|| shape(name))?;
    let items = lists.values().as_struct_opt().ok_or_else(|| shape(name))?;
    Ok((lists, items))
}

fn optional_string(array: &StringArray, row: usize) -> Option<String> {
    array.is_valid(row).then(|| array.value(row).to_string())
}

/// Typed views of every column of a batch.
pub(crate) struct SpanBatchColumns<'a> {
    trace_id: &'a FixedSizeBinaryArray,
    span_id: &'a FixedSizeBinaryArray,
    parent_span_id: &'a BinaryArray,
    trace_state: &'a StringArray,
    flags: &'a UInt32Array,
    name: &'a StringArray,
    kind: &'a Int32Array,
    status_code: &'a Int32Array,
    status_message: &'a StringArray,
    start: &'a UInt64Array,
    duration: &'a Int64Array,
    dropped_attributes: &'a UInt32Array,
    dropped_events: &'a UInt32Array,
    dropped_links: &'a UInt32Array,
    nested_left: &'a UInt32Array,
    nested_parent: &'a UInt32Array,
    resource_schema_url: &'a StringArray,
    resource_attributes: AttributeListColumn<'a>,
    resource_positions: &'a BinaryArray,
    resource_dropped: &'a UInt32Array,
    resource_entity_refs: &'a BinaryArray,
    resource_dedicated: DedicatedColumns<'a>,
    scope_schema_url: &'a StringArray,
    scope_name: &'a StringArray,
    scope_version: &'a StringArray,
    scope_attributes: AttributeListColumn<'a>,
    scope_dropped: &'a UInt32Array,
    attributes: AttributeListColumn<'a>,
    positions: &'a BinaryArray,
    span_dedicated: DedicatedColumns<'a>,
    events: EventColumns<'a>,
    links: LinkColumns<'a>,
}

impl<'a> SpanBatchColumns<'a> {
    /// Finds and checks the columns of `batch`.
    pub(crate) fn new(batch: &'a RecordBatch) -> Result<Self, Malformed> {
        Ok(SpanBatchColumns {
            trace_id: fixed(batch, TRACE_ID, 16)?,
            span_id: fixed(batch, SPAN_ID, 8)?,
            parent_span_id: binary(batch, PARENT_SPAN_ID)?,
            trace_state: string(batch, TRACE_STATE)?,
            flags: primitive::<UInt32Type>(batch, FLAGS)?,
            name: string(batch, NAME)?,
            kind: primitive::<Int32Type>(batch, KIND)?,
            status_code: primitive::<Int32Type>(batch, STATUS_CODE)?,
            status_message: string(batch, STATUS_MESSAGE)?,
            start: primitive::<UInt64Type>(batch, START_UNIX_NANO)?,
            duration: primitive::<Int64Type>(batch, DURATION_NANO)?,
            dropped_attributes: primitive::<UInt32Type>(batch, DROPPED_ATTRIBUTES_COUNT)?,
            dropped_events: primitive::<UInt32Type>(batch, DROPPED_EVENTS_COUNT)?,
            dropped_links: primitive::<UInt32Type>(batch, DROPPED_LINKS_COUNT)?,
            nested_left: primitive::<UInt32Type>(batch, NESTED_SET_LEFT)?,
            nested_parent: primitive::<UInt32Type>(batch, NESTED_SET_PARENT)?,
            resource_schema_url: string(batch, RESOURCE_SCHEMA_URL)?,
            resource_attributes: AttributeListColumn::new(
                column(batch, RESOURCE_ATTRIBUTES)?,
                RESOURCE_ATTRIBUTES,
            )?,
            resource_positions: binary(batch, RESOURCE_DEDICATED_POSITIONS)?,
            resource_dropped: primitive::<UInt32Type>(batch, RESOURCE_DROPPED_ATTRIBUTES_COUNT)?,
            resource_entity_refs: binary(batch, RESOURCE_ENTITY_REFS)?,
            resource_dedicated: DedicatedColumns::new(batch, RESOURCE_DEDICATED)?,
            scope_schema_url: string(batch, SCOPE_SCHEMA_URL)?,
            scope_name: string(batch, SCOPE_NAME)?,
            scope_version: string(batch, SCOPE_VERSION)?,
            scope_attributes: AttributeListColumn::new(
                column(batch, SCOPE_ATTRIBUTES)?,
                SCOPE_ATTRIBUTES,
            )?,
            scope_dropped: primitive::<UInt32Type>(batch, SCOPE_DROPPED_ATTRIBUTES_COUNT)?,
            attributes: AttributeListColumn::new(column(batch, ATTRIBUTES)?, ATTRIBUTES)?,
            positions: binary(batch, DEDICATED_POSITIONS)?,
            span_dedicated: DedicatedColumns::new(batch, SPAN_DEDICATED)?,
            events: EventColumns::new(batch)?,
            links: LinkColumns::new(batch)?,
        })
    }

    /// The trace id of `row`.
    pub(crate) fn trace_id(&self, row: usize) -> TraceId {
        TraceId::from_slice(self.trace_id.value(row)).unwrap_or_default()
    }

    /// Decodes `row`.
    pub(crate) fn row(&self, row: usize) -> Result<DecodedRow, Malformed> {
        let start = self.start.value(row);
        let generic = self.attributes.list_or_empty(row)?;
        let span = Span {
            trace_id: self.trace_id.value(row).to_vec(),
            span_id: self.span_id.value(row).to_vec(),
            trace_state: self.trace_state.value(row).to_string(),
            parent_span_id: self.parent_span_id.value(row).to_vec(),
            flags: self.flags.value(row),
            name: self.name.value(row).to_string(),
            kind: self.kind.value(row),
            start_time_unix_nano: start,
            end_time_unix_nano: start.wrapping_add(self.duration.value(row) as u64),
            attributes: self.span_dedicated.merge(row, generic, self.positions.value(row))?,
            dropped_attributes_count: self.dropped_attributes.value(row),
            events: self.events.events(row)?,
            dropped_events_count: self.dropped_events.value(row),
            links: self.links.links(row)?,
            dropped_links_count: self.dropped_links.value(row),
            status: self.status_code.is_valid(row).then(|| Status {
                code: self.status_code.value(row),
                message: optional_string(self.status_message, row).unwrap_or_default(),
            }),
        };
        Ok(DecodedRow {
            trace_id: self.trace_id(row),
            resource: self.resource(row)?,
            resource_schema_url: self.resource_schema_url.value(row).to_string(),
            scope: self.scope(row)?,
            scope_schema_url: self.scope_schema_url.value(row).to_string(),
            span,
            nested_set_left: self.nested_left.value(row),
            nested_set_parent: self.nested_parent.value(row),
        })
    }

    fn resource(&self, row: usize) -> Result<Option<Resource>, Malformed> {
        let Some(generic) = self.resource_attributes.list(row)? else {
            return Ok(None);
        };
        let positions = self.resource_positions.value(row);
        let attributes = self.resource_dedicated.merge(row, generic, positions)?;
        let entity_refs = match self.resource_entity_refs.value(row) {
            [] => Vec::new(),
            encoded => {
                Resource::decode(encoded)
                    .map_err(|error| Malformed(format!("resource entity refs: {error}")))?
                    .entity_refs
            }
        };
        Ok(Some(Resource {
            attributes,
            dropped_attributes_count: self.resource_dropped.value(row),
            entity_refs,
        }))
    }

    fn scope(&self, row: usize) -> Result<Option<InstrumentationScope>, Malformed> {
        let Some(name) = optional_string(self.scope_name, row) else {
            return Ok(None);
        };
        Ok(Some(InstrumentationScope {
            name,
            version: self.scope_version.value(row).to_string(),
            attributes: self.scope_attributes.list_or_empty(row)?,
            dropped_attributes_count: self.scope_dropped.value(row),
        }))
    }
}

/// The events column, flattened.
pub(super) struct EventColumns<'a> {
    lists: &'a ListArray,
    time: &'a UInt64Array,
    name: &'a StringArray,
    attributes: AttributeListColumn<'a>,
    dropped: &'a UInt32Array,
}

impl<'a> EventColumns<'a> {
    pub(super) fn new(batch: &'a RecordBatch) -> Result<Self, Malformed> {
        let (lists, items) = list(batch, EVENTS)?;
        if items.num_columns() != 4 {
            return Err(shape(EVENTS));
        }
        Ok(EventColumns {
            lists,
            time: items.column(0).as_primitive_opt::<UInt64Type>().ok_or_else(|| shape(EVENTS))?,
            name: items.column(1).as_string_opt::<i32>().ok_or_else(|| shape(EVENTS))?,
            attributes: AttributeListColumn::new(items.column(2).as_ref(), EVENTS)?,
            dropped: items
                .column(3)
                .as_primitive_opt::<UInt32Type>()
                .ok_or_else(|| shape(EVENTS))?,
        })
    }

    pub(super) fn events(&self, row: usize) -> Result<Vec<Event>, Malformed> {
        let offsets = self.lists.value_offsets();
        (offsets[row] as usize..offsets[row + 1] as usize)
            .map(|event| {
                Ok(Event {
                    time_unix_nano: self.time.value(event),
                    name: self.name.value(event).to_string(),
                    attributes: self.attributes.list_or_empty(event)?,
                    dropped_attributes_count: self.dropped.value(event),
                })
            })
            .collect()
    }
}

/// The links column, flattened.
pub(super) struct LinkColumns<'a> {
    lists: &'a ListArray,
    trace_id: &'a BinaryArray,
    span_id: &'a BinaryArray,
    trace_state: &'a StringArray,
    flags: &'a UInt32Array,
    attributes: AttributeListColumn<'a>,
    dropped: &'a UInt32Array,
}

impl<'a> LinkColumns<'a> {
    pub(super) fn new(batch: &'a RecordBatch) -> Result<Self, Malformed> {
        let (lists, items) = list(batch, LINKS)?;
        if items.num_columns() != 6 {
            return Err(shape(LINKS));
        }
        let bytes =
            |index: usize| items.column(index).as_binary_opt::<i32>().ok_or_else(|| shape(LINKS));
        let uint = |index: usize| {
            items.column(index).as_primitive_opt::<UInt32Type>().ok_or_else(|| shape(LINKS))
        };
        Ok(LinkColumns {
            lists,
            trace_id: bytes(0)?,
            span_id: bytes(1)?,
            trace_state: items.column(2).as_string_opt::<i32>().ok_or_else(|| shape(LINKS))?,
            flags: uint(3)?,
            attributes: AttributeListColumn::new(items.column(4).as_ref(), LINKS)?,
            dropped: uint(5)?,
        })
    }

    pub(super) fn links(&self, row: usize) -> Result<Vec<Link>, Malformed> {
        let offsets = self.lists.value_offsets();
        (offsets[row] as usize..offsets[row + 1] as usize)
            .map(|link| {
                Ok(Link {
                    trace_id: self.trace_id.value(link).to_vec(),
                    span_id: self.span_id.value(link).to_vec(),
                    trace_state: self.trace_state.value(link).to_string(),
                    attributes: self.attributes.list_or_empty(link)?,
                    dropped_attributes_count: self.dropped.value(link),
                    flags: self.flags.value(link),
                })
            })
            .collect()
    }
}

/// Collects the rows of one trace, restores parent ids named by the nested set, and groups
/// the spans into `ResourceSpans` by equal (resource, schema url) and, inside, `ScopeSpans` by
/// equal (scope, schema url); spans keep their row order.
#[derive(Default)]
pub(crate) struct TraceAssembler {
    rows: Vec<DecodedRow>,
}

impl TraceAssembler {
    /// Adds one row of the trace.
    pub(crate) fn push(&mut self, row: DecodedRow) {
        self.rows.push(row);
    }

    /// True when no row was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The grouped trace.
    pub(crate) fn finish(mut self) -> Result<Vec<ResourceSpans>, Malformed> {
        self.restore_parents()?;
        let mut grouping = Grouping::default();
        for row in self.rows {
            grouping.push(row);
        }
        Ok(grouping.resource_spans)
    }

    fn restore_parents(&mut self) -> Result<(), Malformed> {
        if self.rows.iter().all(|row| row.nested_set_parent == 0) {
            return Ok(());
        }
        let span_ids: HashMap<u32, Vec<u8>> =
            self.rows.iter().map(|row| (row.nested_set_left, row.span.span_id.clone())).collect();
        for row in &mut self.rows {
            if row.nested_set_parent == 0 {
                continue;
            }
            if !row.span.parent_span_id.is_empty() {
                return Err(Malformed("a span stores a parent the nested set names".to_string()));
            }
            let parent = span_ids.get(&row.nested_set_parent).ok_or_else(|| {
                Malformed(format!(
                    "nested-set parent {} is not in the trace",
                    row.nested_set_parent
                ))
            })?;
            row.span.parent_span_id = parent.clone();
        }
        Ok(())
    }
}

/// Groups spans by resource and scope.
#[derive(Default)]
struct Grouping {
    resource_spans: Vec<ResourceSpans>,
    resource_groups: HashMap<Vec<u8>, usize>,
    scope_groups: HashMap<(usize, Vec<u8>), usize>,
    last: Option<(usize, usize)>,
}

impl Grouping {
    fn push(&mut self, row: DecodedRow) {
        if let Some((resource_index, scope_index)) = self.last {
            let resource_spans = &mut self.resource_spans[resource_index];
            let scope_spans = &mut resource_spans.scope_spans[scope_index];
            if resource_spans.resource == row.resource
                && resource_spans.schema_url == row.resource_schema_url
                && scope_spans.scope == row.scope
                && scope_spans.schema_url == row.scope_schema_url
            {
                scope_spans.spans.push(row.span);
                return;
            }
        }
        let resource_key =
            group_key(row.resource.as_ref().map(Message::encode_to_vec), &row.resource_schema_url);
        let resource_index = *self.resource_groups.entry(resource_key).or_insert_with(|| {
            self.resource_spans.push(ResourceSpans {
                resource: row.resource,
                scope_spans: Vec::new(),
                schema_url: row.resource_schema_url,
            });
            self.resource_spans.len() - 1
        });
        let scope_key =
            group_key(row.scope.as_ref().map(Message::encode_to_vec), &row.scope_schema_url);
        let scope_spans = &mut self.resource_spans[resource_index].scope_spans;
        let scope_index =
            *self.scope_groups.entry((resource_index, scope_key)).or_insert_with(|| {
                scope_spans.push(ScopeSpans {
                    scope: row.scope,
                    spans: Vec::new(),
                    schema_url: row.scope_schema_url,
                });
                scope_spans.len() - 1
            });
        scope_spans[scope_index].spans.push(row.span);
        self.last = Some((resource_index, scope_index));
    }
}

/// An unambiguous key for (optional encoded message, schema url).
fn group_key(encoded: Option<Vec<u8>>, schema_url: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + schema_url.len() + encoded.as_ref().map_or(0, Vec::len));
    match encoded {
        Some(encoded) => {
            key.push(1);
            key.extend_from_slice(&(encoded.len() as u64).to_le_bytes());
            key.extend_from_slice(&encoded);
        }
        None => key.push(0),
    }
    key.extend_from_slice(schema_url.as_bytes());
    key
}
