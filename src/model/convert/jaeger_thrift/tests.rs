//! Golden tests of the Thrift decoder: hand-built batches in both protocols, the exact OTLP
//! output, unknown fields, blank spans and the UDP agent envelope.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::encoder::{self, Kind, Value, string, string_tag};
use super::*;
use crate::model::convert::jaeger::test_support::{
    bool_kv, bytes_kv, double_kv, int_kv, link, status, string_kv, trace_id_bytes,
};

const PROTOCOLS: [ThriftProtocol; 2] = [ThriftProtocol::Binary, ThriftProtocol::Compact];

const TRACE_A: (i64, i64) = (0, 0x1122_3344_5566_7788);
const TRACE_B: (i64, i64) = (0x5b8e_fff7_9803_8103, 0xd269_b633_813f_c700_u64 as i64);
const PARENT_A: i64 = 0x0102_0304_0506_0708;

/// A 64-bit-trace server span with every tag type, logs and references.
fn span_a() -> Value {
    let mut fields =
        encoder::span_fields(TRACE_A, -2, PARENT_A, "GET /cart", 1_689_969_302_000_000, 1500);
    fields.push((
        6,
        encoder::structs(vec![
            encoder::span_ref(0, TRACE_A.1, TRACE_A.0, PARENT_A),
            encoder::span_ref(1, 0x99, 0x77, 0x55),
        ]),
    ));
    fields.push((
        10,
        encoder::structs(vec![
            string_tag("span.kind", "server"),
            encoder::long_tag("http.status_code", 503),
            string_tag("http.status_message", "unavailable"),
            string_tag("component", "net/http"),
            encoder::double_tag("ratio", 0.25),
            encoder::bool_tag("cache.hit", true),
            encoder::binary_tag("blob", &[0, 1, 2, 255]),
            string_tag("otel.library.name", "shop-lib"),
            string_tag("w3c.tracestate", "a=1"),
            string_tag("component", "grpc"),
            encoder::tag("odd", 9, None),
        ]),
    ));
    fields.push((
        11,
        encoder::structs(vec![
            encoder::log(
                1_689_969_302_000_500,
                vec![
                    string_tag("event", "exception"),
                    string_tag("message", "boom"),
                    encoder::long_tag("attempt", 2),
                ],
            ),
            encoder::log(1_689_969_302_001_000, vec![]),
        ]),
    ));
    Value::Struct(fields)
}

/// A 128-bit-trace client span whose parent comes from a reference, failed by `error=true`.
fn span_b() -> Value {
    let mut fields = encoder::span_fields(
        TRACE_B,
        0xeee1_9b7e_c3c1_b100_u64 as i64,
        0,
        "charge",
        1_700_000_000_000_000,
        0,
    );
    fields.push((
        6,
        encoder::structs(vec![
            encoder::span_ref(0, 0x42, 0x41, 0x2222),
            encoder::span_ref(0, TRACE_B.1, TRACE_B.0, 0x1111),
        ]),
    ));
    fields.push((
        10,
        encoder::structs(vec![
            string_tag("span.kind", "client"),
            encoder::bool_tag("error", true),
            string_tag("otel.status_description", "payment failed"),
            string_tag("otel.status_code", "OK"),
            string_tag("peer.service", "payments"),
        ]),
    ));
    Value::Struct(fields)
}

/// A span with every field at its zero value and no optional list: dropped.
fn blank_span() -> Value {
    let mut fields = encoder::span_fields((0, 0), 0, 0, "", 0, 0);
    fields.retain(|(id, _)| *id != 7);
    fields.push((7, Value::I32(0)));
    Value::Struct(fields)
}

fn golden_process() -> Value {
    encoder::process(
        "checkout",
        vec![
            string_tag("hostname", "host-1"),
            string_tag("jaeger.version", "Go-2.30.0"),
            encoder::long_tag("pid", 42),
            string_tag("ip", "10.0.0.1"),
        ],
    )
}

fn golden_batch() -> Value {
    encoder::batch(golden_process(), vec![span_a(), blank_span(), span_b()])
}

fn expected_resource() -> Resource {
    Resource {
        attributes: vec![
            string_kv("service.name", "checkout"),
            string_kv("host.name", "host-1"),
            string_kv("opencensus.exporterversion", "Jaeger-Go-2.30.0"),
            int_kv("pid", 42),
            string_kv("ip", "10.0.0.1"),
        ],
        ..Default::default()
    }
}

