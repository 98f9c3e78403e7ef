//! Unit tests of the OTLP JSON decoder.

use super::*;

fn decode(body: &str) -> ExportTraceServiceRequest {
    decode_export_request(body.as_bytes()).unwrap()
}

fn error(body: &str) -> String {
    decode_export_request(body.as_bytes()).unwrap_err().to_string()
}

fn first_span(request: &ExportTraceServiceRequest) -> &Span {
    &request.resource_spans[0].scope_spans[0].spans[0]
}

/// Wraps span JSON into a whole request.
fn with_span(span: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#)
}

/// Wraps an AnyValue JSON into a request, as the value of the first span attribute.
fn attribute_value(value: &str) -> any_value::Value {
    let request =
        decode(&with_span(&format!(r#"{{"attributes":[{{"key":"k","value":{value}}}]}}"#)));
    first_span(&request).attributes[0].value.clone().unwrap().value.unwrap()
}

#[test]
fn decodes_the_contract_example() {
    let request = decode(
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"demo-svc"}}]},
         "scopeSpans":[{"scope":{"name":"demo-lib","version":"0.1"},"spans":[{
           "traceId":"5B8EFFF798038103D269B633813FC700","spanId":"EEE19B7EC3C1B100",
           "name":"demo-span","kind":2,
           "startTimeUnixNano":1689969302000000000,"endTimeUnixNano":"1689970000000000000",
           "attributes":[{"key":"demo.attr","value":{"stringValue":"x"}}]}]}]}]}"#,
    );
    let resource_spans = &request.resource_spans[0];
    let resource = resource_spans.resource.as_ref().unwrap();
    assert_eq!(resource.attributes[0].key, "service.name");
    let scope = resource_spans.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!((scope.name.as_str(), scope.version.as_str()), ("demo-lib", "0.1"));
    let span = first_span(&request);
    assert_eq!(span.trace_id, hex_decode("5b8efff798038103d269b633813fc700").unwrap());
    assert_eq!(span.span_id, hex_decode("eee19b7ec3c1b100").unwrap());
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.name, "demo-span");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(span.start_time_unix_nano, 1_689_969_302_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_689_970_000_000_000_000);
    assert_eq!(
        span.attributes[0].value.as_ref().unwrap().value,
        Some(any_value::Value::StringValue("x".into()))
    );
}

#[test]
fn accepts_snake_case_keys_names_for_enums_and_strings_for_integers() {
    let request = decode(
        r#"{"resource_spans":[{"schema_url":"s","resource":{"dropped_attributes_count":"2"},
          "scope_spans":[{"schema_url":"t","scope":{"name":"n","dropped_attributes_count":1},"spans":[{
           "trace_id":"0102","span_id":"aAbB","parent_span_id":"","trace_state":"a=b",
           "flags":"257","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":"5","end_time_unix_nano":6,
           "dropped_attributes_count":1,"dropped_events_count":"2","dropped_links_count":3,
           "events":[{"time_unix_nano":"7","name":"e","dropped_attributes_count":4}],
           "links":[{"trace_id":"ff","span_id":"00","trace_state":"x","flags":1,"dropped_attributes_count":5}],
           "status":{"code":"STATUS_CODE_ERROR","message":"boom"},
           "some_future_field":{"nested":[1,2]}}]}]}]}"#,
    );
    let resource_spans = &request.resource_spans[0];
    assert_eq!(resource_spans.schema_url, "s");
    assert_eq!(resource_spans.resource.as_ref().unwrap().dropped_attributes_count, 2);
    assert_eq!(resource_spans.scope_spans[0].schema_url, "t");
    let span = first_span(&request);
    assert_eq!((span.trace_id.clone(), span.span_id.clone()), (vec![1, 2], vec![0xaa, 0xbb]));
    assert_eq!((span.trace_state.as_str(), span.flags), ("a=b", 257));
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (5, 6));
    assert_eq!(
        (span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count),
        (1, 2, 3)
    );
    assert_eq!((span.events[0].time_unix_nano, span.events[0].dropped_attributes_count), (7, 4));
    let link = &span.links[0];
    assert_eq!((link.trace_id.clone(), link.span_id.clone(), link.flags), (vec![0xff], vec![0], 1));
    let status = span.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (StatusCode::Error as i32, "boom"));
}

