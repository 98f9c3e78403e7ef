//! OTLP/HTTP JSON trace export requests, decoded by hand into the prost types.
//!
//! The decoder is as tolerant as the OpenTelemetry Collector's receiver (`tempo-api.md` §7,
//! §8): camelCase or snake_case keys, the legacy `instrumentationLibrarySpans`, ids as hex
//! of any case, 64-bit integers as numbers or strings, enums as numbers or names, `null` as
//! absent and unknown keys ignored. Id lengths are left to the distributor. Errors name the
//! JSON path of the offending value; the path is only rendered when an error occurs.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::model::ids::hex_decode;

/// Why an OTLP JSON request body was refused.
#[derive(Debug, Error)]
pub(crate) enum OtlpJsonError {
    /// The body is not JSON at all (serde_json's message, with line and column).
    #[error("invalid OTLP JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// A value has the wrong type or form.
    #[error("invalid OTLP JSON at {path}: {reason}")]
    Invalid {
        /// Where the value is, e.g. `resourceSpans[0].scopeSpans[0].spans[2].traceId`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Decodes an OTLP/HTTP JSON `ExportTraceServiceRequest` body into its protobuf form.
pub(crate) fn decode_export_request(
    body: &[u8],
) -> Result<ExportTraceServiceRequest, OtlpJsonError> {
    let root: Value = serde_json::from_slice(body)?;
    let mut request = ExportTraceServiceRequest::default();
    for (key, field) in object(root, &Path::Root)? {
        let at = Path::Key(&Path::Root, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "resourceSpans" => request.resource_spans = list(field, &at, resource_spans)?,
            _ => {}
        }
    }
    Ok(request)
}

/// Encodes the OTLP/HTTP JSON export response: `{}` when the request was fully accepted,
/// else a `partialSuccess` object with proto3 JSON rules (64-bit count as a string, zero
/// values omitted).
pub(crate) fn encode_export_response_json(rejected_spans: i64, error_message: &str) -> Vec<u8> {
    if rejected_spans == 0 && error_message.is_empty() {
        return b"{}".to_vec();
    }
    let mut partial = Map::new();
    if rejected_spans != 0 {
        partial.insert("rejectedSpans".into(), Value::String(rejected_spans.to_string()));
    }
    if !error_message.is_empty() {
        partial.insert("errorMessage".into(), Value::String(error_message.into()));
    }
    let mut root = Map::new();
    root.insert("partialSuccess".into(), Value::Object(partial));
    Value::Object(root).to_string().into_bytes()
}

/// A JSON path as a chain of stack frames, so nothing is allocated unless an error occurs.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Builds the error for the value at `path`.
fn invalid(path: &Path<'_>, reason: impl Into<String>) -> OtlpJsonError {
    let path = match path {
        Path::Root => "the top level".to_string(),
        _ => path.to_string(),
    };
    OtlpJsonError::Invalid { path, reason: reason.into() }
}

/// A member name in camelCase, so `dropped_attributes_count` (the proto name, as the
/// Collector accepts it) matches `droppedAttributesCount`. Allocates only for snake_case.
fn camel_case(key: &str) -> Cow<'_, str> {
    if !key.contains('_') {
        return Cow::Borrowed(key);
    }
    let mut camel = String::with_capacity(key.len());
    let mut upper_next = false;
    for character in key.chars() {
        match (character, upper_next) {
            ('_', _) => upper_next = true,
            (_, true) => {
                camel.push(character.to_ascii_uppercase());
                upper_next = false;
            }
            (_, false) => camel.push(character),
        }
    }
    Cow::Owned(camel)
}

/// The JSON type of a value, for error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(path: &Path<'_>, expected: &str, got: &Value) -> OtlpJsonError {
    invalid(path, format!("expected {expected}, got {}", kind_of(got)))
}

/// Quotes an offending text for an error message, cut short if long.
fn quoted(text: &str) -> String {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{:?}... ({} bytes)", &text[..end], text.len()),
        None => format!("{text:?}"),
    }
}

/// The members of a message; `null` (e.g. a `null` list element) is an empty message.
fn object(value: Value, path: &Path<'_>) -> Result<Map<String, Value>, OtlpJsonError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(wrong_type(path, "object", &other)),
    }
}

/// Decodes a repeated field with `item`.
fn list<T>(
    value: Value,
    path: &Path<'_>,
    item: fn(Value, &Path<'_>) -> Result<T, OtlpJsonError>,
) -> Result<Vec<T>, OtlpJsonError> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, element)| item(element, &Path::Index(path, index)))
            .collect(),
        other => Err(wrong_type(path, "array", &other)),
    }
}

fn string(value: Value, path: &Path<'_>) -> Result<String, OtlpJsonError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(wrong_type(path, "string", &other)),
    }
}

fn boolean(value: Value, path: &Path<'_>) -> Result<bool, OtlpJsonError> {
    match value {
        Value::Bool(flag) => Ok(flag),
        other => Err(wrong_type(path, "boolean", &other)),
    }
}

