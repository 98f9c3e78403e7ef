//! Property test: a random syntax tree, printed and parsed again, is the same tree.
//!
//! The generator builds trees in the parser's normal form: field operations go through the
//! parser's own folding constructors, constant-only scalar and metrics arithmetic is folded
//! to one constant, chains of pipelines start with a real pipeline, and a lone metrics
//! pipeline carries its own second stage.

use proptest::prelude::*;

use super::super::ast::*;
use super::field::{binary, unary};
use super::parse;

fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::char::range('a', 'z'),
        2 => Just('.'),
        1 => Just('_'),
        1 => Just('-'),
        1 => proptest::char::range('0', '9'),
        1 => prop::sample::select(vec![' ', '"', '\\', '{', '=', '|', '/', '*', ':', 'é', '🚀', '\n']),
    ]
}

fn attribute() -> impl Strategy<Value = Attribute> {
    let scope = prop::sample::select(vec![
        AttributeScope::None,
        AttributeScope::Span,
        AttributeScope::Resource,
        AttributeScope::Event,
        AttributeScope::Link,
        AttributeScope::Instrumentation,
    ]);
    (scope, any::<bool>(), prop::collection::vec(name_char(), 1..12)).prop_map(
        |(scope, parent, chars)| {
            // `parent.` only combines with no scope, `span.` or `resource.`.
            let parent = parent
                && matches!(
                    scope,
                    AttributeScope::None | AttributeScope::Span | AttributeScope::Resource
                );
            Attribute { scope, parent, name: chars.into_iter().collect() }
        },
    )
}

fn intrinsic() -> impl Strategy<Value = Intrinsic> {
    use Intrinsic::*;
    prop::sample::select(vec![
        Duration,
        Name,
        Status,
        StatusMessage,
        Kind,
        SpanId,
        ParentId,
        ChildCount,
        Parent,
        TraceDuration,
        TraceRootName,
        TraceRootService,
        TraceId,
        EventName,
        EventTimeSinceStart,
        LinkTraceId,
        LinkSpanId,
        InstrumentationName,
        InstrumentationVersion,
        NestedSetLeft,
        NestedSetRight,
        NestedSetParent,
    ])
}

fn field_ref() -> impl Strategy<Value = FieldRef> {
    prop_oneof![
        intrinsic().prop_map(FieldRef::Intrinsic),
        attribute().prop_map(FieldRef::Attribute)
    ]
}

fn finite_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
    ]
}

/// Any constant a field expression can hold (every sign, `minInt`, all strings).
fn field_static() -> impl Strategy<Value = Static> {
    prop_oneof![
        any::<i64>().prop_map(Static::Int),
        finite_float().prop_map(Static::Float),
        any::<String>().prop_map(Static::Str),
        any::<bool>().prop_map(Static::Bool),
        (-i64::MAX..=i64::MAX).prop_map(Static::Duration),
        prop::sample::select(vec![Status::Error, Status::Ok, Status::Unset])
            .prop_map(Static::Status),
        prop::sample::select(vec![Kind::Unspecified, Kind::Server, Kind::Consumer])
            .prop_map(Static::Kind),
    ]
}

fn field_expr() -> impl Strategy<Value = FieldExpr> {
    let leaf = prop_oneof![
        field_static().prop_map(FieldExpr::Static),
        field_ref().prop_map(FieldExpr::Ref),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        use BinaryOp::*;
        let binop = prop::sample::select(vec![
            Add, Sub, Mul, Div, Mod, Pow, Eq, Neq, Lt, Lte, Gt, Gte, Regex, NotRegex, And, Or,
        ]);
        let unop = prop::sample::select(vec![
            UnaryOp::Neg,
            UnaryOp::Not,
            UnaryOp::Exists,
            UnaryOp::NotExists,
        ]);
        prop_oneof![
            (binop, inner.clone(), inner.clone()).prop_map(|(op, l, r)| binary(op, l, r)),
            (unop, inner).prop_map(|(op, e)| unary(op, e)),
        ]
    })
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![CmpOp::Eq, CmpOp::Neq, CmpOp::Lt, CmpOp::Lte, CmpOp::Gt, CmpOp::Gte])
}

/// A constant where constant expressions are allowed (numbers and durations, any sign).
fn number_const(durations: bool) -> BoxedStrategy<Static> {
    let numbers =
        prop_oneof![any::<i64>().prop_map(Static::Int), finite_float().prop_map(Static::Float)];
    if durations {
        prop_oneof![numbers, (-i64::MAX..=i64::MAX).prop_map(Static::Duration)].boxed()
    } else {
        numbers.boxed()
    }
}

