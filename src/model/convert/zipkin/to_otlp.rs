//! Maps decoded Zipkin v2 spans (JSON or protobuf) to OTLP, rule for rule as the Collector's
//! `zipkinv2.ToTranslator` (contrib v0.153.0, default feature gates, string tags unparsed).
//!
//! ```text
//!  [ZipkinSpan] ─► group by localEndpoint.serviceName ─► ResourceSpans { service.name, resource tags }
//!                   └► group by otel.scope/library.name ─► ScopeSpans { name, version }
//!                        └► Span: ids, kind, status, links, times µs→ns, events, attributes
//! ```
//!
//! | Zipkin                              | OTLP                                                  |
//! |-------------------------------------|-------------------------------------------------------|
//! | traceId (64 or 128 bits)            | trace_id, 16 bytes (64-bit ids left-padded with zeros)|
//! | parentId (absent, zero or = id)     | parent_span_id (empty)                                |
//! | kind CLIENT/SERVER/PRODUCER/CONSUMER| the same kind                                         |
//! | no kind                             | `span.kind=internal` tag ? INTERNAL : UNSPECIFIED      |
//! | timestamp, duration (µs)            | start, end = start + duration (ns)                    |
//! | no timestamp                        | start 0, end = duration, `otel.zipkin.absentField.startTime=true` |
//! | annotations                         | events (time µs → ns, value → name)                   |
//! | localEndpoint.serviceName           | resource `service.name` (no name: no attribute)       |
//! | localEndpoint.ipv4 / ipv6 / port    | `network.local.address` / same / `net.host.port` (int)|
//! | remoteEndpoint.serviceName          | `service.peer.name`                                   |
//! | remoteEndpoint.ipv4 / ipv6 / port   | `network.peer.address` / same / `net.peer.port` (int) |
//! | tags                                | string attributes, except those of `tag_rules`        |
//! | debug, shared                       | dropped (the Collector keeps neither)                 |
//!
//! The network names are those of the Collector's `EmitV1NetworkConventions` and
//! `DontEmitV0NetworkConventions` gates, both on by default in v0.153 (so no `net.host.ip`,
//! `net.peer.ip` or `peer.service`); ports keep their older names there. Where an endpoint
//! attribute and a tag share a key, the endpoint wins, and an `ipv6` wins over an `ipv4`.
//! Unlike the Collector, which sorts by service and library, groups keep the order in which
//! their first span arrived and spans keep the request's order within a group.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::span::{Annotation, Endpoint, ZipkinKind, ZipkinSpan, ip_text, micros_to_nanos};
use super::tag_rules::{
    self, SERVICE_NAME_SOURCE_TAG, SPAN_KIND_TAG, START_TIME_ABSENT_ATTRIBUTE, TRACE_STATE_TAG,
};
use super::{ZipkinError, invalid_span};

/// The resource attribute that names the service.
pub(super) const SERVICE_NAME: &str = "service.name";

/// Maps Zipkin v2 spans to one OTLP export request.
pub(super) fn spans_to_request(
    spans: Vec<ZipkinSpan>,
) -> Result<ExportTraceServiceRequest, ZipkinError> {
    let mut resources: Vec<ResourceGroup> = Vec::new();
    let mut resource_of_service: HashMap<Option<String>, usize> = HashMap::new();
    for mut span in spans {
        let mut tags = std::mem::take(&mut span.tags);
        let service = span
            .local_endpoint
            .as_ref()
            .map(|endpoint| endpoint.service_name.clone())
            .filter(|name| !name.is_empty());
        let resource_position = match resource_of_service.get(&service) {
            Some(&position) => position,
            None => {
                let resource = resource_from_first_span(service.as_deref(), &mut tags);
                resources.push(ResourceGroup::new(resource));
                resource_of_service.insert(service, resources.len() - 1);
                resources.len() - 1
            }
        };
        let scope_spans = resources[resource_position].scope_spans_for(&tags);
        scope_spans.push(span_to_otlp(span, tags)?);
    }
    let resource_spans = resources.into_iter().map(|group| group.resource_spans).collect();
    Ok(ExportTraceServiceRequest { resource_spans })
}

