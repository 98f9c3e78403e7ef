//! Zipkin v2 JSON (`POST /api/v2/spans`, `application/json`): an array of span objects, as
//! `zipkin2-api.yaml` defines them.
//!
//! ```text
//!  [ {traceId, id, parentId, name, kind, timestamp, duration, localEndpoint, remoteEndpoint,
//!     annotations: [{timestamp, value}], tags: {k: v}, debug, shared}, null, … ]
//!        │ one ZipkinSpan per object (null elements are skipped, as the Collector does)
//!        ▼
//!  to_otlp::spans_to_request
//! ```
//!
//! Ids are 1 to 32 (trace) or 16 (span) hex digits of any case; times are non-negative
//! integers of microseconds; tag values must be strings (`null` is the empty string); an
//! annotation needs a positive timestamp. Errors name the span's position and the field.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{Map, Value};

use super::json_fields::{
    array, boolean, folded, hex_id, ip, object, port, spans_array, string, unsigned,
};
use super::span::{Annotation, Endpoint, ZipkinKind, ZipkinSpan};
use super::to_otlp::spans_to_request;
use super::{ZipkinError, invalid_span};

/// Decodes a Zipkin v2 JSON body (an array of spans) into an OTLP export request.
pub fn decode_v2_json(body: &[u8]) -> Result<ExportTraceServiceRequest, ZipkinError> {
    let mut spans = Vec::new();
    for (index, element) in spans_array(body)?.into_iter().enumerate() {
        if element.is_null() {
            continue;
        }
        spans.push(span(index, object(element, index, "span")?)?);
    }
    spans_to_request(spans)
}

fn span(index: usize, members: Map<String, Value>) -> Result<ZipkinSpan, ZipkinError> {
    let mut trace_id = None;
    let mut id = None;
    let mut out = ZipkinSpan {
        index,
        trace_id: [0; 16],
        id: [0; 8],
        parent_id: None,
        name: String::new(),
        kind: None,
        timestamp_micros: None,
        duration_micros: 0,
        local_endpoint: None,
        remote_endpoint: None,
        annotations: Vec::new(),
        tags: BTreeMap::new(),
    };
    for (key, value) in members {
        if value.is_null() {
            continue;
        }
        match folded(&key).as_str() {
            "traceid" => trace_id = hex_id::<16>(value, index, "traceId")?,
            "id" => id = hex_id::<8>(value, index, "id")?,
            "parentid" => out.parent_id = hex_id::<8>(value, index, "parentId")?,
            "name" => out.name = string(value, index, "name")?,
            "kind" => out.kind = ZipkinKind::from_name(&string(value, index, "kind")?),
            "timestamp" => {
                out.timestamp_micros =
                    Some(unsigned(value, index, "timestamp")?).filter(|&micros| micros != 0);
            }
            "duration" => out.duration_micros = unsigned(value, index, "duration")?,
            "localendpoint" => out.local_endpoint = endpoint(value, index, "localEndpoint")?,
            "remoteendpoint" => out.remote_endpoint = endpoint(value, index, "remoteEndpoint")?,
            "annotations" => out.annotations = annotations(value, index)?,
            "tags" => out.tags = tags(value, index)?,
            // Neither changes the stored span; checked so a mistyped body is still refused.
            "debug" => {
                boolean(value, index, "debug")?;
            }
            "shared" => {
                boolean(value, index, "shared")?;
            }
            _ => {}
        }
    }
    out.trace_id = trace_id.ok_or_else(|| invalid_span(index, "traceId is missing"))?;
    out.id = id.ok_or_else(|| invalid_span(index, "id is missing"))?;
    Ok(out)
}

fn endpoint(value: Value, index: usize, field: &str) -> Result<Option<Endpoint>, ZipkinError> {
    let mut out = Endpoint::default();
    for (key, member) in object(value, index, field)? {
        if member.is_null() {
            continue;
        }
        match folded(&key).as_str() {
            "servicename" => {
                out.service_name = string(member, index, &format!("{field}.serviceName"))?;
            }
            "ipv4" => out.ipv4 = ip(member, index, &format!("{field}.ipv4"))?,
            "ipv6" => out.ipv6 = ip(member, index, &format!("{field}.ipv6"))?,
            "port" => out.port = port(member, index, &format!("{field}.port"))?,
            _ => {}
        }
    }
    Ok(out.non_empty())
}

fn annotations(value: Value, index: usize) -> Result<Vec<Annotation>, ZipkinError> {
    let items = array(value, index, "annotations")?;
    let mut out = Vec::with_capacity(items.len());
    for (position, item) in items.into_iter().enumerate() {
        let field = format!("annotations[{position}]");
        let mut timestamp_micros = 0;
        let mut annotation_value = String::new();
        for (key, member) in object(item, index, &field)? {
            if member.is_null() {
                continue;
            }
            match folded(&key).as_str() {
                "timestamp" => {
                    timestamp_micros = unsigned(member, index, &format!("{field}.timestamp"))?;
                }
                "value" => annotation_value = string(member, index, &format!("{field}.value"))?,
                _ => {}
            }
        }
        if timestamp_micros == 0 {
            return Err(invalid_span(index, format!("{field}.timestamp is missing or zero")));
        }
        out.push(Annotation { timestamp_micros, value: annotation_value });
    }
    Ok(out)
}

fn tags(value: Value, index: usize) -> Result<BTreeMap<String, String>, ZipkinError> {
    let mut out = BTreeMap::new();
    for (key, member) in object(value, index, "tags")? {
        let text = match member {
            Value::Null => String::new(),
            other => string(other, index, &format!("tags[{key:?}]"))?,
        };
        out.insert(key, text);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "json_v2_tests.rs"]
mod tests;
