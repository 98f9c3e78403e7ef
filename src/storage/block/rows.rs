//! Spans to Arrow record batches of the v1 schema, one row per span.
//!
//! The writer hands rows in final order; this module only lays them out in columns. The
//! resource's split attributes are computed once per `ResourceSpans` ([`ResourceContext`])
//! and repeated on each of its rows.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, FixedSizeBinaryBuilder, Int32Builder, Int64Builder, OffsetBufferBuilder,
    StringBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use super::BlockError;
use super::attributes::{AttributeListBuilder, encode_error};
use super::dedicated::{DedicatedBuilders, SplitAttributes, split_dedicated};
use super::schema::{
    RESOURCE_DEDICATED, SPAN_DEDICATED, event_fields, event_item_field, link_fields,
    link_item_field, schema_v1,
};
use crate::model::ids::TraceId;
use crate::model::nested_set::NestedSet;

/// A `ResourceSpans`' resource, prepared once for all its rows.
pub(crate) struct ResourceContext<'a> {
    /// The resource, if the input had one.
    pub resource: Option<&'a Resource>,
    /// `ResourceSpans.schema_url`.
    pub schema_url: &'a str,
    /// The resource's attributes split by [`RESOURCE_DEDICATED`].
    pub split: Option<SplitAttributes<'a>>,
    /// The resource's entity refs as a protobuf `Resource` (empty when it has none).
    pub entity_refs: Vec<u8>,
}

impl<'a> ResourceContext<'a> {
    /// Prepares `resource` for its rows.
    pub(crate) fn new(resource: Option<&'a Resource>, schema_url: &'a str) -> Self {
        let split =
            resource.map(|resource| split_dedicated(&resource.attributes, RESOURCE_DEDICATED));
        let entity_refs = match resource {
            Some(resource) if !resource.entity_refs.is_empty() => {
                Resource { entity_refs: resource.entity_refs.clone(), ..Default::default() }
                    .encode_to_vec()
            }
            _ => Vec::new(),
        };
        ResourceContext { resource, schema_url, split, entity_refs }
    }
}

/// A `ScopeSpans`' scope.
#[derive(Clone, Copy)]
pub(crate) struct ScopeContext<'a> {
    /// The scope, if the input had one.
    pub scope: Option<&'a InstrumentationScope>,
    /// `ScopeSpans.schema_url`.
    pub schema_url: &'a str,
}

/// Trace-level values repeated on every row of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TraceSummary {
    /// `service.name` of the root span's resource.
    pub root_service_name: Option<String>,
    /// The root span's name.
    pub root_span_name: Option<String>,
    /// Earliest span start.
    pub start_unix_nano: u64,
    /// Latest span end.
    pub end_unix_nano: u64,
}

/// One row to lay out.
pub(crate) struct SpanRow<'r, 'a> {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's resource.
    pub resource: &'r ResourceContext<'a>,
    /// The span's scope.
    pub scope: ScopeContext<'a>,
    /// The span.
    pub span: &'a Span,
    /// Its nested-set numbers.
    pub nested_set: NestedSet,
    /// Its trace's summary.
    pub trace: &'r TraceSummary,
}

/// Accumulates rows into columns.
pub(crate) struct SpanBatchBuilder {
    rows: usize,
    trace_id: FixedSizeBinaryBuilder,
    span_id: FixedSizeBinaryBuilder,
    parent_span_id: BinaryBuilder,
    trace_state: StringBuilder,
    flags: UInt32Builder,
    name: StringBuilder,
    kind: Int32Builder,
    status_code: Int32Builder,
    status_message: StringBuilder,
    start: UInt64Builder,
    duration: Int64Builder,
    dropped_attributes: UInt32Builder,
    dropped_events: UInt32Builder,
    dropped_links: UInt32Builder,
    nested_left: UInt32Builder,
    nested_right: UInt32Builder,
    nested_parent: UInt32Builder,
    root_service_name: StringBuilder,
    root_span_name: StringBuilder,
    trace_start: UInt64Builder,
    trace_end: UInt64Builder,
    resource_schema_url: StringBuilder,
    resource_attributes: AttributeListBuilder,
    resource_positions: BinaryBuilder,
    resource_dropped: UInt32Builder,
    resource_entity_refs: BinaryBuilder,
    resource_dedicated: DedicatedBuilders,
    scope_schema_url: StringBuilder,
    scope_name: StringBuilder,
    scope_version: StringBuilder,
    scope_attributes: AttributeListBuilder,
    scope_dropped: UInt32Builder,
    attributes: AttributeListBuilder,
    positions: BinaryBuilder,
    span_dedicated: DedicatedBuilders,
    events: EventListBuilder,
    links: LinkListBuilder,
}

