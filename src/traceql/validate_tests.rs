//! Tests of the validation pass on hand-built trees (the shapes the parser produces: constants
//! folded, parentheses gone, `x = nil` as `NotExists`).
//!
//! Assertions look at the error kind and at this module's own wording, never at how the
//! `Display` impls print an expression.

use super::*;
use crate::traceql::ast::{
    AggregateFn, ArithOp, Body, CmpOp, Hint, Kind, MathOp, MetricsExpr, MetricsFunction,
    MetricsPipeline, MetricsQuery, OverTimeFn, Pipeline, PipelineCompare, PipelineScalar,
    SpansetExpr, SpansetOp, Stage, Status,
};

// --- builders ---------------------------------------------------------------------------------

fn int(v: i64) -> FieldExpr {
    FieldExpr::Static(Static::Int(v))
}
fn float(v: f64) -> FieldExpr {
    FieldExpr::Static(Static::Float(v))
}
fn string(v: &str) -> FieldExpr {
    FieldExpr::Static(Static::Str(v.to_owned()))
}
fn boolean(v: bool) -> FieldExpr {
    FieldExpr::Static(Static::Bool(v))
}
fn hours(n: i64) -> FieldExpr {
    FieldExpr::Static(Static::Duration(n * 3_600_000_000_000))
}
fn status(v: Status) -> FieldExpr {
    FieldExpr::Static(Static::Status(v))
}
fn kind(v: Kind) -> FieldExpr {
    FieldExpr::Static(Static::Kind(v))
}
fn attribute(scope: AttributeScope, parent: bool, name: &str) -> FieldRef {
    FieldRef::Attribute(Attribute { scope, parent, name: name.to_owned() })
}
/// `.name`
fn attr(name: &str) -> FieldExpr {
    FieldExpr::Ref(attribute(AttributeScope::None, false, name))
}
/// `scope.name`
fn scoped(scope: AttributeScope, name: &str) -> FieldExpr {
    FieldExpr::Ref(attribute(scope, false, name))
}
/// `parent.name`
fn parent_attr(name: &str) -> FieldExpr {
    FieldExpr::Ref(attribute(AttributeScope::None, true, name))
}
fn intrinsic(i: Intrinsic) -> FieldExpr {
    FieldExpr::Ref(FieldRef::Intrinsic(i))
}
fn bin(lhs: FieldExpr, op: BinaryOp, rhs: FieldExpr) -> FieldExpr {
    FieldExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
}
fn unary(op: UnaryOp, expr: FieldExpr) -> FieldExpr {
    FieldExpr::Unary { op, expr: Box::new(expr) }
}
fn neg(expr: FieldExpr) -> FieldExpr {
    unary(UnaryOp::Neg, expr)
}
fn not(expr: FieldExpr) -> FieldExpr {
    unary(UnaryOp::Not, expr)
}
/// `expr = nil`
fn is_nil(expr: FieldExpr) -> FieldExpr {
    unary(UnaryOp::NotExists, expr)
}
/// `expr != nil`
fn not_nil(expr: FieldExpr) -> FieldExpr {
    unary(UnaryOp::Exists, expr)
}

