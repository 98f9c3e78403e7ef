//! Golden and error tests of the `PostSpans` mapping, from request values built by hand.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::*;
use crate::model::convert::jaeger::test_support::{
    bytes_kv, int_kv, link, status, string_kv, trace_id_bytes,
};
use crate::proto::jaeger::api_v2::{Batch, KeyValue, Log, Process, SpanRef};

const TRACE_HIGH: u64 = 0x5b8e_fff7_9803_8103;
const TRACE_LOW: u64 = 0xd269_b633_813f_c700;

fn trace_128() -> Vec<u8> {
    trace_id_bytes(TRACE_HIGH, TRACE_LOW)
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        v_type: ValueType::String as i32,
        v_str: value.to_owned(),
        ..Default::default()
    }
}

fn long(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        v_type: ValueType::Int64 as i32,
        v_int64: value,
        ..Default::default()
    }
}

fn process(service_name: &str, tags: Vec<KeyValue>) -> Process {
    Process { service_name: service_name.to_owned(), tags }
}

fn timestamp(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

/// A minimal valid span.
fn span(span_id: u64, name: &str) -> api_v2::Span {
    api_v2::Span {
        trace_id: trace_128(),
        span_id: span_id.to_be_bytes().to_vec(),
        operation_name: name.to_owned(),
        start_time: timestamp(1_689_969_302, 0),
        duration: Some(Duration { seconds: 0, nanos: 1_000 }),
        ..Default::default()
    }
}

fn request(batch: Batch) -> PostSpansRequest {
    PostSpansRequest { batch: Some(batch) }
}

fn decode(batch: Batch) -> ExportTraceServiceRequest {
    decode_post_spans(request(batch)).unwrap()
}

fn error(batch: Batch) -> String {
    decode_post_spans(request(batch)).unwrap_err().to_string()
}

/// A producer span with scope, status, trace state, a log and references.
fn rich_span() -> api_v2::Span {
    api_v2::Span {
        references: vec![
            SpanRef {
                trace_id: trace_128(),
                span_id: 0x11_u64.to_be_bytes().to_vec(),
                ref_type: SpanRefType::ChildOf as i32,
            },
            SpanRef {
                trace_id: vec![0, 0, 0, 0, 0, 0, 0, 9],
                span_id: 0x22_u64.to_be_bytes().to_vec(),
                ref_type: SpanRefType::FollowsFrom as i32,
            },
        ],
        flags: 1,
        start_time: timestamp(1_689_969_302, 123_456_789),
        duration: Some(Duration { seconds: 2, nanos: 500 }),
        tags: vec![
            text("otel.scope.name", "shop-lib"),
            text("span.kind", "producer"),
            text("otel.status_code", "OK"),
            text("otel.status_description", "fine"),
            text("w3c.tracestate", "vendor=1"),
            text("otel.scope.version", "1.2.3"),
            KeyValue {
                key: "blob".into(),
                v_type: ValueType::Binary as i32,
                v_binary: vec![9, 8],
                ..Default::default()
            },
            KeyValue {
                key: "odd".into(),
                v_type: 7,
                v_str: "ignored".into(),
                ..Default::default()
            },
        ],
        logs: vec![Log {
            timestamp: timestamp(1_689_969_302, 200_000_000),
            fields: vec![text("event", "sent"), long("bytes", 42)],
        }],
        process_id: "p1".into(),
        warnings: vec!["clock skew".into()],
        ..span(0xeee1_9b7e_c3c1_b100, "publish")
    }
}

fn expected_rich_span() -> Span {
    Span {
        trace_id: trace_128(),
        span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x00],
        trace_state: "vendor=1".into(),
        parent_span_id: 0x11_u64.to_be_bytes().to_vec(),
        name: "publish".into(),
        kind: SpanKind::Producer as i32,
        start_time_unix_nano: 1_689_969_302_123_456_789,
        end_time_unix_nano: 1_689_969_304_123_457_289,
        // Each removal moved the last attribute into the gap.
        attributes: vec![
            string_kv("odd", "<Unknown Jaeger TagType \"7\">"),
            bytes_kv("blob", &[9, 8]),
        ],
        events: vec![Event {
            time_unix_nano: 1_689_969_302_200_000_000,
            name: "sent".into(),
            attributes: vec![int_kv("bytes", 42)],
            ..Default::default()
        }],
        links: vec![link(0, 9, 0x22, "follows_from")],
        status: status(StatusCode::Ok, "fine"),
        ..Default::default()
    }
}

