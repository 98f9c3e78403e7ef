//! Unit tests of the shared Jaeger → OTLP rules: status precedence, kind, parent and links,
//! events, resource renames, repeated keys and the dialect differences.

use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use super::test_support::{bool_kv, double_kv, int_kv, link, status, string_kv, trace_id_bytes};
use super::*;

const TRACE: JaegerTraceId = JaegerTraceId { high: 0, low: 0xabc };

fn tag(key: &str, value: TagValue) -> JaegerTag {
    JaegerTag { key: key.to_owned(), value }
}

fn text(key: &str, value: &str) -> JaegerTag {
    tag(key, TagValue::String(value.to_owned()))
}

fn span_with(tags: Vec<JaegerTag>) -> JaegerSpan {
    JaegerSpan {
        trace_id: TRACE,
        span_id: 7,
        parent_span_id: 0,
        operation_name: "op".to_owned(),
        references: Vec::new(),
        start_time_unix_nano: 10,
        end_time_unix_nano: 20,
        tags,
        logs: Vec::new(),
    }
}

fn reference(ref_type: RefType, trace_id: JaegerTraceId, span_id: u64) -> JaegerSpanRef {
    JaegerSpanRef { ref_type, trace_id, span_id }
}

fn keys(span: &Span) -> Vec<&str> {
    span.attributes.iter().map(|attribute| attribute.key.as_str()).collect()
}

#[test]
fn status_follows_the_collector_precedence() {
    let http_code = |code: i64| tag("http.status_code", TagValue::Long(code));
    // (case, tags, expected status, attribute keys left)
    type Case = (&'static str, Vec<JaegerTag>, Option<Status>, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        (
            "error alone",
            vec![tag("error", TagValue::Bool(true))],
            status(StatusCode::Error, ""),
            vec![],
        ),
        (
            "error with a description",
            vec![tag("error", TagValue::Bool(true)), text("otel.status_description", "boom")],
            status(StatusCode::Error, "boom"),
            vec![],
        ),
        (
            "error with an HTTP message, which stays",
            vec![tag("error", TagValue::Bool(true)), text("http.status_message", "bad")],
            status(StatusCode::Error, "bad"),
            vec!["http.status_message"],
        ),
        ("error=false stays", vec![tag("error", TagValue::Bool(false))], None, vec!["error"]),
        ("error as a string stays", vec![text("error", "true")], None, vec!["error"]),
        (
            "otel ok, any case",
            vec![text("otel.status_code", "ok")],
            status(StatusCode::Ok, ""),
            vec![],
        ),
        (
            "otel error with a description",
            vec![text("otel.status_code", "Error"), text("otel.status_description", "d")],
            status(StatusCode::Error, "d"),
            vec![],
        ),
        (
            "otel code unknown: an unset status",
            vec![text("otel.status_code", "weird")],
            status(StatusCode::Unset, ""),
            vec![],
        ),
        (
            "error wins over otel ok, which is removed anyway",
            vec![tag("error", TagValue::Bool(true)), text("otel.status_code", "OK")],
            status(StatusCode::Error, ""),
            vec![],
        ),
        (
            "otel code wins over http",
            vec![text("otel.status_code", "OK"), http_code(500)],
            status(StatusCode::Ok, ""),
            vec!["http.status_code"],
        ),
        (
            "http 5xx as a string, with its message",
            vec![text("http.status_code", "503"), text("http.status_message", "down")],
            status(StatusCode::Error, "down"),
            vec!["http.status_code", "http.status_message"],
        ),
        (
            "http 200",
            vec![http_code(200), text("http.status_message", "fine")],
            None,
            vec!["http.status_code", "http.status_message"],
        ),
        (
            "http 399, the collector's bound",
            vec![http_code(399)],
            status(StatusCode::Error, ""),
            vec!["http.status_code"],
        ),
        ("http 99", vec![http_code(99)], status(StatusCode::Error, ""), vec!["http.status_code"]),
        (
            "http code as a double is ignored",
            vec![tag("http.status_code", TagValue::Double(500.0))],
            None,
            vec!["http.status_code"],
        ),
        (
            "http code not a number",
            vec![text("http.status_code", "5xx")],
            None,
            vec!["http.status_code"],
        ),
    ];
    for (name, tags, expected_status, expected_keys) in cases {
        let span = map_span(span_with(tags), Dialect::Thrift);
        assert_eq!(span.status, expected_status, "{name}");
        assert_eq!(keys(&span), expected_keys, "{name}");
    }
}

