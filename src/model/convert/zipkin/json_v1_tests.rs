//! Unit tests of the Zipkin v1 JSON decoder.

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::*;
use crate::model::convert::zipkin::test_support::{
    all_spans, bool_attr, bytes, resource, str_attr,
};

const RECEIVED: u64 = 1_700_000_000_000_000_000;

fn decode(body: &str) -> ExportTraceServiceRequest {
    decode_v1_json(body.as_bytes(), RECEIVED).unwrap()
}

fn error(body: &str) -> String {
    decode_v1_json(body.as_bytes(), RECEIVED).unwrap_err().to_string()
}

/// The status of a span with these binary annotations (`[key, value]` pairs).
fn status_of(pairs: &[(&str, &str)]) -> (Option<Status>, Vec<KeyValue>) {
    let binary: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!(r#"{{"key":"{key}","value":"{value}"}}"#))
        .collect();
    let body = format!(
        r#"[{{"traceId":"1","id":"2","timestamp":5,"binaryAnnotations":[{}]}}]"#,
        binary.join(",")
    );
    let request = decode(&body);
    let span = all_spans(&request)[0].clone();
    (span.status, span.attributes)
}

fn status(code: StatusCode, message: &str) -> Option<Status> {
    Some(Status { code: code as i32, message: message.into() })
}

const GOLDEN_V1_JSON: &str = r#"[
  {
    "traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "parentId": "352bff9a74ca9ad2",
    "name": "get /api",
    "annotations": [
      {"timestamp": 1000010, "value": "cs", "endpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080}},
      {"timestamp": 1000050, "value": "ws", "endpoint": {"serviceName": "frontend"}},
      {"timestamp": 1000000, "value": "", "endpoint": {"serviceName": "ignored"}},
      {"timestamp": 1000090, "value": "cr", "endpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080}}
    ],
    "binaryAnnotations": [
      {"key": "http.path", "value": "/api", "endpoint": {"serviceName": "frontend"}},
      {"key": "http.status_code", "value": "404"},
      {"key": "sa", "value": true, "endpoint": {"serviceName": "backend", "ipv4": "10.0.0.2", "port": 9000}}
    ]
  },
  {
    "traceId": "5AF7183FB1D4CF5F352BFF9A74CA9AD2", "id": "0000000000000007",
    "name": "compute", "timestamp": 2000000, "duration": 30, "debug": false,
    "binaryAnnotations": [
      {"key": "lc", "value": "worker"},
      {"key": "census.status_code", "value": "0"},
      {"key": "census.status_description", "value": "fine"},
      {"key": "error", "value": "oops"}
    ]
  },
  {"traceId": "00000000000000aa", "id": "00000000000000bb", "name": "late"},
  null
]"#;

#[test]
fn decodes_the_golden_payload_field_by_field() {
    let request = decode(GOLDEN_V1_JSON);
    let client = Span {
        trace_id: bytes("00000000000000005af7183fb1d4cf5f"),
        span_id: bytes("6b221d5bc9e6496c"),
        parent_span_id: bytes("352bff9a74ca9ad2"),
        name: "get /api".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: 1_000_010_000,
        end_time_unix_nano: 1_000_090_000,
        attributes: vec![
            str_attr("http.path", "/api"),
            str_attr("http.status_code", "404"),
            str_attr("sa", "true"),
        ],
        events: vec![Event {
            time_unix_nano: 1_000_050_000,
            name: "ws".into(),
            ..Default::default()
        }],
        status: status(StatusCode::Error, ""),
        ..Default::default()
    };
    let worker = Span {
        trace_id: bytes("5af7183fb1d4cf5f352bff9a74ca9ad2"),
        span_id: bytes("0000000000000007"),
        name: "compute".into(),
        start_time_unix_nano: 2_000_000_000,
        end_time_unix_nano: 2_000_030_000,
        attributes: vec![str_attr("component", "worker")],
        status: status(StatusCode::Ok, "fine"),
        ..Default::default()
    };
    let late = Span {
        trace_id: bytes("000000000000000000000000000000aa"),
        span_id: bytes("00000000000000bb"),
        name: "late".into(),
        start_time_unix_nano: RECEIVED,
        end_time_unix_nano: RECEIVED,
        attributes: vec![bool_attr("otel.zipkin.absentField.startTime", true)],
        ..Default::default()
    };
    let resource_spans = |attributes, span| ResourceSpans {
        resource: resource(attributes),
        scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
        ..Default::default()
    };
    let expected = ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans(
                vec![
                    str_attr("service.name", "frontend"),
                    str_attr("ipv4", "10.0.0.1"),
                    str_attr("port", "8080"),
                ],
                client,
            ),
            resource_spans(vec![str_attr("service.name", "worker")], worker),
            resource_spans(vec![str_attr("service.name", "unknown-service")], late),
        ],
    };
    assert_eq!(request, expected);
}