impl Default for SpanBatchBuilder {
    fn default() -> Self {
        SpanBatchBuilder {
            rows: 0,
            trace_id: FixedSizeBinaryBuilder::new(16),
            span_id: FixedSizeBinaryBuilder::new(8),
            parent_span_id: BinaryBuilder::new(),
            trace_state: StringBuilder::new(),
            flags: UInt32Builder::new(),
            name: StringBuilder::new(),
            kind: Int32Builder::new(),
            status_code: Int32Builder::new(),
            status_message: StringBuilder::new(),
            start: UInt64Builder::new(),
            duration: Int64Builder::new(),
            dropped_attributes: UInt32Builder::new(),
            dropped_events: UInt32Builder::new(),
            dropped_links: UInt32Builder::new(),
            nested_left: UInt32Builder::new(),
            nested_right: UInt32Builder::new(),
            nested_parent: UInt32Builder::new(),
            root_service_name: StringBuilder::new(),
            root_span_name: StringBuilder::new(),
            trace_start: UInt64Builder::new(),
            trace_end: UInt64Builder::new(),
            resource_schema_url: StringBuilder::new(),
            resource_attributes: AttributeListBuilder::default(),
            resource_positions: BinaryBuilder::new(),
            resource_dropped: UInt32Builder::new(),
            resource_entity_refs: BinaryBuilder::new(),
            resource_dedicated: DedicatedBuilders::new(RESOURCE_DEDICATED),
            scope_schema_url: StringBuilder::new(),
            scope_name: StringBuilder::new(),
            scope_version: StringBuilder::new(),
            scope_attributes: AttributeListBuilder::default(),
            scope_dropped: UInt32Builder::new(),
            attributes: AttributeListBuilder::default(),
            positions: BinaryBuilder::new(),
            span_dedicated: DedicatedBuilders::new(SPAN_DEDICATED),
            events: EventListBuilder::default(),
            links: LinkListBuilder::default(),
        }
    }
}

impl SpanBatchBuilder {
    /// Rows appended since the last [`finish`](Self::finish).
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one span.
    pub(crate) fn append(&mut self, row: &SpanRow<'_, '_>) -> Result<(), BlockError> {
        let span = row.span;
        self.trace_id.append_value(row.trace_id.0).map_err(encode_error)?;
        self.span_id.append_value(&span.span_id).map_err(encode_error)?;
        // A parent inside the trace is named by the nested set (`parent` is its `left`), so
        // only a parent the nested set does not name (none, dangling, cut) is stored.
        if row.nested_set.parent == 0 {
            self.parent_span_id.append_value(&span.parent_span_id);
        } else {
            self.parent_span_id.append_value([]);
        }
        self.trace_state.append_value(&span.trace_state);
        self.flags.append_value(span.flags);
        self.name.append_value(&span.name);
        self.kind.append_value(span.kind);
        self.status_code.append_option(span.status.as_ref().map(|status| status.code));
        self.status_message.append_option(span.status.as_ref().map(|status| &status.message));
        self.start.append_value(span.start_time_unix_nano);
        // Wrapping keeps an end before the start exact: end = start + duration (mod 2^64).
        self.duration
            .append_value(span.end_time_unix_nano.wrapping_sub(span.start_time_unix_nano) as i64);
        self.dropped_attributes.append_value(span.dropped_attributes_count);
        self.dropped_events.append_value(span.dropped_events_count);
        self.dropped_links.append_value(span.dropped_links_count);
        self.nested_left.append_value(row.nested_set.left);
        self.nested_right.append_value(row.nested_set.right);
        self.nested_parent.append_value(row.nested_set.parent);
        self.root_service_name.append_option(row.trace.root_service_name.as_deref());
        self.root_span_name.append_option(row.trace.root_span_name.as_deref());
        self.trace_start.append_value(row.trace.start_unix_nano);
        self.trace_end.append_value(row.trace.end_unix_nano);
        self.append_resource(row.resource);
        self.append_scope(row.scope);

        let split = split_dedicated(&span.attributes, SPAN_DEDICATED);
        self.attributes.append_list(split.generic.iter().copied());
        self.positions.append_value(&split.positions);
        self.span_dedicated.append(&split.dedicated);
        self.events.append(span);
        self.links.append(span);
        self.rows += 1;
        Ok(())
    }

    fn append_resource(&mut self, context: &ResourceContext<'_>) {
        self.resource_schema_url.append_value(context.schema_url);
        match (context.resource, &context.split) {
            (Some(resource), Some(split)) => {
                self.resource_attributes.append_list(split.generic.iter().copied());
                self.resource_positions.append_value(&split.positions);
                self.resource_dropped.append_value(resource.dropped_attributes_count);
                self.resource_dedicated.append(&split.dedicated);
            }
            _ => {
                self.resource_attributes.append_null_list();
                self.resource_positions.append_value([]);
                self.resource_dropped.append_value(0);
                self.resource_dedicated.append_nulls();
            }
        }
        self.resource_entity_refs.append_value(&context.entity_refs);
    }

