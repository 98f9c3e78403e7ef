//! Tests of the plan API and of the pipeline stages: `by`, `coalesce`, `select`,
//! aggregates, returned fields, no-op detection.

use super::*;
use crate::traceql::eval::test_trace::*;
use crate::traceql::{ast, parse};

fn spanset_names(trace: &EvalTrace, spanset: &Spanset<'_>) -> Vec<String> {
    spanset.spans.iter().map(|i| trace.spans[*i as usize].name.clone()).collect()
}

fn attribute<'s, 't>(spanset: &'s Spanset<'t>, name: &str) -> Option<&'s Value<'t>> {
    spanset.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

/// The value of one spanset attribute on each result spanset.
fn attribute_values<'t>(query: &str, trace: &'t EvalTrace, name: &str) -> Vec<Value<'t>> {
    run(query, trace)
        .unwrap()
        .iter()
        .map(|spanset| attribute(spanset, name).cloned().unwrap_or_else(|| panic!("{name}")))
        .collect()
}

#[test]
fn the_input_is_every_span_in_trace_order() {
    let trace = trace_of(small_tree());
    assert_eq!(names("{ }", &trace), vec![vec!["root", "a", "b", "c"]]);
    let empty = EvalTrace::from_otlp(crate::model::ids::TraceId(TRACE_ID), Vec::new());
    assert!(plan("{ }").run(&empty).unwrap().is_empty());
}

