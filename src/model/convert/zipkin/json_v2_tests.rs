//! Unit tests of the Zipkin v2 JSON decoder.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::*;
use crate::model::convert::zipkin::test_support::{
    GOLDEN_V2_JSON, all_spans, bytes, golden_v2_request, int_attr, str_attr,
};

fn error(body: &str) -> String {
    decode_v2_json(body.as_bytes()).unwrap_err().to_string()
}

/// The problem reported for a body of one span with these members (plus valid ids unless
/// the members set them).
fn span_error(members: &str) -> String {
    error(&format!(r#"[{{"traceId":"01","id":"02",{members}}}]"#))
}

#[test]
fn decodes_the_golden_payload_field_by_field() {
    let request = decode_v2_json(GOLDEN_V2_JSON.as_bytes()).unwrap();
    assert_eq!(request, golden_v2_request());
}

#[test]
fn an_empty_array_is_an_empty_request() {
    let request = decode_v2_json(b"[]").unwrap();
    assert!(request.resource_spans.is_empty());
}

#[test]
fn accepts_any_hex_case_short_ids_any_key_case_nulls_and_unknown_members() {
    let request = decode_v2_json(
        br#"[null, {"TRACEID":"AbC","Id":"f","parentId":"","name":null,"kind":"client",
             "timestamp":null,"tags":{"k":null},"localEndpoint":{"ipv4":""},
             "annotations":null,"future":{"x":[1]}}]"#,
    )
    .unwrap();
    let spans = all_spans(&request);
    let span = spans[0];
    assert_eq!(span.trace_id, bytes("00000000000000000000000000000abc"));
    assert_eq!(span.span_id, bytes("000000000000000f"));
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.name, "");
    // Kind names are exact: the Collector maps an unknown name to no kind.
    assert_eq!(span.kind, SpanKind::Unspecified as i32);
    assert_eq!(span.attributes[0], str_attr("k", ""));
    // An empty local endpoint is no endpoint, so the resource names no service.
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    assert!(resource.attributes.is_empty());
}

#[test]
fn endpoint_addresses_are_printed_as_go_prints_them() {
    let request = decode_v2_json(
        br#"[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a","ipv6":"::FFFF:10.1.2.3"},
              "remoteEndpoint":{"ipv4":"2001:0db8:0:0:0:0:0:1","port":0}}]"#,
    )
    .unwrap();
    let attributes = &all_spans(&request)[0].attributes;
    assert_eq!(
        attributes[..2],
        [
            str_attr("network.local.address", "10.1.2.3"),
            str_attr("network.peer.address", "2001:db8::1")
        ]
    );
    assert_eq!(attributes.len(), 3, "port 0 adds nothing: {attributes:?}");
}

#[test]
fn a_remote_endpoint_attribute_replaces_a_tag_of_the_same_name() {
    let request = decode_v2_json(
        br#"[{"traceId":"1","id":"2","remoteEndpoint":{"port":443},"tags":{"net.peer.port":"x","z":"y"}}]"#,
    )
    .unwrap();
    let attributes = &all_spans(&request)[0].attributes;
    assert_eq!(attributes[0], int_attr("net.peer.port", 443));
    assert_eq!(attributes[1], str_attr("z", "y"));
}

#[test]
fn refuses_bodies_that_are_not_a_json_array_of_objects() {
    assert!(error("not json").starts_with("invalid zipkin JSON: "), "{}", error("not json"));
    assert!(error("[{").starts_with("invalid zipkin JSON: "));
    assert_eq!(
        error(r#"{"traceId":"1"}"#),
        "zipkin JSON body must be an array of spans, got object"
    );
    assert_eq!(error("[{}, 5]"), "zipkin span 0: traceId is missing");
    assert_eq!(
        error(r#"[{"traceId":"1","id":"2"}, 5]"#),
        "zipkin span 1: span must be an object, got number"
    );
}

#[test]
fn refuses_bad_ids_naming_the_span_and_field() {
    assert_eq!(
        error(r#"[null, {"traceId":"1","id":"2"}, {"traceId":"xyz","id":"1"}]"#),
        r#"zipkin span 2: traceId "xyz" is not hex"#
    );
    assert_eq!(
        span_error(r#""id":"12345678901234567""#),
        r#"zipkin span 0: id "12345678901234567" is longer than 16 hex digits"#
    );
    assert_eq!(
        error(&format!(r#"[{{"traceId":"{}","id":"1"}}]"#, "a".repeat(33))),
        format!(r#"zipkin span 0: traceId "{}" is longer than 32 hex digits"#, "a".repeat(33))
    );
    assert_eq!(span_error(r#""parentId":"0x12""#), r#"zipkin span 0: parentId "0x12" is not hex"#);
    assert_eq!(span_error(r#""traceId":"""#), "zipkin span 0: traceId is missing");
    assert_eq!(error(r#"[{"traceId":"1"}]"#), "zipkin span 0: id is missing");
    assert_eq!(span_error(r#""id":12"#), "zipkin span 0: id must be a string, got number");
}

#[test]
fn refuses_mistyped_fields_naming_them() {
    let cases = [
        (r#""name":5"#, "name must be a string, got number"),
        (r#""kind":1"#, "kind must be a string, got number"),
        (r#""timestamp":-1"#, "timestamp must be a non-negative integer, got -1"),
        (r#""timestamp":1.5"#, "timestamp must be a non-negative integer, got 1.5"),
        (r#""duration":"10""#, "duration must be a non-negative integer, got string"),
        (r#""debug":"true""#, "debug must be a boolean, got string"),
        (r#""localEndpoint":[]"#, "localEndpoint must be an object, got array"),
        (
            r#""localEndpoint":{"port":70000}"#,
            "localEndpoint.port must be a port (0 to 65535), got 70000",
        ),
        (
            r#""remoteEndpoint":{"ipv4":"1.2.3"}"#,
            r#"remoteEndpoint.ipv4 "1.2.3" is not an IP address"#,
        ),
        (
            r#""remoteEndpoint":{"serviceName":true}"#,
            "remoteEndpoint.serviceName must be a string, got boolean",
        ),
        (r#""annotations":{}"#, "annotations must be an array, got object"),
        (r#""annotations":[{"value":"ws"}]"#, "annotations[0].timestamp is missing or zero"),
        (
            r#""annotations":[{"timestamp":1,"value":"a"},null]"#,
            "annotations[1] must be an object, got null",
        ),
        (
            r#""annotations":[{"timestamp":1,"value":2}]"#,
            "annotations[0].value must be a string, got number",
        ),
        (
            r#""tags":{"http.status_code":200}"#,
            r#"tags["http.status_code"] must be a string, got number"#,
        ),
        (r#""tags":[]"#, "tags must be an object, got array"),
    ];
    for (members, problem) in cases {
        assert_eq!(span_error(members), format!("zipkin span 0: {problem}"), "{members}");
    }
}

#[test]
fn refuses_times_that_overflow_nanoseconds() {
    assert_eq!(
        span_error(r#""timestamp":18446744073709552"#),
        "zipkin span 0: timestamp 18446744073709552 is out of range"
    );
    assert_eq!(
        span_error(r#""timestamp":1,"duration":18446744073709551615"#),
        "zipkin span 0: duration 18446744073709551615 is out of range"
    );
}
