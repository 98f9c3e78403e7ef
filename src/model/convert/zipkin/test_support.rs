//! Builders of expected OTLP values for the Zipkin decoders' tests.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::model::ids::hex_decode;

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub(super) fn str_attr(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_string()))
}

pub(super) fn int_attr(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

pub(super) fn bool_attr(key: &str, value: bool) -> KeyValue {
    attribute(key, any_value::Value::BoolValue(value))
}

pub(super) fn double_attr(key: &str, value: f64) -> KeyValue {
    attribute(key, any_value::Value::DoubleValue(value))
}

/// A resource with these attributes.
pub(super) fn resource(attributes: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource { attributes, ..Default::default() })
}

/// Bytes from hex, for expected ids.
pub(super) fn bytes(hex: &str) -> Vec<u8> {
    hex_decode(hex).unwrap()
}

/// Every span of a request, in order.
pub(super) fn all_spans(request: &ExportTraceServiceRequest) -> Vec<&Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|resource_spans| &resource_spans.scope_spans)
        .flat_map(|scope_spans| &scope_spans.spans)
        .collect()
}

/// A Zipkin v2 JSON body of three spans over two services, exercising most mapping rules;
/// `golden_v2_request` is its OTLP form, and the protobuf test encodes the same spans.
pub(super) const GOLDEN_V2_JSON: &str = r#"[
  {
    "traceId": "86154a4ba6e91385",
    "id": "4D1E00C0DB9010DB",
    "parentId": "86154a4ba6e91385",
    "name": "get /api",
    "kind": "CLIENT",
    "timestamp": 1472470996199000,
    "duration": 207000,
    "localEndpoint": {"serviceName": "frontend", "ipv4": "192.168.99.1", "port": 8080},
    "remoteEndpoint": {"serviceName": "backend", "ipv6": "2001:db8::c001", "port": 9000},
    "annotations": [
      {"timestamp": 1472470996238000, "value": "ws"},
      {"timestamp": 1472470996403000, "value": "wr"}
    ],
    "tags": {
      "http.method": "GET",
      "http.path": "/api",
      "error": "timeout",
      "clnt/finagle.version": "6.45.0",
      "host.name": "fe-1"
    },
    "debug": true
  },
  {
    "traceId": "5af7183fb1d4cf5f86154a4ba6e91385",
    "id": "0000000000000002",
    "name": "db",
    "kind": "SERVER",
    "timestamp": 1472470996250000,
    "duration": 10,
    "localEndpoint": {"serviceName": "backend"},
    "tags": {"otel.library.name": "io.db", "otel.library.version": "1.2"},
    "shared": true
  },
  {
    "traceId": "5af7183fb1d4cf5f86154a4ba6e91385",
    "id": "0000000000000003",
    "parentId": "0000000000000002",
    "name": "local",
    "timestamp": 1472470996300000,
    "duration": 5,
    "localEndpoint": {"serviceName": "frontend"},
    "tags": {
      "span.kind": "internal",
      "otel.status_code": "STATUS_CODE_ERROR",
      "otel.status_description": "boom"
    }
  }
]"#;

/// The OTLP form of `GOLDEN_V2_JSON`, written out field by field.
pub(super) fn golden_v2_request() -> ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    let client = Span {
        trace_id: bytes("000000000000000086154a4ba6e91385"),
        span_id: bytes("4d1e00c0db9010db"),
        parent_span_id: bytes("86154a4ba6e91385"),
        name: "get /api".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: 1_472_470_996_199_000_000,
        end_time_unix_nano: 1_472_470_996_406_000_000,
        attributes: vec![
            str_attr("clnt/finagle.version", "6.45.0"),
            str_attr("error", "timeout"),
            str_attr("http.method", "GET"),
            str_attr("http.path", "/api"),
            str_attr("network.local.address", "192.168.99.1"),
            int_attr("net.host.port", 8080),
            str_attr("service.peer.name", "backend"),
            str_attr("network.peer.address", "2001:db8::c001"),
            int_attr("net.peer.port", 9000),
        ],
        events: vec![
            Event {
                time_unix_nano: 1_472_470_996_238_000_000,
                name: "ws".into(),
                ..Default::default()
            },
            Event {
                time_unix_nano: 1_472_470_996_403_000_000,
                name: "wr".into(),
                ..Default::default()
            },
        ],
        status: Some(Status { code: StatusCode::Error as i32, message: String::new() }),
        ..Default::default()
    };
    let local = Span {
        trace_id: bytes("5af7183fb1d4cf5f86154a4ba6e91385"),
        span_id: bytes("0000000000000003"),
        parent_span_id: bytes("0000000000000002"),
        name: "local".into(),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: 1_472_470_996_300_000_000,
        end_time_unix_nano: 1_472_470_996_300_005_000,
        status: Some(Status { code: StatusCode::Error as i32, message: "boom".into() }),
        ..Default::default()
    };
    let server = Span {
        trace_id: bytes("5af7183fb1d4cf5f86154a4ba6e91385"),
        span_id: bytes("0000000000000002"),
        name: "db".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: 1_472_470_996_250_000_000,
        end_time_unix_nano: 1_472_470_996_250_010_000,
        ..Default::default()
    };
    let frontend = ResourceSpans {
        resource: resource(vec![
            str_attr("service.name", "frontend"),
            str_attr("host.name", "fe-1"),
        ]),
        scope_spans: vec![ScopeSpans { spans: vec![client, local], ..Default::default() }],
        ..Default::default()
    };
    let backend = ResourceSpans {
        resource: resource(vec![str_attr("service.name", "backend")]),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "io.db".into(),
                version: "1.2".into(),
                ..Default::default()
            }),
            spans: vec![server],
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest { resource_spans: vec![frontend, backend] }
}
