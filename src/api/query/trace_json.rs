//! Tempo's trace-by-ID JSON bodies (`/api/traces/<id>` and `/api/v2/traces/<id>`).
//!
//! Tempo renders these with gogo `jsonpb.Marshaler{}` defaults (`tempo-api.md` §0.2, §2):
//! proto JSON names in proto declaration order, zero scalars, empty lists and unset
//! messages omitted (a set but empty message is `{}`), 64-bit integers as strings, enums
//! as names (unknown numbers as bare numbers), bytes such as ids as standard base64, and
//! AnyValue oneofs always written, even when zero (`{"intValue":"0"}`).
//!
//! Borrowing wrappers implement `Serialize` straight over the prost types, so rendering
//! writes into one output buffer without building an intermediate tree.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// Renders a v1 trace body: `{"batches":[...]}`, the OTLP resource spans under Tempo's v1
/// name.
pub(crate) fn render_trace_v1(resource_spans: &[ResourceSpans]) -> Vec<u8> {
    to_json(&TraceV1(resource_spans))
}

/// Renders a v2 `TraceByIDResponse` body: `{"trace":{"resourceSpans":[...]},"metrics":{..}}`,
/// with `"status":"PARTIAL"` and the message only when the trace was cut short. An empty
/// list renders the not-found answer, `{"trace":{},"metrics":{..}}`.
pub(crate) fn render_trace_v2(
    resource_spans: &[ResourceSpans],
    inspected_bytes: u64,
    partial_message: Option<&str>,
) -> Vec<u8> {
    to_json(&TraceV2 { resource_spans, inspected_bytes, partial_message })
}

/// OTLP `KeyValue`s rendered as a jsonpb list (for search results).
pub(crate) struct KeyValueList<'a>(pub(crate) &'a [KeyValue]);

impl Serialize for KeyValueList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        List(self.0).serialize(serializer)
    }
}

/// Serialises into a fresh buffer. Writing to a `Vec` cannot fail and every `Serialize`
/// here is infallible (string keys, no custom errors), so the error arm is unreachable.
pub(crate) fn to_json(document: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    if let Err(error) = serde_json::to_writer(&mut out, document) {
        debug_assert!(false, "trace json serialisation failed: {error}");
        out.clear();
    }
    out
}

struct TraceV1<'a>(&'a [ResourceSpans]);

impl Serialize for TraceV1<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("batches", &List(self.0))?;
        map.end()
    }
}

struct TraceV2<'a> {
    resource_spans: &'a [ResourceSpans],
    inspected_bytes: u64,
    partial_message: Option<&'a str>,
}

impl Serialize for TraceV2<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("trace", &TraceBody(self.resource_spans))?;
        map.serialize_entry("metrics", &Metrics(self.inspected_bytes))?;
        if let Some(message) = self.partial_message {
            map.serialize_entry("status", "PARTIAL")?;
            str_field(&mut map, "message", message)?;
        }
        map.end()
    }
}

/// `tempopb.Trace`: `{"resourceSpans":[...]}`, or `{}` when empty.
struct TraceBody<'a>(&'a [ResourceSpans]);

impl Serialize for TraceBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        list_field(&mut map, "resourceSpans", self.0)?;
        map.end()
    }
}

/// `tempopb.TraceByIDMetrics`.
struct Metrics(u64);

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        u64_field(&mut map, "inspectedBytes", self.0)?;
        map.end()
    }
}

/// A borrowed OTLP message rendered as jsonpb renders it.
struct Json<'a, T>(&'a T);

/// A repeated message field.
struct List<'a, T>(&'a [T]);

impl<T> Serialize for List<'_, T>
where
    for<'b> Json<'b, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Json))
    }
}

/// Bytes as standard padded base64, written straight into the output.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// A 64-bit integer as a JSON string.
struct Quoted<T>(T);

impl<T: std::fmt::Display> Serialize for Quoted<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// A double as Go's jsonpb writes it: non-finite values as strings, integral values
/// without a fraction.
struct Double(f64);

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value.is_infinite() {
            serializer.serialize_str(if value > 0.0 { "Infinity" } else { "-Infinity" })
        } else if value.fract() == 0.0 && value.abs() < 1e15 {
            // Exact: |value| < 2^53, and Go prints such values as integers ("200", not "200.0").
            serializer.serialize_i64(value as i64)
        } else {
            serializer.serialize_f64(value)
        }
    }
}