/// Hex bytes of any case; `""` is empty. Lengths are checked later, by the distributor.
fn hex(value: Value, path: &Path<'_>) -> Result<Vec<u8>, OtlpJsonError> {
    let text = string(value, path)?;
    match hex_decode(&text) {
        Some(bytes) => Ok(bytes),
        None if text.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(invalid(path, format!("odd number of hex digits: {}", quoted(&text))))
        }
        None => Err(invalid(path, format!("not hex: {}", quoted(&text)))),
    }
}

/// Standard or URL-safe base64, padded or not (as protobuf JSON accepts).
fn base64(value: Value, path: &Path<'_>) -> Result<Vec<u8>, OtlpJsonError> {
    const LAX: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LAX);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LAX);
    let text = string(value, path)?;
    let engine = if text.contains(['-', '_']) { &URL_SAFE } else { &STANDARD };
    engine.decode(&text).map_err(|_| invalid(path, format!("not base64: {}", quoted(&text))))
}

/// An integer given as a JSON number or a decimal string, range-checked into `T`.
fn integer<T: TryFrom<i128>>(value: Value, path: &Path<'_>) -> Result<T, OtlpJsonError> {
    let wide = match &value {
        Value::Number(number) => match (number.as_u64(), number.as_i64(), number.as_f64()) {
            (Some(unsigned), _, _) => Some(i128::from(unsigned)),
            (_, Some(signed), _) => Some(i128::from(signed)),
            (_, _, Some(float)) => float_integer(float),
            _ => None,
        },
        // Exponent or fraction notation of an integral value ("1e3", "5.0") is accepted.
        Value::String(text) => text.parse::<i128>().ok().or_else(|| {
            text.parse::<f64>().ok().filter(|float| float.is_finite()).and_then(float_integer)
        }),
        other => return Err(wrong_type(path, "integer", other)),
    };
    let shown = || match &value {
        Value::String(text) => quoted(text),
        other => other.to_string(),
    };
    let wide = wide.ok_or_else(|| invalid(path, format!("not an integer: {}", shown())))?;
    T::try_from(wide).map_err(|_| invalid(path, format!("integer out of range: {}", shown())))
}

/// The integral value of a float, `None` for fractions.
fn float_integer(float: f64) -> Option<i128> {
    // Casting saturates, so huge values land outside every target range.
    (float.is_finite() && float.fract() == 0.0).then_some(float as i128)
}

/// A double as a JSON number or a string (decimal, `NaN`, `Infinity`, `-Infinity`).
fn double(value: Value, path: &Path<'_>) -> Result<f64, OtlpJsonError> {
    match value {
        Value::Number(number) => {
            number.as_f64().ok_or_else(|| invalid(path, format!("number out of range: {number}")))
        }
        Value::String(text) => match text.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => text
                .parse::<f64>()
                .ok()
                .filter(|float| float.is_finite())
                .ok_or_else(|| invalid(path, format!("not a number: {}", quoted(&text)))),
        },
        other => Err(wrong_type(path, "number", &other)),
    }
}

/// An enum as its number (unknown numbers kept) or its proto name.
fn enumeration(
    value: Value,
    path: &Path<'_>,
    from_name: fn(&str) -> Option<i32>,
) -> Result<i32, OtlpJsonError> {
    match value {
        Value::String(text) => from_name(&text)
            .or_else(|| text.parse::<i32>().ok())
            .ok_or_else(|| invalid(path, format!("unknown enum name: {}", quoted(&text)))),
        other => integer(other, path),
    }
}

fn span_kind_by_name(name: &str) -> Option<i32> {
    SpanKind::from_str_name(name).map(i32::from)
}

fn status_code_by_name(name: &str) -> Option<i32> {
    StatusCode::from_str_name(name).map(i32::from)
}

fn resource_spans(value: Value, path: &Path<'_>) -> Result<ResourceSpans, OtlpJsonError> {
    let mut out = ResourceSpans::default();
    let mut legacy = Vec::new();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "resource" => out.resource = Some(resource(field, &at)?),
            "scopeSpans" => out.scope_spans = list(field, &at, scope_spans)?,
            "instrumentationLibrarySpans" => legacy = list(field, &at, scope_spans)?,
            "schemaUrl" => out.schema_url = string(field, &at)?,
            _ => {}
        }
    }
    out.scope_spans.append(&mut legacy);
    Ok(out)
}

fn resource(value: Value, path: &Path<'_>) -> Result<Resource, OtlpJsonError> {
    let mut out = Resource::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "attributes" => out.attributes = list(field, &at, key_value)?,
            "droppedAttributesCount" => out.dropped_attributes_count = integer(field, &at)?,
            _ => {}
        }
    }
    Ok(out)
}

fn scope_spans(value: Value, path: &Path<'_>) -> Result<ScopeSpans, OtlpJsonError> {
    let mut out = ScopeSpans::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "scope" | "instrumentationLibrary" => out.scope = Some(scope(field, &at)?),
            "spans" => out.spans = list(field, &at, span)?,
            "schemaUrl" => out.schema_url = string(field, &at)?,
            _ => {}
        }
    }
    Ok(out)
}