fn expected_plain_span(span_id: u64, name: &str) -> Span {
    Span {
        trace_id: trace_128(),
        span_id: span_id.to_be_bytes().to_vec(),
        name: name.into(),
        start_time_unix_nano: 1_689_969_302_000_000_000,
        end_time_unix_nano: 1_689_969_302_000_001_000,
        ..Default::default()
    }
}

fn scope_spans(name: &str, version: &str, spans: Vec<Span>) -> ScopeSpans {
    ScopeSpans {
        scope: Some(InstrumentationScope {
            name: name.into(),
            version: version.into(),
            ..Default::default()
        }),
        spans,
        ..Default::default()
    }
}

#[test]
fn golden_request_groups_spans_by_process_and_scope() {
    let batch_process = process("checkout", vec![text("hostname", "h1"), long("pid", 7)]);
    let payments = process("payments", vec![]);
    let mut eight_byte_trace = span(4, "legacy");
    eight_byte_trace.trace_id = vec![0, 0, 0, 0, 0, 0, 0x0a, 0x0b];
    let batch = Batch {
        process: Some(batch_process.clone()),
        spans: vec![
            rich_span(),
            api_v2::Span { process: Some(payments.clone()), ..span(2, "charge") },
            api_v2::Span::default(),
            api_v2::Span { process: Some(batch_process.clone()), ..span(3, "same-process") },
            eight_byte_trace,
            api_v2::Span { process: Some(payments), ..span(5, "refund") },
        ],
    };
    let checkout_resource = Resource {
        attributes: vec![
            string_kv("service.name", "checkout"),
            string_kv("host.name", "h1"),
            int_kv("pid", 7),
        ],
        ..Default::default()
    };
    let legacy = Span { trace_id: trace_id_bytes(0, 0x0a0b), ..expected_plain_span(4, "legacy") };
    let expected = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(checkout_resource),
                scope_spans: vec![
                    scope_spans("shop-lib", "1.2.3", vec![expected_rich_span()]),
                    scope_spans("", "", vec![expected_plain_span(3, "same-process"), legacy]),
                ],
                ..Default::default()
            },
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string_kv("service.name", "payments")],
                    ..Default::default()
                }),
                scope_spans: vec![scope_spans(
                    "",
                    "",
                    vec![expected_plain_span(2, "charge"), expected_plain_span(5, "refund")],
                )],
                ..Default::default()
            },
        ],
    };
    let decoded = decode(batch);
    assert_eq!(decoded.resource_spans.len(), 2);
    assert_eq!(decoded.resource_spans[0].scope_spans[0].spans[0], expected_rich_span());
    assert_eq!(decoded, expected);
}

#[test]
fn missing_batch_or_process_is_mapped_as_the_collector_does() {
    assert_eq!(
        decode_post_spans(PostSpansRequest { batch: None }).unwrap(),
        ExportTraceServiceRequest::default()
    );
    assert_eq!(decode(Batch::default()), ExportTraceServiceRequest::default());

    let decoded = decode(Batch { process: None, spans: vec![span(1, "orphan")] });
    assert_eq!(decoded.resource_spans.len(), 1);
    assert_eq!(decoded.resource_spans[0].resource, Some(Resource::default()));
    assert_eq!(
        decoded.resource_spans[0].scope_spans[0].spans,
        vec![expected_plain_span(1, "orphan")]
    );

    // A batch process whose spans all carry their own keeps an empty ResourceSpans.
    let decoded = decode(Batch {
        process: Some(process("idle", vec![])),
        spans: vec![api_v2::Span { process: Some(process("busy", vec![])), ..span(1, "s") }],
    });
    assert_eq!(decoded.resource_spans.len(), 2);
    assert!(decoded.resource_spans[0].scope_spans.is_empty());

    let marker = decode(Batch {
        process: Some(process("OTLPResourceNoServiceName", vec![text("a", "b")])),
        spans: vec![span(1, "s")],
    });
    assert_eq!(marker.resource_spans[0].resource, Some(Resource::default()));
}

#[test]
fn a_zero_span_with_its_own_process_is_not_blank() {
    let zero_with_process =
        api_v2::Span { process: Some(process("svc", vec![])), ..Default::default() };
    let decoded =
        decode(Batch { process: None, spans: vec![api_v2::Span::default(), zero_with_process] });
    assert_eq!(decoded.resource_spans.len(), 2, "{decoded:?}");
    assert!(decoded.resource_spans[0].scope_spans.is_empty(), "the blank span is dropped");
    let kept = &decoded.resource_spans[1].scope_spans[0].spans;
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].trace_id.clone(), kept[0].span_id.clone()), (vec![0; 16], vec![0; 8]));
}

