//! Jaeger gRPC `PostSpans` requests (`jaeger.api_v2`) mapped to OTLP.
//!
//! ```text
//!  PostSpansRequest { Batch { process?, [Span { process?, … }] } }
//!        │ each span joins the group of its own process, else the batch's
//!        ▼ (equal processes share a group; groups in first-seen order)
//!  group ─► ResourceSpans (jaeger::map_resource)
//!        └─► ScopeSpans per (otel.scope.name, otel.scope.version) tag pair, first-seen order
//!              └─► spans (jaeger::map_span; blank spans dropped)
//! ```
//!
//! tonic decodes the protobuf; this module checks what gogoproto checks when Jaeger's Go
//! code decodes: trace ids are 16 or 8 bytes (8 is a 64-bit id, left-padded), span ids 8
//! bytes, timestamps and durations in range. An absent id field is all zeros; an absent
//! timestamp is Go's zero time (year 1), whose nanosecond count wraps as in the Collector.
//! The result follows the Collector's `ProtoToTraces`.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use crate::model::convert::jaeger::{
    self, Dialect, JaegerError, JaegerLog, JaegerProcess, JaegerSpan, JaegerSpanRef, JaegerTag,
    JaegerTraceId, RefType, TagValue,
};
use crate::proto::google::protobuf::{Duration, Timestamp};
use crate::proto::jaeger::api_v2::{self, PostSpansRequest, SpanRefType, ValueType};

/// The span tags that name the instrumentation scope (removed from the attributes).
const SCOPE_NAME_TAG: &str = "otel.scope.name";
const SCOPE_VERSION_TAG: &str = "otel.scope.version";

/// The Unix seconds of Go's zero `time.Time` (0001-01-01), which an absent timestamp reads
/// as; it is also the earliest valid timestamp.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;
/// The first second after year 9999 (timestamps must be before it).
const TIMESTAMP_END_SECONDS: i64 = 253_402_300_800;
/// ±10000 years, gogoproto's bound on durations.
const DURATION_MAX_SECONDS: i64 = 315_576_000_000;

/// Maps a `PostSpans` request to an OTLP export request.
pub fn decode_post_spans(
    request: PostSpansRequest,
) -> Result<ExportTraceServiceRequest, JaegerError> {
    let batch = request.batch.unwrap_or_default();
    let mut groups = ProcessGroups::default();
    let batch_group = groups.group_for(batch.process);
    for (position, mut span) in batch.spans.into_iter().enumerate() {
        let own_process = span.process.take();
        let has_own_process = own_process.is_some();
        let group = match own_process {
            Some(own_process) => groups.group_for(Some(own_process)),
            None => batch_group,
        };
        groups.add_span(group, position, span, has_own_process)?;
    }
    Ok(ExportTraceServiceRequest { resource_spans: groups.into_resource_spans() })
}

/// Spans grouped by process, in first-seen order.
#[derive(Default)]
struct ProcessGroups {
    groups: Vec<ProcessGroup>,
    by_process: HashMap<ProcessKey, usize>,
}

/// The spans of one process, grouped by scope.
struct ProcessGroup {
    process: Option<api_v2::Process>,
    /// Spans assigned, blank ones included (a group of blank spans still yields a resource).
    assigned_spans: usize,
    scopes: Vec<ScopeSpans>,
    by_scope: HashMap<(String, String), usize>,
}

/// What makes two processes the same resource: the service name and the typed tags in
/// order (what Jaeger's `Process.Hash` covers). A missing process equals an empty one.
#[derive(PartialEq, Eq, Hash)]
struct ProcessKey {
    service_name: String,
    tags: Vec<(String, TagKey)>,
}

/// A tag's type and the one value field that type uses (doubles by bit pattern).
#[derive(PartialEq, Eq, Hash)]
enum TagKey {
    String(String),
    Bool(bool),
    Int64(i64),
    Float64(u64),
    Binary(Vec<u8>),
    Unknown(i32),
}

impl ProcessKey {
    fn of(process: Option<&api_v2::Process>) -> ProcessKey {
        let Some(process) = process else {
            return ProcessKey { service_name: String::new(), tags: Vec::new() };
        };
        let tags = process
            .tags
            .iter()
            .map(|tag| {
                let value = match ValueType::try_from(tag.v_type) {
                    Ok(ValueType::String) => TagKey::String(tag.v_str.clone()),
                    Ok(ValueType::Bool) => TagKey::Bool(tag.v_bool),
                    Ok(ValueType::Int64) => TagKey::Int64(tag.v_int64),
                    Ok(ValueType::Float64) => TagKey::Float64(tag.v_float64.to_bits()),
                    Ok(ValueType::Binary) => TagKey::Binary(tag.v_binary.clone()),
                    Err(_) => TagKey::Unknown(tag.v_type),
                };
                (tag.key.clone(), value)
            })
            .collect();
        ProcessKey { service_name: process.service_name.clone(), tags }
    }
}

