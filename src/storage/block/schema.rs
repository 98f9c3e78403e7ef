//! The Arrow schema of block format v1: one row per span, column names as constants, and the
//! table of well-known attributes that get dedicated columns.
//!
//! Column order is part of the format (readers check the whole schema). Adding, removing or
//! retyping a column is a new format version (`docs/block-format.md`, "Versioning").

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

/// Trace id, 16 bytes.
pub(crate) const TRACE_ID: &str = "trace_id";
/// Span id, 8 bytes.
pub(crate) const SPAN_ID: &str = "span_id";
/// Parent span id as sent (any length) when the nested set does not name the parent (no
/// parent, a dangling or own id, a cut cycle, a repeated span id); empty when the span has no
/// parent or when `nested_set_parent` names it.
pub(crate) const PARENT_SPAN_ID: &str = "parent_span_id";
/// W3C trace state.
pub(crate) const TRACE_STATE: &str = "trace_state";
/// Span flags.
pub(crate) const FLAGS: &str = "flags";
/// Span name.
pub(crate) const NAME: &str = "name";
/// Span kind (OTLP enum value).
pub(crate) const KIND: &str = "kind";
/// Status code; null when the span has no status.
pub(crate) const STATUS_CODE: &str = "status_code";
/// Status message; null when the span has no status.
pub(crate) const STATUS_MESSAGE: &str = "status_message";
/// Span start, Unix nanoseconds.
pub(crate) const START_UNIX_NANO: &str = "start_unix_nano";
/// End minus start, wrapping, as i64: an end before the start stays exact (negative).
pub(crate) const DURATION_NANO: &str = "duration_nano";
/// Span's dropped attribute count.
pub(crate) const DROPPED_ATTRIBUTES_COUNT: &str = "dropped_attributes_count";
/// Span's dropped event count.
pub(crate) const DROPPED_EVENTS_COUNT: &str = "dropped_events_count";
/// Span's dropped link count.
pub(crate) const DROPPED_LINKS_COUNT: &str = "dropped_links_count";
/// Nested-set left number (1-based, unique within the trace).
pub(crate) const NESTED_SET_LEFT: &str = "nested_set_left";
/// Nested-set right number.
pub(crate) const NESTED_SET_RIGHT: &str = "nested_set_right";
/// Left number of the parent; 0 for a root.
pub(crate) const NESTED_SET_PARENT: &str = "nested_set_parent";
/// `service.name` of the trace's root span; null when the block holds no root span.
pub(crate) const TRACE_ROOT_SERVICE_NAME: &str = "trace_root_service_name";
/// Name of the trace's root span; null when the block holds no root span.
pub(crate) const TRACE_ROOT_SPAN_NAME: &str = "trace_root_span_name";
/// Earliest span start of the trace in this block.
pub(crate) const TRACE_START_UNIX_NANO: &str = "trace_start_unix_nano";
/// Latest span end of the trace in this block.
pub(crate) const TRACE_END_UNIX_NANO: &str = "trace_end_unix_nano";
/// `ResourceSpans.schema_url`.
pub(crate) const RESOURCE_SCHEMA_URL: &str = "resource_schema_url";
/// Resource attributes without the dedicated ones; null when the resource is absent.
pub(crate) const RESOURCE_ATTRIBUTES: &str = "resource_attributes";
/// Original positions of the resource's dedicated attributes (see [`DEDICATED_POSITIONS`]).
pub(crate) const RESOURCE_DEDICATED_POSITIONS: &str = "resource_dedicated_positions";
/// Resource's dropped attribute count.
pub(crate) const RESOURCE_DROPPED_ATTRIBUTES_COUNT: &str = "resource_dropped_attributes_count";
/// Resource entity refs: a protobuf `Resource` holding only `entity_refs`; empty when none.
pub(crate) const RESOURCE_ENTITY_REFS: &str = "resource_entity_refs";
/// `ScopeSpans.schema_url`.
pub(crate) const SCOPE_SCHEMA_URL: &str = "scope_schema_url";
/// Scope name; null when the scope is absent.
pub(crate) const SCOPE_NAME: &str = "scope_name";
/// Scope version.
pub(crate) const SCOPE_VERSION: &str = "scope_version";
/// Scope attributes.
pub(crate) const SCOPE_ATTRIBUTES: &str = "scope_attributes";
/// Scope's dropped attribute count.
pub(crate) const SCOPE_DROPPED_ATTRIBUTES_COUNT: &str = "scope_dropped_attributes_count";
/// Span attributes without the dedicated ones.
pub(crate) const ATTRIBUTES: &str = "attributes";
/// Original positions of the span's dedicated attributes: one LEB128 varint per non-null
/// dedicated column, in [`SPAN_DEDICATED`] order (the resource's: [`RESOURCE_DEDICATED`]).
pub(crate) const DEDICATED_POSITIONS: &str = "dedicated_positions";
/// Span events.
pub(crate) const EVENTS: &str = "events";
/// Span links.
pub(crate) const LINKS: &str = "links";