pub(crate) fn str_field<M: SerializeMap>(
    map: &mut M,
    key: &'static str,
    value: &str,
) -> Result<(), M::Error> {
    if value.is_empty() { Ok(()) } else { map.serialize_entry(key, value) }
}

fn bytes_field<M: SerializeMap>(
    map: &mut M,
    key: &'static str,
    value: &[u8],
) -> Result<(), M::Error> {
    if value.is_empty() { Ok(()) } else { map.serialize_entry(key, &Base64(value)) }
}

pub(crate) fn u32_field<M: SerializeMap>(
    map: &mut M,
    key: &'static str,
    value: u32,
) -> Result<(), M::Error> {
    if value == 0 { Ok(()) } else { map.serialize_entry(key, &value) }
}

pub(crate) fn u64_field<M: SerializeMap>(
    map: &mut M,
    key: &'static str,
    value: u64,
) -> Result<(), M::Error> {
    if value == 0 { Ok(()) } else { map.serialize_entry(key, &Quoted(value)) }
}

/// An enum by name; numbers without a name are written bare, as jsonpb does.
fn enum_field<M: SerializeMap>(
    map: &mut M,
    key: &'static str,
    value: i32,
    name: Option<&'static str>,
) -> Result<(), M::Error> {
    match (value, name) {
        (0, _) => Ok(()),
        (_, Some(name)) => map.serialize_entry(key, name),
        (_, None) => map.serialize_entry(key, &value),
    }
}

fn list_field<M: SerializeMap, T>(
    map: &mut M,
    key: &'static str,
    items: &[T],
) -> Result<(), M::Error>
where
    for<'b> Json<'b, T>: Serialize,
{
    if items.is_empty() { Ok(()) } else { map.serialize_entry(key, &List(items)) }
}

fn message_field<M: SerializeMap, T>(
    map: &mut M,
    key: &'static str,
    message: &Option<T>,
) -> Result<(), M::Error>
where
    for<'b> Json<'b, T>: Serialize,
{
    match message {
        Some(message) => map.serialize_entry(key, &Json(message)),
        None => Ok(()),
    }
}

impl Serialize for Json<'_, ResourceSpans> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resource_spans = self.0;
        let mut map = serializer.serialize_map(None)?;
        message_field(&mut map, "resource", &resource_spans.resource)?;
        list_field(&mut map, "scopeSpans", &resource_spans.scope_spans)?;
        str_field(&mut map, "schemaUrl", &resource_spans.schema_url)?;
        map.end()
    }
}

/// Tempo's resource proto predates `entityRefs`, so they are not rendered.
impl Serialize for Json<'_, Resource> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resource = self.0;
        let mut map = serializer.serialize_map(None)?;
        list_field(&mut map, "attributes", &resource.attributes)?;
        u32_field(&mut map, "droppedAttributesCount", resource.dropped_attributes_count)?;
        map.end()
    }
}

impl Serialize for Json<'_, ScopeSpans> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let scope_spans = self.0;
        let mut map = serializer.serialize_map(None)?;
        message_field(&mut map, "scope", &scope_spans.scope)?;
        list_field(&mut map, "spans", &scope_spans.spans)?;
        str_field(&mut map, "schemaUrl", &scope_spans.schema_url)?;
        map.end()
    }
}

impl Serialize for Json<'_, InstrumentationScope> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let scope = self.0;
        let mut map = serializer.serialize_map(None)?;
        str_field(&mut map, "name", &scope.name)?;
        str_field(&mut map, "version", &scope.version)?;
        list_field(&mut map, "attributes", &scope.attributes)?;
        u32_field(&mut map, "droppedAttributesCount", scope.dropped_attributes_count)?;
        map.end()
    }
}

