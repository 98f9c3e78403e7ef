//! Jaeger spans into the OTLP model: the mapping both Jaeger decoders share.
//!
//! ```text
//!  POST :14268/api/traces ──► jaeger_thrift ──┐  JaegerProcess   map_resource ──► Resource
//!  (Thrift binary / compact)                  ├─►     +        ─►                    +
//!  :14250 PostSpans ────────► jaeger_proto ───┘  JaegerSpan      map_span ──────► Span
//!                                                                     (the decoders group
//!                                                                      them into ResourceSpans)
//! ```
//!
//! The rules are the OpenTelemetry Collector's (`pkg/translator/jaeger`, which Tempo vendors
//! for its Jaeger receivers), so a span reads back from spanlake as it would from Tempo:
//!
//! - **Resource.** `serviceName` → `service.name` (when not empty), then process tags as
//!   attributes; `hostname` becomes `host.name` and `jaeger.version` becomes
//!   `opencensus.exporterversion` = `Jaeger-<version>` unless the target key exists. The
//!   protobuf path leaves the resource empty for the service name `OTLPResourceNoServiceName`.
//! - **Attributes.** Typed tags → typed values (string, bool, int, double, bytes); an unknown
//!   tag type becomes the string `<Unknown Jaeger TagType "…">`; a repeated key keeps its
//!   first position and its last value.
//! - **Ids.** `traceIdHigh`‖`traceIdLow` big-endian, so 64-bit ids are left-padded to 16
//!   bytes; span ids are 8 big-endian bytes. All-zero ids are passed on for the distributor
//!   to refuse.
//! - **Parent.** A non-zero Thrift `parentSpanId`; otherwise the first `CHILD_OF` reference
//!   in the same trace, else the first `FOLLOWS_FROM` one in the same trace.
//! - **Links.** Every reference except a `CHILD_OF` one naming the parent span id, with the
//!   attribute `opentracing.ref_type` = `child_of` | `follows_from` (a `FOLLOWS_FROM`
//!   reference chosen as parent is also kept as a link, as the Collector does).
//! - **Kind.** The `span.kind` tag (`client`, `server`, `producer`, `consumer`, `internal`,
//!   anything else unspecified), removed from the attributes.
//! - **Status.** `error=true`, else `otel.status_code`, else `http.status_code` (rules in
//!   `status.rs`).
//! - **Trace state.** `w3c.tracestate` → `trace_state`, removed (protobuf path only).
//! - **Scope.** `otel.scope.name` / `otel.scope.version` tags (protobuf path only; see
//!   `jaeger_proto`). The Thrift path puts every span under one empty scope. The older
//!   `otel.library.name` / `otel.library.version` tags are not read by either path (the
//!   Collector Tempo vendors reads only the `otel.scope.*` pair): they stay attributes.
//! - **Events.** Each log is an event at its timestamp; its fields are attributes and the
//!   `event` field, when present, is the name (removed), else the name is empty.
//! - **Times.** Thrift microseconds × 1000 and protobuf timestamps become nanoseconds with
//!   the Collector's 64-bit wrap-around; `flags` (sampling) are dropped.

mod attributes;
mod error;
mod status;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};

pub use error::JaegerError;

use attributes::{get, key_value, remove, string_attribute, string_of};

/// The service name the Collector's exporters write when a resource has none; the protobuf
/// path maps a process with this name to an empty resource.
const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// The link attribute naming the Jaeger reference type.
const REF_TYPE_ATTRIBUTE: &str = "opentracing.ref_type";

/// Which Jaeger wire model a span came from: the Collector's two translators differ in a few
/// rules (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `jaeger.thrift` (HTTP collector endpoint, UDP agent).
    Thrift,
    /// `jaeger.api_v2` protobuf (gRPC `PostSpans`).
    Proto,
}

/// A 128-bit trace id as Jaeger carries it: two halves, `high` zero for 64-bit ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct JaegerTraceId {
    /// The most significant 64 bits.
    pub(crate) high: u64,
    /// The least significant 64 bits.
    pub(crate) low: u64,
}