#[test]
fn processes_with_different_tag_values_are_different_resources() {
    let spans = vec![
        api_v2::Span { process: Some(process("svc", vec![long("pid", 1)])), ..span(1, "a") },
        api_v2::Span { process: Some(process("svc", vec![long("pid", 2)])), ..span(2, "b") },
        api_v2::Span { process: Some(process("svc", vec![long("pid", 1)])), ..span(3, "c") },
    ];
    let decoded = decode(Batch { process: None, spans });
    let span_counts: Vec<usize> =
        decoded.resource_spans.iter().map(|resource| resource.scope_spans[0].spans.len()).collect();
    assert_eq!(span_counts, vec![2, 1]);
}

#[test]
fn scope_version_is_read_only_with_a_name_and_from_v_str() {
    let version_only = api_v2::Span { tags: vec![text("otel.scope.version", "9")], ..span(1, "s") };
    let decoded = decode(Batch { process: None, spans: vec![version_only] });
    let scope_spans = &decoded.resource_spans[0].scope_spans[0];
    assert_eq!(scope_spans.scope, Some(InstrumentationScope::default()));
    assert_eq!(scope_spans.spans[0].attributes, vec![string_kv("otel.scope.version", "9")]);

    let typed_name = KeyValue {
        v_type: ValueType::Int64 as i32,
        v_int64: 3,
        v_str: "from-v-str".into(),
        ..text("otel.scope.name", "")
    };
    let decoded = decode(Batch {
        process: None,
        spans: vec![api_v2::Span { tags: vec![typed_name], ..span(1, "s") }],
    });
    let scope = decoded.resource_spans[0].scope_spans[0].scope.clone().unwrap();
    assert_eq!(scope.name, "from-v-str");
}

#[test]
fn absent_times_are_go_zero_time_and_wrap_like_the_collector() {
    let no_times = api_v2::Span {
        start_time: None,
        duration: Some(Duration { seconds: 1, nanos: 500 }),
        ..span(1, "s")
    };
    let decoded = decode(Batch { process: None, spans: vec![no_times] });
    let mapped = &decoded.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(mapped.start_time_unix_nano, 11_651_379_494_838_206_464);
    assert_eq!(mapped.end_time_unix_nano, 11_651_379_495_838_206_964);
}

#[test]
fn ids_of_the_wrong_length_are_refused() {
    let short_trace = api_v2::Span { trace_id: vec![1; 5], ..span(1, "s") };
    assert_eq!(
        error(Batch { process: None, spans: vec![span(1, "ok"), short_trace] }),
        "jaeger proto: span 1: trace_id must be 16 or 8 bytes, got 5"
    );
    let long_span = api_v2::Span { span_id: vec![1; 9], ..span(1, "s") };
    assert_eq!(
        error(Batch { process: None, spans: vec![long_span] }),
        "jaeger proto: span 0: span_id must be 8 bytes, got 9"
    );
    let bad_reference = api_v2::Span {
        references: vec![SpanRef { trace_id: trace_128(), span_id: vec![1; 4], ref_type: 0 }],
        ..span(1, "s")
    };
    assert_eq!(
        error(Batch { process: None, spans: vec![bad_reference] }),
        "jaeger proto: span 0: references[].span_id must be 8 bytes, got 4"
    );
    // Absent ids decode as zeros and are left to the distributor.
    let zero = api_v2::Span { trace_id: vec![], span_id: vec![], ..span(1, "s") };
    let decoded = decode(Batch { process: None, spans: vec![zero] });
    let mapped = &decoded.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!((mapped.trace_id.clone(), mapped.span_id.clone()), (vec![0; 16], vec![0; 8]));
}

