use super::*;
use crate::traceql::ast::{Kind, Status};
use crate::traceql::parse;

fn cond(query: &str) -> TraceCond {
    TraceCond::of_query(&parse(query).expect(query))
}

fn leaf(target: Target, test: LeafTest) -> SpanCond {
    SpanCond::Test(Leaf { target, test })
}

fn eq(literal: Static) -> LeafTest {
    LeafTest::Compare(CmpOp::Eq, literal)
}

#[test]
fn a_simple_filter_needs_one_span_that_passes_it() {
    assert_eq!(
        cond("{ span.http.status_code = 500 }"),
        TraceCond::Has(leaf(Target::SpanAttr("http.status_code".into()), eq(Static::Int(500))))
    );
    assert_eq!(
        cond(r#"{ "x" = name }"#),
        TraceCond::Has(leaf(Target::Name, eq(Static::Str("x".into()))))
    );
    assert_eq!(
        cond("{ 1s < duration }"),
        TraceCond::Has(leaf(
            Target::Duration,
            LeafTest::Compare(CmpOp::Gt, Static::Duration(1_000_000_000))
        ))
    );
}

#[test]
fn an_unscoped_attribute_reads_span_or_resource() {
    assert_eq!(
        cond(r#"{ .a =~ "x.*" }"#),
        TraceCond::Has(SpanCond::Any(vec![
            leaf(
                Target::SpanAttr("a".into()),
                LeafTest::Regex { pattern: "x.*".into(), negated: false }
            ),
            leaf(
                Target::ResourceAttr("a".into()),
                LeafTest::Regex { pattern: "x.*".into(), negated: false }
            ),
        ]))
    );
}

#[test]
fn structure_needs_both_sides_and_negated_structure_either() {
    let server = leaf(Target::Kind, eq(Static::Kind(Kind::Server)));
    let error = leaf(Target::Status, eq(Static::Status(Status::Error)));
    let both = TraceCond::All(vec![TraceCond::Has(server.clone()), TraceCond::Has(error.clone())]);
    let either = TraceCond::Any(vec![TraceCond::Has(server), TraceCond::Has(error)]);
    assert_eq!(cond("{ kind = server } >> { status = error }"), both);
    assert_eq!(cond("{ kind = server } &>> { status = error }"), both);
    assert_eq!(cond("{ kind = server } && { status = error }"), both);
    assert_eq!(cond("{ kind = server } !>> { status = error }"), either);
    assert_eq!(cond("{ kind = server } || { status = error }"), either);
}

#[test]
fn what_is_not_understood_is_always_true() {
    for query in [
        "{ }",
        "{ true }",
        r#"{ !(name = "x") }"#,
        "{ span.a + 1 = 2 }",
        "{ event.a = 1 }",
        "{ link:traceID = \"00\" }",
        "{ trace:duration > 1s }",
        "{ span.a = nil }",
        "{ duration > 1.5 }",
        "{ status > error }",
        r#"{ name = "a" } || { }"#,
        r#"{ name = "a" || span.b + 1 = 2 }"#,
    ] {
        assert_eq!(cond(query), TraceCond::Always, "{query}");
    }
}

#[test]
fn every_spanset_stage_of_a_pipeline_is_needed() {
    let a = TraceCond::Has(leaf(Target::Name, eq(Static::Str("a".into()))));
    let b = TraceCond::Has(leaf(Target::SpanAttr("b".into()), LeafTest::Exists));
    assert_eq!(
        cond(r#"{ name = "a" } | count() > 2 | { span.b != nil } | by(resource.service.name)"#),
        TraceCond::All(vec![a.clone(), b])
    );
    assert_eq!(cond(r#"({ name = "a" } | count() > 1) >> ({ })"#), a);
}

#[test]
fn holds_reads_span_results_in_span_conds_order() {
    let query = r#"({ name = "a" } && { name = "b" }) || { name = "c" }"#;
    let cond = cond(query);
    assert_eq!(cond.span_conds().len(), 3);
    assert!(cond.holds(&[true, true, false]));
    assert!(!cond.holds(&[true, false, false]));
    assert!(cond.holds(&[false, false, true]));
    assert!(TraceCond::Always.holds(&[]));
}