impl JaegerTraceId {
    /// The 16-byte OTLP form, high half first.
    fn to_bytes(self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(16);
        bytes.extend_from_slice(&self.high.to_be_bytes());
        bytes.extend_from_slice(&self.low.to_be_bytes());
        bytes
    }
}

/// A typed tag value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TagValue {
    /// `STRING`.
    String(String),
    /// `BOOL`.
    Bool(bool),
    /// `LONG` / `INT64`.
    Long(i64),
    /// `DOUBLE` / `FLOAT64`.
    Double(f64),
    /// `BINARY`.
    Binary(Vec<u8>),
    /// A type number the schema does not define, labelled as the Collector's Go code prints
    /// it (`<UNSET>` for Thrift, the number for protobuf).
    UnknownType(String),
}

/// A Jaeger tag (span tag, process tag or log field).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JaegerTag {
    /// The tag key.
    pub(crate) key: String,
    /// The typed value.
    pub(crate) value: TagValue,
}

/// A Jaeger log: a timestamped list of fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JaegerLog {
    /// When, in nanoseconds since the Unix epoch.
    pub(crate) time_unix_nano: u64,
    /// The fields.
    pub(crate) fields: Vec<JaegerTag>,
}

/// The kind of a span reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefType {
    /// `CHILD_OF`.
    ChildOf,
    /// `FOLLOWS_FROM`.
    FollowsFrom,
    /// A number the schema does not define: never a parent, linked as `follows_from`.
    Unknown,
}

/// A reference from a span to another span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JaegerSpanRef {
    /// The kind of reference.
    pub(crate) ref_type: RefType,
    /// The referenced span's trace.
    pub(crate) trace_id: JaegerTraceId,
    /// The referenced span.
    pub(crate) span_id: u64,
}

/// The process that emitted spans; it becomes the OTLP resource.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct JaegerProcess {
    /// `serviceName`.
    pub(crate) service_name: String,
    /// The process tags.
    pub(crate) tags: Vec<JaegerTag>,
}

/// A span as both wire models carry it, times already in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JaegerSpan {
    /// The trace id.
    pub(crate) trace_id: JaegerTraceId,
    /// The span id.
    pub(crate) span_id: u64,
    /// Thrift's explicit `parentSpanId` (0 when absent; protobuf has none).
    pub(crate) parent_span_id: u64,
    /// The span name.
    pub(crate) operation_name: String,
    /// References to other spans, in wire order.
    pub(crate) references: Vec<JaegerSpanRef>,
    /// Start, in nanoseconds since the Unix epoch.
    pub(crate) start_time_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub(crate) end_time_unix_nano: u64,
    /// The span tags.
    pub(crate) tags: Vec<JaegerTag>,
    /// The span logs.
    pub(crate) logs: Vec<JaegerLog>,
}

/// Maps a Jaeger process to an OTLP resource (no process: an empty resource).
pub(crate) fn map_resource(process: Option<JaegerProcess>, dialect: Dialect) -> Resource {
    let Some(process) = process else {
        return Resource::default();
    };
    if dialect == Dialect::Proto && process.service_name == NO_SERVICE_NAME {
        return Resource::default();
    }
    let mut tags = Vec::with_capacity(process.tags.len() + 1);
    if !process.service_name.is_empty() {
        tags.push(JaegerTag {
            key: "service.name".to_owned(),
            value: TagValue::String(process.service_name),
        });
    }
    tags.extend(process.tags);
    let mut resource_attributes = attributes::tags_to_attributes(tags);
    rename_hostname(&mut resource_attributes);
    rename_jaeger_version(&mut resource_attributes);
    Resource { attributes: resource_attributes, ..Default::default() }
}

/// `hostname` → `host.name` (any value type), unless `host.name` is already there.
fn rename_hostname(resource_attributes: &mut Vec<KeyValue>) {
    if get(resource_attributes, "host.name").is_some() {
        return;
    }
    let Some(hostname) = get(resource_attributes, "hostname").and_then(|found| found.value.clone())
    else {
        return;
    };
    resource_attributes.push(key_value("host.name".to_owned(), hostname));
    remove(resource_attributes, "hostname");
}

