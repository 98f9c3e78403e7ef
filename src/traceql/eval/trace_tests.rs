//! Tests of building the evaluation model from OTLP.

use super::*;
use crate::traceql::eval::test_trace::*;

fn by_name<'a>(trace: &'a EvalTrace, name: &str) -> &'a EvalSpan {
    trace.spans.iter().find(|span| span.name == name).unwrap()
}

#[test]
fn attribute_values_are_typed_and_uncomparable_ones_are_dropped() {
    let trace = trace_of(vec![
        span("s", 1, None)
            .attr("str", "x")
            .attr("int", 7i64)
            .attr("float", 1.5)
            .attr("bool", true)
            .attr("strs", array(vec!["a".to_any(), "b".to_any()]))
            .attr("ints", array(vec![1i64.to_any(), 2i64.to_any()]))
            .attr("floats", array(vec![1.0.to_any()]))
            .attr("bools", array(vec![false.to_any()]))
            .attr("mixed", array(vec![1i64.to_any(), "a".to_any()]))
            .attr("empty", array(vec![]))
            .attr("kvlist", kvlist())
            .attr("bytes", bytes()),
    ]);
    let attrs = &trace.spans[0].attributes;
    assert_eq!(attrs.get("str"), Some(&AttrValue::Str("x".into())));
    assert_eq!(attrs.get("int"), Some(&AttrValue::Int(7)));
    assert_eq!(attrs.get("float"), Some(&AttrValue::Float(1.5)));
    assert_eq!(attrs.get("bool"), Some(&AttrValue::Bool(true)));
    assert_eq!(attrs.get("strs"), Some(&AttrValue::StrArray(vec!["a".into(), "b".into()])));
    assert_eq!(attrs.get("ints"), Some(&AttrValue::IntArray(vec![1, 2])));
    assert_eq!(attrs.get("floats"), Some(&AttrValue::FloatArray(vec![1.0])));
    assert_eq!(attrs.get("bools"), Some(&AttrValue::BoolArray(vec![false])));
    for dropped in ["mixed", "empty", "kvlist", "bytes"] {
        assert_eq!(attrs.get(dropped), None, "{dropped}");
    }
}

#[test]
fn kind_and_status_codes_map_with_zero_and_unknown_as_unspecified_and_unset() {
    let trace = trace_of(vec![
        span("k0", 1, None),
        span("k2", 2, None).kind(2).status(2, "boom"),
        span("k5", 3, None).kind(5).status(1, ""),
        span("k9", 4, None).kind(9).status(7, ""),
    ]);
    let kinds: Vec<Kind> = trace.spans.iter().map(|span| span.kind).collect();
    assert_eq!(kinds, [Kind::Unspecified, Kind::Server, Kind::Consumer, Kind::Unspecified]);
    let statuses: Vec<Status> = trace.spans.iter().map(|span| span.status).collect();
    assert_eq!(statuses, [Status::Unset, Status::Error, Status::Ok, Status::Unset]);
    assert_eq!(trace.spans[1].status_message, "boom");
}

#[test]
fn the_root_is_the_earliest_span_without_a_parent_and_names_the_service() {
    let trace = EvalTrace::from_otlp(
        TraceId(TRACE_ID),
        vec![
            resource(vec![kv("service.name", "late")], vec![span("late-root", 9, None)]),
            resource(
                vec![kv("service.name", "early")],
                vec![span("child", 5, Some(3)), span("early-root", 3, None)],
            ),
        ],
    );
    assert_eq!(trace.root_name.as_deref(), Some("early-root"));
    assert_eq!(trace.root_service.as_deref(), Some("early"));
    assert_eq!((trace.start_unix_nano, trace.end_unix_nano), (300, 950));
    assert_eq!(trace.duration_nanos(), 650);
    assert_eq!(trace.spans[0].resource, 0);
    assert_eq!(trace.spans[2].resource, 1);
    assert_eq!(trace.spans[2].scope, 1);
}

#[test]
fn a_trace_without_a_root_span_has_no_root_name_or_service() {
    let trace = trace_of(vec![span("orphan", 2, Some(1))]);
    assert_eq!(trace.root_name, None);
    assert_eq!(trace.root_service, None);
}

#[test]
fn a_root_service_that_is_not_a_string_is_unknown() {
    let trace = EvalTrace::from_otlp(
        TraceId(TRACE_ID),
        vec![resource(vec![kv("service.name", 5i64)], vec![span("root", 1, None)])],
    );
    assert_eq!(trace.root_name.as_deref(), Some("root"));
    assert_eq!(trace.root_service, None);
}

#[test]
fn tree_positions_and_child_counts_follow_parent_ids() {
    let trace = trace_of(small_tree());
    let root = by_name(&trace, "root");
    let a = by_name(&trace, "a");
    let c = by_name(&trace, "c");
    assert_eq!(root.nested.map(|n| (n.left, n.right, n.parent)), Some((1, 8, 0)));
    assert_eq!(a.nested.map(|n| n.parent), Some(1));
    assert_eq!(c.nested.map(|n| n.parent), a.nested.map(|n| n.left));
    assert_eq!(root.child_count, 2);
    assert_eq!(a.child_count, 1);
    assert_eq!(c.child_count, 0);
    assert_eq!(a.parent_span_id, Some([0, 0, 0, 0, 0, 0, 0, 1]));
    assert_eq!(root.parent_span_id, None);
}

#[test]
fn spans_sharing_an_id_have_no_position() {
    let mut spans = small_tree();
    spans.push(span("b-again", 4, Some(2)));
    let trace = trace_of(spans);
    assert_eq!(by_name(&trace, "b").nested, None);
    assert_eq!(by_name(&trace, "b-again").nested, None);
    assert!(by_name(&trace, "a").nested.is_some());
}

#[test]
fn ids_of_other_lengths_are_right_aligned_in_eight_bytes() {
    let mut short = span("short", 1, None);
    short.span_id = vec![0xab, 0xcd];
    let mut long = span("long", 2, None);
    long.span_id = vec![9, 1, 2, 3, 4, 5, 6, 7, 8];
    let trace = trace_of(vec![short, long]);
    assert_eq!(trace.spans[0].span_id, [0, 0, 0, 0, 0, 0, 0xab, 0xcd]);
    assert_eq!(trace.spans[1].span_id, [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn events_links_and_scopes_are_kept() {
    let trace = trace_of(vec![span("s", 1, None).event("ev", 130, vec![kv("e", 1i64)]).link(
        vec![7; 16],
        vec![8; 8],
        vec![kv("l", "x")],
    )]);
    let span = &trace.spans[0];
    assert_eq!(span.events[0].name, "ev");
    assert_eq!(span.events[0].attributes.get("e"), Some(&AttrValue::Int(1)));
    assert_eq!(span.links[0].span_id, vec![8; 8]);
    let scope = trace.scope_of(span).unwrap();
    assert_eq!((scope.name.as_str(), scope.version.as_str()), ("lib", "1.0"));
}

#[test]
fn an_empty_trace_has_zero_times() {
    let trace = EvalTrace::from_otlp(TraceId(TRACE_ID), Vec::new());
    assert!(trace.spans.is_empty());
    assert_eq!((trace.start_unix_nano, trace.end_unix_nano), (0, 0));
}
