//! Zipkin v1 JSON (`POST /api/v1/spans`): spans whose kind, times and host come from core
//! annotations, and whose tags are binary annotations; mapped as the Collector's `zipkinv1`
//! JSON translator maps them (its rules differ from v2's, so this has its own mapping).
//!
//! ```text
//!  annotations ─┬─ cs/cr/ss/sr/ms/mr: kind (first one), the host (first one naming a service),
//!               │                      start/end (earliest/latest of all annotations)
//!               └─ others: events
//!  binaryAnnotations ─┬─ status tags (census.*, otel.status_*, error, http.status_*) ─► Status
//!                     ├─ lc ─► attribute `component`, and a service name of last resort
//!                     └─ others ─► string attributes
//!  timestamp/duration (when set) ─► start/end; no start at all ─► received time, marked absent
//!  one ResourceSpans per host: service.name (else "unknown-service"), and ipv4/ipv6/port as
//!  string resource attributes
//! ```
//!
//! Ids are read as in v2 (1 to 32 or 16 hex digits of any case); unlike the Collector, a
//! zero id is left to the distributor to refuse. A binary annotation's boolean or number
//! value is kept as its JSON text, where the Collector refuses the request.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};

use super::json_fields::{array, folded, hex_id, object, signed, spans_array, string};
use super::tag_rules::START_TIME_ABSENT_ATTRIBUTE;
use super::to_otlp::{SERVICE_NAME, put_attribute, string_value};
use super::{ZipkinError, invalid_span};

/// The service of a span whose annotations name none.
const UNKNOWN_SERVICE: &str = "unknown-service";

/// Decodes a Zipkin v1 JSON body (an array of spans) into an OTLP export request. A span
/// with no start time at all is given `received_unix_nano`, as the Collector gives it the
/// time of receipt.
pub fn decode_v1_json(
    body: &[u8],
    received_unix_nano: u64,
) -> Result<ExportTraceServiceRequest, ZipkinError> {
    let mut resource_spans: Vec<ResourceSpans> = Vec::new();
    let mut resource_of_host: HashMap<V1Endpoint, usize> = HashMap::new();
    for (index, element) in spans_array(body)?.into_iter().enumerate() {
        if element.is_null() {
            continue;
        }
        let (host, span) = span(index, object(element, index, "span")?, received_unix_nano)?;
        let position = match resource_of_host.get(&host) {
            Some(&position) => position,
            None => {
                resource_spans.push(ResourceSpans {
                    resource: Some(host_resource(&host)),
                    scope_spans: vec![ScopeSpans::default()],
                    ..Default::default()
                });
                resource_of_host.insert(host, resource_spans.len() - 1);
                resource_spans.len() - 1
            }
        };
        resource_spans[position].scope_spans[0].spans.push(span);
    }
    Ok(ExportTraceServiceRequest { resource_spans })
}

/// A v1 endpoint, kept verbatim (the Collector neither parses nor checks the addresses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct V1Endpoint {
    service_name: String,
    ipv4: String,
    ipv6: String,
    port: i32,
}

fn host_resource(host: &V1Endpoint) -> Resource {
    let mut attributes = Vec::new();
    put_attribute(&mut attributes, SERVICE_NAME, string_value(&host.service_name));
    if !host.ipv4.is_empty() {
        put_attribute(&mut attributes, "ipv4", string_value(&host.ipv4));
    }
    if !host.ipv6.is_empty() {
        put_attribute(&mut attributes, "ipv6", string_value(&host.ipv6));
    }
    if host.port != 0 {
        put_attribute(&mut attributes, "port", string_value(&host.port.to_string()));
    }
    Resource { attributes, ..Default::default() }
}