/// Fields in `trace.proto` declaration order (`flags`, field 16, is declared after
/// `parentSpanId`).
impl Serialize for Json<'_, Span> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let span = self.0;
        let kind_name = SpanKind::try_from(span.kind).ok().map(|kind| kind.as_str_name());
        let mut map = serializer.serialize_map(None)?;
        bytes_field(&mut map, "traceId", &span.trace_id)?;
        bytes_field(&mut map, "spanId", &span.span_id)?;
        str_field(&mut map, "traceState", &span.trace_state)?;
        bytes_field(&mut map, "parentSpanId", &span.parent_span_id)?;
        u32_field(&mut map, "flags", span.flags)?;
        str_field(&mut map, "name", &span.name)?;
        enum_field(&mut map, "kind", span.kind, kind_name)?;
        u64_field(&mut map, "startTimeUnixNano", span.start_time_unix_nano)?;
        u64_field(&mut map, "endTimeUnixNano", span.end_time_unix_nano)?;
        list_field(&mut map, "attributes", &span.attributes)?;
        u32_field(&mut map, "droppedAttributesCount", span.dropped_attributes_count)?;
        list_field(&mut map, "events", &span.events)?;
        u32_field(&mut map, "droppedEventsCount", span.dropped_events_count)?;
        list_field(&mut map, "links", &span.links)?;
        u32_field(&mut map, "droppedLinksCount", span.dropped_links_count)?;
        message_field(&mut map, "status", &span.status)?;
        map.end()
    }
}

impl Serialize for Json<'_, Event> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = serializer.serialize_map(None)?;
        u64_field(&mut map, "timeUnixNano", event.time_unix_nano)?;
        str_field(&mut map, "name", &event.name)?;
        list_field(&mut map, "attributes", &event.attributes)?;
        u32_field(&mut map, "droppedAttributesCount", event.dropped_attributes_count)?;
        map.end()
    }
}

impl Serialize for Json<'_, Link> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let link = self.0;
        let mut map = serializer.serialize_map(None)?;
        bytes_field(&mut map, "traceId", &link.trace_id)?;
        bytes_field(&mut map, "spanId", &link.span_id)?;
        str_field(&mut map, "traceState", &link.trace_state)?;
        list_field(&mut map, "attributes", &link.attributes)?;
        u32_field(&mut map, "droppedAttributesCount", link.dropped_attributes_count)?;
        u32_field(&mut map, "flags", link.flags)?;
        map.end()
    }
}

impl Serialize for Json<'_, Status> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let status = self.0;
        let code_name = StatusCode::try_from(status.code).ok().map(|code| code.as_str_name());
        let mut map = serializer.serialize_map(None)?;
        str_field(&mut map, "message", &status.message)?;
        enum_field(&mut map, "code", status.code, code_name)?;
        map.end()
    }
}

impl Serialize for Json<'_, KeyValue> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let key_value = self.0;
        let mut map = serializer.serialize_map(None)?;
        str_field(&mut map, "key", &key_value.key)?;
        message_field(&mut map, "value", &key_value.value)?;
        map.end()
    }
}

/// The set oneof member is always written, even when zero. `stringValueStrindex`
/// (profiles only, unknown to Tempo) renders as an empty value.
impl Serialize for Json<'_, AnyValue> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use any_value::Value;
        let mut map = serializer.serialize_map(None)?;
        match &self.0.value {
            Some(Value::StringValue(text)) => map.serialize_entry("stringValue", text)?,
            Some(Value::BoolValue(flag)) => map.serialize_entry("boolValue", flag)?,
            Some(Value::IntValue(number)) => map.serialize_entry("intValue", &Quoted(number))?,
            Some(Value::DoubleValue(number)) => {
                map.serialize_entry("doubleValue", &Double(*number))?
            }
            Some(Value::ArrayValue(array)) => {
                map.serialize_entry("arrayValue", &Values(&array.values))?
            }
            Some(Value::KvlistValue(list)) => {
                map.serialize_entry("kvlistValue", &Values(&list.values))?
            }
            Some(Value::BytesValue(bytes)) => map.serialize_entry("bytesValue", &Base64(bytes))?,
            Some(Value::StringValueStrindex(_)) | None => {}
        }
        map.end()
    }
}

/// The `{"values":[...]}` wrapper of `arrayValue` and `kvlistValue`.
struct Values<'a, T>(&'a [T]);

impl<T> Serialize for Values<'_, T>
where
    for<'b> Json<'b, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        list_field(&mut map, "values", self.0)?;
        map.end()
    }
}

#[cfg(test)]
#[path = "trace_json_tests.rs"]
mod tests;