fn expected_span_a() -> Span {
    Span {
        trace_id: trace_id_bytes(0, 0x1122_3344_5566_7788),
        span_id: vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],
        parent_span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        name: "GET /cart".to_owned(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: 1_689_969_302_000_000_000,
        end_time_unix_nano: 1_689_969_302_001_500_000,
        // `span.kind` was first: the last attribute took its place.
        attributes: vec![
            string_kv("odd", "<Unknown Jaeger TagType \"<UNSET>\">"),
            int_kv("http.status_code", 503),
            string_kv("http.status_message", "unavailable"),
            string_kv("component", "grpc"),
            double_kv("ratio", 0.25),
            bool_kv("cache.hit", true),
            bytes_kv("blob", &[0, 1, 2, 255]),
            string_kv("otel.library.name", "shop-lib"),
            string_kv("w3c.tracestate", "a=1"),
        ],
        events: vec![
            Event {
                time_unix_nano: 1_689_969_302_000_500_000,
                name: "exception".to_owned(),
                attributes: vec![int_kv("attempt", 2), string_kv("message", "boom")],
                ..Default::default()
            },
            Event { time_unix_nano: 1_689_969_302_001_000_000, ..Default::default() },
        ],
        links: vec![link(0x77, 0x99, 0x55, "follows_from")],
        status: status(StatusCode::Error, "unavailable"),
        ..Default::default()
    }
}

fn expected_span_b() -> Span {
    Span {
        trace_id: trace_id_bytes(0x5b8e_fff7_9803_8103, 0xd269_b633_813f_c700),
        span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x00],
        parent_span_id: 0x1111_u64.to_be_bytes().to_vec(),
        name: "charge".to_owned(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000,
        attributes: vec![string_kv("peer.service", "payments")],
        links: vec![link(0x41, 0x42, 0x2222, "child_of")],
        status: status(StatusCode::Error, "payment failed"),
        ..Default::default()
    }
}

fn expected_request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(expected_resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope::default()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn golden_batch_maps_field_by_field_in_both_protocols() {
    for protocol in PROTOCOLS {
        let body = encoder::encode(&golden_batch(), protocol);
        let request = decode_batch(&body, protocol).unwrap();
        let expected = expected_request(vec![expected_span_a(), expected_span_b()]);
        assert_eq!(request.resource_spans.len(), 1, "{protocol:?}");
        let resource_spans = &request.resource_spans[0];
        assert_eq!(resource_spans.resource, expected.resource_spans[0].resource, "{protocol:?}");
        let spans = &resource_spans.scope_spans[0].spans;
        assert_eq!(spans.len(), 2, "{protocol:?}: the blank span is dropped");
        assert_eq!(spans[0], expected_span_a(), "{protocol:?}");
        assert_eq!(spans[1], expected_span_b(), "{protocol:?}");
        assert_eq!(request, expected, "{protocol:?}");
    }
}

/// Adds unknown fields of every Thrift type (nested ones included) to a struct.
fn with_unknown_fields(value: Value) -> Value {
    let Value::Struct(mut fields) = value else { panic!("not a struct") };
    let nested = Value::Struct(vec![
        (1, Value::Bool(true)),
        (40, Value::Bool(false)),
        (2, Value::List(Kind::Struct, vec![Value::Struct(vec![(7, Value::I16(-3))])])),
    ]);
    fields.extend([
        (90, Value::Bool(false)),
        (91, Value::Byte(-7)),
        (92, Value::I16(12_345)),
        (93, Value::I32(-1)),
        (94, Value::I64(i64::MIN)),
        (95, Value::Double(-0.5)),
        (96, string("ignored")),
        (97, nested),
        (
            98,
            Value::Map(
                Kind::Binary,
                Kind::List,
                vec![(string("k"), Value::List(Kind::I32, vec![Value::I32(1), Value::I32(2)]))],
            ),
        ),
        (99, Value::Set(Kind::I64, (0..20).map(Value::I64).collect())),
        (100, Value::Uuid([7; 16])),
        (101, Value::Map(Kind::I32, Kind::Bool, vec![])),
        (102, Value::List(Kind::Bool, vec![Value::Bool(true), Value::Bool(false)])),
        (-5, Value::Bool(true)),
    ]);
    Value::Struct(fields)
}

#[test]
fn unknown_fields_of_every_type_are_skipped() {
    let spans = vec![with_unknown_fields(span_a()), with_unknown_fields(span_b())];
    let mut batch = encoder::batch(with_unknown_fields(golden_process()), spans);
    if let Value::Struct(fields) = &mut batch {
        // seqNo and stats are known to the schema but not kept.
        fields.push((3, Value::I64(17)));
        fields.push((
            4,
            Value::Struct(vec![(1, Value::I64(0)), (2, Value::I64(0)), (3, Value::I64(0))]),
        ));
    }
    let batch = with_unknown_fields(batch);
    for protocol in PROTOCOLS {
        let body = encoder::encode(&batch, protocol);
        let request = decode_batch(&body, protocol).unwrap();
        assert_eq!(
            request,
            expected_request(vec![expected_span_a(), expected_span_b()]),
            "{protocol:?}"
        );
    }
}

#[test]
fn a_known_field_with_another_type_is_skipped_like_an_unknown_one() {
    // Tag.vStr sent as an i64: skipped, so the STRING tag reads as "".
    let odd_tag = encoder::tag("k", 0, Some((3, Value::I64(5))));
    let mut fields = encoder::span_fields(TRACE_A, 1, 0, "s", 0, 0);
    fields.push((10, encoder::structs(vec![odd_tag])));
    let body = encoder::encode(
        &encoder::batch(encoder::process("svc", vec![]), vec![Value::Struct(fields)]),
        ThriftProtocol::Binary,
    );
    let request = decode_batch(&body, ThriftProtocol::Binary).unwrap();
    assert_eq!(
        request.resource_spans[0].scope_spans[0].spans[0].attributes,
        vec![string_kv("k", "")]
    );
}

#[test]
fn a_zero_span_is_kept_once_it_carries_a_list_and_a_batch_without_spans_has_no_scope() {
    let mut zero_with_tags = match blank_span() {
        Value::Struct(fields) => fields,
        _ => unreachable!(),
    };
    zero_with_tags.push((10, encoder::structs(vec![])));
    let batch =
        encoder::batch(encoder::process("svc", vec![]), vec![Value::Struct(zero_with_tags)]);
    let request =
        decode_batch(&encoder::encode(&batch, ThriftProtocol::Compact), ThriftProtocol::Compact)
            .unwrap();
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!((span.trace_id.as_slice(), span.span_id.as_slice()), (&[0; 16][..], &[0; 8][..]));
    assert!(span.parent_span_id.is_empty());

    let empty = encoder::batch(encoder::process("svc", vec![]), vec![]);
    let request =
        decode_batch(&encoder::encode(&empty, ThriftProtocol::Binary), ThriftProtocol::Binary)
            .unwrap();
    assert_eq!(
        request.resource_spans,
        vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", "svc")],
                ..Default::default()
            }),
            ..Default::default()
        }]
    );
}