fn filter(expr: FieldExpr) -> Stage {
    Stage::Spanset(SpansetExpr::Filter(expr))
}
fn search(stages: Vec<Stage>) -> Query {
    Query { body: Body::Search(Pipeline { stages }), hints: vec![] }
}
/// `{ expr }`
fn braces(expr: FieldExpr) -> Query {
    search(vec![filter(expr)])
}
fn aggregate(func: AggregateFn, arg: FieldExpr) -> ScalarExpr {
    ScalarExpr::Aggregate(Aggregate { func, arg: Some(arg) })
}
fn count() -> ScalarExpr {
    ScalarExpr::Aggregate(Aggregate { func: AggregateFn::Count, arg: None })
}
fn constant(value: Static) -> ScalarExpr {
    ScalarExpr::Static(value)
}
fn scalar_arith(lhs: ScalarExpr, op: ArithOp, rhs: ScalarExpr) -> ScalarExpr {
    ScalarExpr::Arith { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
}
fn scalar(lhs: ScalarExpr, op: CmpOp, rhs: ScalarExpr) -> Stage {
    Stage::Scalar(ScalarFilter { op, lhs, rhs })
}
/// `{ true } | <stage>`
fn after_true(stage: Stage) -> Query {
    search(vec![filter(boolean(true)), stage])
}

fn metrics_pipeline(function: MetricsFunction, second_stage: Vec<SecondStage>) -> MetricsExpr {
    let pipeline = Pipeline { stages: vec![filter(boolean(true))] };
    MetricsExpr::Pipeline(MetricsPipeline { pipeline, function, second_stage })
}
/// `{} | function second_stage…`
fn metrics(function: MetricsFunction, second_stage: Vec<SecondStage>) -> Query {
    let expr = metrics_pipeline(function, second_stage);
    Query { body: Body::Metrics(MetricsQuery { expr, second_stage: vec![] }), hints: vec![] }
}
fn metrics_math(lhs: MetricsExpr, op: MathOp, rhs: MetricsExpr, outer: Vec<SecondStage>) -> Query {
    let expr = MetricsExpr::Arith { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
    Query { body: Body::Metrics(MetricsQuery { expr, second_stage: outer }), hints: vec![] }
}
fn rate() -> MetricsFunction {
    MetricsFunction::Rate { by: vec![] }
}
fn by_fields(n: usize) -> Vec<FieldRef> {
    (0..n).map(|i| attribute(AttributeScope::Span, false, &format!("f{i}"))).collect()
}
fn compare(filter: FieldExpr, top_n: i64, start_ns: i64, end_ns: i64) -> MetricsFunction {
    MetricsFunction::Compare { filter, top_n, start_ns, end_ns }
}
fn status_is_error() -> FieldExpr {
    bin(intrinsic(Intrinsic::Status), BinaryOp::Eq, status(Status::Error))
}
/// `({ lhs_filter } | count()) op rhs`
fn pipeline_compare(lhs_filter: FieldExpr, op: CmpOp, rhs: PipelineScalar) -> Query {
    let lhs = PipelineScalar::Aggregate {
        pipeline: Pipeline { stages: vec![filter(lhs_filter)] },
        aggregate: Aggregate { func: AggregateFn::Count, arg: None },
    };
    Query { body: Body::PipelineCompare(PipelineCompare { op, lhs, rhs }), hints: vec![] }
}

#[track_caller]
fn assert_valid(query: Query) {
    assert_eq!(validate(&query), Ok(()), "{query:?}");
}
#[track_caller]
fn assert_invalid(query: Query, fragment: &str) {
    match validate(&query) {
        Err(ValidateError::Invalid(message)) => {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
        other => panic!("expected an invalid-query error, got {other:?} for {query:?}"),
    }
}
#[track_caller]
fn assert_unsupported(query: Query, fragment: &str) {
    match validate(&query) {
        Err(ValidateError::Unsupported(message)) => {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
        other => panic!("expected an unsupported error, got {other:?} for {query:?}"),
    }
}

use AttributeScope as Scope;
use BinaryOp as B;
use Intrinsic as I;

// --- types ------------------------------------------------------------------------------------

#[test]
fn implied_type_follows_the_spec_table() {
    use StaticType as T;
    assert_eq!(implied_type(&int(1)), T::Int);
    assert_eq!(implied_type(&float(1.5)), T::Float);
    assert_eq!(implied_type(&string("a")), T::String);
    assert_eq!(implied_type(&hours(1)), T::Duration);
    assert_eq!(implied_type(&status(Status::Ok)), T::Status);
    assert_eq!(implied_type(&kind(Kind::Server)), T::Kind);
    assert_eq!(implied_type(&attr("a")), T::Dynamic);
    for (i, expected) in [
        (I::Duration, T::Duration),
        (I::TraceDuration, T::Duration),
        (I::EventTimeSinceStart, T::Duration),
        (I::Name, T::String),
        (I::TraceRootService, T::String),
        (I::TraceId, T::String),
        (I::LinkSpanId, T::String),
        (I::InstrumentationVersion, T::String),
        (I::Status, T::Status),
        (I::Kind, T::Kind),
        (I::ChildCount, T::Int),
        (I::NestedSetParent, T::Int),
    ] {
        assert_eq!(implied_type(&intrinsic(i)), expected, "{i:?}");
    }
}

#[test]
fn implied_type_of_operations() {
    use StaticType as T;
    assert_eq!(implied_type(&bin(int(1), B::Add, attr("a"))), T::Int);
    assert_eq!(implied_type(&bin(attr("a"), B::Add, float(1.0))), T::Float);
    assert_eq!(implied_type(&bin(attr("a"), B::Mul, attr("b"))), T::Dynamic);
    assert_eq!(implied_type(&bin(hours(1), B::Mul, int(2))), T::Duration);
    assert_eq!(implied_type(&bin(int(1), B::Lt, int(2))), T::Bool);
    assert_eq!(implied_type(&bin(attr("a"), B::Regex, string("x"))), T::Bool);
    assert_eq!(implied_type(&bin(attr("a"), B::Or, attr("b"))), T::Bool);
    assert_eq!(implied_type(&neg(attr("a"))), T::Dynamic);
    assert_eq!(implied_type(&neg(hours(1))), T::Duration);
    assert_eq!(
        implied_type(&not(attr("a"))),
        T::Dynamic,
        "as in Tempo, ! keeps its operand's type"
    );
    assert_eq!(implied_type(&not(boolean(true))), T::Bool);
    assert_eq!(implied_type(&is_nil(attr("a"))), T::Bool);
    assert_eq!(implied_type(&not_nil(intrinsic(I::Name))), T::Bool);
}

// --- filters ----------------------------------------------------------------------------------

#[test]
fn valid_filters_pass() {
    for expr in [
        boolean(true),
        attr("a"),
        not(attr("a")),
        bin(neg(attr("a")), B::Eq, int(2)),
        bin(attr("a"), B::Regex, string("test")),
        bin(attr("a"), B::NotRegex, string("a.*")),
        bin(string("test"), B::Regex, string("test")),
        bin(scoped(Scope::None, "http.status"), B::Gte, string("200")),
        bin(intrinsic(I::Duration), B::Gt, FieldExpr::Static(Static::Duration(1_000_000_000))),
        bin(int(1), B::Lt, hours(1)),
        bin(int(1), B::Lte, float(1.1)),
        bin(intrinsic(I::TraceId), B::Eq, string("abc")),
        bin(intrinsic(I::ChildCount), B::Gt, int(2)),
        bin(intrinsic(I::NestedSetLeft), B::Gt, int(3)),
        bin(intrinsic(I::Status), B::Neq, status(Status::Error)),
        bin(intrinsic(I::Kind), B::Eq, kind(Kind::Consumer)),
        bin(intrinsic(I::StatusMessage), B::Regex, string(".*")),
        bin(bin(attr("a"), B::Pow, int(1)), B::Eq, int(2)),
        bin(intrinsic(I::Duration), B::Lt, bin(hours(1), B::Mul, hours(2))),
        bin(bin(attr("a"), B::Eq, int(1)), B::Or, bin(attr("a"), B::Eq, int(2))),
        bin(attr("a"), B::And, boolean(false)),
        not_nil(intrinsic(I::Name)),
        not_nil(attr("foo")),
        not_nil(scoped(Scope::Resource, "service.name")),
        is_nil(attr("foo")),
        is_nil(scoped(Scope::Span, "service.name")),
        // { !("test" != .c || ((true && .b) || 3 < .a)) }
        not(bin(
            bin(string("test"), B::Neq, attr("c")),
            B::Or,
            bin(bin(boolean(true), B::And, attr("b")), B::Or, bin(int(3), B::Lt, attr("a"))),
        )),
    ] {
        assert_valid(braces(expr));
    }
}

#[test]
fn filter_body_must_be_boolean_or_attribute() {
    for (expr, found) in [
        (int(1), "found int"),
        (int(2), "found int"), // { 1 + 1 }, folded
        (float(1.1), "found float"),
        (hours(1), "found duration"),
        (string("foo"), "found string"),
        (intrinsic(I::Status), "found status"),
        (intrinsic(I::Kind), "found kind"),
        (status(Status::Ok), "found status"),
        (bin(attr("a"), B::Add, int(1)), "found int"),
    ] {
        assert_invalid(braces(expr), found);
    }
    assert_invalid(braces(int(1)), "spanset filter must be a boolean expression");
}

#[test]
fn incompatible_operands_are_rejected() {
    for (expr, fragment) in [
        (bin(int(1), B::Eq, string("foo")), "cannot compare int with string"),
        (bin(int(1), B::Neq, boolean(true)), "cannot compare int with bool"),
        (bin(int(1), B::Gt, status(Status::Ok)), "cannot compare int with status"),
        (bin(int(1), B::Eq, intrinsic(I::Name)), "cannot compare int with string"),
        (bin(intrinsic(I::TraceDuration), B::Gt, string("test")), "duration with string"),
        (bin(intrinsic(I::TraceRootService), B::Eq, int(1)), "string with int"),
        (bin(intrinsic(I::TraceRootName), B::Neq, float(3.2)), "string with float"),
        (bin(string("foo"), B::Eq, intrinsic(I::ChildCount)), "string with int"),
        (bin(intrinsic(I::Status), B::Eq, int(2)), "status with int"),
        (bin(intrinsic(I::Kind), B::Eq, string("server")), "kind with string"),
        (bin(intrinsic(I::NestedSetLeft), B::Eq, string("foo")), "int with string"),
        (bin(intrinsic(I::NestedSetRight), B::Eq, boolean(false)), "int with bool"),
        (bin(intrinsic(I::NestedSetParent), B::Gt, string("foo")), "int with string"),
        (bin(int(1), B::Regex, string("x")), "cannot compare int with string"),
        (bin(int(1), B::And, string("foo")), "cannot apply && to int and string"),
        (bin(int(1), B::Or, status(Status::Ok)), "cannot apply || to int and status"),
        (bin(boolean(true), B::Or, float(1.1)), "cannot apply || to bool and float"),
    ] {
        assert_invalid(braces(expr), fragment);
    }
}

#[test]
fn arithmetic_needs_numbers_and_is_checked_below_the_comparison() {
    for (arith, fragment) in [
        (bin(int(1), B::Add, string("foo")), "cannot apply + to int and string"),
        (bin(int(1), B::Sub, boolean(true)), "cannot apply - to int and bool"),
        (bin(int(1), B::Div, status(Status::Ok)), "cannot apply / to int and status"),
        (bin(int(1), B::Pow, intrinsic(I::Name)), "cannot apply ^ to int and string"),
        (bin(string("a"), B::Add, string("b")), "operator + is not defined for string"),
        (bin(attr("a"), B::Mul, boolean(true)), "operator * is not defined for bool"),
        (bin(attr("a"), B::Mod, kind(Kind::Client)), "operator % is not defined for kind"),
    ] {
        assert_invalid(braces(bin(arith, B::Eq, int(1))), fragment);
    }
}

#[test]
fn operators_are_checked_per_type() {
    for (expr, fragment) in [
        (
            bin(intrinsic(I::Status), B::Gt, status(Status::Ok)),
            "operator > is not defined for status",
        ),
        (
            bin(intrinsic(I::Kind), B::Lt, kind(Kind::Consumer)),
            "operator < is not defined for kind",
        ),
        (bin(int(1), B::Regex, int(2)), "operator =~ is not defined for int"),
        (bin(int(1), B::NotRegex, int(2)), "operator !~ is not defined for int"),
        (bin(attr("a"), B::Regex, int(2)), "operator =~ is not defined for int"),
        (bin(boolean(true), B::Lt, attr("a")), "operator < is not defined for bool"),
        (bin(attr("a"), B::And, int(1)), "operator && is not defined for int"),
    ] {
        assert_invalid(braces(expr), fragment);
    }
}

#[test]
fn regex_needs_a_compiling_string_literal_on_the_right() {
    let right_side = "the right side of =~ must be a string literal";
    assert_invalid(braces(bin(attr("a"), B::Regex, attr("b"))), right_side);
    let neg_right_side = "the right side of !~ must be a string literal";
    assert_invalid(braces(bin(attr("a"), B::NotRegex, intrinsic(I::Name))), neg_right_side);
    for op in [B::Regex, B::NotRegex] {
        let query = braces(bin(scoped(Scope::Span, "foo"), op, string("[")));
        assert_invalid(query, "invalid regex");
    }
    // The summary names the problem and does not show our anchoring wrapper.
    let Err(ValidateError::Invalid(message)) = check_binary(B::Regex, &attr("a"), &string("("))
    else {
        panic!("an unclosed group must be rejected");
    };
    assert!(!message.contains("(?s:"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    // Anything string-compatible may stand on the left.
    assert_valid(braces(bin(intrinsic(I::Name), B::Regex, string("(?i)get.*"))));
}

#[test]
fn unary_operators_are_checked() {
    for (expr, fragment) in [
        (neg(boolean(true)), "operator - is not defined for bool"),
        (bin(neg(string("foo")), B::Eq, string("bar")), "operator - is not defined for string"),
        (bin(neg(status(Status::Ok)), B::Eq, intrinsic(I::Status)), "- is not defined for status"),
        (bin(neg(intrinsic(I::Name)), B::Eq, string("foo")), "- is not defined for string"),
        (bin(not(string("foo")), B::Eq, string("bar")), "operator ! is not defined for string"),
        (bin(not(status(Status::Ok)), B::Eq, intrinsic(I::Status)), "! is not defined for status"),
        (bin(not(kind(Kind::Consumer)), B::Eq, intrinsic(I::Kind)), "! is not defined for kind"),
        (bin(not(intrinsic(I::Name)), B::Eq, string("foo")), "! is not defined for string"),
        (bin(not(int(1)), B::Eq, int(1)), "operator ! is not defined for int"),
        (bin(not(hours(1)), B::Eq, int(1)), "operator ! is not defined for duration"),
        (bin(not(float(1.1)), B::Eq, float(1.1)), "operator ! is not defined for float"),
    ] {
        assert_invalid(braces(expr), fragment);
    }
    assert_valid(braces(bin(neg(int(1)), B::Eq, int(2))));
    assert_valid(braces(bin(neg(hours(1)), B::Lt, intrinsic(I::Duration))));
    assert_valid(braces(not(boolean(true))));
}

#[test]
fn nil_checks_refuse_fields_that_always_exist() {
    for expr in [intrinsic(I::Status), intrinsic(I::Name), intrinsic(I::TraceId)] {
        assert_invalid(braces(is_nil(expr)), "is never nil");
    }
    let service_name = scoped(Scope::Resource, "service.name");
    assert_invalid(braces(is_nil(service_name)), "is never nil");
    assert_valid(braces(is_nil(attr("service.name"))));
    assert_valid(braces(not_nil(intrinsic(I::Status))));
}

// --- the direct entry points ------------------------------------------------------------------

#[test]
fn check_binary_and_check_unary_judge_one_operation() {
    // What the parser asks before folding two constants.
    assert_eq!(check_binary(B::Add, &int(1), &int(1)), Ok(()));
    assert_eq!(check_binary(B::Eq, &int(1), &float(1.0)), Ok(()));
    assert_eq!(check_binary(B::Mul, &hours(1), &int(2)), Ok(()));
    assert!(check_binary(B::Add, &int(1), &string("foo")).is_err());
    assert!(check_binary(B::Eq, &status(Status::Ok), &kind(Kind::Client)).is_err());
    assert_eq!(check_unary(UnaryOp::Neg, &float(1.5)), Ok(()));
    assert!(check_unary(UnaryOp::Neg, &boolean(true)).is_err());
    assert!(check_unary(UnaryOp::Not, &int(1)).is_err());
    // Operands are taken as already checked: only the top operation is judged.
    let bad_inside = bin(int(1), B::Add, string("x"));
    assert_eq!(check_binary(B::Eq, &bad_inside, &int(2)), Ok(()));
    assert!(validate_field_expr(&bin(bad_inside, B::Eq, int(2))).is_err());
}

#[test]
fn validate_field_expr_does_not_require_a_boolean() {
    assert_eq!(validate_field_expr(&bin(attr("a"), B::Add, int(1))), Ok(()));
    let parent = validate_field_expr(&bin(parent_attr("a"), B::Add, string("x")));
    assert!(matches!(parent, Err(ValidateError::Unsupported(_))), "{parent:?}");
}

#[test]
fn error_messages_have_the_documented_shape() {
    let invalid = ValidateError::Invalid("topk needs k > 0, found 0".to_owned());
    assert_eq!(invalid.to_string(), "invalid query: topk needs k > 0, found 0");
    let unsupported = ValidateError::Unsupported("comparison of pipelines".to_owned());
    assert_eq!(unsupported.to_string(), "comparison of pipelines not yet supported");
    let Err(err) = validate(&after_true(scalar(count(), CmpOp::Gt, count()))) else {
        panic!("aggregate against aggregate must be rejected");
    };
    let message = err.to_string();
    assert!(message.starts_with("aggregate comparison between two aggregates"), "{message}");
    assert!(message.ends_with(" not yet supported"), "{message}");
}

// --- aggregates, by, select -------------------------------------------------------------------

#[test]
fn aggregate_filters_with_good_arguments_pass() {
    use AggregateFn as A;
    let one = || constant(Static::Int(1));
    assert_valid(search(vec![scalar(aggregate(A::Avg, attr("field")), CmpOp::Gt, one())]));
    let second = constant(Static::Duration(1_000_000_000));
    assert_valid(search(vec![scalar(
        aggregate(A::Max, intrinsic(I::Duration)),
        CmpOp::Gte,
        second,
    )]));
    let max_of_sum = aggregate(A::Max, bin(int(1), B::Add, attr("a")));
    assert_valid(after_true(scalar(max_of_sum, CmpOp::Eq, one())));
    let nested = bin(bin(int(1), B::Add, attr("a")), B::Mul, int(2));
    assert_valid(after_true(scalar(aggregate(A::Max, nested), CmpOp::Eq, one())));
    let child_count = aggregate(A::Min, intrinsic(I::ChildCount));
    assert_valid(search(vec![scalar(child_count, CmpOp::Lt, constant(Static::Int(0)))]));
    assert_valid(after_true(scalar(count(), CmpOp::Eq, one())));
    // avg(.field) > 1 - 3, folded by the parser
    let folded = constant(Static::Int(-2));
    assert_valid(search(vec![scalar(aggregate(A::Avg, attr("field")), CmpOp::Gt, folded)]));
}

#[test]
fn aggregate_arguments_must_be_numbers_that_read_the_span() {
    use AggregateFn as A;
    let two = || constant(Static::Int(2));
    for (arg, fragment) in [
        (int(3), "aggregate argument must reference the span"),
        (hours(2), "aggregate argument must reference the span"),
        (float(-1.9), "aggregate argument must reference the span"), // min(1.1 - 3), folded
        (hours(3), "aggregate argument must reference the span"),    // max(1h + 2h), folded
        (bin(int(1), B::Eq, int(3)), "aggregate argument must be a number, found bool"),
        (intrinsic(I::Name), "aggregate argument must be a number, found string"),
        (intrinsic(I::Status), "aggregate argument must be a number, found status"),
        (bin(int(1), B::Add, string("x")), "cannot apply + to int and string"),
    ] {
        assert_invalid(search(vec![scalar(aggregate(A::Sum, arg), CmpOp::Eq, two())]), fragment);
    }
}

#[test]
fn scalar_filter_constants_must_be_numbers() {
    let query = after_true(scalar(count(), CmpOp::Eq, constant(Static::Str("x".to_owned()))));
    assert_invalid(query, "an aggregate filter needs a number, found string");
}

#[test]
fn by_must_read_the_span_and_be_valid() {
    assert_invalid(after_true(Stage::By(int(1))), "by() expression must reference the span");
    assert_invalid(after_true(Stage::By(string("foo"))), "by() expression must reference the span");
    let bad = bin(attr("a"), B::Add, string("x"));
    assert_invalid(after_true(Stage::By(bad)), "operator + is not defined for string");
    assert_valid(search(vec![
        filter(boolean(true)),
        Stage::By(bin(int(1), B::Add, attr("a"))),
        Stage::Coalesce,
    ]));
    let count_above_two = scalar(count(), CmpOp::Gt, constant(Static::Int(2)));
    let by_name = Stage::By(intrinsic(I::Name));
    assert_valid(search(vec![filter(boolean(true)), by_name, count_above_two]));
    let nested_set = [I::NestedSetLeft, I::NestedSetRight, I::NestedSetParent];
    let select = Stage::Select(nested_set.map(FieldRef::Intrinsic).to_vec());
    assert_valid(after_true(select));
}

#[test]
fn spanset_operators_and_nested_pipelines_are_walked() {
    let op = |lhs, rhs| SpansetExpr::Op { op: SpansetOp::Descendant, lhs, rhs };
    let good = Box::new(SpansetExpr::Filter(boolean(true)));
    let bad = Box::new(SpansetExpr::Filter(int(1)));
    assert_valid(search(vec![Stage::Spanset(op(good.clone(), good.clone()))]));
    assert_invalid(search(vec![Stage::Spanset(op(good.clone(), bad))]), "found int");
    let inner_bad = Pipeline { stages: vec![filter(string("x"))] };
    let chain = op(Box::new(SpansetExpr::Pipeline(inner_bad)), good);
    assert_invalid(search(vec![Stage::Spanset(chain)]), "found string");
}

// --- unsupported shapes and their ordering ----------------------------------------------------

#[test]
fn parent_references_are_unsupported_everywhere() {
    let parent = || intrinsic(I::Parent);
    for expr in [
        parent(),
        bin(bin(int(1), B::Mod, parent()), B::Eq, int(1)),
        bin(int(1), B::Gte, parent()),
        bin(parent_attr("a"), B::Neq, int(3)),
        bin(FieldExpr::Ref(attribute(Scope::Resource, true, "a")), B::And, boolean(true)),
        bin(FieldExpr::Ref(attribute(Scope::Span, true, "a")), B::Gt, int(3)),
        bin(parent_attr("duration"), B::Eq, hours(1)),
        // { (-(3 / 2) * .test - parent.blerg + .other)^3 = 2 }, 3 / 2 folded
        bin(
            bin(
                bin(
                    bin(bin(neg(int(1)), B::Mul, attr("test")), B::Sub, parent_attr("blerg")),
                    B::Add,
                    attr("other"),
                ),
                B::Pow,
                int(3),
            ),
            B::Eq,
            int(2),
        ),
    ] {
        assert_unsupported(braces(expr), "parent");
    }
    assert_unsupported(braces(parent_attr("a")), "parent attribute");
    assert_unsupported(braces(parent()), "intrinsic parent");
}

#[test]
fn parent_wins_over_errors_elsewhere_in_the_query() {
    let max_parent = aggregate(AggregateFn::Max, parent_attr("a"));
    let query = search(vec![filter(int(1)), scalar(max_parent, CmpOp::Eq, count())]);
    assert_unsupported(query, "parent attribute");
    assert_unsupported(after_true(Stage::By(bin(int(1), B::Add, parent_attr("a")))), "parent");
    let select = Stage::Select(vec![attribute(Scope::None, true, "a")]);
    assert_unsupported(after_true(select), "parent");
    let function = MetricsFunction::OverTime {
        func: OverTimeFn::Min,
        field: attribute(Scope::None, true, "a"),
        by: vec![],
    };
    assert_unsupported(metrics(function, vec![SecondStage::TopK(0)]), "parent");
    let by_parent = MetricsFunction::Rate { by: vec![FieldRef::Intrinsic(I::Parent)] };
    assert_unsupported(metrics(by_parent, vec![]), "parent");
    let compare_parent = compare(bin(parent_attr("a"), B::Eq, int(1)), 0, 0, 0);
    assert_unsupported(metrics(compare_parent, vec![]), "parent");
}

#[test]
fn scalar_filters_other_than_aggregate_against_constant_are_unsupported() {
    use AggregateFn as A;
    let field = || attr("field");
    let one = || constant(Static::Int(1));
    for (stage, fragment) in [
        // min(.field) < max(duration)
        (
            scalar(
                aggregate(A::Min, field()),
                CmpOp::Lt,
                aggregate(A::Max, intrinsic(I::Duration)),
            ),
            "aggregate comparison between two aggregates",
        ),
        // sum(.field) = min(.field)
        (
            scalar(aggregate(A::Sum, field()), CmpOp::Eq, aggregate(A::Min, field())),
            "between two aggregates",
        ),
        // min(.field) + max(.field) > 1
        (
            scalar(
                scalar_arith(aggregate(A::Min, field()), ArithOp::Add, aggregate(A::Max, field())),
                CmpOp::Gt,
                one(),
            ),
            "arithmetic on aggregates",
        ),
        // count() + count() = 1
        (scalar(scalar_arith(count(), ArithOp::Add, count()), CmpOp::Eq, one()), "arithmetic"),
        // max(1 - (2 + .field)) < avg(3 * duration ^ 2)
        (
            scalar(
                aggregate(A::Max, bin(int(1), B::Sub, bin(int(2), B::Add, field()))),
                CmpOp::Lt,
                aggregate(A::Avg, bin(int(3), B::Mul, bin(intrinsic(I::Duration), B::Pow, int(2)))),
            ),
            "between two aggregates",
        ),
        // 2 < count()
        (scalar(constant(Static::Int(2)), CmpOp::Lt, count()), "constant on the left"),
        // min(.field) + max(span:childCount) > max(duration) - min(.field)
        (
            scalar(
                scalar_arith(
                    aggregate(A::Min, field()),
                    ArithOp::Add,
                    aggregate(A::Max, intrinsic(I::ChildCount)),
                ),
                CmpOp::Gt,
                scalar_arith(
                    aggregate(A::Max, intrinsic(I::Duration)),
                    ArithOp::Sub,
                    aggregate(A::Min, field()),
                ),
            ),
            "arithmetic on aggregates",
        ),
    ] {
        assert_unsupported(after_true(stage), fragment);
    }
    // { .http.status = 200 } | max(.field) - min(.field) > 3
    let http_ok = filter(bin(attr("http.status"), B::Eq, int(200)));
    let diff = scalar_arith(aggregate(A::Max, field()), ArithOp::Sub, aggregate(A::Min, field()));
    let query = search(vec![http_ok, scalar(diff, CmpOp::Gt, constant(Static::Int(3)))]);
    assert_unsupported(query, "arithmetic on aggregates");
}

#[test]
fn bad_aggregate_arguments_win_over_unsupported_shapes() {
    use AggregateFn as A;
    let duration = || intrinsic(I::Duration);
    let cases = [
        // sum(3) = min(14)
        scalar(aggregate(A::Sum, int(3)), CmpOp::Eq, aggregate(A::Min, int(14))),
        // min(2h) < max(duration)
        scalar(aggregate(A::Min, hours(2)), CmpOp::Lt, aggregate(A::Max, duration())),
        // min(3) = max(duration)
        scalar(aggregate(A::Min, int(3)), CmpOp::Eq, aggregate(A::Max, duration())),
        // min(1) = max(2) + 3
        scalar(
            aggregate(A::Min, int(1)),
            CmpOp::Eq,
            scalar_arith(aggregate(A::Max, int(2)), ArithOp::Add, constant(Static::Int(3))),
        ),
        // max(duration) = 2 + min(3): the bad argument is on the right side
        scalar(
            aggregate(A::Max, duration()),
            CmpOp::Eq,
            scalar_arith(constant(Static::Int(2)), ArithOp::Add, aggregate(A::Min, int(3))),
        ),
    ];
    for stage in cases {
        assert_invalid(search(vec![stage]), "aggregate argument must reference the span");
    }
    // sum(3) = 2 and min(1 = 3) = 1: supported shape, bad argument
    let sum_three = scalar(aggregate(A::Sum, int(3)), CmpOp::Eq, constant(Static::Int(2)));
    assert_invalid(search(vec![sum_three]), "must reference the span");
    let min_bool = aggregate(A::Min, bin(int(1), B::Eq, int(3)));
    let query = search(vec![scalar(min_bool, CmpOp::Eq, constant(Static::Int(1)))]);
    assert_invalid(query, "found bool");
}

#[test]
fn pipeline_comparisons_are_unsupported_after_their_parts_are_checked() {
    let one = PipelineScalar::Static(Static::Int(1));
    assert_unsupported(
        pipeline_compare(boolean(true), CmpOp::Gt, one.clone()),
        "comparison of pipelines",
    );
    let other = PipelineScalar::Aggregate {
        pipeline: Pipeline { stages: vec![filter(attr("b"))] },
        aggregate: Aggregate { func: AggregateFn::Avg, arg: Some(intrinsic(I::Duration)) },
    };
    assert_unsupported(pipeline_compare(attr("a"), CmpOp::Gt, other), "comparison of pipelines");
    assert_invalid(pipeline_compare(int(1), CmpOp::Gt, one), "found int");
    let parent =
        pipeline_compare(parent_attr("a"), CmpOp::Gt, PipelineScalar::Static(Static::Int(1)));
    assert_unsupported(parent, "parent attribute");
}

// --- metrics ----------------------------------------------------------------------------------

#[test]
fn valid_metrics_queries_pass() {
    let by_five = MetricsFunction::Rate { by: by_fields(5) };
    assert_valid(metrics(by_five, vec![SecondStage::TopK(10)]));
    let quantiles = MetricsFunction::QuantileOverTime {
        field: FieldRef::Intrinsic(I::Duration),
        quantiles: vec![0.0, 0.9, 1.0],
        by: by_fields(4),
    };
    assert_valid(metrics(quantiles, vec![SecondStage::BottomK(10)]));
    let max_five = MetricsFunction::OverTime {
        func: OverTimeFn::Max,
        field: FieldRef::Intrinsic(I::Duration),
        by: by_fields(5),
    };
    assert_valid(metrics(max_five, vec![]));
    assert_valid(metrics(compare(status_is_error(), 10, 0, 0), vec![]));
    assert_valid(metrics(compare(status_is_error(), 5, 1, 2), vec![]));
    assert_valid(metrics(compare(boolean(true), 1000, 0, 0), vec![]));
    let filters = vec![
        SecondStage::Filter { op: CmpOp::Gt, value: Static::Int(0) },
        SecondStage::TopK(5),
        SecondStage::Filter { op: CmpOp::Lte, value: Static::Duration(1_000_000_000) },
    ];
    assert_valid(metrics(rate(), filters));
    // ({} | rate()) * 100 > 5
    let times_hundred = metrics_math(
        metrics_pipeline(rate(), vec![]),
        MathOp::Mul,
        MetricsExpr::Const(Static::Int(100)),
        vec![SecondStage::Filter { op: CmpOp::Gt, value: Static::Int(5) }],
    );
    assert_valid(times_hundred);
    let mut with_hint = metrics(rate(), vec![]);
    with_hint.hints.push(Hint { name: "sample".to_owned(), value: Static::Float(0.1) });
    assert_valid(with_hint);
}

#[test]
fn metrics_limits_are_enforced() {
    assert_unsupported(metrics(MetricsFunction::Rate { by: by_fields(6) }, vec![]), "(at most 5)");
    let count = MetricsFunction::CountOverTime { by: by_fields(6) };
    assert_unsupported(metrics(count, vec![]), "count_over_time() grouping by 6 fields");
    let duration = FieldRef::Intrinsic(I::Duration);
    for func in [OverTimeFn::Avg, OverTimeFn::Histogram] {
        let function =
            MetricsFunction::OverTime { func, field: duration.clone(), by: by_fields(5) };
        assert_unsupported(metrics(function, vec![]), "grouping by 5 fields (at most 4)");
    }
    let quantile = |quantiles: Vec<f64>, by| MetricsFunction::QuantileOverTime {
        field: duration.clone(),
        quantiles,
        by,
    };
    assert_unsupported(metrics(quantile(vec![0.5], by_fields(5)), vec![]), "(at most 4)");
    assert_invalid(metrics(quantile(vec![0.5, 1.5], vec![]), vec![]), "between 0 and 1, found 1.5");
    assert_invalid(metrics(quantile(vec![-0.1], vec![]), vec![]), "between 0 and 1");
    assert_invalid(metrics(quantile(vec![f64::NAN], vec![]), vec![]), "between 0 and 1");
    assert_invalid(metrics(quantile(vec![], vec![]), vec![]), "needs a quantile");
    assert_invalid(metrics(rate(), vec![SecondStage::TopK(0)]), "topk needs k > 0, found 0");
    assert_invalid(metrics(rate(), vec![SecondStage::BottomK(0)]), "bottomk needs k > 0, found 0");
    assert_invalid(
        metrics(rate(), vec![SecondStage::TopK(5), SecondStage::BottomK(-1)]),
        "bottomk",
    );
    let outer_zero = metrics_math(
        metrics_pipeline(rate(), vec![]),
        MathOp::Add,
        metrics_pipeline(rate(), vec![]),
        vec![SecondStage::TopK(0)],
    );
    assert_invalid(outer_zero, "topk needs k > 0");
}

#[test]
fn compare_arguments_are_checked() {
    for (top_n, start, end, fragment) in [
        (0, 0, 0, "top N must be between 1 and 1000, found 0"),
        (1001, 0, 0, "found 1001"),
        (10, 5, 0, "compare() timestamps"),
        (10, 0, 5, "compare() timestamps"),
        (10, -1, 5, "compare() timestamps"),
        (10, 5, 5, "found start 5 and end 5"),
        (10, 6, 5, "compare() timestamps"),
    ] {
        assert_invalid(metrics(compare(status_is_error(), top_n, start, end), vec![]), fragment);
    }
    assert_invalid(metrics(compare(int(1), 10, 0, 0), vec![]), "spanset filter must be a boolean");
    let bad_regex = bin(attr("a"), B::Regex, string("["));
    assert_invalid(metrics(compare(bad_regex, 10, 0, 0), vec![]), "invalid regex");
}

#[test]
fn compare_cannot_take_a_second_stage_or_arithmetic() {
    let error_compare = || compare(status_is_error(), 10, 0, 0);
    for stage in [
        SecondStage::TopK(10),
        SecondStage::BottomK(10),
        SecondStage::Filter { op: CmpOp::Gt, value: Static::Int(10) },
        SecondStage::Filter { op: CmpOp::Lte, value: Static::Int(10) },
    ] {
        let query = metrics(error_compare(), vec![stage]);
        assert_invalid(query, "compare() cannot be combined with a second stage");
    }
    for op in [MathOp::Add, MathOp::Sub, MathOp::Mul, MathOp::Div] {
        let query = metrics_math(
            metrics_pipeline(error_compare(), vec![]),
            op,
            metrics_pipeline(error_compare(), vec![]),
            vec![],
        );
        assert_invalid(query, "compare() cannot be used in arithmetic");
    }
    let with_constant = metrics_math(
        metrics_pipeline(error_compare(), vec![]),
        MathOp::Mul,
        MetricsExpr::Const(Static::Int(2)),
        vec![],
    );
    assert_invalid(with_constant, "compare() cannot be used in arithmetic");
    // A second stage outside a lone pipeline (not what the parser builds, still refused).
    let expr = metrics_pipeline(error_compare(), vec![]);
    let outer = vec![SecondStage::TopK(3)];
    let query =
        Query { body: Body::Metrics(MetricsQuery { expr, second_stage: outer }), hints: vec![] };
    assert_invalid(query, "compare() cannot be combined with a second stage");
}

#[test]
fn pipelines_inside_metrics_are_validated_like_searches() {
    let pipeline = Pipeline { stages: vec![filter(bin(int(1), B::Eq, string("foo")))] };
    let expr =
        MetricsExpr::Pipeline(MetricsPipeline { pipeline, function: rate(), second_stage: vec![] });
    let lhs = metrics_pipeline(rate(), vec![]);
    assert_invalid(metrics_math(lhs, MathOp::Div, expr, vec![]), "cannot compare int with string");
    let bool_constant = metrics_math(
        metrics_pipeline(rate(), vec![]),
        MathOp::Mul,
        MetricsExpr::Const(Static::Bool(true)),
        vec![],
    );
    assert_invalid(bool_constant, "metrics arithmetic needs a number, found bool");
    let string_filter = SecondStage::Filter { op: CmpOp::Gt, value: Static::Str("x".to_owned()) };
    assert_invalid(metrics(rate(), vec![string_filter]), "a metrics filter needs a number");
}