/// Attribute entry field: key.
pub(crate) const ATTR_KEY: &str = "key";
/// Attribute entry field: value type ([`ValueType`]).
pub(crate) const ATTR_TYPE: &str = "type";
/// Attribute entry field: string value.
pub(crate) const ATTR_STR: &str = "str";
/// Attribute entry field: int value.
pub(crate) const ATTR_INT: &str = "int";
/// Attribute entry field: double value.
pub(crate) const ATTR_DOUBLE: &str = "double";
/// Attribute entry field: bool value.
pub(crate) const ATTR_BOOL: &str = "bool";
/// Attribute entry field: bytes value, or the protobuf encoding of a composite value.
pub(crate) const ATTR_BYTES: &str = "bytes";

/// The type tag of an attribute entry: which field holds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ValueType {
    /// `KeyValue.value` is absent; every value field is null.
    Absent = 0,
    /// `AnyValue` present with no value set; every value field is null.
    Empty = 1,
    /// `str` holds the value.
    String = 2,
    /// `int` holds the value.
    Int = 3,
    /// `double` holds the value.
    Double = 4,
    /// `bool` holds the value.
    Bool = 5,
    /// `bytes` holds the value.
    Bytes = 6,
    /// `bytes` holds a protobuf `ArrayValue`.
    Array = 7,
    /// `bytes` holds a protobuf `KeyValueList`.
    KvList = 8,
    /// `bytes` holds the whole protobuf `KeyValue`: fields used only by profiles
    /// (`key_strindex`, `string_value_strindex`), kept so nothing is lost.
    RawKeyValue = 9,
}

impl ValueType {
    /// The tag for a stored byte; `None` for an unknown tag (a newer or damaged block).
    pub(crate) fn from_u8(tag: u8) -> Option<ValueType> {
        use ValueType::*;
        [Absent, Empty, String, Int, Double, Bool, Bytes, Array, KvList, RawKeyValue]
            .into_iter()
            .find(|value_type| *value_type as u8 == tag)
    }
}

/// The Arrow type of a dedicated column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DedicatedType {
    /// Utf8; takes string values.
    String,
    /// Int64; takes int values.
    Int,
}

/// A well-known attribute with its own column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DedicatedColumn {
    /// The attribute key.
    pub attribute: &'static str,
    /// The column name.
    pub column: &'static str,
    /// Values of any other type stay in the generic list.
    pub value_type: DedicatedType,
}

const fn dedicated(
    attribute: &'static str,
    column: &'static str,
    value_type: DedicatedType,
) -> DedicatedColumn {
    DedicatedColumn { attribute, column, value_type }
}

/// Resource attributes with dedicated columns, in position-list order.
pub(crate) const RESOURCE_DEDICATED: &[DedicatedColumn] = &[
    dedicated("service.name", "resource_service_name", DedicatedType::String),
    dedicated("k8s.cluster.name", "resource_k8s_cluster_name", DedicatedType::String),
    dedicated("k8s.namespace.name", "resource_k8s_namespace_name", DedicatedType::String),
    dedicated("k8s.pod.name", "resource_k8s_pod_name", DedicatedType::String),
    dedicated("k8s.container.name", "resource_k8s_container_name", DedicatedType::String),
];

