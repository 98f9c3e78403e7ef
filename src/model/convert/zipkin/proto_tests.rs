//! Unit tests of the Zipkin protobuf decoder.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::*;
use crate::model::convert::zipkin::test_support::{
    all_spans, bool_attr, bytes, golden_v2_request, str_attr,
};

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

fn encode(spans: Vec<zipkin::Span>) -> Vec<u8> {
    zipkin::ListOfSpans { spans }.encode_to_vec()
}

/// A span with valid ids and nothing else.
fn minimal_span() -> zipkin::Span {
    zipkin::Span {
        trace_id: bytes("00000000000000000000000000000001"),
        id: bytes("0000000000000002"),
        ..Default::default()
    }
}

fn error(span: zipkin::Span) -> String {
    decode_v2_proto(&encode(vec![minimal_span(), span])).unwrap_err().to_string()
}

/// The spans of `GOLDEN_V2_JSON`, built with the generated types.
fn golden_spans() -> Vec<zipkin::Span> {
    let client = zipkin::Span {
        trace_id: bytes("86154a4ba6e91385"),
        parent_id: bytes("86154a4ba6e91385"),
        id: bytes("4d1e00c0db9010db"),
        kind: Kind::Client as i32,
        name: "get /api".into(),
        timestamp: 1_472_470_996_199_000,
        duration: 207_000,
        local_endpoint: Some(zipkin::Endpoint {
            service_name: "frontend".into(),
            ipv4: vec![192, 168, 99, 1],
            ipv6: Vec::new(),
            port: 8080,
        }),
        remote_endpoint: Some(zipkin::Endpoint {
            service_name: "backend".into(),
            ipv4: Vec::new(),
            ipv6: "2001:db8::c001".parse::<Ipv6Addr>().unwrap().octets().to_vec(),
            port: 9000,
        }),
        annotations: vec![
            zipkin::Annotation { timestamp: 1_472_470_996_238_000, value: "ws".into() },
            zipkin::Annotation { timestamp: 1_472_470_996_403_000, value: "wr".into() },
        ],
        tags: tags(&[
            ("http.method", "GET"),
            ("http.path", "/api"),
            ("error", "timeout"),
            ("clnt/finagle.version", "6.45.0"),
            ("host.name", "fe-1"),
        ]),
        debug: true,
        shared: false,
    };
    let server = zipkin::Span {
        trace_id: bytes("5af7183fb1d4cf5f86154a4ba6e91385"),
        id: bytes("0000000000000002"),
        kind: Kind::Server as i32,
        name: "db".into(),
        timestamp: 1_472_470_996_250_000,
        duration: 10,
        local_endpoint: Some(zipkin::Endpoint {
            service_name: "backend".into(),
            ..Default::default()
        }),
        tags: tags(&[("otel.library.name", "io.db"), ("otel.library.version", "1.2")]),
        shared: true,
        ..Default::default()
    };
    let local = zipkin::Span {
        trace_id: bytes("5af7183fb1d4cf5f86154a4ba6e91385"),
        parent_id: bytes("0000000000000002"),
        id: bytes("0000000000000003"),
        name: "local".into(),
        timestamp: 1_472_470_996_300_000,
        duration: 5,
        local_endpoint: Some(zipkin::Endpoint {
            service_name: "frontend".into(),
            ..Default::default()
        }),
        tags: tags(&[
            ("span.kind", "internal"),
            ("otel.status_code", "STATUS_CODE_ERROR"),
            ("otel.status_description", "boom"),
        ]),
        ..Default::default()
    };
    vec![client, server, local]
}

#[test]
fn decodes_the_golden_spans_as_their_json_form() {
    let request = decode_v2_proto(&encode(golden_spans())).unwrap();
    assert_eq!(request, golden_v2_request());
}

#[test]
fn an_empty_body_is_an_empty_request() {
    assert!(decode_v2_proto(&[]).unwrap().resource_spans.is_empty());
}

#[test]
fn maps_unknown_kinds_to_unspecified_and_a_zero_timestamp_to_absent() {
    let span = zipkin::Span { kind: 9, duration: 7, ..minimal_span() };
    let request = decode_v2_proto(&encode(vec![zipkin::Span {
        trace_id: bytes("0000000000000001"),
        ..span
    }]))
    .unwrap();
    let decoded = all_spans(&request)[0];
    assert_eq!(decoded.trace_id, bytes("00000000000000000000000000000001"), "8 bytes, left-padded");
    assert_eq!(decoded.kind, SpanKind::Unspecified as i32);
    assert_eq!((decoded.start_time_unix_nano, decoded.end_time_unix_nano), (0, 7_000));
    assert_eq!(decoded.attributes, [bool_attr("otel.zipkin.absentField.startTime", true)]);
}

#[test]
fn prints_a_mapped_ipv4_in_the_ipv6_field_as_ipv4() {
    let span = zipkin::Span {
        remote_endpoint: Some(zipkin::Endpoint {
            ipv6: bytes("00000000000000000000ffff0a000001"),
            ..Default::default()
        }),
        timestamp: 1,
        ..minimal_span()
    };
    let request = decode_v2_proto(&encode(vec![span])).unwrap();
    assert_eq!(all_spans(&request)[0].attributes, [str_attr("network.peer.address", "10.0.0.1")]);
}

#[test]
fn refuses_truncated_or_foreign_bytes() {
    let body = encode(golden_spans());
    let truncated = decode_v2_proto(&body[..body.len() - 3]).unwrap_err().to_string();
    assert!(truncated.starts_with("invalid zipkin protobuf ListOfSpans: "), "{truncated}");
    let not_proto = decode_v2_proto(b"[{\"traceId\":\"1\"}]").unwrap_err().to_string();
    assert!(not_proto.starts_with("invalid zipkin protobuf ListOfSpans: "), "{not_proto}");
    let bad_utf8 = encode(vec![zipkin::Span { name: "x".into(), ..minimal_span() }]);
    let position = bad_utf8.iter().position(|&byte| byte == b'x').unwrap();
    let mut corrupted = bad_utf8.clone();
    corrupted[position] = 0xff;
    assert!(decode_v2_proto(&corrupted).is_err());
}

#[test]
fn refuses_ids_and_addresses_of_the_wrong_length_naming_the_span_and_field() {
    let cases = [
        (
            zipkin::Span { trace_id: vec![1; 5], ..minimal_span() },
            "trace_id must be 8 or 16 bytes, got 5",
        ),
        (zipkin::Span { trace_id: Vec::new(), ..minimal_span() }, "trace_id is missing"),
        (zipkin::Span { id: Vec::new(), ..minimal_span() }, "id is missing"),
        (zipkin::Span { id: vec![1; 16], ..minimal_span() }, "id must be 8 bytes, got 16"),
        (
            zipkin::Span { parent_id: vec![1; 3], ..minimal_span() },
            "parent_id must be 8 bytes, got 3",
        ),
        (
            zipkin::Span {
                local_endpoint: Some(zipkin::Endpoint {
                    ipv4: vec![10, 0, 0],
                    ..Default::default()
                }),
                ..minimal_span()
            },
            "local_endpoint.ipv4 must be 4 or 16 bytes, got 3",
        ),
        (
            zipkin::Span {
                remote_endpoint: Some(zipkin::Endpoint { port: -1, ..Default::default() }),
                ..minimal_span()
            },
            "remote_endpoint.port must be 0 to 65535, got -1",
        ),
    ];
    for (span, problem) in cases {
        assert_eq!(error(span), format!("zipkin span 1: {problem}"));
    }
}
