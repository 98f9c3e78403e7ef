//! Unit tests of the trace-by-ID JSON renderer.

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::model::ids::hex_decode;

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn key_value(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

/// The trace of `tempo-api.md` §2.1.
fn contract_trace() -> Vec<ResourceSpans> {
    let span = Span {
        trace_id: hex_decode("5b8efff798038103d269b633813fc700").unwrap(),
        span_id: hex_decode("eee19b7ec3c1b100").unwrap(),
        parent_span_id: hex_decode("eee19b7ec3c1b0ff").unwrap(),
        name: "GET /cart".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: 1_689_969_302_000_000_000,
        end_time_unix_nano: 1_689_970_000_000_000_000,
        attributes: vec![key_value("http.status_code", any_value::Value::IntValue(200))],
        events: vec![Event {
            time_unix_nano: 1_689_969_302_100_000_000,
            name: "exception".into(),
            ..Default::default()
        }],
        status: Some(Status { message: String::new(), code: StatusCode::Error as i32 }),
        ..Default::default()
    };
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![key_value(
                "service.name",
                any_value::Value::StringValue("shop".into()),
            )],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "lib".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    }]
}

fn contract_batches() -> Value {
    json!([{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
     "scopeSpans":[{"scope":{"name":"lib","version":"1.0"},"spans":[{
       "traceId":"W47/95gDgQPSabYzgT/HAA==","spanId":"7uGbfsPBsQA=","parentSpanId":"7uGbfsPBsP8=",
       "name":"GET /cart","kind":"SPAN_KIND_SERVER",
       "startTimeUnixNano":"1689969302000000000","endTimeUnixNano":"1689970000000000000",
       "attributes":[{"key":"http.status_code","value":{"intValue":"200"}}],
       "events":[{"timeUnixNano":"1689969302100000000","name":"exception"}],
       "status":{"code":"STATUS_CODE_ERROR"}}]}]}])
}

#[test]
fn renders_the_v1_contract_example() {
    let rendered = parse(&render_trace_v1(&contract_trace()));
    assert_eq!(rendered, json!({ "batches": contract_batches() }));
    assert_eq!(parse(&render_trace_v1(&[])), json!({"batches": []}));
}

