use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::*;

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_string())) }),
        ..Default::default()
    }
}

fn span(trace: u8, span: u8, name: &str) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![span; 8],
        name: name.to_string(),
        start_time_unix_nano: 1_000 + u64::from(span),
        end_time_unix_nano: 2_000 + u64::from(span),
        ..Default::default()
    }
}

fn resource_spans(service: &str, scopes: Vec<(&str, Vec<Span>)>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![string_attribute("service.name", service)],
            ..Default::default()
        }),
        scope_spans: scopes
            .into_iter()
            .map(|(scope, spans)| ScopeSpans {
                scope: Some(InstrumentationScope { name: scope.to_string(), ..Default::default() }),
                spans,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn decode(trace: &PreparedTrace) -> TracesData {
    TracesData::decode(trace.fragment.traces_data.clone()).unwrap()
}

const NO_LIMIT: PrepareLimits = PrepareLimits { max_attribute_bytes: 0 };

#[test]
fn spans_are_grouped_by_trace_keeping_resource_and_scope() {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans("cart", vec![("lib-a", vec![span(1, 1, "a"), span(2, 2, "b")])]),
            resource_spans(
                "shop",
                vec![("lib-b", vec![span(1, 3, "c")]), ("lib-c", vec![span(1, 4, "d")])],
            ),
        ],
    };
    let push = prepare_push(request, NO_LIMIT);
    assert_eq!(push.accepted_spans, 4);
    assert_eq!(push.traces.len(), 2);
    assert_eq!(push.traces[0].trace_id, TraceId([1; 16]));
    let first = decode(&push.traces[0]);
    assert_eq!(first.resource_spans.len(), 2, "one ResourceSpans per resource");
    assert_eq!(first.resource_spans[1].scope_spans.len(), 2, "one ScopeSpans per scope");
    assert_eq!(first.resource_spans[1].scope_spans[1].scope.as_ref().unwrap().name, "lib-c");
    assert_eq!(push.traces[0].fragment.span_count, 3);
    assert_eq!(push.traces[0].fragment.start_unix_nano, 1_001);
    assert_eq!(push.traces[0].fragment.end_unix_nano, 2_004);
    let second = decode(&push.traces[1]);
    assert_eq!(second.resource_spans[0].scope_spans[0].spans[0].name, "b");
}

#[test]
fn invalid_ids_are_rejected_with_tempo_texts_and_the_rest_kept() {
    let mut short_trace = span(1, 1, "short");
    short_trace.trace_id = vec![1; 8];
    let mut zero_span = span(1, 0, "zero");
    zero_span.span_id = vec![0; 8];
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource_spans(
            "svc",
            vec![("lib", vec![short_trace, zero_span, span(3, 3, "ok")])],
        )],
    };
    let push = prepare_push(request, NO_LIMIT);
    assert_eq!(push.accepted_spans, 1);
    assert_eq!(push.rejected_total(), 2);
    assert_eq!(push.rejected_spans["invalid_trace_id"], 1);
    assert_eq!(push.rejected_spans["invalid_span_id"], 1);
    assert_eq!(
        push.first_rejection.unwrap().message,
        "trace ids must be 128 bit, received 64 bits"
    );
}

#[test]
fn oversized_attribute_values_are_truncated_at_a_char_boundary() {
    let mut long = span(1, 1, "x");
    long.attributes.push(string_attribute("big", &"é".repeat(10)));
    long.attributes.push(string_attribute("small", "ok"));
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource_spans("svc", vec![("l", vec![long])])],
    };
    let push = prepare_push(request, PrepareLimits { max_attribute_bytes: 5 });
    assert_eq!(push.truncated_attributes, 1);
    let stored = decode(&push.traces[0]);
    let attributes = &stored.resource_spans[0].scope_spans[0].spans[0].attributes;
    let Some(any_value::Value::StringValue(value)) = &attributes[0].value.as_ref().unwrap().value
    else {
        panic!("string attribute expected");
    };
    assert_eq!(value, "éé");
}

#[test]
fn an_empty_request_prepares_nothing() {
    let push = prepare_push(ExportTraceServiceRequest::default(), NO_LIMIT);
    assert!(push.traces.is_empty());
    assert_eq!(push.accepted_spans, 0);
    assert!(push.first_rejection.is_none());
}
