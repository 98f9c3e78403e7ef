//! The structs of `jaeger.thrift`, read field by field into the shared Jaeger model.
//!
//! ```text
//!  Batch { 1: Process process (req)   2: list<Span> spans (req)   3: seqNo   4: stats }
//!  Process { 1: serviceName (req)   2: list<Tag> tags }
//!  Span { 1: traceIdLow  2: traceIdHigh  3: spanId  4: parentSpanId  5: operationName
//!         6: list<SpanRef> references  7: flags  8: startTime µs  9: duration µs
//!         10: list<Tag> tags  11: list<Log> logs }          (all required but 6, 10, 11)
//!  Tag { 1: key (req)  2: TagType vType (req)  3: vStr  4: vDouble  5: vBool  6: vLong  7: vBinary }
//!  Log { 1: timestamp µs (req)  2: list<Tag> fields (req) }
//!  SpanRef { 1: refType  2: traceIdLow  3: traceIdHigh  4: spanId }   (all required)
//! ```
//!
//! As in the Go Thrift library, unknown fields and known fields with an unexpected type are
//! skipped, and a required field that is then absent is an error.

use super::wire::ThriftReader;
use super::wire_type::WireType;
use crate::model::convert::jaeger::{
    JaegerError, JaegerLog, JaegerProcess, JaegerSpan, JaegerSpanRef, JaegerTag, JaegerTraceId,
    RefType, TagValue,
};

/// Lists are pre-allocated for at most this many elements; longer ones grow as they are
/// read, so a declared count costs memory only once its elements are really there.
const PREALLOCATED_ELEMENTS: usize = 1024;

/// A decoded `Batch`.
pub(super) struct ThriftBatch {
    /// The process that emitted every span.
    pub(super) process: JaegerProcess,
    /// The spans, in wire order.
    pub(super) spans: Vec<ThriftSpan>,
}

/// A decoded `Span`.
pub(super) struct ThriftSpan {
    /// The span in the shared model.
    pub(super) span: JaegerSpan,
    /// Every field zero and no optional list present: the Collector drops such spans.
    pub(super) blank: bool,
}

/// Reads a `Batch` struct.
pub(super) fn read_batch(reader: &mut ThriftReader<'_>) -> Result<ThriftBatch, JaegerError> {
    let mut process = None;
    let mut spans = None;
    reader.enter_struct()?;
    while let Some(field) = reader.read_field_header()? {
        match (field.id, field.wire_type) {
            (1, WireType::Struct) => process = Some(read_process(reader)?),
            (2, WireType::List) => {
                spans = Some(read_struct_list(reader, "list Batch.spans", read_span)?)
            }
            // seqNo and stats (client statistics) are not kept.
            (_, other) => reader.skip(other)?,
        }
    }
    reader.leave_struct();
    Ok(ThriftBatch {
        process: process.ok_or(JaegerError::ThriftMissingField { field: "Batch.process" })?,
        spans: spans.ok_or(JaegerError::ThriftMissingField { field: "Batch.spans" })?,
    })
}

fn read_process(reader: &mut ThriftReader<'_>) -> Result<JaegerProcess, JaegerError> {
    let mut service_name = None;
    let mut tags = None;
    reader.enter_struct()?;
    while let Some(field) = reader.read_field_header()? {
        match (field.id, field.wire_type) {
            (1, WireType::Binary) => {
                service_name = Some(reader.read_string("string Process.serviceName")?)
            }
            (2, WireType::List) => {
                tags = Some(read_struct_list(reader, "list Process.tags", read_tag)?)
            }
            (_, other) => reader.skip(other)?,
        }
    }
    reader.leave_struct();
    Ok(JaegerProcess {
        service_name: service_name
            .ok_or(JaegerError::ThriftMissingField { field: "Process.serviceName" })?,
        tags: tags.unwrap_or_default(),
    })
}

/// The fields of a `Span` as read, before the required ones are checked.
#[derive(Default)]
struct SpanFields {
    trace_id_low: Option<i64>,
    trace_id_high: Option<i64>,
    span_id: Option<i64>,
    parent_span_id: Option<i64>,
    operation_name: Option<String>,
    references: Option<Vec<JaegerSpanRef>>,
    flags: Option<i32>,
    start_time: Option<i64>,
    duration: Option<i64>,
    tags: Option<Vec<JaegerTag>>,
    logs: Option<Vec<JaegerLog>>,
}