#[test]
fn timestamps_and_durations_out_of_range_are_refused() {
    let cases = [
        (
            api_v2::Span { start_time: timestamp(0, -1), ..span(1, "s") },
            "jaeger proto: span 0: start_time is not a valid timestamp (0s -1ns)",
        ),
        (
            api_v2::Span { start_time: timestamp(TIMESTAMP_END_SECONDS, 0), ..span(1, "s") },
            "jaeger proto: span 0: start_time is not a valid timestamp (253402300800s 0ns)",
        ),
        (
            api_v2::Span {
                logs: vec![Log { timestamp: timestamp(0, 1_000_000_000), fields: vec![] }],
                ..span(1, "s")
            },
            "jaeger proto: span 0: logs[].timestamp is not a valid timestamp (0s 1000000000ns)",
        ),
        (
            api_v2::Span { duration: Some(Duration { seconds: 1, nanos: -1 }), ..span(1, "s") },
            "jaeger proto: span 0: duration is not valid (1s -1ns)",
        ),
        (
            api_v2::Span {
                duration: Some(Duration { seconds: 10_000_000_000, nanos: 0 }),
                ..span(1, "s")
            },
            "jaeger proto: span 0: duration is not valid (10000000000s 0ns)",
        ),
        (
            api_v2::Span {
                duration: Some(Duration { seconds: DURATION_MAX_SECONDS + 1, nanos: 0 }),
                ..span(1, "s")
            },
            "jaeger proto: span 0: duration is not valid (315576000001s 0ns)",
        ),
    ];
    for (bad, message) in cases {
        assert_eq!(error(Batch { process: None, spans: vec![bad] }), message);
    }
    let negative =
        api_v2::Span { duration: Some(Duration { seconds: -1, nanos: -5 }), ..span(1, "s") };
    let decoded = decode(Batch { process: None, spans: vec![negative] });
    let mapped = &decoded.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(mapped.end_time_unix_nano, 1_689_969_302_000_000_000 - 1_000_000_005);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn arbitrary_tag() -> impl Strategy<Value = KeyValue> {
        (
            prop_oneof![Just("span.kind".to_owned()), Just("error".to_owned()), "[a-z.]{0,6}"],
            -1..7_i32,
            ".{0,4}",
            any::<i64>(),
        )
            .prop_map(|(key, v_type, v_str, v_int64)| KeyValue {
                key,
                v_type,
                v_str,
                v_int64,
                v_bool: v_int64 % 2 == 0,
                ..Default::default()
            })
    }

    /// Bytes of a valid id length most of the time, of any length sometimes.
    fn id_bytes(valid_lengths: &'static [usize]) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => prop::sample::select(valid_lengths).prop_flat_map(|length| prop::collection::vec(any::<u8>(), length)),
            1 => prop::collection::vec(any::<u8>(), 0..20),
        ]
    }

    /// Mostly valid (seconds, nanos) pairs, sometimes anything.
    fn seconds_and_nanos() -> impl Strategy<Value = (i64, i32)> {
        prop_oneof![
            4 => (0..4_000_000_000_i64, 0..1_000_000_000_i32),
            1 => (any::<i64>(), any::<i32>()),
        ]
    }

    fn arbitrary_span() -> impl Strategy<Value = api_v2::Span> {
        (
            id_bytes(&[0, 8, 16]),
            id_bytes(&[0, 8]),
            prop::option::of(seconds_and_nanos()),
            prop::option::of(seconds_and_nanos()),
            prop::collection::vec((id_bytes(&[8, 16]), -1..3_i32), 0..3),
            prop::collection::vec(arbitrary_tag(), 0..4),
            prop::option::of(("[a-z]{0,3}", prop::collection::vec(arbitrary_tag(), 0..2))),
        )
            .prop_map(|(trace_id, span_id, start, duration, references, tags, process)| {
                api_v2::Span {
                    trace_id,
                    span_id: span_id.clone(),
                    start_time: start.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
                    duration: duration.map(|(seconds, nanos)| Duration { seconds, nanos }),
                    references: references
                        .into_iter()
                        .map(|(trace_id, ref_type)| SpanRef {
                            trace_id,
                            span_id: span_id.clone(),
                            ref_type,
                        })
                        .collect(),
                    tags,
                    process: process.map(|(service_name, tags)| Process { service_name, tags }),
                    ..Default::default()
                }
            })
    }

    proptest! {
        /// Arbitrary field values never panic; whatever is accepted has OTLP-sized ids.
        #[test]
        fn arbitrary_requests_never_panic_and_accepted_ids_are_sized(
            spans in prop::collection::vec(arbitrary_span(), 0..6),
        ) {
            let span_count = spans.len();
            let Ok(decoded) = decode_post_spans(request(Batch { process: None, spans })) else {
                return Ok(());
            };
            let mapped = decoded.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum::<usize>();
            prop_assert!(mapped <= span_count);
            for span in decoded.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                prop_assert_eq!(span.trace_id.len(), 16);
                prop_assert_eq!(span.span_id.len(), 8);
                prop_assert!(span.parent_span_id.is_empty() || span.parent_span_id.len() == 8);
            }
        }
    }
}