#[test]
fn http_4xx_depends_on_the_span_kind() {
    for (kind, expected) in [
        ("client", status(StatusCode::Error, "")),
        ("server", None),
        ("internal", status(StatusCode::Error, "")),
        ("", status(StatusCode::Error, "")),
    ] {
        let mut tags = vec![tag("http.status_code", TagValue::Long(404))];
        if !kind.is_empty() {
            tags.push(text("span.kind", kind));
        }
        assert_eq!(map_span(span_with(tags), Dialect::Proto).status, expected, "{kind}");
    }
}

#[test]
fn span_kind_tag_sets_the_kind_and_is_removed() {
    for (value, expected) in [
        (TagValue::String("client".into()), SpanKind::Client),
        (TagValue::String("server".into()), SpanKind::Server),
        (TagValue::String("producer".into()), SpanKind::Producer),
        (TagValue::String("consumer".into()), SpanKind::Consumer),
        (TagValue::String("internal".into()), SpanKind::Internal),
        (TagValue::String("SERVER".into()), SpanKind::Unspecified),
        (TagValue::Long(2), SpanKind::Unspecified),
    ] {
        let span = map_span(
            span_with(vec![tag("span.kind", value.clone()), text("a", "b")]),
            Dialect::Thrift,
        );
        assert_eq!(span.kind, expected as i32, "{value:?}");
        assert_eq!(keys(&span), vec!["a"]);
    }
}

#[test]
fn repeated_keys_keep_the_first_position_and_the_last_value() {
    let few = vec![text("a", "1"), tag("b", TagValue::Long(2)), tag("a", TagValue::Bool(true))];
    assert_eq!(
        map_span(span_with(few), Dialect::Thrift).attributes,
        vec![bool_kv("a", true), int_kv("b", 2)]
    );
    // Past the linear-scan limit the hash-map path must give the same answer.
    let mut many: Vec<JaegerTag> =
        (0..40).map(|index| tag(&format!("k{index}"), TagValue::Long(index))).collect();
    many.push(tag("k3", TagValue::Double(0.5)));
    let attributes = map_span(span_with(many), Dialect::Thrift).attributes;
    assert_eq!(attributes.len(), 40);
    assert_eq!(attributes[3], double_kv("k3", 0.5));
    assert_eq!(attributes[39], int_kv("k39", 39));
}

#[test]
fn parent_is_the_explicit_id_else_a_same_trace_reference() {
    let other_trace = JaegerTraceId { high: 1, low: 0xabc };
    let parent_of = |explicit: u64, references: Vec<JaegerSpanRef>| {
        let mut span = span_with(vec![]);
        span.parent_span_id = explicit;
        span.references = references;
        map_span(span, Dialect::Thrift).parent_span_id
    };
    assert_eq!(parent_of(9, vec![reference(RefType::ChildOf, TRACE, 3)]), 9_u64.to_be_bytes());
    assert_eq!(
        parent_of(
            0,
            vec![
                reference(RefType::ChildOf, other_trace, 1),
                reference(RefType::FollowsFrom, TRACE, 2),
                reference(RefType::ChildOf, TRACE, 3),
            ]
        ),
        3_u64.to_be_bytes()
    );
    assert_eq!(
        parent_of(
            0,
            vec![reference(RefType::Unknown, TRACE, 1), reference(RefType::FollowsFrom, TRACE, 2)]
        ),
        2_u64.to_be_bytes()
    );
    assert!(parent_of(0, vec![reference(RefType::ChildOf, other_trace, 1)]).is_empty());
    assert!(parent_of(0, vec![]).is_empty());
}

#[test]
fn links_are_every_reference_but_the_child_of_parent() {
    let other_trace = JaegerTraceId { high: 1, low: 2 };
    let mut span = span_with(vec![]);
    span.references = vec![
        reference(RefType::FollowsFrom, TRACE, 4),
        reference(RefType::ChildOf, TRACE, 5),
        reference(RefType::ChildOf, other_trace, 6),
        reference(RefType::Unknown, other_trace, 7),
    ];
    let mapped = map_span(span, Dialect::Proto);
    assert_eq!(mapped.parent_span_id, 5_u64.to_be_bytes());
    assert_eq!(
        mapped.links,
        vec![
            link(0, 0xabc, 4, "follows_from"),
            link(1, 2, 6, "child_of"),
            link(1, 2, 7, "follows_from"),
        ]
    );

    // A FOLLOWS_FROM parent stays a link too, as in the Collector.
    let mut span = span_with(vec![]);
    span.references = vec![reference(RefType::FollowsFrom, TRACE, 4)];
    let mapped = map_span(span, Dialect::Thrift);
    assert_eq!(mapped.parent_span_id, 4_u64.to_be_bytes());
    assert_eq!(mapped.links, vec![link(0, 0xabc, 4, "follows_from")]);
}