#[test]
fn times_wrap_around_as_the_collector_computes_them() {
    let fields = encoder::span_fields(TRACE_A, 1, 0, "s", -1, 2);
    let batch = encoder::batch(encoder::process("svc", vec![]), vec![Value::Struct(fields)]);
    let request =
        decode_batch(&encoder::encode(&batch, ThriftProtocol::Binary), ThriftProtocol::Binary)
            .unwrap();
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.start_time_unix_nano, u64::MAX - 999);
    assert_eq!(span.end_time_unix_nano, 1000);
}

#[test]
fn invalid_utf8_in_strings_is_replaced_not_refused() {
    let batch =
        encoder::batch(Value::Struct(vec![(1, Value::Binary(vec![b's', 0xff, b'v']))]), vec![]);
    let request =
        decode_batch(&encoder::encode(&batch, ThriftProtocol::Binary), ThriftProtocol::Binary)
            .unwrap();
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(resource.attributes, vec![string_kv("service.name", "s\u{fffd}v")]);
}

#[test]
fn agent_emit_batch_messages_decode_in_every_envelope() {
    let args = Value::Struct(vec![(1, golden_batch())]);
    let expected = expected_request(vec![expected_span_a(), expected_span_b()]);
    for (protocol, strict) in [
        (ThriftProtocol::Binary, true),
        (ThriftProtocol::Binary, false),
        (ThriftProtocol::Compact, true),
    ] {
        let datagram = encoder::encode_message("emitBatch", 4, &args, protocol, strict);
        assert_eq!(
            decode_agent_emit_batch(&datagram, protocol).unwrap(),
            expected,
            "{protocol:?} {strict}"
        );
    }
    let without_batch = encoder::encode_message(
        "emitBatch",
        4,
        &Value::Struct(vec![]),
        ThriftProtocol::Compact,
        true,
    );
    assert_eq!(
        decode_agent_emit_batch(&without_batch, ThriftProtocol::Compact).unwrap(),
        ExportTraceServiceRequest::default()
    );
}

#[test]
fn agent_messages_for_other_methods_or_protocols_are_refused() {
    let args = Value::Struct(vec![(1, golden_batch())]);
    let zipkin =
        encoder::encode_message("emitZipkinBatch", 4, &args, ThriftProtocol::Compact, true);
    assert_eq!(
        decode_agent_emit_batch(&zipkin, ThriftProtocol::Compact).unwrap_err().to_string(),
        "jaeger thrift: not an emitBatch message: method \"emitZipkinBatch\", expected \"emitBatch\""
    );
    let binary = encoder::encode_message("emitBatch", 4, &args, ThriftProtocol::Binary, true);
    assert_eq!(
        decode_agent_emit_batch(&binary, ThriftProtocol::Compact).unwrap_err().to_string(),
        "jaeger thrift: not an emitBatch message: compact protocol id 0x80, expected 0x82"
    );
    let mut bad_version = binary.clone();
    bad_version[1] = 0x02;
    assert!(matches!(
        decode_agent_emit_batch(&bad_version, ThriftProtocol::Binary),
        Err(JaegerError::ThriftBadEnvelope { .. })
    ));
}

#[test]
fn content_types_name_the_protocol() {
    let cases = [
        ("application/x-thrift", Some(ThriftProtocol::Binary)),
        ("Application/Vnd.Apache.Thrift.Binary; charset=utf-8", Some(ThriftProtocol::Binary)),
        ("application/vnd.apache.thrift.compact", Some(ThriftProtocol::Compact)),
        ("application/json", None),
        ("", None),
    ];
    for (content_type, expected) in cases {
        assert_eq!(ThriftProtocol::from_content_type(content_type), expected, "{content_type}");
    }
}