/// One span and the host it belongs to.
fn span(
    index: usize,
    members: Map<String, Value>,
    received_unix_nano: u64,
) -> Result<(V1Endpoint, Span), ZipkinError> {
    let mut out = Span::default();
    let (mut trace_id, mut span_id) = (None, None);
    let (mut timestamp, mut duration) = (0i64, 0i64);
    let mut annotations = Vec::new();
    let mut binary_annotations = Vec::new();
    for (key, value) in members {
        if value.is_null() {
            continue;
        }
        match folded(&key).as_str() {
            "traceid" => trace_id = hex_id::<16>(value, index, "traceId")?,
            "id" => span_id = hex_id::<8>(value, index, "id")?,
            "parentid" => {
                let parent = hex_id::<8>(value, index, "parentId")?;
                out.parent_span_id =
                    parent.filter(|id| *id != [0u8; 8]).map(|id| id.to_vec()).unwrap_or_default();
            }
            "name" => out.name = string(value, index, "name")?,
            "timestamp" => timestamp = signed(value, index, "timestamp")?,
            "duration" => duration = signed(value, index, "duration")?,
            "annotations" => annotations = array(value, index, "annotations")?,
            "binaryannotations" => binary_annotations = array(value, index, "binaryAnnotations")?,
            _ => {}
        }
    }
    out.trace_id = trace_id.ok_or_else(|| invalid_span(index, "traceId is missing"))?.to_vec();
    out.span_id = span_id.ok_or_else(|| invalid_span(index, "id is missing"))?.to_vec();

    let mut host = from_annotations(index, annotations, &mut out)?;
    let fallback_service = from_binary_annotations(index, binary_annotations, &mut out)?;
    if host.service_name == UNKNOWN_SERVICE && !fallback_service.is_empty() {
        host.service_name = fallback_service;
    }
    if timestamp != 0 {
        let end = timestamp.checked_add(duration).ok_or_else(|| {
            invalid_span(index, format!("timestamp {timestamp} + duration {duration} overflows"))
        })?;
        out.start_time_unix_nano = epoch_nanos(index, "timestamp", timestamp)?;
        out.end_time_unix_nano = epoch_nanos(index, "timestamp + duration", end)?;
    }
    if out.start_time_unix_nano == 0 {
        out.start_time_unix_nano = received_unix_nano;
        out.end_time_unix_nano = received_unix_nano;
        let absent = any_value::Value::BoolValue(true);
        put_attribute(&mut out.attributes, START_TIME_ABSENT_ATTRIBUTE, absent);
    }
    Ok((host, out))
}

/// Epoch microseconds as nanoseconds; zero or negative is unset (0).
fn epoch_nanos(index: usize, field: &str, micros: i64) -> Result<u64, ZipkinError> {
    if micros <= 0 {
        return Ok(0);
    }
    u64::try_from(micros)
        .ok()
        .and_then(|positive| positive.checked_mul(1_000))
        .ok_or_else(|| invalid_span(index, format!("{field} {micros} is out of range")))
}

/// Reads the annotations into `span` (kind, start, end, events) and returns the host: the
/// endpoint of the first core annotation that names a service.
fn from_annotations(
    index: usize,
    annotations: Vec<Value>,
    span: &mut Span,
) -> Result<V1Endpoint, ZipkinError> {
    let mut host: Option<V1Endpoint> = None;
    let mut kind: Option<SpanKind> = None;
    let mut earliest = i64::MAX;
    let mut latest = i64::MIN;
    for (position, item) in annotations.into_iter().enumerate() {
        let field = format!("annotations[{position}]");
        let (mut timestamp, mut value, mut endpoint) = (0i64, String::new(), None);
        for (key, member) in object(item, index, &field)? {
            if member.is_null() {
                continue;
            }
            match folded(&key).as_str() {
                "timestamp" => timestamp = signed(member, index, &format!("{field}.timestamp"))?,
                "value" => value = string(member, index, &format!("{field}.value"))?,
                "endpoint" => {
                    endpoint = Some(v1_endpoint(member, index, &format!("{field}.endpoint"))?)
                }
                _ => {}
            }
        }
        if value.is_empty() {
            continue;
        }
        let core_kind = match value.as_str() {
            "cs" | "cr" => Some(SpanKind::Client),
            "ss" | "sr" => Some(SpanKind::Server),
            "ms" => Some(SpanKind::Producer),
            "mr" => Some(SpanKind::Consumer),
            _ => None,
        };
        let time_unix_nano = epoch_nanos(index, &format!("{field}.timestamp"), timestamp)?;
        if timestamp < earliest {
            earliest = timestamp;
            span.start_time_unix_nano = time_unix_nano;
        }
        if timestamp > latest {
            latest = timestamp;
            span.end_time_unix_nano = time_unix_nano;
        }
        if core_kind.is_none() {
            span.events.push(Event { time_unix_nano, name: value, ..Default::default() });
            continue;
        }
        kind = kind.or(core_kind);
        let names_service = endpoint.as_ref().is_some_and(|e| !e.service_name.is_empty());
        if host.is_none() && names_service {
            host = endpoint;
        }
    }
    span.kind = kind.unwrap_or(SpanKind::Unspecified) as i32;
    Ok(host.unwrap_or_else(|| V1Endpoint {
        service_name: UNKNOWN_SERVICE.to_string(),
        ..Default::default()
    }))
}