#[test]
fn spans_of_one_host_share_a_resource_and_the_first_core_annotation_sets_the_kind() {
    let request = decode(
        r#"[{"traceId":"1","id":"2","annotations":[{"timestamp":3,"value":"sr","endpoint":{"serviceName":"s"}},
                                                   {"timestamp":4,"value":"cs","endpoint":{"serviceName":"t"}}]},
            {"traceId":"1","id":"3","annotations":[{"timestamp":5,"value":"mr","endpoint":{"serviceName":"s"}}]},
            {"traceId":"1","id":"4","annotations":[{"timestamp":6,"value":"ms","endpoint":{"serviceName":"s","port":1}}]}]"#,
    );
    assert_eq!(request.resource_spans.len(), 2, "the port makes a third span's host differ");
    let kinds: Vec<i32> = all_spans(&request).iter().map(|span| span.kind).collect();
    assert_eq!(
        kinds,
        [SpanKind::Server as i32, SpanKind::Consumer as i32, SpanKind::Producer as i32]
    );
    assert_eq!(names(&request.resource_spans[0].scope_spans[0].spans), [2, 3]);
}

/// The last byte of each span's id.
fn names(spans: &[Span]) -> Vec<u8> {
    spans.iter().map(|span| span.span_id[7]).collect()
}

#[test]
fn status_sources_follow_the_collectors_precedence() {
    assert_eq!(status_of(&[]).0, None);
    assert_eq!(
        status_of(&[("census.status_code", "3"), ("otel.status_code", "1")]).0,
        status(StatusCode::Error, "")
    );
    let (otel, attributes) =
        status_of(&[("otel.status_code", "1"), ("otel.status_description", "d"), ("error", "x")]);
    assert_eq!((otel, attributes.len()), (status(StatusCode::Ok, "d"), 0));
    assert_eq!(
        status_of(&[("otel.status_code", "7")]).0,
        Some(Status { code: 7, message: String::new() })
    );
    assert_eq!(
        status_of(&[
            ("error", "x"),
            ("opencensus.status_description", "why"),
            ("http.status_code", "200")
        ])
        .0,
        status(StatusCode::Error, "why")
    );
    let (http, attributes) =
        status_of(&[("http.status_code", "204"), ("http.status_message", "No Content")]);
    assert_eq!(http, status(StatusCode::Unset, "No Content"));
    assert_eq!(
        attributes,
        [str_attr("http.status_code", "204"), str_attr("http.status_message", "No Content")]
    );
    assert_eq!(status_of(&[("http.status_code", "503")]).0, status(StatusCode::Error, ""));
    assert_eq!(
        status_of(&[("otel.status_code", "STATUS_CODE_OK")]).0,
        None,
        "a code that is not a number is ignored"
    );
}

#[test]
fn refuses_malformed_spans_naming_the_span_and_field() {
    assert!(error("{").starts_with("invalid zipkin JSON: "));
    assert_eq!(error("{}"), "zipkin JSON body must be an array of spans, got object");
    let cases = [
        (r#"{"traceId":"xyz","id":"1"}"#, r#"traceId "xyz" is not hex"#),
        (r#"{"id":"1"}"#, "traceId is missing"),
        (r#"{"traceId":"1"}"#, "id is missing"),
        (r#"{"traceId":"1","id":"2","timestamp":"5"}"#, "timestamp must be an integer, got string"),
        (
            r#"{"traceId":"1","id":"2","annotations":[{"value":5}]}"#,
            "annotations[0].value must be a string, got number",
        ),
        (
            r#"{"traceId":"1","id":"2","annotations":[{"value":"cs","endpoint":{"port":4294967296}}]}"#,
            "annotations[0].endpoint.port 4294967296 is out of range",
        ),
        (
            r#"{"traceId":"1","id":"2","binaryAnnotations":[{"key":"k","value":[]}]}"#,
            "binaryAnnotations[0].value must be a string, got array",
        ),
        (
            r#"{"traceId":"1","id":"2","timestamp":9223372036854775807,"duration":1}"#,
            "timestamp 9223372036854775807 + duration 1 overflows",
        ),
        (
            r#"{"traceId":"1","id":"2","timestamp":9223372036854775807}"#,
            "timestamp 9223372036854775807 is out of range",
        ),
    ];
    for (span, problem) in cases {
        assert_eq!(error(&format!("[null,{span}]")), format!("zipkin span 1: {problem}"), "{span}");
    }
}