/// Span attributes with dedicated columns, in position-list order.
pub(crate) const SPAN_DEDICATED: &[DedicatedColumn] = &[
    dedicated("http.method", "http_method", DedicatedType::String),
    dedicated("http.request.method", "http_request_method", DedicatedType::String),
    dedicated("http.status_code", "http_status_code", DedicatedType::Int),
    dedicated("http.response.status_code", "http_response_status_code", DedicatedType::Int),
    dedicated("http.route", "http_route", DedicatedType::String),
    dedicated("http.url", "http_url", DedicatedType::String),
    dedicated("url.full", "url_full", DedicatedType::String),
    dedicated("http.target", "http_target", DedicatedType::String),
    dedicated("url.path", "url_path", DedicatedType::String),
    dedicated("db.system", "db_system", DedicatedType::String),
    dedicated("db.system.name", "db_system_name", DedicatedType::String),
    dedicated("rpc.system", "rpc_system", DedicatedType::String),
    dedicated("rpc.service", "rpc_service", DedicatedType::String),
    dedicated("rpc.method", "rpc_method", DedicatedType::String),
    dedicated("messaging.system", "messaging_system", DedicatedType::String),
];

/// The struct type of one attribute entry.
pub(crate) fn attribute_fields() -> Fields {
    Fields::from(vec![
        Field::new(ATTR_KEY, DataType::Utf8, false),
        Field::new(ATTR_TYPE, DataType::UInt8, false),
        Field::new(ATTR_STR, DataType::Utf8, true),
        Field::new(ATTR_INT, DataType::Int64, true),
        Field::new(ATTR_DOUBLE, DataType::Float64, true),
        Field::new(ATTR_BOOL, DataType::Boolean, true),
        Field::new(ATTR_BYTES, DataType::Binary, true),
    ])
}

/// The list item field of an attribute list.
pub(crate) fn attribute_item_field() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Struct(attribute_fields()), false))
}

fn attribute_list(name: &str, nullable: bool) -> Field {
    Field::new_list(name, attribute_item_field(), nullable)
}

/// The struct type of one event.
pub(crate) fn event_fields() -> Fields {
    Fields::from(vec![
        Field::new("time_unix_nano", DataType::UInt64, false),
        Field::new("name", DataType::Utf8, false),
        attribute_list("attributes", false),
        Field::new("dropped_attributes_count", DataType::UInt32, false),
    ])
}

/// The struct type of one link.
pub(crate) fn link_fields() -> Fields {
    Fields::from(vec![
        Field::new("trace_id", DataType::Binary, false),
        Field::new("span_id", DataType::Binary, false),
        Field::new("trace_state", DataType::Utf8, false),
        Field::new("flags", DataType::UInt32, false),
        attribute_list("attributes", false),
        Field::new("dropped_attributes_count", DataType::UInt32, false),
    ])
}

/// The list item field of the events column.
pub(crate) fn event_item_field() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Struct(event_fields()), false))
}

/// The list item field of the links column.
pub(crate) fn link_item_field() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Struct(link_fields()), false))
}

fn dedicated_field(column: &DedicatedColumn) -> Field {
    let data_type = match column.value_type {
        DedicatedType::String => DataType::Utf8,
        DedicatedType::Int => DataType::Int64,
    };
    Field::new(column.column, data_type, true)
}

