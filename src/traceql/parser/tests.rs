//! Parser tests: tree shapes, precedence, folding, the grammar's corners, error positions,
//! and printing back. Queries here are our own; the conformance corpus runs from the CLI.

use super::super::ast::*;
use super::parse;

fn p(src: &str) -> Query {
    match parse(src) {
        Ok(q) => q,
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

fn fails(src: &str) -> String {
    match parse(src) {
        Ok(q) => panic!("{src:?} should not parse, got {q:?}"),
        Err(e) => e.to_string(),
    }
}

/// The one filter expression of `{ … }`.
fn filter(src: &str) -> FieldExpr {
    match p(src).body {
        Body::Search(Pipeline { mut stages }) if stages.len() == 1 => match stages.remove(0) {
            Stage::Spanset(SpansetExpr::Filter(e)) => e,
            s => panic!("not a filter: {s:?}"),
        },
        b => panic!("not a search: {b:?}"),
    }
}

/// Both sides print the same tree.
fn same(a: &str, b: &str) {
    assert_eq!(p(a), p(b), "{a:?} and {b:?} differ");
}

/// Printing gives text that parses to the same tree.
fn round_trip(src: &str) {
    let q = p(src);
    let text = q.to_string();
    assert_eq!(p(&text), q, "{src:?} printed as {text:?}");
}

fn attr(name: &str) -> FieldExpr {
    FieldExpr::Ref(FieldRef::Attribute(Attribute {
        scope: AttributeScope::None,
        parent: false,
        name: name.to_string(),
    }))
}

fn bin(op: BinaryOp, l: FieldExpr, r: FieldExpr) -> FieldExpr {
    FieldExpr::Binary { op, lhs: Box::new(l), rhs: Box::new(r) }
}

fn un(op: UnaryOp, e: FieldExpr) -> FieldExpr {
    FieldExpr::Unary { op, expr: Box::new(e) }
}

#[test]
fn field_precedence_follows_tempo() {
    use BinaryOp::*;
    let (a, b, c) = (attr("a"), attr("b"), attr("c"));
    // && and || share one level, left to right.
    assert_eq!(filter("{ .a || .b && .c }"), bin(And, bin(Or, a.clone(), b.clone()), c.clone()));
    assert_eq!(filter("{ .a && .b = .c }"), bin(And, a.clone(), bin(Eq, b.clone(), c.clone())));
    // Prefix minus binds looser than * and ^; prefix ! looser than *, tighter than =.
    assert_eq!(
        filter("{ -.a * .b = 1 }"),
        bin(
            Eq,
            un(UnaryOp::Neg, bin(Mul, a.clone(), b.clone())),
            FieldExpr::Static(Static::Int(1))
        )
    );
    assert_eq!(filter("{ !.a = .b }"), bin(Eq, un(UnaryOp::Not, a.clone()), b.clone()));
    assert_eq!(filter("{ !.a * .b }"), un(UnaryOp::Not, bin(Mul, a.clone(), b.clone())));
    // ^ is right-associative.
    assert_eq!(filter("{ .a ^ .b ^ .c }"), bin(Pow, a.clone(), bin(Pow, b.clone(), c.clone())));
    same("{ .a - .b - .c = 1 }", "{ (.a - .b) - .c = 1 }");
}

#[test]
fn spanset_operators_share_levels_like_field_operators() {
    same("{ .a } || { .b } && { .c }", "({ .a } || { .b }) && { .c }");
    same("{ .a } >> { .b } && { .c }", "({ .a } >> { .b }) && { .c }");
    same("{ .a } && { .b } >> { .c }", "{ .a } && ({ .b } >> { .c })");
    same("{ .a } > { .b } < { .c }", "({ .a } > { .b }) < { .c }");
}

#[test]
fn constants_fold_while_parsing() {
    assert_eq!(filter("{ 1 = 1. }"), FieldExpr::Static(Static::Bool(true)));
    assert_eq!(filter("{ 1 + 1 }"), FieldExpr::Static(Static::Int(2)));
    assert_eq!(filter("{ -5s = .a }").to_string(), "-5s = .a");
    assert_eq!(filter("{ 2 ^ 3 ^ 2 = .a }").to_string(), "512 = .a");
    // Not folded: invalid, or without a value.
    assert!(matches!(filter("{ 1 = \"x\" }"), FieldExpr::Binary { .. }));
    assert!(matches!(filter("{ 1 / 0 = .a }"), FieldExpr::Binary { .. }));
    assert_eq!(filter("{ nil = nil }"), FieldExpr::Static(Static::Bool(false)));
    // Trace ids lose leading zeros.
    assert_eq!(filter("{ trace:id = \"00ab\" }").to_string(), "trace:id = \"ab\"");
}

#[test]
fn nil_is_a_presence_test() {
    assert_eq!(filter("{ .a = nil }"), un(UnaryOp::NotExists, attr("a")));
    assert_eq!(filter("{ nil != .a }"), un(UnaryOp::Exists, attr("a")));
    assert_eq!(
        filter("{ .a = nil && .b }"),
        bin(BinaryOp::And, un(UnaryOp::NotExists, attr("a")), attr("b"))
    );
    for bad in ["{ nil }", "{ .a > nil }", "{ (nil) = .a }", "{ -nil }"] {
        fails(bad);
    }
}

#[test]
fn intrinsics_have_one_node_for_both_spellings() {
    same("{ duration > 1s }", "{ span:duration > 1s }");
    same("{ rootServiceName = \"a\" }", "{ trace:rootService = \"a\" }");
    same("{ traceDuration > 1s }", "{ trace: duration > 1s }");
    for bad in [
        "{ trace:name = \"a\" }",
        "{ span:rootName = \"a\" }",
        "{ childCount > 1 }",
        "{ Status = error }",
        "{ status = ERROR }",
    ] {
        fails(bad);
    }
}

#[test]
fn pipelines_and_stages() {
    let q = p("{ .a } | by(.b) | count() > 2 | coalesce() | select(.c, span:id)");
    let Body::Search(pipeline) = q.body else { panic!("search expected") };
    assert_eq!(pipeline.stages.len(), 5);
    assert!(matches!(pipeline.stages[2], Stage::Scalar(_)));
    fails("coalesce() | { true }");
    fails("{ true } | count()");
    fails("{ true } | by()");
    fails("select()");
    fails("{ } | count() > 1 && { .a }");
    fails("{} > 10");
}

#[test]
fn chains_of_parenthesised_pipelines() {
    round_trip("({ .a } | count() > 1) >> ({ .b })");
    round_trip("({ .a } | count() > 1) && ({ .b } | { .c }) || ({ .d } >> { .e })");
    round_trip("(({ .a } | { .b }) >> ({ .c })) ~ ({ .d })");
    // The first operand must really be a pipeline; later ones must be parenthesised.
    fails("({ .a }) >> ({ .b } | count() > 1)");
    fails("({ .a } | { .c }) && { .b }");
    fails("{ .b } && ({ .a } | { .c })");
    fails("({ .a } | { .b }) | count() > 1");
    // A parenthesised spanset expression is not a pipeline, so this is a plain search.
    p("({ .a } >> { .b }) | rate()");
}

#[test]
fn aggregate_filters_and_their_constants() {
    round_trip("avg(.field) > 1 - 3");
    assert_eq!(p("avg(.f) > 1 - 3").to_string(), "avg(.f) > -2");
    assert_eq!(p("min(span:childCount) < 2 / 6").to_string(), "min(span:childCount) < 0");
    p("2 < count()");
    p("count() + count() = 1");
    fails("max(name) = \"foo\"");
    fails("avg(.field) + 1");
    fails("count() > 2 ^ 3");
    fails("count() > 1 / 0");
    fails("2 * 3");
    fails("3 = 2");
}

#[test]
fn metrics_queries() {
    same("{} | rate() > 10", "({} | rate()) > 10");
    same("{} | rate() | topk(5) > 1", "({} | rate() | topk(5)) > 1");
    round_trip("{ } | quantile_over_time(duration, 0, 0.9, 1) by (span.http.path) | topk(10)");
    round_trip("({} | rate() > 6) * 100 > 5");
    round_trip("100 * ({} | rate()) / ({} | count_over_time())");
    round_trip("({} | rate()) - -5");
    round_trip("{} | compare({ status = error }, 5, 1, 2)");
    round_trip(
        "{} | rate() by (span:name, resource.service.name) with(sample=0.1, exemplars=false)",
    );
    assert_eq!(p("({} | rate()) + 3 * 2").to_string(), "({ true } | rate()) + 6");
    assert_eq!(p("1 + 2 + ({} | rate())").to_string(), "3 + ({ true } | rate())");
    for bad in [
        "{} | rate() + 5",
        "-({} | rate())",
        "(({} | rate()) > 5)",
        "({} | rate()) % 10",
        "({} | rate()) * 10s",
        "({} | rate()) > (10s * 2)",
        "({} | rate()) * 100000000000000000000000000000",
        "{} | topk(10)",
        "{} | rate() | topk(-1)",
        "{} | compare({ .a }, 1, 2)",
        "{} | min_over_time(.a + 1)",
        "{} | count_over_time(duration)",
    ] {
        fails(bad);
    }
    p("({} | rate()) > 10s");
}

#[test]
fn hints_keep_the_last_clause() {
    let q = p("{ .a } with(sample=true) with(most_recent=true, x=\"y\")");
    assert_eq!(q.hints.len(), 2);
    assert_eq!(q.hints[0].name, "most_recent");
    fails("{ .a } with()");
    fails("{ .a } with(sample=-1)");
    fails("{ .a } with(count=1)");
}

#[test]
fn unknown_identifiers_are_parse_errors_with_their_position() {
    let e = fails("{ .a = 1 &&\n  foo = 2 }");
    assert_eq!(e, "parse error at line 2, col 3: unknown identifier: foo");
    assert_eq!(p("{ .a = minInt }").to_string(), "{ .a = minInt }");
}

#[test]
fn errors_point_at_the_furthest_problem() {
    let e = parse("{ .a = 1 } | { .b = }").unwrap_err();
    assert_eq!((e.line, e.col), (1, 21));
    assert_eq!(e.span, 20..21);
    assert!(e.message.contains("expected an expression"), "{}", e.message);
    let e = parse("{ .a = 1").unwrap_err();
    assert_eq!(e.span, 8..8);
    assert!(e.message.contains("the end of the query"), "{}", e.message);
}

#[test]
fn printing_reads_back() {
    for q in [
        "{ -.a * .b = 1 }",
        "{ (-.a) * .b = 1 }",
        "{ .a + -.b = 1 }",
        "{ -(.a + .b) = 1 }",
        "{ (-2) * .a = 1 }",
        "{ !(.a && .b) }",
        "{ !!.a }",
        "{ (.a = .b) != nil }",
        "{ .a = (.b != nil) }",
        "{ .\"foo bar\" = \"a\\\"b\\n\" && span.\"x{y}\" = 1 }",
        "{ .\"1a\" = 1 }",
        "{ parent.\"span.x\" = 1 }",
        "{ parent.span.x = 1 }",
        "{ .a = 1.5e300 && .b = 1e-7 && .c = -0.0 }",
        "{ .a = 1h30m15s && .b = -1500ms }",
        "{ .a ^ (.b ^ .c) = (.a ^ .b) ^ .c }",
        "{ event:name = \"e\" } >> { link:traceID = \"x\" } !~ { instrumentation:version = \"1\" }",
        "({ .a } | count()) > 1",
        "({ .a } | count()) / ({ .b } | avg(duration)) > 2",
    ] {
        round_trip(q);
    }
}