#[test]
fn keeps_unknown_enum_numbers_and_treats_null_as_absent() {
    let request = decode(&with_span(
        r#"{"kind":9,"status":{"code":"7"},"name":null,"traceId":null,"attributes":null,"events":[null]}"#,
    ));
    let span = first_span(&request);
    assert_eq!((span.kind, span.status.as_ref().unwrap().code), (9, 7));
    assert!(span.name.is_empty() && span.trace_id.is_empty() && span.attributes.is_empty());
    assert_eq!(span.events, vec![Event::default()]);
    assert_eq!(decode("null"), ExportTraceServiceRequest::default());
    assert_eq!(decode(r#"{"resourceSpans":null}"#), ExportTraceServiceRequest::default());
}

#[test]
fn decodes_every_any_value_type() {
    use any_value::Value as V;
    assert_eq!(attribute_value(r#"{"stringValue":"s"}"#), V::StringValue("s".into()));
    assert_eq!(attribute_value(r#"{"boolValue":true}"#), V::BoolValue(true));
    assert_eq!(attribute_value(r#"{"intValue":"-9223372036854775808"}"#), V::IntValue(i64::MIN));
    assert_eq!(attribute_value(r#"{"int_value":42}"#), V::IntValue(42));
    assert_eq!(attribute_value(r#"{"intValue":1e3}"#), V::IntValue(1000));
    assert_eq!(attribute_value(r#"{"doubleValue":1.5}"#), V::DoubleValue(1.5));
    assert_eq!(attribute_value(r#"{"doubleValue":"2.25"}"#), V::DoubleValue(2.25));
    assert_eq!(
        attribute_value(r#"{"doubleValue":"-Infinity"}"#),
        V::DoubleValue(f64::NEG_INFINITY)
    );
    assert!(matches!(attribute_value(r#"{"doubleValue":"NaN"}"#), V::DoubleValue(x) if x.is_nan()));
    assert_eq!(attribute_value(r#"{"bytesValue":"AQL/"}"#), V::BytesValue(vec![1, 2, 255]));
    assert_eq!(attribute_value(r#"{"bytes_value":"AQ"}"#), V::BytesValue(vec![1]));
    let nested = attribute_value(
        r#"{"arrayValue":{"values":[{"stringValue":"a"},{"kvlistValue":{"values":[
            {"key":"inner","value":{"array_value":{"values":[{"intValue":"1"}]}}}]}},{}]}}"#,
    );
    let V::ArrayValue(array) = nested else { panic!("not an array: {nested:?}") };
    assert_eq!(array.values.len(), 3);
    assert_eq!(array.values[0].value, Some(V::StringValue("a".into())));
    let Some(V::KvlistValue(list)) = &array.values[1].value else { panic!("not a kvlist") };
    assert_eq!(list.values[0].key, "inner");
    let inner = list.values[0].value.clone().unwrap().value;
    assert_eq!(
        inner,
        Some(V::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(V::IntValue(1)) }] }))
    );
    assert_eq!(array.values[2].value, None);
}

#[test]
fn maps_legacy_instrumentation_library_spans_to_scope_spans() {
    let request = decode(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"new"}]}],
          "instrumentationLibrarySpans":[{"instrumentationLibrary":{"name":"old-lib","version":"1"},
            "spans":[{"name":"old"}]}]}]}"#,
    );
    let scope_spans = &request.resource_spans[0].scope_spans;
    assert_eq!(scope_spans.len(), 2);
    assert_eq!(scope_spans[0].spans[0].name, "new");
    assert_eq!(scope_spans[1].scope.as_ref().unwrap().name, "old-lib");
    assert_eq!(scope_spans[1].spans[0].name, "old");
}

#[test]
fn leaves_id_lengths_to_the_distributor() {
    let span = with_span(r#"{"traceId":"abcd","spanId":"00112233445566778899"}"#);
    let request = decode(&span);
    assert_eq!(first_span(&request).trace_id.len(), 2);
    assert_eq!(first_span(&request).span_id.len(), 10);
}

#[test]
fn errors_name_the_path_and_the_problem() {
    let spans = |span: &str| {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{}},{{}},{span}]}}]}}]}}"#)
    };
    let at = "invalid OTLP JSON at resourceSpans[0].scopeSpans[0].spans[2]";
    assert_eq!(
        error(&spans(r#"{"traceId":"W47/95gDgQPSabYzgT/HAA=="}"#)),
        format!(r#"{at}.traceId: not hex: "W47/95gDgQPSabYzgT/HAA==""#)
    );
    assert_eq!(
        error(&spans(r#"{"span_id":"abc"}"#)),
        format!(r#"{at}.span_id: odd number of hex digits: "abc""#)
    );
    assert_eq!(
        error(&spans(r#"{"parentSpanId":12}"#)),
        format!("{at}.parentSpanId: expected string, got number")
    );
    assert_eq!(
        error(&spans(r#"{"startTimeUnixNano":1.5}"#)),
        format!("{at}.startTimeUnixNano: not an integer: 1.5")
    );
    assert_eq!(
        error(&spans(r#"{"endTimeUnixNano":"-1"}"#)),
        format!(r#"{at}.endTimeUnixNano: integer out of range: "-1""#)
    );
    assert_eq!(
        error(&spans(r#"{"flags":4294967296}"#)),
        format!("{at}.flags: integer out of range: 4294967296")
    );
    assert_eq!(
        error(&spans(r#"{"kind":"SERVER"}"#)),
        format!(r#"{at}.kind: unknown enum name: "SERVER""#)
    );
    assert_eq!(
        error(&spans(r#"{"kind":true}"#)),
        format!("{at}.kind: expected integer, got boolean")
    );
    assert_eq!(
        error(&spans(r#"{"name":["x"]}"#)),
        format!("{at}.name: expected string, got array")
    );
    assert_eq!(
        error(&spans(r#"{"attributes":{}}"#)),
        format!("{at}.attributes: expected array, got object")
    );
    assert_eq!(
        error(&spans(r#"{"events":[{"attributes":[{"key":"k","value":{"intValue":"12abc"}}]}]}"#)),
        format!(r#"{at}.events[0].attributes[0].value.intValue: not an integer: "12abc""#)
    );
    assert_eq!(
        error(&spans(r#"{"links":[{"attributes":[{"value":{"bytesValue":"%%"}}]}]}"#)),
        format!(r#"{at}.links[0].attributes[0].value.bytesValue: not base64: "%%""#)
    );
    assert_eq!(
        error(&spans(
            r#"{"attributes":[{"value":{"arrayValue":{"values":[{"doubleValue":"fast"}]}}}]}"#
        )),
        format!(
            r#"{at}.attributes[0].value.arrayValue.values[0].doubleValue: not a number: "fast""#
        )
    );
    assert_eq!(
        error(r#"{"resourceSpans":[7]}"#),
        "invalid OTLP JSON at resourceSpans[0]: expected object, got number"
    );
    assert_eq!(error("[]"), "invalid OTLP JSON at the top level: expected object, got array");
    let long_id = "z".repeat(100);
    assert!(
        error(&spans(&format!(r#"{{"traceId":"{long_id}"}}"#))).ends_with(r#"... (100 bytes)"#)
    );
}

#[test]
fn reports_json_syntax_errors_with_line_and_column() {
    assert_eq!(error("not json"), "invalid OTLP JSON: expected ident at line 1 column 2");
    assert_eq!(
        error("{\n\"resourceSpans\": [\n"),
        "invalid OTLP JSON: EOF while parsing a list at line 3 column 0"
    );
}

#[test]
fn encodes_export_responses() {
    assert_eq!(encode_export_response_json(0, ""), b"{}");
    let partial: Value =
        serde_json::from_slice(&encode_export_response_json(3, "bad \"ids\"")).unwrap();
    assert_eq!(
        partial,
        serde_json::json!({"partialSuccess": {"rejectedSpans": "3", "errorMessage": "bad \"ids\""}})
    );
    let warning: Value =
        serde_json::from_slice(&encode_export_response_json(0, "slow down")).unwrap();
    assert_eq!(warning, serde_json::json!({"partialSuccess": {"errorMessage": "slow down"}}));
}
