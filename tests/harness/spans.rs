//! Generated OTLP requests that use every field a trace can carry, with deterministic ids.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// A 16-byte trace id derived from a seed (never all zero).
pub fn trace_id(seed: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1).to_be_bytes());
    id[8..].copy_from_slice(&seed.to_be_bytes());
    id
}

/// An 8-byte span id derived from a trace seed and a span number (never zero).
pub fn span_id(trace_seed: u64, span: u32) -> [u8; 8] {
    let value = trace_seed.wrapping_mul(1_000_003).wrapping_add(u64::from(span) + 1) | (1 << 63);
    value.to_be_bytes()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub fn string_value(value: &str) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(value.to_string())) }
}

pub fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Attributes of every OTLP type, nested ones included.
pub fn attributes_of_every_type(seed: u64) -> Vec<KeyValue> {
    vec![
        attribute("http.route", any_value::Value::StringValue(format!("/cart/{seed}"))),
        attribute("http.status_code", any_value::Value::IntValue(200 + (seed % 300) as i64)),
        attribute("big.int", any_value::Value::IntValue(i64::MAX - seed as i64)),
        attribute("ratio", any_value::Value::DoubleValue(0.25 + seed as f64)),
        attribute("cache.hit", any_value::Value::BoolValue(seed.is_multiple_of(2))),
        attribute("payload", any_value::Value::BytesValue(vec![0, 1, 2, 0xff])),
        attribute(
            "tags",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    string_value("a"),
                    AnyValue { value: Some(any_value::Value::IntValue(7)) },
                ],
            }),
        ),
        attribute(
            "nested",
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![attribute("inner", any_value::Value::StringValue("v".into()))],
            }),
        ),
    ]
}

/// One span of trace `trace_seed` with attributes, events, a link, status and kind.
pub fn rich_span(trace_seed: u64, number: u32, spans_in_trace: u32) -> Span {
    let start = 1_700_000_000_000_000_000u64 + trace_seed * 1_000_000 + u64::from(number) * 1_000;
    Span {
        trace_id: trace_id(trace_seed).to_vec(),
        span_id: span_id(trace_seed, number).to_vec(),
        trace_state: if number == 0 { "vendor=x".to_string() } else { String::new() },
        parent_span_id: if number == 0 { Vec::new() } else { span_id(trace_seed, 0).to_vec() },
        flags: 0x101,
        name: format!("op-{number}"),
        kind: if number == 0 { SpanKind::Server as i32 } else { SpanKind::Client as i32 },
        start_time_unix_nano: start,
        end_time_unix_nano: start + 500_000 + u64::from(spans_in_trace),
        attributes: attributes_of_every_type(trace_seed),
        dropped_attributes_count: 1,
        events: vec![Event {
            time_unix_nano: start + 10,
            name: "exception".to_string(),
            attributes: vec![attribute(
                "exception.message",
                any_value::Value::StringValue("boom".into()),
            )],
            dropped_attributes_count: 2,
        }],
        dropped_events_count: 3,
        links: vec![Link {
            trace_id: trace_id(trace_seed + 1_000_000).to_vec(),
            span_id: span_id(trace_seed + 1_000_000, 0).to_vec(),
            trace_state: "linked=1".to_string(),
            attributes: vec![attribute(
                "link.kind",
                any_value::Value::StringValue("follows".into()),
            )],
            dropped_attributes_count: 4,
            flags: 0x100,
        }],
        dropped_links_count: 5,
        status: Some(Status {
            message: if number % 2 == 1 { "failed".to_string() } else { String::new() },
            code: if number % 2 == 1 { StatusCode::Error as i32 } else { StatusCode::Ok as i32 },
        }),
    }
}

/// One `ResourceSpans` for `service` holding `spans_per_trace` spans of each trace seed.
pub fn resource_spans(service: &str, trace_seeds: &[u64], spans_per_trace: u32) -> ResourceSpans {
    let spans = trace_seeds
        .iter()
        .flat_map(|seed| (0..spans_per_trace).map(move |n| rich_span(*seed, n, spans_per_trace)))
        .collect();
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                attribute("service.name", any_value::Value::StringValue(service.to_string())),
                attribute("k8s.pod.name", any_value::Value::StringValue("pod-1".into())),
            ],
            dropped_attributes_count: 6,
            entity_refs: Vec::new(),
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "shop-lib".to_string(),
                version: "1.2.3".to_string(),
                attributes: vec![attribute("scope.attr", any_value::Value::BoolValue(true))],
                dropped_attributes_count: 7,
            }),
            spans,
            schema_url: "https://opentelemetry.io/schemas/1.21.0".to_string(),
        }],
        schema_url: "https://opentelemetry.io/schemas/1.20.0".to_string(),
    }
}

/// A request with `spans_per_trace` spans for each trace seed.
pub fn request(trace_seeds: &[u64], spans_per_trace: u32) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![resource_spans("shop", trace_seeds, spans_per_trace)],
    }
}

/// Every span in a request, flattened.
pub fn spans_of(request: &ExportTraceServiceRequest) -> Vec<&Span> {
    request.resource_spans.iter().flat_map(|rs| &rs.scope_spans).flat_map(|ss| &ss.spans).collect()
}