fn read_span(reader: &mut ThriftReader<'_>) -> Result<ThriftSpan, JaegerError> {
    let mut fields = SpanFields::default();
    reader.enter_struct()?;
    while let Some(field) = reader.read_field_header()? {
        match (field.id, field.wire_type) {
            (1, WireType::I64) => {
                fields.trace_id_low = Some(reader.read_i64("i64 Span.traceIdLow")?)
            }
            (2, WireType::I64) => {
                fields.trace_id_high = Some(reader.read_i64("i64 Span.traceIdHigh")?)
            }
            (3, WireType::I64) => fields.span_id = Some(reader.read_i64("i64 Span.spanId")?),
            (4, WireType::I64) => {
                fields.parent_span_id = Some(reader.read_i64("i64 Span.parentSpanId")?)
            }
            (5, WireType::Binary) => {
                fields.operation_name = Some(reader.read_string("string Span.operationName")?)
            }
            (6, WireType::List) => {
                fields.references =
                    Some(read_struct_list(reader, "list Span.references", read_span_ref)?)
            }
            (7, WireType::I32) => fields.flags = Some(reader.read_i32("i32 Span.flags")?),
            (8, WireType::I64) => fields.start_time = Some(reader.read_i64("i64 Span.startTime")?),
            (9, WireType::I64) => fields.duration = Some(reader.read_i64("i64 Span.duration")?),
            (10, WireType::List) => {
                fields.tags = Some(read_struct_list(reader, "list Span.tags", read_tag)?)
            }
            (11, WireType::List) => {
                fields.logs = Some(read_struct_list(reader, "list Span.logs", read_log)?)
            }
            (_, other) => reader.skip(other)?,
        }
    }
    reader.leave_struct();
    span_from_fields(fields)
}

/// Checks a span's required fields and converts it (µs → ns with Go's wrap-around).
fn span_from_fields(fields: SpanFields) -> Result<ThriftSpan, JaegerError> {
    let missing = |field| JaegerError::ThriftMissingField { field };
    let trace_id_low = fields.trace_id_low.ok_or(missing("Span.traceIdLow"))?;
    let trace_id_high = fields.trace_id_high.ok_or(missing("Span.traceIdHigh"))?;
    let span_id = fields.span_id.ok_or(missing("Span.spanId"))?;
    let parent_span_id = fields.parent_span_id.ok_or(missing("Span.parentSpanId"))?;
    let operation_name = fields.operation_name.ok_or(missing("Span.operationName"))?;
    let flags = fields.flags.ok_or(missing("Span.flags"))?;
    let start_time = fields.start_time.ok_or(missing("Span.startTime"))?;
    let duration = fields.duration.ok_or(missing("Span.duration"))?;
    let blank = trace_id_low == 0
        && trace_id_high == 0
        && span_id == 0
        && parent_span_id == 0
        && operation_name.is_empty()
        && fields.references.is_none()
        && flags == 0
        && start_time == 0
        && duration == 0
        && fields.tags.is_none()
        && fields.logs.is_none();
    let span = JaegerSpan {
        trace_id: JaegerTraceId { high: trace_id_high as u64, low: trace_id_low as u64 },
        span_id: span_id as u64,
        parent_span_id: parent_span_id as u64,
        operation_name,
        references: fields.references.unwrap_or_default(),
        start_time_unix_nano: microseconds_to_nanos(start_time),
        end_time_unix_nano: microseconds_to_nanos(start_time.wrapping_add(duration)),
        tags: fields.tags.unwrap_or_default(),
        logs: fields.logs.unwrap_or_default(),
    };
    Ok(ThriftSpan { span, blank })
}

/// Epoch microseconds as epoch nanoseconds, wrapping as the Collector's `uint64(µs) * 1000`.
fn microseconds_to_nanos(microseconds: i64) -> u64 {
    (microseconds as u64).wrapping_mul(1000)
}