/// The spans of one local service, with their scopes in arrival order.
struct ResourceGroup {
    resource_spans: ResourceSpans,
    scope_of_name: HashMap<String, usize>,
}

impl ResourceGroup {
    fn new(resource: Resource) -> ResourceGroup {
        let resource_spans = ResourceSpans { resource: Some(resource), ..Default::default() };
        ResourceGroup { resource_spans, scope_of_name: HashMap::new() }
    }

    /// The span list of the scope the tags name, created (from these tags) on first use.
    fn scope_spans_for(&mut self, tags: &BTreeMap<String, String>) -> &mut Vec<Span> {
        let name = tag_rules::scope_name(tags);
        let scopes = &mut self.resource_spans.scope_spans;
        let position = match self.scope_of_name.get(name) {
            Some(&position) => position,
            None => {
                let scope = (!name.is_empty()).then(|| InstrumentationScope {
                    name: name.to_string(),
                    version: tag_rules::scope_version(tags).to_string(),
                    ..Default::default()
                });
                scopes.push(ScopeSpans { scope, ..Default::default() });
                self.scope_of_name.insert(name.to_string(), scopes.len() - 1);
                scopes.len() - 1
            }
        };
        &mut scopes[position].spans
    }
}

/// The resource of a service, from the first of its spans: `service.name` (or the attribute
/// its `otlp.service.name.source` tag names) and the resource tags, which leave `tags`. A
/// span without a local service name gets an empty resource, and its resource tags are
/// dropped, as the Collector does.
fn resource_from_first_span(
    service: Option<&str>,
    tags: &mut BTreeMap<String, String>,
) -> Resource {
    let mut resource = Resource::default();
    let Some(service) = service else {
        return resource;
    };
    let service_key = tags
        .remove(SERVICE_NAME_SOURCE_TAG)
        .filter(|source| !source.is_empty())
        .unwrap_or_else(|| SERVICE_NAME.to_string());
    put_attribute(&mut resource.attributes, &service_key, string_value(service));
    let resource_keys: Vec<String> =
        tags.keys().filter(|key| tag_rules::is_resource_tag(key)).cloned().collect();
    for key in resource_keys {
        if let Some(value) = tags.remove(&key) {
            put_attribute(&mut resource.attributes, &key, any_value::Value::StringValue(value));
        }
    }
    resource
}