fn aggregate() -> impl Strategy<Value = Aggregate> {
    prop_oneof![
        Just(Aggregate { func: AggregateFn::Count, arg: None }),
        (
            prop::sample::select(vec![
                AggregateFn::Avg,
                AggregateFn::Max,
                AggregateFn::Min,
                AggregateFn::Sum
            ]),
            field_expr()
        )
            .prop_map(|(func, arg)| Aggregate { func, arg: Some(arg) }),
    ]
}

fn arith_op() -> impl Strategy<Value = ArithOp> {
    prop::sample::select(vec![
        ArithOp::Add,
        ArithOp::Sub,
        ArithOp::Mul,
        ArithOp::Div,
        ArithOp::Mod,
        ArithOp::Pow,
    ])
}

/// Scalar expressions that contain an aggregate (constants only next to one).
fn scalar_with_aggregate() -> impl Strategy<Value = ScalarExpr> {
    aggregate().prop_map(ScalarExpr::Aggregate).prop_recursive(2, 6, 2, |inner| {
        let side = prop_oneof![inner.clone(), number_const(true).prop_map(ScalarExpr::Static)];
        (arith_op(), inner, side, any::<bool>()).prop_map(|(op, agg, other, agg_left)| {
            let (lhs, rhs) = if agg_left { (agg, other) } else { (other, agg) };
            ScalarExpr::Arith { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
        })
    })
}

fn scalar_filter() -> impl Strategy<Value = ScalarFilter> {
    let side =
        prop_oneof![scalar_with_aggregate(), number_const(true).prop_map(ScalarExpr::Static)];
    (cmp_op(), scalar_with_aggregate(), side, any::<bool>()).prop_map(
        |(op, agg, other, agg_left)| {
            let (lhs, rhs) = if agg_left { (agg, other) } else { (other, agg) };
            ScalarFilter { op, lhs, rhs }
        },
    )
}

fn spanset_op() -> impl Strategy<Value = SpansetOp> {
    use SpansetOp::*;
    prop::sample::select(vec![
        And,
        Or,
        Child,
        Parent,
        Descendant,
        Ancestor,
        Sibling,
        NotChild,
        NotParent,
        NotDescendant,
        NotAncestor,
        NotSibling,
        UnionChild,
        UnionParent,
        UnionDescendant,
        UnionAncestor,
        UnionSibling,
    ])
}

/// Filters joined by spanset operators (no pipelines inside).
fn spanset_expr() -> impl Strategy<Value = SpansetExpr> {
    field_expr().prop_map(SpansetExpr::Filter).prop_recursive(3, 8, 2, |inner| {
        (spanset_op(), inner.clone(), inner).prop_map(|(op, l, r)| SpansetExpr::Op {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
        })
    })
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        4 => spanset_expr().prop_map(Stage::Spanset),
        1 => scalar_filter().prop_map(Stage::Scalar),
        1 => field_expr().prop_map(Stage::By),
        1 => prop::collection::vec(field_ref(), 1..4).prop_map(Stage::Select),
        1 => Just(Stage::Coalesce),
    ]
}

fn pipeline() -> impl Strategy<Value = Pipeline> {
    prop::collection::vec(stage(), 1..4).prop_map(|mut stages| {
        if stages[0] == Stage::Coalesce {
            stages[0] = Stage::Spanset(SpansetExpr::Filter(FieldExpr::Static(Static::Bool(true))));
        }
        Pipeline { stages }
    })
}

/// A pipeline that is not a lone spanset expression (what a chain operand needs to be).
fn real_pipeline() -> impl Strategy<Value = Pipeline> {
    pipeline().prop_filter("not a lone spanset expression", |p| {
        !(p.stages.len() == 1 && matches!(p.stages[0], Stage::Spanset(_)))
    })
}

/// A chain whose leftmost operand is a pipeline; right operands are spanset expressions,
/// pipelines or chains.
fn chain() -> impl Strategy<Value = SpansetExpr> {
    real_pipeline().prop_map(SpansetExpr::Pipeline).prop_recursive(3, 8, 2, |inner| {
        let rhs = prop_oneof![
            inner.clone(),
            spanset_expr(),
            real_pipeline().prop_map(SpansetExpr::Pipeline),
        ];
        (spanset_op(), inner, rhs).prop_map(|(op, l, r)| SpansetExpr::Op {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
        })
    })
}

fn second_stage() -> impl Strategy<Value = Vec<SecondStage>> {
    let one = prop_oneof![
        (0i64..1000).prop_map(SecondStage::TopK),
        (0i64..1000).prop_map(SecondStage::BottomK),
        (cmp_op(), number_const(true)).prop_map(|(op, value)| SecondStage::Filter { op, value }),
    ];
    prop::collection::vec(one, 0..3)
}