#[test]
fn by_splits_into_groups_by_typed_value_with_nil_its_own_group() {
    let trace = trace_of(vec![
        span("int", 1, None).attr("v", 1i64),
        span("float", 2, None).attr("v", 1.0),
        span("str", 3, None).attr("v", "1"),
        span("none", 4, None),
        span("int-again", 5, None).attr("v", 1i64),
    ]);
    let result = run("{ } | by(.v)", &trace).unwrap();
    let groups: Vec<(Vec<String>, Value<'_>)> = result
        .iter()
        .map(|spanset| {
            (spanset_names(&trace, spanset), attribute(spanset, "by(.v)").unwrap().clone())
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (vec!["int".to_owned(), "int-again".to_owned()], Value::Int(1)),
            (vec!["float".to_owned()], Value::Float(1.0)),
            (vec!["str".to_owned()], Value::str("1")),
            (vec!["none".to_owned()], Value::Nil),
        ]
    );
}

#[test]
fn by_labels_print_the_expression_and_chained_labels_are_kept() {
    let trace = trace_of(vec![
        span("a", 1, None).attr("x", 1i64).kind(2),
        span("b", 2, None).attr("x", 2i64).kind(2),
        span("c", 3, None).attr("x", 2i64).kind(3),
    ]);
    let result =
        run("{ } | by(resource.service.name) | by(span.x + 1) | by(kind)", &trace).unwrap();
    assert_eq!(result.len(), 3);
    let labels: Vec<&str> = result[2].attributes.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(labels, ["by(resource.service.name)", "by(span.x + 1)", "by(kind)"]);
    assert_eq!(result[2].attributes[0].1, Value::str("svc"));
    assert_eq!(result[2].attributes[1].1, Value::Int(3));
    assert_eq!(result[2].attributes[2].1, Value::Kind(ast::Kind::Client));
}

#[test]
fn coalesce_merges_every_spanset_and_drops_attributes() {
    let trace = trace_of(small_tree());
    let result = run("{ } | by(name) | coalesce()", &trace).unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(spanset_names(&trace, &result[0]), ["root", "a", "b", "c"]);
    assert!(result[0].attributes.is_empty());
    assert!(run(r#"{ name = "zzz" } | coalesce()"#, &trace).unwrap().is_empty());
}

#[test]
fn select_filters_nothing_and_its_fields_are_returned() {
    let trace = trace_of(vec![
        span("s", 1, None).attr("http.method", "GET").status(2, "bad"),
        span("t", 2, None),
    ]);
    let plan = plan(r#"{ name = "s" } | select(span.http.method, status, resource.service.name)"#);
    let result = plan.run(&trace).unwrap();
    assert_eq!(spanset_names(&trace, &result[0]), ["s"]);
    let returned: Vec<String> = plan.returned_fields().iter().map(ToString::to_string).collect();
    assert_eq!(returned, ["span.http.method", "status", "resource.service.name"]);
    assert_eq!(
        result_attributes(&plan, &trace, result[0].spans[0]),
        vec![
            ("http.method".to_owned(), Value::str("GET")),
            ("status".to_owned(), Value::str("error")),
            ("service.name".to_owned(), Value::str("svc")),
        ]
    );
    // Missing values are left out.
    assert_eq!(
        result_attributes(&plan, &trace, 1),
        vec![
            ("status".to_owned(), Value::str("unset")),
            ("service.name".to_owned(), Value::str("svc"))
        ]
    );
}

#[test]
fn returned_fields_skip_names_durations_trace_level_intrinsics_and_ids() {
    let plan = plan(
        r#"{ name = "x" && duration > 1s && traceDuration > 1s && rootName = "r" && rootServiceName = "s"
            && trace:id = "1" && span:id = "1" && span:parentID = "1" && link:spanID = "1"
            && link:traceID = "1" && .a = 1 && kind = server && event:name = "e" && .a = 2 }
          | avg(span.b) > 1 | by(resource.c) | select(span:childCount, .a)"#,
    );
    let returned: Vec<String> = plan.returned_fields().iter().map(ToString::to_string).collect();
    assert_eq!(returned, [".a", "kind", "event:name", "span.b", "resource.c", "span:childCount"]);
}

#[test]
fn result_attributes_key_by_bare_names_and_read_events_that_have_the_field() {
    let trace = trace_of(vec![span("s", 1, None).kind(2).event("first", 100, vec![]).event(
        "second",
        110,
        vec![kv("why", "late")],
    )]);
    let plan = plan(r#"{ kind = server && event.why = "late" && event:name != "x" }"#);
    assert_eq!(
        result_attributes(&plan, &trace, 0),
        vec![
            ("kind".to_owned(), Value::str("server")),
            ("why".to_owned(), Value::str("late")),
            ("event:name".to_owned(), Value::str("first")),
        ]
    );
    assert!(result_attributes(&plan, &trace, 99).is_empty());
}

#[test]
fn count_is_attached_and_filters_spansets() {
    let trace = trace_of(small_tree());
    assert_eq!(attribute_values("{ } | count() > 3", &trace, "count()"), [Value::Int(4)]);
    assert!(run("{ } | count() > 4", &trace).unwrap().is_empty());
    // Ordering comparisons use durations in ns.
    assert!(run("{ } | count() > 1s", &trace).unwrap().is_empty());
    assert_eq!(names("{ } | by(name) | count() = 1", &trace).len(), 4);
}

#[test]
fn sum_keeps_the_first_values_type_and_skips_other_types() {
    let trace = trace_of(vec![
        span("a", 1, None).attr("i", 2i64).attr("m", 1i64),
        span("b", 2, None).attr("i", 3i64).attr("m", 1.5),
        span("c", 3, None).attr("f", 0.5),
    ]);
    assert_eq!(attribute_values("{ } | sum(span.i) = 5", &trace, "sum(span.i)"), [Value::Int(5)]);
    assert_eq!(attribute_values("{ } | sum(span.i) = 5.0", &trace, "sum(span.i)"), [Value::Int(5)]);
    assert_eq!(
        attribute_values("{ } | sum(span.f) > 0", &trace, "sum(span.f)"),
        [Value::Float(0.5)]
    );
    assert_eq!(attribute_values("{ } | sum(span.m) > 0", &trace, "sum(span.m)"), [Value::Int(1)]);
    assert_eq!(
        attribute_values("{ } | sum(duration) > 100", &trace, "sum(duration)"),
        [Value::Duration(150)]
    );
}

#[test]
fn avg_of_ints_is_a_float_and_of_durations_a_truncated_duration() {
    let trace = trace_of(vec![
        span("a", 1, None).attr("i", 1i64).times(0, 10),
        span("b", 2, None).attr("i", 2i64).times(0, 11),
        span("c", 3, None).attr("f", 4.0).times(0, 11),
    ]);
    assert_eq!(
        attribute_values("{ } | avg(span.i) > 0", &trace, "avg(span.i)"),
        [Value::Float(1.5)]
    );
    assert_eq!(
        attribute_values("{ } | avg(span.f) > 0", &trace, "avg(span.f)"),
        [Value::Float(4.0)]
    );
    // (10 + 11 + 11) / 3 = 10.67 ns, truncated.
    assert_eq!(
        attribute_values("{ } | avg(duration) >= 10ns", &trace, "avg(duration)"),
        [Value::Duration(10)]
    );
}

#[test]
fn min_and_max_compare_across_number_types_and_keep_the_winners_type() {
    let trace = trace_of(vec![
        span("a", 1, None).attr("n", 3i64),
        span("b", 2, None).attr("n", 2.5),
        span("c", 3, None).attr("n", "not a number"),
    ]);
    assert_eq!(
        attribute_values("{ } | min(span.n) < 10", &trace, "min(span.n)"),
        [Value::Float(2.5)]
    );
    assert_eq!(attribute_values("{ } | max(span.n) > 0", &trace, "max(span.n)"), [Value::Int(3)]);
    assert_eq!(
        attribute_values("{ } | max(duration) > 1", &trace, "max(duration)"),
        [Value::Duration(50)]
    );
    assert!(run("{ } | max(duration) > 50", &trace).unwrap().is_empty());
}

#[test]
fn an_aggregate_without_values_drops_the_spanset() {
    let trace = trace_of(vec![
        span("with", 1, None).attr("n", 1i64),
        span("without", 2, None).attr("n", "x"),
    ]);
    let result = run("{ } | by(name) | max(span.n) >= 0", &trace).unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(spanset_names(&trace, &result[0]), ["with"]);
    assert!(run("{ } | avg(span.missing) > 0", &trace).unwrap().is_empty());
    assert!(run("{ } | sum(span.missing) != 0", &trace).unwrap().is_empty());
}

#[test]
fn a_filter_after_an_aggregate_keeps_its_attribute() {
    let trace = trace_of(small_tree());
    let result = run(r#"{ } | count() > 1 | { name = "a" }"#, &trace).unwrap();
    assert_eq!(spanset_names(&trace, &result[0]), ["a"]);
    assert_eq!(attribute(&result[0], "count()"), Some(&Value::Int(4)));
}

#[test]
fn statically_empty_queries_are_noops() {
    for query in [
        "{ false }",
        "{ false } && { }",
        "{ false } || { false }",
        "{ } !> { false }",
        "{ } | by(name) | { false }",
        "({ false } | count() > 1) >> ({ })",
    ] {
        assert!(plan(query).is_noop(), "{query}");
        assert!(plan(query).run(&trace_of(small_tree())).unwrap().is_empty(), "{query}");
    }
    for query in ["{ }", "{ .a }", "{ false } || { }", "{ false } !> { }"] {
        assert!(!plan(query).is_noop(), "{query}");
    }
}

#[test]
fn only_search_queries_make_a_plan() {
    let metrics = parse("{ } | rate()").unwrap();
    assert_eq!(SearchPlan::new(&metrics).unwrap_err(), EvalError::NotASearch);
}

#[test]
fn constructs_validation_rejects_are_errors_if_they_reach_the_engine() {
    for query in ["2 < count()", "{ } | count() > count()", "{ parent.x = 1 }", "{ .a =~ .b }"] {
        let parsed = parse(query).unwrap();
        assert!(matches!(SearchPlan::new(&parsed), Err(EvalError::Unsupported(_))), "{query}");
    }
}

#[test]
fn plans_and_results_can_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SearchPlan>();
    assert_send_sync::<EvalTrace>();
    assert_send_sync::<Spanset<'static>>();
    assert_send_sync::<EvalError>();
}
