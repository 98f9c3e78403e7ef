//! Tests of the spanset operators (§5) on the tree root → a → c, root → b.

use crate::traceql::eval::EvalError;
use crate::traceql::eval::test_trace::*;

fn strs(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

/// Asserts the spans of the single resulting spanset, in result order (none: no spanset).
#[track_caller]
fn assert_result(query: &str, trace: &crate::traceql::eval::EvalTrace, expected: &[&str]) {
    let result = names(query, trace);
    if expected.is_empty() {
        assert!(result.is_empty(), "{query}: {result:?}");
    } else {
        assert_eq!(result, vec![strs(expected)], "{query}");
    }
}

#[test]
fn structural_operators_return_related_right_hand_spans() {
    let trace = trace_of(small_tree());
    for (query, expected) in [
        (r#"{ name = "root" } > { }"#, &["a", "b"][..]),
        ("{ } > { }", &["a", "b", "c"]),
        (r#"{ name = "a" } < { }"#, &["root"]),
        ("{ } < { }", &["root", "a"]),
        (r#"{ name = "root" } >> { }"#, &["a", "b", "c"]),
        (r#"{ name = "a" } >> { }"#, &["c"]),
        (r#"{ name = "c" } << { }"#, &["root", "a"]),
        (r#"{ name = "b" } << { }"#, &["root"]),
        (r#"{ name = "a" } ~ { }"#, &["b"]),
        ("{ } ~ { }", &["a", "b"]),
        (r#"{ name = "c" } > { }"#, &[]),
        (r#"{ name = "zzz" } >> { }"#, &[]),
    ] {
        assert_result(query, &trace, expected);
    }
}

#[test]
fn a_span_is_never_its_own_relative() {
    let trace = trace_of(small_tree());
    assert_result(r#"{ name = "a" } ~ { name = "a" }"#, &trace, &[]);
    assert_result(r#"{ name = "a" } >> { name = "a" }"#, &trace, &[]);
    assert_result(r#"{ name = "a" } << { name = "a" }"#, &trace, &[]);
    assert_result(r#"{ name = "a" } > { name = "a" }"#, &trace, &[]);
    assert_result(r#"{ } >> { name = "a" }"#, &trace, &["a"]);
}

#[test]
fn negated_operators_return_right_hand_spans_without_a_relative() {
    let trace = trace_of(small_tree());
    for (query, expected) in [
        (r#"{ name = "root" } !> { }"#, &["root", "c"][..]),
        (r#"{ name = "a" } !< { }"#, &["a", "b", "c"]),
        // The leaf spans.
        ("{ } !< { }", &["b", "c"]),
        (r#"{ name = "root" } !>> { }"#, &["root"]),
        (r#"{ name = "c" } !<< { }"#, &["b", "c"]),
        (r#"{ name = "a" } !~ { }"#, &["root", "a", "c"]),
        // An empty left side relates to nothing: all of the right side.
        (r#"{ name = "zzz" } !> { }"#, &["root", "a", "b", "c"]),
        (r#"{ } !> { name = "zzz" }"#, &[]),
    ] {
        assert_result(query, &trace, expected);
    }
}

#[test]
fn union_operators_return_both_sides_of_each_pair() {
    let trace = trace_of(small_tree());
    for (query, expected) in [
        (r#"{ name = "root" } &> { name = "a" }"#, &["root", "a"][..]),
        (r#"{ name = "a" } &> { }"#, &["a", "c"]),
        (r#"{ name = "c" } &< { }"#, &["c", "a"]),
        (r#"{ name = "root" } &>> { name = "c" }"#, &["root", "c"]),
        (r#"{ name = "c" } &<< { name = "root" }"#, &["c", "root"]),
        (r#"{ name = "a" } &~ { }"#, &["a", "b"]),
        (r#"{ name = "c" } &> { }"#, &[]),
        (r#"{ name = "zzz" } &> { }"#, &[]),
    ] {
        assert_result(query, &trace, expected);
    }
}

#[test]
fn spans_with_a_shared_id_never_relate_so_negations_return_them() {
    let mut spans = small_tree();
    spans.push(span("dup", 4, Some(1)));
    let trace = trace_of(spans);
    assert_result(r#"{ name = "root" } > { }"#, &trace, &["a"]);
    assert_result(r#"{ name = "root" } !> { }"#, &trace, &["root", "b", "c", "dup"]);
    assert_result(r#"{ name = "root" } >> { }"#, &trace, &["a", "c"]);
    assert_result("{ } ~ { }", &trace, &[]);
    assert_result(r#"{ name = "b" } << { }"#, &trace, &[]);
    assert_result(r#"{ name = "root" } &> { }"#, &trace, &["root", "a"]);
}

#[test]
fn and_needs_both_sides_and_gives_their_distinct_union() {
    let trace = trace_of(vec![
        span("both", 1, None).attr("x", 1i64).attr("y", 2i64),
        span("x-only", 2, None).attr("x", 1i64),
    ]);
    assert_result("{ .x = 1 } && { .y = 2 }", &trace, &["both", "x-only"]);
    assert_result("{ .y = 2 } && { .x = 1 }", &trace, &["both", "x-only"]);
    assert_result("{ .y = 2 } && { .y = 2 }", &trace, &["both"]);
    assert_result("{ .x = 1 } && { .z = 3 }", &trace, &[]);
}

#[test]
fn or_needs_either_side() {
    let trace = trace_of(small_tree());
    assert_result(r#"{ name = "b" } || { name = "a" }"#, &trace, &["b", "a"]);
    assert_result(r#"{ name = "zzz" } || { name = "a" }"#, &trace, &["a"]);
    assert_result(r#"{ name = "a" } || { name = "zzz" }"#, &trace, &["a"]);
    assert_result(r#"{ name = "zzz" } || { name = "yyy" }"#, &trace, &[]);
}

#[test]
fn operators_combine_left_to_right() {
    let trace = trace_of(small_tree());
    // ({root} > {}) && {c}: a, b and c.
    assert_result(r#"{ name = "root" } > { } && { name = "c" }"#, &trace, &["a", "b", "c"]);
    // ({} > {}) > {}: children of a, b, c.
    assert_result("{ } > { } > { }", &trace, &["c"]);
}

#[test]
fn a_pipeline_operand_is_run_on_the_input_spanset() {
    let trace = trace_of(small_tree());
    assert_result(r#"({ } | count() > 3) >> ({ name = "c" })"#, &trace, &["c"]);
    assert_result(r#"({ } | count() > 10) >> ({ name = "c" })"#, &trace, &[]);
    assert_result(r#"({ name = "zzz" } | count() > 10) !>> ({ name = "c" })"#, &trace, &["c"]);
}

#[test]
fn an_operand_with_several_spansets_fails_and_suggests_coalesce() {
    let trace = trace_of(small_tree());
    let error = run("({ } | by(name)) > ({ })", &trace).unwrap_err();
    assert!(matches!(error, EvalError::MultipleSpansets { count: 4, .. }), "{error:?}");
    assert!(error.to_string().contains("coalesce()"), "{error}");
    // One spanset per operand is fine even when the input holds several; each is combined
    // separately, so relations across groups are not seen.
    assert_eq!(names("{ } | by(name) | { } && { }", &trace).len(), 4);
    assert!(names("{ } | by(name) | { } > { }", &trace).is_empty());
    assert_result("({ } | by(name) | coalesce()) > ({ })", &trace, &["a", "b", "c"]);
}

/// The left side is indexed once, so a large trace does not take quadratic time.
#[test]
fn structural_operators_on_a_large_trace_finish_quickly() {
    // A root with 2 000 children, each the head of a chain of 10 spans.
    let mut spans = vec![span("root", 1, None)];
    for chain in 0..2_000u64 {
        let head = 10 + chain * 10;
        spans.push(span("head", head, Some(1)));
        for depth in 1..10 {
            spans.push(span("link", head + depth, Some(head + depth - 1)));
        }
    }
    let trace = trace_of(spans);
    let started = std::time::Instant::now();
    assert_eq!(names("{ } >> { }", &trace)[0].len(), 20_000);
    assert_eq!(names("{ } << { }", &trace)[0].len(), 2_000 * 9 + 1);
    assert_eq!(names("{ } ~ { }", &trace)[0].len(), 2_000);
    assert_eq!(names("{ } !> { }", &trace)[0].len(), 1);
    assert_eq!(names("{ } &>> { }", &trace)[0].len(), 20_001);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}