/// Reads the binary annotations into `span` (attributes, status) and returns the service
/// name of last resort: the last one an endpoint names, else the `lc` value.
fn from_binary_annotations(
    index: usize,
    binary_annotations: Vec<Value>,
    span: &mut Span,
) -> Result<String, ZipkinError> {
    let mut status = V1StatusRules::default();
    let mut endpoint_service = String::new();
    let mut local_component = String::new();
    for (position, item) in binary_annotations.into_iter().enumerate() {
        let field = format!("binaryAnnotations[{position}]");
        let (mut key, mut value) = (String::new(), String::new());
        for (member_key, member) in object(item, index, &field)? {
            match (folded(&member_key).as_str(), member) {
                (_, Value::Null) => {}
                ("key", member) => key = string(member, index, &format!("{field}.key"))?,
                ("value", Value::Bool(flag)) => value = flag.to_string(),
                ("value", Value::Number(number)) => value = number.to_string(),
                ("value", member) => value = string(member, index, &format!("{field}.value"))?,
                ("endpoint", member) => {
                    let endpoint = v1_endpoint(member, index, &format!("{field}.endpoint"))?;
                    if !endpoint.service_name.is_empty() {
                        endpoint_service = endpoint.service_name;
                    }
                }
                _ => {}
            }
        }
        if key == "lc" {
            key = "component".to_string();
            local_component.clone_from(&value);
        }
        if status.take(&key, &value) {
            continue;
        }
        put_attribute(&mut span.attributes, &key, any_value::Value::StringValue(value));
    }
    span.status = status.status();
    Ok(if endpoint_service.is_empty() { local_component } else { endpoint_service })
}

fn v1_endpoint(value: Value, index: usize, field: &str) -> Result<V1Endpoint, ZipkinError> {
    let mut out = V1Endpoint::default();
    for (key, member) in object(value, index, field)? {
        if member.is_null() {
            continue;
        }
        match folded(&key).as_str() {
            "servicename" => {
                out.service_name = string(member, index, &format!("{field}.serviceName"))?
            }
            "ipv4" => out.ipv4 = string(member, index, &format!("{field}.ipv4"))?,
            "ipv6" => out.ipv6 = string(member, index, &format!("{field}.ipv6"))?,
            "port" => {
                let port = signed(member, index, &format!("{field}.port"))?;
                out.port = i32::try_from(port).map_err(|_| {
                    invalid_span(index, format!("{field}.port {port} is out of range"))
                })?;
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The Collector's v1 status sources, in order of precedence: OpenCensus' `census.status_code`
/// (0 is OK, anything else an error), `otel.status_code` (a number, kept as is), an `error`
/// tag (an error, with the census or otel description), `http.status_code` (100 to 399 is
/// unset, anything else an error, with `http.status_message`). Codes are decimal integers; a
/// code that is not one is ignored.
#[derive(Default)]
struct V1StatusRules {
    census: Option<i32>,
    census_message: String,
    otel: Option<i32>,
    otel_message: String,
    error: bool,
    http: Option<i32>,
    http_message: String,
}

impl V1StatusRules {
    /// Notes a tag; true when the tag is consumed (not kept as an attribute). The HTTP tags
    /// inform the status and stay attributes.
    fn take(&mut self, key: &str, value: &str) -> bool {
        let code = || value.parse::<i64>().ok().and_then(|wide| i32::try_from(wide).ok());
        match key {
            "census.status_code" => self.census = code().or(self.census),
            "census.status_description" | "opencensus.status_description" => {
                self.census_message = value.to_string();
            }
            "otel.status_code" => self.otel = code().or(self.otel),
            "otel.status_description" => self.otel_message = value.to_string(),
            "error" => self.error = true,
            "http.status_code" => {
                self.http = code().or(self.http);
                return false;
            }
            "http.status_message" => {
                self.http_message = value.to_string();
                return false;
            }
            _ => return false,
        }
        true
    }

    fn status(self) -> Option<Status> {
        let (code, message) = if let Some(census) = self.census {
            let code = if census == 0 { StatusCode::Ok } else { StatusCode::Error };
            (code as i32, self.census_message)
        } else if let Some(otel) = self.otel {
            (otel, self.otel_message)
        } else if self.error {
            let message = if self.census_message.is_empty() {
                self.otel_message
            } else {
                self.census_message
            };
            (StatusCode::Error as i32, message)
        } else if let Some(http) = self.http {
            let code =
                if (100..400).contains(&http) { StatusCode::Unset } else { StatusCode::Error };
            (code as i32, self.http_message)
        } else {
            return None;
        };
        Some(Status { code, message })
    }
}

#[cfg(test)]
#[path = "json_v1_tests.rs"]
mod tests;
