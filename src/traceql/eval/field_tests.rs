//! Tests of per-span evaluation (§3, §4.2), written as queries on small traces.

use super::*;
use crate::traceql::eval::compile::Compiler;
use crate::traceql::eval::test_trace::*;
use crate::traceql::{ast, parse_and_validate};

fn strs(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

/// Asserts which spans a query keeps (sorted names).
#[track_caller]
fn assert_matches(query: &str, trace: &EvalTrace, expected: &[&str]) {
    assert_eq!(matched(query, trace), strs(expected), "{query}");
}

/// root → a → c, root → b; a is a server span with an error; c has an event and a link.
fn tree() -> EvalTrace {
    trace_of(vec![
        span("root", 1, None),
        span("a", 2, Some(1)).kind(2).status(2, "boom"),
        span("b", 4, Some(1)).kind(3).status(1, ""),
        span("c", 3, Some(2)).event("retry", 330, vec![kv("attempt", 2i64)]).link(
            vec![0x11; 16],
            id(0x22),
            vec![kv("why", "batch")],
        ),
    ])
}

#[test]
fn span_intrinsics_read_the_span() {
    let trace = tree();
    assert_matches("{ duration = 50ns }", &trace, &["a", "b", "c", "root"]);
    assert_matches("{ span:duration > 50 }", &trace, &[]);
    assert_matches(r#"{ name = "a" }"#, &trace, &["a"]);
    assert_matches(r#"{ span:name =~ "r.*" }"#, &trace, &["root"]);
    assert_matches("{ status = error }", &trace, &["a"]);
    assert_matches("{ status = unset }", &trace, &["c", "root"]);
    assert_matches(r#"{ statusMessage = "boom" }"#, &trace, &["a"]);
    assert_matches("{ kind = server }", &trace, &["a"]);
    assert_matches("{ span:kind = unspecified }", &trace, &["c", "root"]);
    assert_matches("{ span:childCount = 2 }", &trace, &["root"]);
    assert_matches("{ span:childCount = 0 }", &trace, &["b", "c"]);
}

#[test]
fn id_intrinsics_compare_as_hex_ignoring_leading_zeros_and_case() {
    let mut spans = small_tree();
    spans[1].span_id = vec![0, 0, 0, 0, 0, 0, 0x0a, 0xbc];
    let trace = trace_of(spans);
    assert_matches(r#"{ span:id = "0000000000000abc" }"#, &trace, &["a"]);
    assert_matches(r#"{ span:id = "ABC" }"#, &trace, &["a"]);
    assert_matches(r#"{ span:id != "abc" }"#, &trace, &["b", "c", "root"]);
    assert_matches(r#"{ span:parentID = "1" }"#, &trace, &["a", "b"]);
    assert_matches(r#"{ span:parentID = "0000000000000002" }"#, &trace, &["c"]);
    assert_matches(r#"{ span:parentID = "abc" }"#, &trace, &[]);
    // A root has no parent id, and nil never compares (c's parent is 2).
    assert_matches(r#"{ span:parentID != "1" }"#, &trace, &["c"]);
    assert_matches(r#"{ trace:id = "abcd" }"#, &trace, &["a", "b", "c", "root"]);
    assert_matches(r#"{ trace:id = "00000000ABCD" }"#, &trace, &["a", "b", "c", "root"]);
    assert_matches(r#"{ trace:id = "abce" }"#, &trace, &[]);
    assert_matches(r#"{ trace:id = "not hex" }"#, &trace, &[]);
}

#[test]
fn trace_intrinsics_have_the_same_value_on_every_span() {
    let trace = tree();
    let all = ["a", "b", "c", "root"];
    assert_matches(r#"{ rootName = "root" }"#, &trace, &all);
    assert_matches(r#"{ trace:rootName = "a" }"#, &trace, &[]);
    assert_matches(r#"{ rootServiceName = "svc" }"#, &trace, &all);
    assert_matches(r#"{ trace:rootService = "svc" }"#, &trace, &all);
    // Spans run from 100 to 450 ns.
    assert_matches("{ traceDuration = 350ns }", &trace, &all);
    assert_matches("{ trace:duration > 350 }", &trace, &[]);
    let rootless = trace_of(vec![span("orphan", 2, Some(1))]);
    assert_matches(r#"{ rootName != "x" }"#, &rootless, &[]);
}

#[test]
fn event_link_and_instrumentation_intrinsics_read_their_owner() {
    let trace = tree();
    assert_matches(r#"{ event:name = "retry" }"#, &trace, &["c"]);
    // c starts at 300 ns; its event is at 330 ns.
    assert_matches("{ event:timeSinceStart = 30ns }", &trace, &["c"]);
    assert_matches(r#"{ link:traceID = "11111111111111111111111111111111" }"#, &trace, &["c"]);
    assert_matches(r#"{ link:spanID = "22" }"#, &trace, &["c"]);
    assert_matches(r#"{ link:spanID != "22" }"#, &trace, &[]);
    assert_matches(r#"{ instrumentation:name = "lib" }"#, &trace, &["a", "b", "c", "root"]);
    assert_matches(r#"{ instrumentation:version = "1.0" && name = "a" }"#, &trace, &["a"]);
}

#[test]
fn nested_set_intrinsics_give_positions_with_roots_at_minus_one_and_unknown_as_nil() {
    let mut spans = small_tree();
    spans.push(span("dup", 4, Some(1)));
    let trace = trace_of(spans);
    assert_matches("{ nestedSetLeft = 1 }", &trace, &["root"]);
    assert_matches("{ nestedSetParent = -1 }", &trace, &["root"]);
    assert_matches("{ nestedSetParent = 1 }", &trace, &["a"]);
    assert_matches("{ nestedSetRight > nestedSetLeft }", &trace, &["a", "c", "root"]);
}

#[test]
fn scoped_attributes_look_only_in_their_scope() {
    let trace = EvalTrace::from_otlp(
        crate::model::ids::TraceId(TRACE_ID),
        vec![resource(
            vec![kv("service.name", "svc"), kv("where", "resource")],
            vec![
                span("s", 1, None)
                    .attr("where", "span")
                    .event("e", 100, vec![kv("where", "event")])
                    .link(id(9), id(9), vec![kv("where", "link")]),
                span("t", 2, None),
            ],
        )],
    );
    assert_matches(r#"{ span.where = "span" }"#, &trace, &["s"]);
    assert_matches(r#"{ resource.where = "resource" }"#, &trace, &["s", "t"]);
    assert_matches(r#"{ event.where = "event" }"#, &trace, &["s"]);
    assert_matches(r#"{ link.where = "link" }"#, &trace, &["s"]);
    assert_matches(r#"{ instrumentation.scope.attr = "yes" }"#, &trace, &["s", "t"]);
    assert_matches(r#"{ resource.service.name = "svc" && span.where = nil }"#, &trace, &["t"]);
    // Unscoped names never look at events, links or scopes.
    assert_matches(r#"{ .where = "event" }"#, &trace, &[]);
    assert_matches(r#"{ .scope.attr = "yes" }"#, &trace, &[]);
}

#[test]
fn attribute_scopes_never_give_intrinsics() {
    let trace = tree();
    assert_matches(r#"{ .name = "a" }"#, &trace, &[]);
    assert_matches("{ span.duration > 0 }", &trace, &[]);
    assert_matches("{ resource.status = nil }", &trace, &["a", "b", "c", "root"]);
}

#[test]
fn an_unscoped_comparison_with_a_literal_passes_on_the_span_or_the_resource_value() {
    let trace = EvalTrace::from_otlp(
        crate::model::ids::TraceId(TRACE_ID),
        vec![resource(
            vec![kv("x", "res"), kv("n", 2i64)],
            vec![span("s", 1, None).attr("x", "span").attr("n", 1i64), span("t", 2, None)],
        )],
    );
    assert_matches(r#"{ .x = "span" }"#, &trace, &["s"]);
    assert_matches(r#"{ .x = "res" }"#, &trace, &["s", "t"]);
    assert_matches(r#"{ "res" = .x }"#, &trace, &["s", "t"]);
    assert_matches(r#"{ .x =~ "re.*" }"#, &trace, &["s", "t"]);
    assert_matches(r#"{ .x != "span" }"#, &trace, &["s", "t"]);
    assert_matches("{ .n = 2 }", &trace, &["s", "t"]);
    // In any other expression the span-level value wins.
    assert_matches("{ .n + 1 = 3 }", &trace, &["t"]);
    assert_matches("{ .n + 1 = 2 }", &trace, &["s"]);
}

#[test]
fn an_int_literal_only_matches_int_attributes_and_a_float_literal_only_floats() {
    let trace = trace_of(vec![
        span("int", 1, None).attr("x", 1i64).attr("xs", array(vec![1i64.to_any()])),
        span("float", 2, None).attr("x", 1.0).attr("xs", array(vec![1.0.to_any()])),
    ]);
    assert_matches("{ span.x = 1 }", &trace, &["int"]);
    assert_matches("{ span.x = 1.0 }", &trace, &["float"]);
    assert_matches("{ 1 = .x }", &trace, &["int"]);
    assert_matches("{ span.x != 2 }", &trace, &["int"]);
    assert_matches("{ span.x < 1.5 }", &trace, &["float"]);
    assert_matches("{ span.xs = 1 }", &trace, &["int"]);
    assert_matches("{ span.xs = 1.0 }", &trace, &["float"]);
    // Elsewhere numbers compare by value.
    assert_matches("{ span.x + 0 = 1 }", &trace, &["float", "int"]);
    assert_matches("{ span.x = span.x * 1.0 }", &trace, &["float", "int"]);
    assert_matches("{ duration > 1.5 }", &trace, &["float", "int"]);
}

#[test]
fn comparisons_with_missing_or_mistyped_values_are_false_even_not_equal() {
    let trace = trace_of(vec![
        span("str", 1, None).attr("a", "x"),
        span("int", 2, None).attr("a", 5i64),
        span("none", 3, None),
    ]);
    assert_matches(r#"{ .a != "y" }"#, &trace, &["str"]);
    assert_matches(r#"{ .a != "x" }"#, &trace, &[]);
    assert_matches(r#"{ !(.a = "x") }"#, &trace, &["int", "none"]);
    assert_matches("{ .a != nil }", &trace, &["int", "str"]);
    assert_matches("{ .a = nil }", &trace, &["none"]);
    assert_matches("{ .b = .b }", &trace, &[]);
    assert_matches("{ .a > .b }", &trace, &[]);
}

#[test]
fn only_a_true_boolean_keeps_a_span() {
    let trace = trace_of(vec![
        span("yes", 1, None).attr("flag", true),
        span("no", 2, None).attr("flag", false),
        span("text", 3, None).attr("flag", "true"),
        span("none", 4, None),
    ]);
    assert_matches("{ .flag }", &trace, &["yes"]);
    assert_matches("{ !.flag }", &trace, &["no"]);
    assert_matches("{ .flag = true }", &trace, &["yes"]);
    assert_matches("{ .flag || true }", &trace, &["no", "yes"]);
    assert_matches("{ true || .flag }", &trace, &["no", "none", "text", "yes"]);
    assert_matches("{ .flag && true }", &trace, &["yes"]);
    assert_matches("{ .flag || .flag = nil }", &trace, &["yes"]);
}

#[test]
fn unary_operators_on_a_wrong_type_give_nil_or_false_instead_of_failing() {
    let trace = trace_of(vec![span("s", 1, None).attr("text", "x").attr("n", 3i64)]);
    assert_matches("{ !.missing }", &trace, &[]);
    assert_matches("{ !.text }", &trace, &[]);
    assert_matches("{ -.text = 1 }", &trace, &[]);
    assert_matches("{ -.missing = nil }", &trace, &["s"]);
    assert_matches("{ -.n = -3 }", &trace, &["s"]);
    assert_matches("{ -duration = -50ns }", &trace, &["s"]);
}

#[test]
fn regexes_are_fully_anchored_and_only_match_strings() {
    let trace = trace_of(vec![
        span("abc", 1, None).attr("n", 1i64),
        span("line\nbreak", 2, None),
        span("ABC", 3, None),
    ]);
    assert_matches(r#"{ name =~ "b" }"#, &trace, &[]);
    assert_matches(r#"{ name =~ ".*b.*" }"#, &trace, &["abc", "line\nbreak"]);
    assert_matches(r#"{ name !~ "b" }"#, &trace, &["ABC", "abc", "line\nbreak"]);
    assert_matches(r#"{ name =~ "line.break" }"#, &trace, &["line\nbreak"]);
    assert_matches(r#"{ name =~ "(?i)abc" }"#, &trace, &["ABC", "abc"]);
    assert_matches(r#"{ name =~ "a|x" }"#, &trace, &[]);
    assert_matches(r#"{ .n =~ "1" }"#, &trace, &[]);
    assert_matches(r#"{ .n !~ "1" }"#, &trace, &[]);
}

#[test]
fn each_distinct_regex_is_compiled_once_per_query() {
    let query = parse_and_validate(r#"{ name =~ "a.*" && .x =~ "a.*" || .y !~ "b" }"#).unwrap();
    let ast::Body::Search(pipeline) = &query.body else { panic!("search") };
    let ast::Stage::Spanset(ast::SpansetExpr::Filter(condition)) = &pipeline.stages[0] else {
        panic!("filter")
    };
    let mut compiler = Compiler::default();
    compiler.compile(condition).unwrap();
    compiler.compile(condition).unwrap();
    assert_eq!(compiler.regex_count(), 2);
}

#[test]
fn arrays_match_if_any_element_does_and_negations_if_every_element_does() {
    let trace = trace_of(vec![
        span("s", 1, None)
            .attr("tags", array(vec!["a".to_any(), "b".to_any()]))
            .attr("ints", array(vec![1i64.to_any(), 5i64.to_any()]))
            .attr("flags", array(vec![true.to_any()])),
    ]);
    let yes: &[&str] = &["s"];
    let no: &[&str] = &[];
    for (query, expected) in [
        (r#"{ .tags = "a" }"#, yes),
        (r#"{ "b" = .tags }"#, yes),
        (r#"{ .tags = "c" }"#, no),
        (r#"{ .tags != "a" }"#, no),
        (r#"{ .tags != "c" }"#, yes),
        (r#"{ .tags =~ "a" }"#, yes),
        (r#"{ .tags !~ "a" }"#, no),
        (r#"{ .tags !~ "c" }"#, yes),
        (r#"{ .tags > "a" }"#, yes),
        ("{ .ints > 4 }", yes),
        ("{ .ints < 0 }", no),
        ("{ .ints >= 5 }", yes),
        ("{ .ints != 5 }", no),
        ("{ 3 < .ints }", yes),
        ("{ .flags = true }", yes),
        ("{ .tags = .tags }", no),
        ("{ .tags != .ints }", no),
    ] {
        assert_matches(query, &trace, expected);
    }
}

#[test]
fn int_arithmetic_stays_int_and_other_mixes_are_float() {
    let trace = trace_of(vec![
        span("s", 1, None).attr("i", 7i64).attr("neg", -7i64).attr("f", 1.5).attr("zero", 0i64),
    ]);
    for query in [
        "{ span.i / 2 = 3 }",
        "{ span.i % 2 = 1 }",
        "{ span.neg % 2 = -1 }",
        "{ span.neg / 2 = -3 }",
        "{ span.i ^ 2 = 49 }",
        "{ 2 ^ span.i = 128 }",
        "{ span.i / 2.0 = 3.5 }",
        "{ span.i * span.f = 10.5 }",
        "{ span.f / span.zero > 1000 }",
        "{ duration * 2 = 100ns }",
        "{ duration + duration = 100 }",
        "{ duration - 50ns = 0 }",
        "{ span.i - 8 < 0 }",
    ] {
        assert_matches(query, &trace, &["s"]);
    }
    // Outside a plain attribute comparison an int result equals a float of the same value.
    assert_matches("{ span.i + 1 = 8.0 }", &trace, &["s"]);
    // Arithmetic with a missing operand is nil.
    assert_matches("{ span.i + span.missing = nil }", &trace, &["s"]);
}

#[test]
fn int_division_or_modulo_by_zero_fails_the_query() {
    let trace = trace_of(vec![span("s", 1, None).attr("i", 7i64).attr("zero", 0i64)]);
    assert_eq!(run("{ span.i / span.zero = 1 }", &trace), Err(EvalError::DivisionByZero));
    assert_eq!(run("{ span.i % 0 = 1 }", &trace), Err(EvalError::ModuloByZero));
}

#[test]
fn an_event_condition_needs_one_event_satisfying_all_of_it() {
    let trace = trace_of(vec![
        span("split", 1, None).event("e1", 100, vec![kv("a", 1i64)]).event(
            "e2",
            110,
            vec![kv("b", 2i64)],
        ),
        span("together", 2, None).event("e", 200, vec![kv("a", 1i64), kv("b", 2i64)]),
        span("none", 3, None),
    ]);
    assert_matches("{ event.a = 1 && event.b = 2 }", &trace, &["together"]);
    assert_matches("{ event.a = 1 || event.b = 2 }", &trace, &["split", "together"]);
    assert_matches(r#"{ event:name = "e2" && event.b = 2 }"#, &trace, &["split"]);
    assert_matches(r#"{ event:name = "e1" && event.b = 2 }"#, &trace, &[]);
    // A span without events has one binding in which event fields are nil.
    assert_matches("{ event.a = nil }", &trace, &["none", "split"]);
    assert_matches(r#"{ event:name != "x" }"#, &trace, &["split", "together"]);
}

#[test]
fn events_and_links_are_bound_independently() {
    let trace = trace_of(vec![
        span("s", 1, None)
            .event("e1", 100, vec![kv("a", 1i64)])
            .event("e2", 110, vec![kv("a", 2i64)])
            .link(id(1), id(1), vec![kv("l", "x")])
            .link(id(2), id(2), vec![kv("l", "y")]),
        span("no-links", 2, None).event("e", 200, vec![kv("a", 2i64)]),
    ]);
    assert_matches(r#"{ event.a = 2 && link.l = "x" }"#, &trace, &["s"]);
    assert_matches(r#"{ link.l = "x" && link.l = "y" }"#, &trace, &[]);
    assert_matches(r#"{ event.a = 2 && link.l = nil }"#, &trace, &["no-links"]);
}