    fn append_scope(&mut self, context: ScopeContext<'_>) {
        self.scope_schema_url.append_value(context.schema_url);
        match context.scope {
            Some(scope) => {
                self.scope_name.append_value(&scope.name);
                self.scope_version.append_value(&scope.version);
                self.scope_attributes.append_list(&scope.attributes);
                self.scope_dropped.append_value(scope.dropped_attributes_count);
            }
            None => {
                self.scope_name.append_null();
                self.scope_version.append_value("");
                self.scope_attributes.append_list([]);
                self.scope_dropped.append_value(0);
            }
        }
    }

    /// The rows appended so far as one batch; the builder starts over.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, BlockError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(self.trace_state.finish()),
            Arc::new(self.flags.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.status_code.finish()),
            Arc::new(self.status_message.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.dropped_attributes.finish()),
            Arc::new(self.dropped_events.finish()),
            Arc::new(self.dropped_links.finish()),
            Arc::new(self.nested_left.finish()),
            Arc::new(self.nested_right.finish()),
            Arc::new(self.nested_parent.finish()),
            Arc::new(self.root_service_name.finish()),
            Arc::new(self.root_span_name.finish()),
            Arc::new(self.trace_start.finish()),
            Arc::new(self.trace_end.finish()),
            Arc::new(self.resource_schema_url.finish()),
            self.resource_attributes.finish()?,
            Arc::new(self.resource_positions.finish()),
            Arc::new(self.resource_dropped.finish()),
            Arc::new(self.resource_entity_refs.finish()),
        ];
        columns.extend(self.resource_dedicated.finish());
        columns.extend([
            Arc::new(self.scope_schema_url.finish()) as ArrayRef,
            Arc::new(self.scope_name.finish()),
            Arc::new(self.scope_version.finish()),
            self.scope_attributes.finish()?,
            Arc::new(self.scope_dropped.finish()),
            self.attributes.finish()?,
            Arc::new(self.positions.finish()),
        ]);
        columns.extend(self.span_dedicated.finish());
        columns.push(self.events.finish()?);
        columns.push(self.links.finish()?);
        self.rows = 0;
        RecordBatch::try_new(schema_v1(), columns).map_err(encode_error)
    }
}

/// The events column: a list of event structs per span.
#[derive(Default)]
struct EventListBuilder {
    offsets: Option<OffsetBufferBuilder<i32>>,
    time: UInt64Builder,
    name: StringBuilder,
    attributes: AttributeListBuilder,
    dropped: UInt32Builder,
}

impl EventListBuilder {
    fn append(&mut self, span: &Span) {
        for event in &span.events {
            self.time.append_value(event.time_unix_nano);
            self.name.append_value(&event.name);
            self.attributes.append_list(&event.attributes);
            self.dropped.append_value(event.dropped_attributes_count);
        }
        self.offsets
            .get_or_insert_with(|| OffsetBufferBuilder::new(0))
            .push_length(span.events.len());
    }

    fn finish(&mut self) -> Result<ArrayRef, BlockError> {
        let events = StructArray::try_new(
            event_fields(),
            vec![
                Arc::new(self.time.finish()),
                Arc::new(self.name.finish()),
                self.attributes.finish()?,
                Arc::new(self.dropped.finish()),
            ],
            None,
        )
        .map_err(encode_error)?;
        let offsets = self.offsets.take().unwrap_or_else(|| OffsetBufferBuilder::new(0));
        let list = ListArray::try_new(event_item_field(), offsets.finish(), Arc::new(events), None)
            .map_err(encode_error)?;
        Ok(Arc::new(list))
    }
}

/// The links column: a list of link structs per span.
#[derive(Default)]
struct LinkListBuilder {
    offsets: Option<OffsetBufferBuilder<i32>>,
    trace_id: BinaryBuilder,
    span_id: BinaryBuilder,
    trace_state: StringBuilder,
    flags: UInt32Builder,
    attributes: AttributeListBuilder,
    dropped: UInt32Builder,
}

impl LinkListBuilder {
    fn append(&mut self, span: &Span) {
        for link in &span.links {
            self.trace_id.append_value(&link.trace_id);
            self.span_id.append_value(&link.span_id);
            self.trace_state.append_value(&link.trace_state);
            self.flags.append_value(link.flags);
            self.attributes.append_list(&link.attributes);
            self.dropped.append_value(link.dropped_attributes_count);
        }
        self.offsets
            .get_or_insert_with(|| OffsetBufferBuilder::new(0))
            .push_length(span.links.len());
    }

    fn finish(&mut self) -> Result<ArrayRef, BlockError> {
        let links = StructArray::try_new(
            link_fields(),
            vec![
                Arc::new(self.trace_id.finish()),
                Arc::new(self.span_id.finish()),
                Arc::new(self.trace_state.finish()),
                Arc::new(self.flags.finish()),
                self.attributes.finish()?,
                Arc::new(self.dropped.finish()),
            ],
            None,
        )
        .map_err(encode_error)?;
        let offsets = self.offsets.take().unwrap_or_else(|| OffsetBufferBuilder::new(0));
        let list = ListArray::try_new(link_item_field(), offsets.finish(), Arc::new(links), None)
            .map_err(encode_error)?;
        Ok(Arc::new(list))
    }
}