#[test]
fn logs_become_events_named_by_their_event_field() {
    let mut span = span_with(vec![]);
    span.logs = vec![
        JaegerLog {
            time_unix_nano: 5,
            fields: vec![text("a", "1"), text("event", "retry"), text("b", "2")],
        },
        JaegerLog { time_unix_nano: 6, fields: vec![tag("event", TagValue::Long(3))] },
        JaegerLog { time_unix_nano: 7, fields: vec![text("message", "no name")] },
    ];
    let events = map_span(span, Dialect::Thrift).events;
    assert_eq!(
        events.iter().map(|event| (event.time_unix_nano, event.name.as_str())).collect::<Vec<_>>(),
        vec![(5, "retry"), (6, ""), (7, "")]
    );
    assert_eq!(events[0].attributes, vec![string_kv("a", "1"), string_kv("b", "2")]);
    assert!(events[1].attributes.is_empty());
    assert_eq!(events[2].attributes, vec![string_kv("message", "no name")]);
}

#[test]
fn ids_and_times_are_carried_over() {
    let mut span = span_with(vec![]);
    span.trace_id = JaegerTraceId { high: 0, low: u64::MAX };
    span.span_id = 0x0102_0304_0506_0708;
    let mapped = map_span(span, Dialect::Thrift);
    assert_eq!(mapped.trace_id, trace_id_bytes(0, u64::MAX));
    assert_eq!(&mapped.trace_id[..8], &[0; 8], "a 64-bit trace id is left-padded");
    assert_eq!(mapped.span_id, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!((mapped.start_time_unix_nano, mapped.end_time_unix_nano), (10, 20));
    assert_eq!(mapped.name, "op");
}

#[test]
fn trace_state_is_read_on_the_proto_path_only() {
    let tags = || vec![text("w3c.tracestate", "a=1,b=2")];
    let proto = map_span(span_with(tags()), Dialect::Proto);
    assert_eq!((proto.trace_state.as_str(), proto.attributes.len()), ("a=1,b=2", 0));
    let thrift = map_span(span_with(tags()), Dialect::Thrift);
    assert_eq!(thrift.trace_state, "");
    assert_eq!(thrift.attributes, vec![string_kv("w3c.tracestate", "a=1,b=2")]);
}

#[test]
fn resource_renames_hostname_and_jaeger_version_in_place() {
    let process = JaegerProcess {
        service_name: "svc".to_owned(),
        tags: vec![
            text("hostname", "h1"),
            text("jaeger.version", "Go-2.30.0"),
            tag("pid", TagValue::Long(1)),
        ],
    };
    assert_eq!(
        map_resource(Some(process), Dialect::Thrift).attributes,
        vec![
            string_kv("service.name", "svc"),
            string_kv("host.name", "h1"),
            string_kv("opencensus.exporterversion", "Jaeger-Go-2.30.0"),
            int_kv("pid", 1),
        ]
    );

    let process = JaegerProcess {
        service_name: String::new(),
        tags: vec![
            text("host.name", "h0"),
            tag("hostname", TagValue::Long(2)),
            text("opencensus.exporterversion", "x"),
            text("jaeger.version", "y"),
            text("service.name", "from-tag"),
        ],
    };
    let attributes = map_resource(Some(process), Dialect::Thrift).attributes;
    assert_eq!(attributes.len(), 5, "renames do not overwrite existing keys: {attributes:?}");
}

#[test]
fn a_service_name_tag_overrides_the_service_name_in_first_position() {
    let process = JaegerProcess {
        service_name: "svc".to_owned(),
        tags: vec![text("a", "1"), text("service.name", "tagged")],
    };
    assert_eq!(
        map_resource(Some(process), Dialect::Thrift).attributes,
        vec![string_kv("service.name", "tagged"), string_kv("a", "1"),]
    );
}

#[test]
fn empty_processes_and_the_no_service_name_marker_give_empty_resources() {
    assert_eq!(map_resource(None, Dialect::Proto), Resource::default());
    assert_eq!(map_resource(Some(JaegerProcess::default()), Dialect::Thrift), Resource::default());
    let marker =
        || JaegerProcess { service_name: NO_SERVICE_NAME.to_owned(), tags: vec![text("a", "1")] };
    assert_eq!(map_resource(Some(marker()), Dialect::Proto), Resource::default());
    assert_eq!(map_resource(Some(marker()), Dialect::Thrift).attributes.len(), 2);
}

#[test]
fn unknown_tag_types_become_labelled_strings() {
    let span =
        map_span(span_with(vec![tag("x", TagValue::UnknownType("7".to_owned()))]), Dialect::Proto);
    assert_eq!(span.attributes, vec![string_kv("x", "<Unknown Jaeger TagType \"7\">")]);
}