/// `jaeger.version` → `opencensus.exporterversion` = `Jaeger-<version>`, unless the latter
/// is already there.
fn rename_jaeger_version(resource_attributes: &mut Vec<KeyValue>) {
    const EXPORTER_VERSION: &str = "opencensus.exporterversion";
    if get(resource_attributes, EXPORTER_VERSION).is_some() {
        return;
    }
    let Some(version) = get(resource_attributes, "jaeger.version").map(string_of) else {
        return;
    };
    let exporter_version = format!("Jaeger-{version}");
    resource_attributes.push(string_attribute(EXPORTER_VERSION, exporter_version));
    remove(resource_attributes, "jaeger.version");
}

/// Maps a Jaeger span to an OTLP span (the rules are in the module documentation).
pub(crate) fn map_span(span: JaegerSpan, dialect: Dialect) -> Span {
    let parent_span_id = parent_span_id(&span);
    let mut span_attributes = attributes::tags_to_attributes(span.tags);
    let kind = match remove(&mut span_attributes, "span.kind") {
        Some(kind_tag) => span_kind(string_of(&kind_tag)),
        None => SpanKind::Unspecified,
    };
    let span_status = status::take_status(&mut span_attributes, kind);
    let trace_state = match dialect {
        Dialect::Proto => remove(&mut span_attributes, "w3c.tracestate")
            .map(|found| string_of(&found).to_owned())
            .unwrap_or_default(),
        Dialect::Thrift => String::new(),
    };
    Span {
        trace_id: span.trace_id.to_bytes(),
        span_id: span.span_id.to_be_bytes().to_vec(),
        trace_state,
        parent_span_id: if parent_span_id == 0 {
            Vec::new()
        } else {
            parent_span_id.to_be_bytes().to_vec()
        },
        name: span.operation_name,
        kind: kind as i32,
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes: span_attributes,
        events: span.logs.into_iter().map(log_to_event).collect(),
        links: references_to_links(span.references, parent_span_id),
        status: span_status,
        ..Default::default()
    }
}

/// The parent span id: Thrift's explicit one, else the first `CHILD_OF` reference in the
/// same trace, else the first `FOLLOWS_FROM` one in the same trace; 0 for a root.
fn parent_span_id(span: &JaegerSpan) -> u64 {
    if span.parent_span_id != 0 {
        return span.parent_span_id;
    }
    let mut follows_from = None;
    for reference in span.references.iter().filter(|reference| reference.trace_id == span.trace_id)
    {
        match reference.ref_type {
            RefType::ChildOf => return reference.span_id,
            RefType::FollowsFrom if follows_from.is_none() => {
                follows_from = Some(reference.span_id)
            }
            RefType::FollowsFrom | RefType::Unknown => {}
        }
    }
    follows_from.unwrap_or(0)
}

/// The OTLP kind named by a `span.kind` tag value.
fn span_kind(value: &str) -> SpanKind {
    match value {
        "client" => SpanKind::Client,
        "server" => SpanKind::Server,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    }
}

/// A log as an event: its `event` field (removed) names it.
fn log_to_event(log: JaegerLog) -> Event {
    let mut event_attributes = attributes::tags_to_attributes(log.fields);
    let name = remove(&mut event_attributes, "event")
        .map(|found| string_of(&found).to_owned())
        .unwrap_or_default();
    Event {
        time_unix_nano: log.time_unix_nano,
        name,
        attributes: event_attributes,
        ..Default::default()
    }
}

/// Every reference but a `CHILD_OF` one to the parent, as links tagged with their type.
fn references_to_links(references: Vec<JaegerSpanRef>, parent_span_id: u64) -> Vec<Link> {
    references
        .into_iter()
        .filter(|reference| {
            !(reference.ref_type == RefType::ChildOf && reference.span_id == parent_span_id)
        })
        .map(|reference| {
            let ref_type = match reference.ref_type {
                RefType::ChildOf => "child_of",
                RefType::FollowsFrom | RefType::Unknown => "follows_from",
            };
            Link {
                trace_id: reference.trace_id.to_bytes(),
                span_id: reference.span_id.to_be_bytes().to_vec(),
                attributes: vec![string_attribute(REF_TYPE_ATTRIBUTE, ref_type.to_owned())],
                ..Default::default()
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