fn read_tag(reader: &mut ThriftReader<'_>) -> Result<JaegerTag, JaegerError> {
    let mut key = None;
    let mut value_type = None;
    let mut string_value = None;
    let mut double_value = None;
    let mut bool_value = None;
    let mut long_value = None;
    let mut binary_value = None;
    reader.enter_struct()?;
    while let Some(field) = reader.read_field_header()? {
        match (field.id, field.wire_type) {
            (1, WireType::Binary) => key = Some(reader.read_string("string Tag.key")?),
            (2, WireType::I32) => value_type = Some(reader.read_i32("i32 Tag.vType")?),
            (3, WireType::Binary) => string_value = Some(reader.read_string("string Tag.vStr")?),
            (4, WireType::Double) => double_value = Some(reader.read_double("double Tag.vDouble")?),
            (5, WireType::Bool) => bool_value = Some(reader.read_bool("bool Tag.vBool")?),
            (6, WireType::I64) => long_value = Some(reader.read_i64("i64 Tag.vLong")?),
            (7, WireType::Binary) => {
                binary_value = Some(reader.read_binary("binary Tag.vBinary")?.to_vec())
            }
            (_, other) => reader.skip(other)?,
        }
    }
    reader.leave_struct();
    let key = key.ok_or(JaegerError::ThriftMissingField { field: "Tag.key" })?;
    let value_type = value_type.ok_or(JaegerError::ThriftMissingField { field: "Tag.vType" })?;
    // Absent optional values read as their zero, as the Go getters do.
    let value = match value_type {
        0 => TagValue::String(string_value.unwrap_or_default()),
        1 => TagValue::Double(double_value.unwrap_or_default()),
        2 => TagValue::Bool(bool_value.unwrap_or_default()),
        3 => TagValue::Long(long_value.unwrap_or_default()),
        4 => TagValue::Binary(binary_value.unwrap_or_default()),
        // The Go enum prints unknown values as `<UNSET>`.
        _ => TagValue::UnknownType("<UNSET>".to_owned()),
    };
    Ok(JaegerTag { key, value })
}

fn read_log(reader: &mut ThriftReader<'_>) -> Result<JaegerLog, JaegerError> {
    let mut timestamp = None;
    let mut fields = None;
    reader.enter_struct()?;
    while let Some(field) = reader.read_field_header()? {
        match (field.id, field.wire_type) {
            (1, WireType::I64) => timestamp = Some(reader.read_i64("i64 Log.timestamp")?),
            (2, WireType::List) => {
                fields = Some(read_struct_list(reader, "list Log.fields", read_tag)?)
            }
            (_, other) => reader.skip(other)?,
        }
    }
    reader.leave_struct();
    let timestamp = timestamp.ok_or(JaegerError::ThriftMissingField { field: "Log.timestamp" })?;
    Ok(JaegerLog {
        time_unix_nano: microseconds_to_nanos(timestamp),
        fields: fields.ok_or(JaegerError::ThriftMissingField { field: "Log.fields" })?,
    })
}

fn read_span_ref(reader: &mut ThriftReader<'_>) -> Result<JaegerSpanRef, JaegerError> {
    let mut ref_type = None;
    let mut trace_id_low = None;
    let mut trace_id_high = None;
    let mut span_id = None;
    reader.enter_struct()?;
    while let Some(field) = reader.read_field_header()? {
        match (field.id, field.wire_type) {
            (1, WireType::I32) => ref_type = Some(reader.read_i32("i32 SpanRef.refType")?),
            (2, WireType::I64) => trace_id_low = Some(reader.read_i64("i64 SpanRef.traceIdLow")?),
            (3, WireType::I64) => trace_id_high = Some(reader.read_i64("i64 SpanRef.traceIdHigh")?),
            (4, WireType::I64) => span_id = Some(reader.read_i64("i64 SpanRef.spanId")?),
            (_, other) => reader.skip(other)?,
        }
    }
    reader.leave_struct();
    let missing = |field| JaegerError::ThriftMissingField { field };
    let ref_type = match ref_type.ok_or(missing("SpanRef.refType"))? {
        0 => RefType::ChildOf,
        1 => RefType::FollowsFrom,
        _ => RefType::Unknown,
    };
    let trace_id_low = trace_id_low.ok_or(missing("SpanRef.traceIdLow"))?;
    let trace_id_high = trace_id_high.ok_or(missing("SpanRef.traceIdHigh"))?;
    let span_id = span_id.ok_or(missing("SpanRef.spanId"))?;
    Ok(JaegerSpanRef {
        ref_type,
        trace_id: JaegerTraceId { high: trace_id_high as u64, low: trace_id_low as u64 },
        span_id: span_id as u64,
    })
}

/// Reads a list of structs with `read_element`; elements of another type are an error
/// (an empty list may declare any element type).
fn read_struct_list<T>(
    reader: &mut ThriftReader<'_>,
    what: &'static str,
    mut read_element: impl FnMut(&mut ThriftReader<'_>) -> Result<T, JaegerError>,
) -> Result<Vec<T>, JaegerError> {
    let header = reader.read_list_header(what)?;
    if header.size > 0 && header.element_type != WireType::Struct {
        return Err(JaegerError::ThriftWrongElementType {
            what,
            found: header.element_type.name(),
            expected: "struct",
        });
    }
    let mut elements = Vec::with_capacity(header.size.min(PREALLOCATED_ELEMENTS));
    for _ in 0..header.size {
        elements.push(read_element(reader)?);
    }
    Ok(elements)
}