impl ProcessGroups {
    /// The group of `process`, created (with this process as its resource) if new.
    fn group_for(&mut self, process: Option<api_v2::Process>) -> usize {
        let key = ProcessKey::of(process.as_ref());
        if let Some(&existing) = self.by_process.get(&key) {
            return existing;
        }
        let position = self.groups.len();
        self.groups.push(ProcessGroup {
            process,
            assigned_spans: 0,
            scopes: Vec::new(),
            by_scope: HashMap::new(),
        });
        self.by_process.insert(key, position);
        position
    }

    /// Converts a span (its own process already taken) and adds it to `group`, under its
    /// scope.
    fn add_span(
        &mut self,
        group: usize,
        position: usize,
        span: api_v2::Span,
        has_own_process: bool,
    ) -> Result<(), JaegerError> {
        let converted = convert_span(position, span, has_own_process)?;
        // Group indices come from `group_for`, so the group exists.
        let Some(group) = self.groups.get_mut(group) else {
            return Ok(());
        };
        group.assigned_spans += 1;
        let Some((scope, jaeger_span)) = converted else {
            return Ok(());
        };
        let scope_key = (scope.name.clone(), scope.version.clone());
        let scope_position = *group.by_scope.entry(scope_key).or_insert_with(|| {
            group.scopes.push(ScopeSpans { scope: Some(scope), ..Default::default() });
            group.scopes.len() - 1
        });
        if let Some(scope_spans) = group.scopes.get_mut(scope_position) {
            scope_spans.spans.push(jaeger::map_span(jaeger_span, Dialect::Proto));
        }
        Ok(())
    }

    /// One `ResourceSpans` per group; a group with neither process nor spans is dropped.
    fn into_resource_spans(self) -> Vec<ResourceSpans> {
        self.groups
            .into_iter()
            .filter(|group| group.process.is_some() || group.assigned_spans > 0)
            .map(|group| ResourceSpans {
                resource: Some(jaeger::map_resource(
                    group.process.map(convert_process),
                    Dialect::Proto,
                )),
                scope_spans: group.scopes,
                ..Default::default()
            })
            .collect()
    }
}

fn convert_process(process: api_v2::Process) -> JaegerProcess {
    JaegerProcess {
        service_name: process.service_name,
        tags: process.tags.into_iter().map(convert_tag).collect(),
    }
}

/// Converts a span with its scope; `None` for a blank span (every field at its zero value,
/// no process of its own), which the Collector drops.
fn convert_span(
    position: usize,
    mut span: api_v2::Span,
    has_own_process: bool,
) -> Result<Option<(InstrumentationScope, JaegerSpan)>, JaegerError> {
    let trace_id = trace_id(position, "trace_id", &span.trace_id)?;
    let span_id = span_id(position, "span_id", &span.span_id)?;
    let references = span
        .references
        .iter()
        .map(|reference| convert_reference(position, reference))
        .collect::<Result<Vec<_>, _>>()?;
    let start_time_unix_nano = timestamp_nanos(position, "start_time", span.start_time)?;
    let duration_nanos = duration_nanos(position, span.duration)?;
    let logs = std::mem::take(&mut span.logs)
        .into_iter()
        .map(|log| {
            Ok(JaegerLog {
                time_unix_nano: timestamp_nanos(position, "logs[].timestamp", log.timestamp)?,
                fields: log.fields.into_iter().map(convert_tag).collect(),
            })
        })
        .collect::<Result<Vec<_>, JaegerError>>()?;
    let blank = trace_id == JaegerTraceId::default()
        && span_id == 0
        && span.operation_name.is_empty()
        && references.is_empty()
        && span.flags == 0
        && span.start_time.is_none()
        && duration_nanos == 0
        && span.tags.is_empty()
        && logs.is_empty()
        && !has_own_process
        && span.process_id.is_empty()
        && span.warnings.is_empty();
    if blank {
        return Ok(None);
    }
    let scope = take_scope(&mut span.tags);
    let jaeger_span = JaegerSpan {
        trace_id,
        span_id,
        parent_span_id: 0,
        operation_name: span.operation_name,
        references,
        start_time_unix_nano,
        end_time_unix_nano: start_time_unix_nano.wrapping_add(duration_nanos as u64),
        tags: span.tags.into_iter().map(convert_tag).collect(),
        logs,
    };
    Ok(Some((scope, jaeger_span)))
}