/// One span, given the tags left after the resource and scope took theirs.
fn span_to_otlp(span: ZipkinSpan, mut tags: BTreeMap<String, String>) -> Result<Span, ZipkinError> {
    let index = span.index;
    let trace_state = tags.remove(TRACE_STATE_TAG).unwrap_or_default();
    let kind = match span.kind {
        Some(ZipkinKind::Client) => SpanKind::Client,
        Some(ZipkinKind::Server) => SpanKind::Server,
        Some(ZipkinKind::Producer) => SpanKind::Producer,
        Some(ZipkinKind::Consumer) => SpanKind::Consumer,
        None => match tags.remove(SPAN_KIND_TAG).as_deref() {
            Some("internal") => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    };
    let status = tag_rules::take_status(&mut tags);
    let links = tag_rules::take_links(&mut tags).map_err(|problem| invalid_span(index, problem))?;

    let mut attributes: Vec<KeyValue> = tags
        .into_iter()
        .filter(|(key, _)| !tag_rules::is_non_span_tag(key))
        .map(|(key, value)| KeyValue { key, value: Some(string_any(value)), ..Default::default() })
        .collect();
    if let Some(local) = &span.local_endpoint {
        put_endpoint(&mut attributes, local, EndpointSide::Local);
    }
    if let Some(remote) = &span.remote_endpoint {
        put_endpoint(&mut attributes, remote, EndpointSide::Remote);
    }

    let (start_time_unix_nano, end_time_unix_nano) =
        times(index, span.timestamp_micros, span.duration_micros, &mut attributes)?;
    let events = events(index, span.annotations)?;

    let parent_span_id = span
        .parent_id
        .filter(|parent| *parent != span.id && *parent != [0u8; 8])
        .map(|parent| parent.to_vec())
        .unwrap_or_default();
    Ok(Span {
        trace_id: span.trace_id.to_vec(),
        span_id: span.id.to_vec(),
        trace_state,
        parent_span_id,
        name: span.name,
        kind: kind as i32,
        start_time_unix_nano,
        end_time_unix_nano,
        attributes,
        events,
        links,
        status,
        ..Default::default()
    })
}

/// Start and end in nanoseconds. An absent start is 0 (so the end is the duration) and is
/// marked with an attribute, as the Collector does.
fn times(
    index: usize,
    timestamp_micros: Option<u64>,
    duration_micros: u64,
    attributes: &mut Vec<KeyValue>,
) -> Result<(u64, u64), ZipkinError> {
    let start_micros = timestamp_micros.unwrap_or_else(|| {
        let absent = any_value::Value::BoolValue(true);
        put_attribute(attributes, START_TIME_ABSENT_ATTRIBUTE, absent);
        0
    });
    let start = micros_to_nanos(start_micros)
        .ok_or_else(|| invalid_span(index, format!("timestamp {start_micros} is out of range")))?;
    let end =
        start_micros.checked_add(duration_micros).and_then(micros_to_nanos).ok_or_else(|| {
            invalid_span(index, format!("duration {duration_micros} is out of range"))
        })?;
    Ok((start, end))
}

/// One event per annotation, at its time in nanoseconds.
fn events(index: usize, annotations: Vec<Annotation>) -> Result<Vec<Event>, ZipkinError> {
    let mut events = Vec::with_capacity(annotations.len());
    for (position, annotation) in annotations.into_iter().enumerate() {
        let micros = annotation.timestamp_micros;
        let time_unix_nano = micros_to_nanos(micros).ok_or_else(|| {
            let problem = format!("annotations[{position}].timestamp {micros} is out of range");
            invalid_span(index, problem)
        })?;
        let parts = tag_rules::event_from_annotation(annotation.value);
        events.push(Event {
            time_unix_nano,
            name: parts.name,
            attributes: parts.attributes,
            dropped_attributes_count: parts.dropped_attributes_count,
        });
    }
    Ok(events)
}

#[derive(Clone, Copy)]
enum EndpointSide {
    Local,
    Remote,
}

/// The attributes of an endpoint (the local service name is the resource's, not here).
fn put_endpoint(attributes: &mut Vec<KeyValue>, endpoint: &Endpoint, side: EndpointSide) {
    let (address_key, port_key) = match side {
        EndpointSide::Local => ("network.local.address", "net.host.port"),
        EndpointSide::Remote => ("network.peer.address", "net.peer.port"),
    };
    if matches!(side, EndpointSide::Remote) && !endpoint.service_name.is_empty() {
        put_attribute(attributes, "service.peer.name", string_value(&endpoint.service_name));
    }
    for address in [endpoint.ipv4, endpoint.ipv6].into_iter().flatten() {
        put_attribute(attributes, address_key, any_value::Value::StringValue(ip_text(address)));
    }
    if endpoint.port > 0 {
        put_attribute(attributes, port_key, any_value::Value::IntValue(i64::from(endpoint.port)));
    }
}

/// Sets `key` to `value`, replacing the value in place when the key is already there (as the
/// Collector's attribute map does), so keys stay unique.
pub(super) fn put_attribute(attributes: &mut Vec<KeyValue>, key: &str, value: any_value::Value) {
    let value = Some(AnyValue { value: Some(value) });
    match attributes.iter_mut().find(|attribute| attribute.key == key) {
        Some(existing) => existing.value = value,
        None => attributes.push(KeyValue { key: key.to_string(), value, ..Default::default() }),
    }
}

pub(super) fn string_value(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.to_string())
}

fn string_any(text: String) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(text)) }
}

#[cfg(test)]
#[path = "to_otlp_tests.rs"]
mod tests;