static SCHEMA_V1: LazyLock<SchemaRef> = LazyLock::new(|| {
    let u32_field = |name: &str| Field::new(name, DataType::UInt32, false);
    let mut fields = vec![
        Field::new(TRACE_ID, DataType::FixedSizeBinary(16), false),
        Field::new(SPAN_ID, DataType::FixedSizeBinary(8), false),
        Field::new(PARENT_SPAN_ID, DataType::Binary, false),
        Field::new(TRACE_STATE, DataType::Utf8, false),
        u32_field(FLAGS),
        Field::new(NAME, DataType::Utf8, false),
        Field::new(KIND, DataType::Int32, false),
        Field::new(STATUS_CODE, DataType::Int32, true),
        Field::new(STATUS_MESSAGE, DataType::Utf8, true),
        Field::new(START_UNIX_NANO, DataType::UInt64, false),
        Field::new(DURATION_NANO, DataType::Int64, false),
        u32_field(DROPPED_ATTRIBUTES_COUNT),
        u32_field(DROPPED_EVENTS_COUNT),
        u32_field(DROPPED_LINKS_COUNT),
        u32_field(NESTED_SET_LEFT),
        u32_field(NESTED_SET_RIGHT),
        u32_field(NESTED_SET_PARENT),
        Field::new(TRACE_ROOT_SERVICE_NAME, DataType::Utf8, true),
        Field::new(TRACE_ROOT_SPAN_NAME, DataType::Utf8, true),
        Field::new(TRACE_START_UNIX_NANO, DataType::UInt64, false),
        Field::new(TRACE_END_UNIX_NANO, DataType::UInt64, false),
        Field::new(RESOURCE_SCHEMA_URL, DataType::Utf8, false),
        attribute_list(RESOURCE_ATTRIBUTES, true),
        Field::new(RESOURCE_DEDICATED_POSITIONS, DataType::Binary, false),
        u32_field(RESOURCE_DROPPED_ATTRIBUTES_COUNT),
        Field::new(RESOURCE_ENTITY_REFS, DataType::Binary, false),
    ];
    fields.extend(RESOURCE_DEDICATED.iter().map(dedicated_field));
    fields.extend([
        Field::new(SCOPE_SCHEMA_URL, DataType::Utf8, false),
        Field::new(SCOPE_NAME, DataType::Utf8, true),
        Field::new(SCOPE_VERSION, DataType::Utf8, false),
        attribute_list(SCOPE_ATTRIBUTES, false),
        u32_field(SCOPE_DROPPED_ATTRIBUTES_COUNT),
        attribute_list(ATTRIBUTES, false),
        Field::new(DEDICATED_POSITIONS, DataType::Binary, false),
    ]);
    fields.extend(SPAN_DEDICATED.iter().map(dedicated_field));
    fields.extend([
        Field::new_list(EVENTS, event_item_field(), false),
        Field::new_list(LINKS, link_item_field(), false),
    ]);
    Arc::new(Schema::new(fields))
});

/// The Arrow schema of format v1.
pub(crate) fn schema_v1() -> SchemaRef {
    Arc::clone(&SCHEMA_V1)
}

static FILTER_SCHEMA_V1: LazyLock<SchemaRef> = LazyLock::new(|| {
    let dictionary = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let retyped = |field: &Field| -> Field {
        let dedicated_string = RESOURCE_DEDICATED.iter().chain(SPAN_DEDICATED).any(|column| {
            column.column == field.name() && column.value_type == DedicatedType::String
        });
        if field.name() == NAME || field.name() == STATUS_MESSAGE || dedicated_string {
            return field.clone().with_data_type(dictionary());
        }
        if field.name() == ATTRIBUTES || field.name() == RESOURCE_ATTRIBUTES {
            let entries: Fields = attribute_fields()
                .iter()
                .map(|entry| match entry.name().as_str() {
                    ATTR_KEY | ATTR_STR => entry.as_ref().clone().with_data_type(dictionary()),
                    _ => entry.as_ref().clone(),
                })
                .collect();
            let item = Arc::new(Field::new_list_field(DataType::Struct(entries), false));
            return Field::new_list(field.name(), item, field.is_nullable());
        }
        field.clone()
    };
    let fields: Vec<Field> = SCHEMA_V1.fields().iter().map(|field| retyped(field)).collect();
    Arc::new(Schema::new(fields))
});

/// Format v1 as a search's pass 1 reads it: the string columns it tests (name, status
/// message, dedicated strings, span and resource attribute keys and string values) as
/// dictionaries, so each distinct value is tested once and never copied per row.
pub(crate) fn filter_schema_v1() -> SchemaRef {
    Arc::clone(&FILTER_SCHEMA_V1)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn column_names_are_unique_and_dedicated_columns_are_in_the_schema() {
        let schema = schema_v1();
        let names: HashSet<_> = schema.fields().iter().map(|field| field.name().clone()).collect();
        assert_eq!(names.len(), schema.fields().len());
        for column in RESOURCE_DEDICATED.iter().chain(SPAN_DEDICATED) {
            assert!(schema.index_of(column.column).is_ok(), "{} missing", column.column);
        }
    }

    #[test]
    fn value_types_round_trip_through_their_tag() {
        for tag in 0..=9u8 {
            assert_eq!(ValueType::from_u8(tag).map(|value_type| value_type as u8), Some(tag));
        }
        assert_eq!(ValueType::from_u8(10), None);
    }
}