#[test]
fn renders_v2_found_not_found_and_partial() {
    let found = parse(&render_trace_v2(&contract_trace(), 482_213, None));
    let expected = json!({"trace": {"resourceSpans": contract_batches()}, "metrics": {"inspectedBytes": "482213"}});
    assert_eq!(found, expected);
    assert_eq!(render_trace_v2(&[], 0, None), br#"{"trace":{},"metrics":{}}"#);
    assert_eq!(
        parse(&render_trace_v2(&[], 10, None)),
        json!({"trace": {}, "metrics": {"inspectedBytes": "10"}})
    );
    let partial = parse(&render_trace_v2(&contract_trace(), 7, Some("Trace exceeds maximum size")));
    assert_eq!(partial["status"], "PARTIAL");
    assert_eq!(partial["message"], "Trace exceeds maximum size");
    assert_eq!(partial["trace"]["resourceSpans"], contract_batches());
    assert_eq!(
        parse(&render_trace_v2(&[], 0, Some(""))),
        json!({"trace": {}, "metrics": {}, "status": "PARTIAL"})
    );
}

#[test]
fn renders_every_field_and_omits_zero_values() {
    use any_value::Value as V;
    let span = Span {
        trace_state: "k=v".into(),
        flags: 257,
        kind: 9,
        attributes: vec![
            key_value("zero", V::IntValue(0)),
            key_value("empty", V::StringValue(String::new())),
            key_value("false", V::BoolValue(false)),
            key_value("integral", V::DoubleValue(200.0)),
            key_value("half", V::DoubleValue(-0.5)),
            key_value("nan", V::DoubleValue(f64::NAN)),
            key_value("inf", V::DoubleValue(f64::INFINITY)),
            key_value("-inf", V::DoubleValue(f64::NEG_INFINITY)),
            key_value("bytes", V::BytesValue(vec![1, 2, 255])),
            key_value(
                "array",
                V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue { value: Some(V::IntValue(-1)) },
                        AnyValue {
                            value: Some(V::KvlistValue(KeyValueList {
                                values: vec![key_value("inner", V::BoolValue(true))],
                            })),
                        },
                        AnyValue { value: Some(V::ArrayValue(ArrayValue::default())) },
                    ],
                }),
            ),
            KeyValue {
                key: "unset".into(),
                value: Some(AnyValue { value: None }),
                ..Default::default()
            },
            KeyValue { key: "absent".into(), value: None, ..Default::default() },
        ],
        dropped_attributes_count: 1,
        events: vec![Event {
            attributes: vec![key_value("e", V::StringValue("x".into()))],
            dropped_attributes_count: 2,
            ..Default::default()
        }],
        dropped_events_count: 3,
        links: vec![
            Link {
                trace_id: vec![0xff; 16],
                span_id: vec![0; 8],
                trace_state: "l=1".into(),
                attributes: vec![key_value("l", V::IntValue(i64::MIN))],
                dropped_attributes_count: 4,
                flags: 1,
            },
            Link::default(),
        ],
        dropped_links_count: 5,
        status: Some(Status::default()),
        ..Default::default()
    };
    let resource_spans = vec![ResourceSpans {
        resource: Some(Resource { dropped_attributes_count: 6, ..Default::default() }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                attributes: vec![key_value("s", V::StringValue("y".into()))],
                dropped_attributes_count: 7,
                ..Default::default()
            }),
            spans: vec![span, Span::default()],
            schema_url: "https://scope".into(),
        }],
        schema_url: "https://resource".into(),
    }];
    let expected = json!({"batches": [{
        "resource": {"droppedAttributesCount": 6},
        "scopeSpans": [{
            "scope": {"attributes": [{"key": "s", "value": {"stringValue": "y"}}], "droppedAttributesCount": 7},
            "spans": [{
                "traceState": "k=v", "flags": 257, "kind": 9,
                "attributes": [
                    {"key": "zero", "value": {"intValue": "0"}},
                    {"key": "empty", "value": {"stringValue": ""}},
                    {"key": "false", "value": {"boolValue": false}},
                    {"key": "integral", "value": {"doubleValue": 200}},
                    {"key": "half", "value": {"doubleValue": -0.5}},
                    {"key": "nan", "value": {"doubleValue": "NaN"}},
                    {"key": "inf", "value": {"doubleValue": "Infinity"}},
                    {"key": "-inf", "value": {"doubleValue": "-Infinity"}},
                    {"key": "bytes", "value": {"bytesValue": "AQL/"}},
                    {"key": "array", "value": {"arrayValue": {"values": [
                        {"intValue": "-1"},
                        {"kvlistValue": {"values": [{"key": "inner", "value": {"boolValue": true}}]}},
                        {"arrayValue": {}}
                    ]}}},
                    {"key": "unset", "value": {}},
                    {"key": "absent"}
                ],
                "droppedAttributesCount": 1,
                "events": [{"attributes": [{"key": "e", "value": {"stringValue": "x"}}], "droppedAttributesCount": 2}],
                "droppedEventsCount": 3,
                "links": [
                    {"traceId": "/////////////////////w==", "spanId": "AAAAAAAAAAA=", "traceState": "l=1",
                     "attributes": [{"key": "l", "value": {"intValue": "-9223372036854775808"}}],
                     "droppedAttributesCount": 4, "flags": 1},
                    {}
                ],
                "droppedLinksCount": 5,
                "status": {}
            }, {}],
            "schemaUrl": "https://scope"
        }],
        "schemaUrl": "https://resource"
    }]});
    assert_eq!(parse(&render_trace_v1(&resource_spans)), expected);
}