/// Takes the scope from the first `otel.scope.name` tag and, only then, the first
/// `otel.scope.version` tag; both read `v_str` whatever their type, and are removed.
fn take_scope(tags: &mut Vec<api_v2::KeyValue>) -> InstrumentationScope {
    let mut scope = InstrumentationScope::default();
    if let Some(name) = take_tag_string(tags, SCOPE_NAME_TAG) {
        scope.name = name;
        if let Some(version) = take_tag_string(tags, SCOPE_VERSION_TAG) {
            scope.version = version;
        }
    }
    scope
}

fn take_tag_string(tags: &mut Vec<api_v2::KeyValue>, key: &str) -> Option<String> {
    let position = tags.iter().position(|tag| tag.key == key)?;
    Some(tags.remove(position).v_str)
}

fn convert_reference(
    position: usize,
    reference: &api_v2::SpanRef,
) -> Result<JaegerSpanRef, JaegerError> {
    let ref_type = match SpanRefType::try_from(reference.ref_type) {
        Ok(SpanRefType::ChildOf) => RefType::ChildOf,
        Ok(SpanRefType::FollowsFrom) => RefType::FollowsFrom,
        Err(_) => RefType::Unknown,
    };
    Ok(JaegerSpanRef {
        ref_type,
        trace_id: trace_id(position, "references[].trace_id", &reference.trace_id)?,
        span_id: span_id(position, "references[].span_id", &reference.span_id)?,
    })
}

fn convert_tag(tag: api_v2::KeyValue) -> JaegerTag {
    let value = match ValueType::try_from(tag.v_type) {
        Ok(ValueType::String) => TagValue::String(tag.v_str),
        Ok(ValueType::Bool) => TagValue::Bool(tag.v_bool),
        Ok(ValueType::Int64) => TagValue::Long(tag.v_int64),
        Ok(ValueType::Float64) => TagValue::Double(tag.v_float64),
        Ok(ValueType::Binary) => TagValue::Binary(tag.v_binary),
        // The gogo enum prints an unknown value as its number.
        Err(_) => TagValue::UnknownType(tag.v_type.to_string()),
    };
    JaegerTag { key: tag.key, value }
}

/// A trace id of 16 bytes, or 8 (a 64-bit id); empty (the field absent) is all zeros.
fn trace_id(
    position: usize,
    what: &'static str,
    bytes: &[u8],
) -> Result<JaegerTraceId, JaegerError> {
    if bytes.is_empty() {
        return Ok(JaegerTraceId::default());
    }
    if let Ok(low) = <[u8; 8]>::try_from(bytes) {
        return Ok(JaegerTraceId { high: 0, low: u64::from_be_bytes(low) });
    }
    match <[u8; 16]>::try_from(bytes) {
        Ok(full) => {
            let both = u128::from_be_bytes(full);
            Ok(JaegerTraceId { high: (both >> 64) as u64, low: both as u64 })
        }
        Err(_) => Err(JaegerError::ProtoTraceIdLength { span: position, what, len: bytes.len() }),
    }
}

/// A span id of 8 bytes; empty (the field absent) is zero.
fn span_id(position: usize, what: &'static str, bytes: &[u8]) -> Result<u64, JaegerError> {
    if bytes.is_empty() {
        return Ok(0);
    }
    <[u8; 8]>::try_from(bytes).map(u64::from_be_bytes).map_err(|_| JaegerError::ProtoSpanIdLength {
        span: position,
        what,
        len: bytes.len(),
    })
}

/// A validated timestamp as Unix nanoseconds, wrapping like Go's `UnixNano` for instants
/// outside ±292 years (an absent timestamp is Go's zero time).
fn timestamp_nanos(
    position: usize,
    what: &'static str,
    timestamp: Option<Timestamp>,
) -> Result<u64, JaegerError> {
    let Timestamp { seconds, nanos } =
        timestamp.unwrap_or(Timestamp { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 });
    if !(GO_ZERO_TIME_SECONDS..TIMESTAMP_END_SECONDS).contains(&seconds)
        || !(0..1_000_000_000).contains(&nanos)
    {
        return Err(JaegerError::ProtoInvalidTimestamp { span: position, what, seconds, nanos });
    }
    Ok(seconds.wrapping_mul(1_000_000_000).wrapping_add(i64::from(nanos)) as u64)
}

/// A validated duration in nanoseconds (absent: zero).
fn duration_nanos(position: usize, duration: Option<Duration>) -> Result<i64, JaegerError> {
    let Some(Duration { seconds, nanos }) = duration else {
        return Ok(0);
    };
    let invalid = || JaegerError::ProtoInvalidDuration { span: position, seconds, nanos };
    let signs_disagree = (seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0);
    if !(-DURATION_MAX_SECONDS..=DURATION_MAX_SECONDS).contains(&seconds)
        || nanos <= -1_000_000_000
        || nanos >= 1_000_000_000
        || signs_disagree
    {
        return Err(invalid());
    }
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|whole| whole.checked_add(i64::from(nanos)))
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests;