fn scope(value: Value, path: &Path<'_>) -> Result<InstrumentationScope, OtlpJsonError> {
    let mut out = InstrumentationScope::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "name" => out.name = string(field, &at)?,
            "version" => out.version = string(field, &at)?,
            "attributes" => out.attributes = list(field, &at, key_value)?,
            "droppedAttributesCount" => out.dropped_attributes_count = integer(field, &at)?,
            _ => {}
        }
    }
    Ok(out)
}

fn span(value: Value, path: &Path<'_>) -> Result<Span, OtlpJsonError> {
    let mut out = Span::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "traceId" => out.trace_id = hex(field, &at)?,
            "spanId" => out.span_id = hex(field, &at)?,
            "traceState" => out.trace_state = string(field, &at)?,
            "parentSpanId" => out.parent_span_id = hex(field, &at)?,
            "flags" => out.flags = integer(field, &at)?,
            "name" => out.name = string(field, &at)?,
            "kind" => out.kind = enumeration(field, &at, span_kind_by_name)?,
            "startTimeUnixNano" => out.start_time_unix_nano = integer(field, &at)?,
            "endTimeUnixNano" => out.end_time_unix_nano = integer(field, &at)?,
            "attributes" => out.attributes = list(field, &at, key_value)?,
            "droppedAttributesCount" => out.dropped_attributes_count = integer(field, &at)?,
            "events" => out.events = list(field, &at, event)?,
            "droppedEventsCount" => out.dropped_events_count = integer(field, &at)?,
            "links" => out.links = list(field, &at, link)?,
            "droppedLinksCount" => out.dropped_links_count = integer(field, &at)?,
            "status" => out.status = Some(status(field, &at)?),
            _ => {}
        }
    }
    Ok(out)
}

fn event(value: Value, path: &Path<'_>) -> Result<Event, OtlpJsonError> {
    let mut out = Event::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "timeUnixNano" => out.time_unix_nano = integer(field, &at)?,
            "name" => out.name = string(field, &at)?,
            "attributes" => out.attributes = list(field, &at, key_value)?,
            "droppedAttributesCount" => out.dropped_attributes_count = integer(field, &at)?,
            _ => {}
        }
    }
    Ok(out)
}

fn link(value: Value, path: &Path<'_>) -> Result<Link, OtlpJsonError> {
    let mut out = Link::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "traceId" => out.trace_id = hex(field, &at)?,
            "spanId" => out.span_id = hex(field, &at)?,
            "traceState" => out.trace_state = string(field, &at)?,
            "attributes" => out.attributes = list(field, &at, key_value)?,
            "droppedAttributesCount" => out.dropped_attributes_count = integer(field, &at)?,
            "flags" => out.flags = integer(field, &at)?,
            _ => {}
        }
    }
    Ok(out)
}

fn status(value: Value, path: &Path<'_>) -> Result<Status, OtlpJsonError> {
    let mut out = Status::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "message" => out.message = string(field, &at)?,
            "code" => out.code = enumeration(field, &at, status_code_by_name)?,
            _ => {}
        }
    }
    Ok(out)
}

fn key_value(value: Value, path: &Path<'_>) -> Result<KeyValue, OtlpJsonError> {
    let mut out = KeyValue::default();
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        match camel_case(&key).as_ref() {
            _ if field.is_null() => {}
            "key" => out.key = string(field, &at)?,
            "value" => out.value = Some(any_value(field, &at)?),
            _ => {}
        }
    }
    Ok(out)
}

fn any_value(value: Value, path: &Path<'_>) -> Result<AnyValue, OtlpJsonError> {
    use any_value::Value as V;
    let mut out = AnyValue { value: None };
    for (key, field) in object(value, path)? {
        let at = Path::Key(path, &key);
        out.value = Some(match camel_case(&key).as_ref() {
            _ if field.is_null() => continue,
            "stringValue" => V::StringValue(string(field, &at)?),
            "boolValue" => V::BoolValue(boolean(field, &at)?),
            "intValue" => V::IntValue(integer(field, &at)?),
            "doubleValue" => V::DoubleValue(double(field, &at)?),
            "bytesValue" => V::BytesValue(base64(field, &at)?),
            "arrayValue" => V::ArrayValue(ArrayValue { values: values(field, &at, any_value)? }),
            "kvlistValue" => {
                V::KvlistValue(KeyValueList { values: values(field, &at, key_value)? })
            }
            _ => continue,
        });
    }
    Ok(out)
}

/// The `values` list of an `arrayValue` or `kvlistValue` wrapper object.
fn values<T>(
    value: Value,
    path: &Path<'_>,
    item: fn(Value, &Path<'_>) -> Result<T, OtlpJsonError>,
) -> Result<Vec<T>, OtlpJsonError> {
    let mut out = Vec::new();
    for (key, field) in object(value, path)? {
        if key == "values" && !field.is_null() {
            out = list(field, &Path::Key(path, &key), item)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "otlp_json_tests.rs"]
mod tests;