#[test]
fn writes_fields_in_proto_declaration_order() {
    let mut trace = contract_trace();
    let span = &mut trace[0].scope_spans[0].spans[0];
    span.trace_state = "a=b".into();
    span.flags = 1;
    span.status = Some(Status { message: "boom".into(), code: StatusCode::Error as i32 });
    let text = String::from_utf8(render_trace_v1(&trace)).unwrap();
    let order = [
        "\"resource\"",
        "\"scopeSpans\"",
        "\"scope\"",
        "\"spans\"",
        "\"traceId\"",
        "\"spanId\"",
        "\"traceState\"",
        "\"parentSpanId\"",
        "\"flags\"",
        "\"name\":\"GET",
        "\"kind\"",
        "\"startTimeUnixNano\"",
        "\"endTimeUnixNano\"",
        "\"attributes\":[{\"key\":\"http",
        "\"events\"",
        "\"status\"",
        "\"message\":\"boom\"",
        "\"code\"",
    ];
    let positions: Vec<usize> = order.iter().map(|key| text.find(key).unwrap()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
}

#[test]
fn renders_decoded_otlp_json_with_base64_ids() {
    let request = crate::model::convert::otlp_json::decode_export_request(
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC700",
            "spanId":"EEE19B7EC3C1B100","kind":"SPAN_KIND_SERVER","startTimeUnixNano":1689969302000000000}]}]}]}"#,
    )
    .unwrap();
    let rendered = parse(&render_trace_v1(&request.resource_spans));
    let span = &rendered["batches"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(
        span,
        &json!({"traceId": "W47/95gDgQPSabYzgT/HAA==", "spanId": "7uGbfsPBsQA=",
                "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": "1689969302000000000"})
    );
}

fn arbitrary_span() -> impl Strategy<Value = Span> {
    (
        proptest::collection::vec(any::<u8>(), 16),
        proptest::collection::vec(any::<u8>(), 8),
        proptest::collection::vec(any::<u8>(), 0..=8),
        any::<u64>(),
        any::<u64>(),
        ".{0,12}",
        any::<i64>(),
    )
        .prop_map(|(trace_id, span_id, parent_span_id, start, end, name, number)| Span {
            trace_id,
            span_id,
            parent_span_id,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            name: name.clone(),
            attributes: vec![
                key_value("n", any_value::Value::IntValue(number)),
                key_value("s", any_value::Value::StringValue(name)),
            ],
            ..Default::default()
        })
}

/// Decodes an optional base64 id field; absent means empty.
fn id_bytes(value: &Value) -> Vec<u8> {
    value.as_str().map(|text| STANDARD.decode(text).unwrap()).unwrap_or_default()
}

/// Parses an optional 64-bit string field; absent means zero.
fn nanos(value: &Value) -> u64 {
    value.as_str().map(|text| text.parse().unwrap()).unwrap_or_default()
}

proptest! {
    /// Whatever the span, ids decode back from base64, 64-bit values parse back from strings and
    /// strings survive escaping.
    #[test]
    fn rendered_spans_read_back(spans in proptest::collection::vec(arbitrary_span(), 1..5)) {
        let rendered = parse(&render_trace_v1(&one_span_list(&spans)));
        let json_spans = rendered["batches"][0]["scopeSpans"][0]["spans"].as_array().unwrap().clone();
        prop_assert_eq!(json_spans.len(), spans.len());
        for (json_span, span) in json_spans.iter().zip(&spans) {
            prop_assert_eq!(id_bytes(&json_span["traceId"]), span.trace_id.clone());
            prop_assert_eq!(id_bytes(&json_span["spanId"]), span.span_id.clone());
            prop_assert_eq!(id_bytes(&json_span["parentSpanId"]), span.parent_span_id.clone());
            prop_assert_eq!(nanos(&json_span["startTimeUnixNano"]), span.start_time_unix_nano);
            prop_assert_eq!(nanos(&json_span["endTimeUnixNano"]), span.end_time_unix_nano);
            prop_assert_eq!(json_span["name"].as_str().unwrap_or_default(), span.name.as_str());
            let number: i64 = json_span["attributes"][0]["value"]["intValue"].as_str().unwrap().parse().unwrap();
            prop_assert_eq!(Some(any_value::Value::IntValue(number)), span.attributes[0].value.clone().unwrap().value);
            prop_assert_eq!(json_span["attributes"][1]["value"]["stringValue"].as_str().unwrap(), span.name.as_str());
        }
    }
}

/// One resource with one scope holding `spans`.
fn one_span_list(spans: &[Span]) -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        scope_spans: vec![ScopeSpans { spans: spans.to_vec(), ..Default::default() }],
        ..Default::default()
    }]
}