fn metrics_function() -> impl Strategy<Value = MetricsFunction> {
    let by = || prop::collection::vec(field_ref(), 0..3);
    let over = prop::sample::select(vec![
        OverTimeFn::Min,
        OverTimeFn::Max,
        OverTimeFn::Sum,
        OverTimeFn::Avg,
        OverTimeFn::Histogram,
    ]);
    prop_oneof![
        by().prop_map(|by| MetricsFunction::Rate { by }),
        by().prop_map(|by| MetricsFunction::CountOverTime { by }),
        (over, field_ref(), by()).prop_map(|(func, field, by)| MetricsFunction::OverTime {
            func,
            field,
            by
        }),
        (field_ref(), prop::collection::vec(0.0f64..=1.0, 1..4), by()).prop_map(
            |(field, quantiles, by)| MetricsFunction::QuantileOverTime { field, quantiles, by }
        ),
        (field_expr(), 0i64..2000, 0i64..5, 0i64..5).prop_map(|(filter, top_n, s, e)| {
            MetricsFunction::Compare { filter, top_n, start_ns: s, end_ns: e }
        }),
    ]
}

fn metrics_pipeline() -> impl Strategy<Value = MetricsPipeline> {
    (pipeline(), metrics_function(), second_stage()).prop_map(
        |(pipeline, function, second_stage)| MetricsPipeline { pipeline, function, second_stage },
    )
}

/// Metrics arithmetic with at least one pipeline on every path that has an operator.
fn metrics_expr() -> impl Strategy<Value = MetricsExpr> {
    metrics_pipeline().prop_map(MetricsExpr::Pipeline).prop_recursive(2, 6, 2, |inner| {
        let op = prop::sample::select(vec![MathOp::Add, MathOp::Sub, MathOp::Mul, MathOp::Div]);
        let side = prop_oneof![inner.clone(), number_const(false).prop_map(MetricsExpr::Const)];
        (op, inner, side, any::<bool>()).prop_map(|(op, m, other, m_left)| {
            let (lhs, rhs) = if m_left { (m, other) } else { (other, m) };
            MetricsExpr::Arith { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
        })
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => pipeline().prop_map(Body::Search),
        1 => chain().prop_map(|c| match c {
            SpansetExpr::Pipeline(p) => Body::Search(p),
            c => Body::Search(Pipeline { stages: vec![Stage::Spanset(c)] }),
        }),
        2 => (metrics_expr(), second_stage()).prop_map(|(expr, outer)| {
            Body::Metrics(match expr {
                MetricsExpr::Pipeline(mut p) => {
                    p.second_stage.extend(outer);
                    MetricsQuery { expr: MetricsExpr::Pipeline(p), second_stage: Vec::new() }
                }
                expr => MetricsQuery { expr, second_stage: outer },
            })
        }),
        1 => (pipeline(), aggregate(), cmp_op(), number_const(true)).prop_map(|(pipeline, aggregate, op, c)| {
            Body::PipelineCompare(PipelineCompare {
                op,
                lhs: PipelineScalar::Aggregate { pipeline, aggregate },
                rhs: PipelineScalar::Static(c),
            })
        }),
    ]
}

/// Hint values are literals: no sign (except `minInt`, a named constant).
fn hint() -> impl Strategy<Value = Hint> {
    let value = prop_oneof![
        (0..=i64::MAX).prop_map(Static::Int),
        Just(Static::Int(i64::MIN)),
        (0.0f64..1e9).prop_map(Static::Float),
        any::<String>().prop_map(Static::Str),
        any::<bool>().prop_map(Static::Bool),
        (0..=i64::MAX).prop_map(Static::Duration),
    ];
    ("[a-z_][a-zA-Z0-9_]{0,8}", value)
        .prop_filter("not a reserved word", |(name, _)| {
            super::super::token::Keyword::lookup(name).is_none()
        })
        .prop_map(|(name, value)| Hint { name, value })
}

fn query() -> impl Strategy<Value = Query> {
    (body(), prop::collection::vec(hint(), 0..3)).prop_map(|(body, hints)| Query { body, hints })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn printed_trees_parse_back_to_themselves(q in query()) {
        let text = q.to_string();
        match parse(&text) {
            Ok(parsed) => prop_assert_eq!(parsed, q, "printed as {}", text),
            Err(e) => prop_assert!(false, "{} does not parse: {}", text, e),
        }
    }
}
