//! The TraceQL syntax tree.
//!
//! What the parser builds and the engine runs. Parentheses are not kept (the tree shape holds
//! the grouping), constant sub-expressions are already folded, and both spellings of an
//! intrinsic (`duration` and `span:duration`) give the same node. `Display` (in `display.rs`)
//! prints a query that parses back to an equal tree.

/// A whole query: a body plus its hints (`with(...)`; only the last clause is kept).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub body: Body,
    pub hints: Vec<Hint>,
}

/// One `name = value` hint.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub name: String,
    pub value: Static,
}

/// The three kinds of query.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A spanset pipeline: trace search.
    Search(Pipeline),
    /// A metrics query: `pipeline | metrics_fn …`, or arithmetic between such pipelines.
    Metrics(MetricsQuery),
    /// `({…} | count()) > 1`: parses, but is "not yet supported" (rejected by validation).
    PipelineCompare(PipelineCompare),
}

/// Stages joined by `|`, evaluated left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
}

/// One stage of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `{…}`, or spanset expressions joined by spanset operators.
    Spanset(SpansetExpr),
    /// `count() > 2`, `avg(duration) < 1s`, …
    Scalar(ScalarFilter),
    /// `by(expr)`: one spanset per distinct value.
    By(FieldExpr),
    /// `select(a, b, …)`: fetch and return these fields.
    Select(Vec<FieldRef>),
    /// `coalesce()`: merge all spansets of a trace into one.
    Coalesce,
}

/// A spanset expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    /// `{ expr }` (`{}` is `{ true }`).
    Filter(FieldExpr),
    /// `lhs op rhs`: logical or structural combination.
    Op { op: SpansetOp, lhs: Box<SpansetExpr>, rhs: Box<SpansetExpr> },
    /// A parenthesised pipeline used as an operand: `({…} | count() > 1) >> ({…})`.
    /// Only appears in such chains, whose leftmost operand is always one of these.
    Pipeline(Pipeline),
}

/// Operators between spansets (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpansetOp {
    /// `&&`
    And,
    /// `||`
    Or,
    /// `>`: right-hand spans whose parent is on the left.
    Child,
    /// `<`: right-hand spans that are the parent of a left-hand span.
    Parent,
    /// `>>`
    Descendant,
    /// `<<`
    Ancestor,
    /// `~`
    Sibling,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDescendant,
    /// `!<<`
    NotAncestor,
    /// `!~`
    NotSibling,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDescendant,
    /// `&<<`
    UnionAncestor,
    /// `&~`
    UnionSibling,
}

/// `lhs op rhs` over aggregates and constants. Only `aggregate op constant` is supported;
/// the other shapes parse and are rejected by validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    pub op: CmpOp,
    pub lhs: ScalarExpr,
    pub rhs: ScalarExpr,
}

/// A scalar computed per spanset. At least one side of a [`ScalarFilter`] has an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    Aggregate(Aggregate),
    Static(Static),
    Arith { op: ArithOp, lhs: Box<ScalarExpr>, rhs: Box<ScalarExpr> },
}

/// `count()`, `avg(e)`, `min(e)`, `max(e)`, `sum(e)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub func: AggregateFn,
    /// `None` for `count()`, `Some` for the others.
    pub arg: Option<FieldExpr>,
}

/// Spanset aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    Count,
    Avg,
    Max,
    Min,
    Sum,
}

/// Comparisons usable on scalars and metrics samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// Arithmetic on scalars (`%` and `^` only between aggregates, never in metrics math).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// `(pipeline | aggregate) op (pipeline | aggregate)`: "not yet supported".
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineCompare {
    pub op: CmpOp,
    pub lhs: PipelineScalar,
    pub rhs: PipelineScalar,
}

/// A side of a [`PipelineCompare`].
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineScalar {
    /// `({…} | count())`
    Aggregate {
        pipeline: Pipeline,
        aggregate: Aggregate,
    },
    /// A constant (right-hand side only).
    Static(Static),
    Arith {
        op: ArithOp,
        lhs: Box<PipelineScalar>,
        rhs: Box<PipelineScalar>,
    },
}

/// An expression evaluated per span.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    Static(Static),
    Ref(FieldRef),
    Binary { op: BinaryOp, lhs: Box<FieldExpr>, rhs: Box<FieldExpr> },
    Unary { op: UnaryOp, expr: Box<FieldExpr> },
}

/// Binary operators inside `{…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    /// `=~` (fully anchored)
    Regex,
    /// `!~`
    NotRegex,
    And,
    Or,
}

impl BinaryOp {
    /// The comparison this operator is (`=`, `!=`, `<`, `<=`, `>`, `>=`); `None` for the
    /// others.
    pub fn comparison(self) -> Option<CmpOp> {
        Some(match self {
            BinaryOp::Eq => CmpOp::Eq,
            BinaryOp::Neq => CmpOp::Neq,
            BinaryOp::Lt => CmpOp::Lt,
            BinaryOp::Lte => CmpOp::Lte,
            BinaryOp::Gt => CmpOp::Gt,
            BinaryOp::Gte => CmpOp::Gte,
            _ => return None,
        })
    }
}

/// Unary operators inside `{…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
    /// `x != nil`
    Exists,
    /// `x = nil`
    NotExists,
}

/// A reference to a value of the span (or its trace, events, links, scope).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    Intrinsic(Intrinsic),
    Attribute(Attribute),
}

/// `span.x`, `resource.x`, `.x`, `parent.span.x`, …
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub scope: AttributeScope,
    /// `parent.…` ("not yet supported").
    pub parent: bool,
    /// The decoded name; the dot has no structure (`span.http.url` is named `http.url`).
    pub name: String,
}

/// Where an attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeScope {
    /// `.x`: span attributes, then resource attributes.
    None,
    Span,
    Resource,
    Event,
    Link,
    Instrumentation,
}

/// The scopes written with a colon before an intrinsic name (`trace:id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntrinsicScope {
    Trace,
    Span,
    Event,
    Link,
    Instrumentation,
}

/// Built-in fields (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    /// `duration`, `span:duration`
    Duration,
    /// `name`, `span:name`
    Name,
    /// `status`, `span:status`
    Status,
    /// `statusMessage`, `span:statusMessage`
    StatusMessage,
    /// `kind`, `span:kind`
    Kind,
    /// `span:id`
    SpanId,
    /// `span:parentID`
    ParentId,
    /// `span:childCount`
    ChildCount,
    /// `parent` ("not yet supported")
    Parent,
    /// `traceDuration`, `trace:duration`
    TraceDuration,
    /// `rootName`, `trace:rootName`
    TraceRootName,
    /// `rootServiceName`, `trace:rootService`
    TraceRootService,
    /// `trace:id`
    TraceId,
    /// `event:name`
    EventName,
    /// `event:timeSinceStart`
    EventTimeSinceStart,
    /// `link:traceID`
    LinkTraceId,
    /// `link:spanID`
    LinkSpanId,
    /// `instrumentation:name`
    InstrumentationName,
    /// `instrumentation:version`
    InstrumentationVersion,
    /// `nestedSetLeft`
    NestedSetLeft,
    /// `nestedSetRight`
    NestedSetRight,
    /// `nestedSetParent`
    NestedSetParent,
}

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    Int(i64),
    /// Always finite.
    Float(f64),
    Str(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Status(Status),
    Kind(Kind),
}

/// Span status values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Error,
    Ok,
    Unset,
}

/// Span kind values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

/// A metrics query: an expression of metrics pipelines and constants, then second-stage
/// operations on its result. When `expr` is a single pipeline its second stage lives in the
/// pipeline and this list is empty, so `{} | rate() > 1` and `({} | rate()) > 1` are equal.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub expr: MetricsExpr,
    pub second_stage: Vec<SecondStage>,
}

/// Arithmetic between metrics pipelines and constants.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsExpr {
    Pipeline(MetricsPipeline),
    /// An int or float constant (never a duration).
    Const(Static),
    Arith {
        op: MathOp,
        lhs: Box<MetricsExpr>,
        rhs: Box<MetricsExpr>,
    },
}

/// Operators between metrics results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// `pipeline | function [second stage]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsPipeline {
    pub pipeline: Pipeline,
    pub function: MetricsFunction,
    pub second_stage: Vec<SecondStage>,
}

/// First-stage metrics functions (§7.2).
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsFunction {
    Rate {
        by: Vec<FieldRef>,
    },
    CountOverTime {
        by: Vec<FieldRef>,
    },
    /// `min_over_time`, `max_over_time`, `sum_over_time`, `avg_over_time`,
    /// `histogram_over_time`.
    OverTime {
        func: OverTimeFn,
        field: FieldRef,
        by: Vec<FieldRef>,
    },
    QuantileOverTime {
        field: FieldRef,
        quantiles: Vec<f64>,
        by: Vec<FieldRef>,
    },
    /// `compare({filter}, topN, startNs, endNs)`; omitted arguments are 10, 0, 0.
    Compare {
        filter: FieldExpr,
        top_n: i64,
        start_ns: i64,
        end_ns: i64,
    },
}

/// Functions of a field over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverTimeFn {
    Min,
    Max,
    Sum,
    Avg,
    Histogram,
}

/// Operations on computed series, applied in written order (§7.4).
#[derive(Debug, Clone, PartialEq)]
pub enum SecondStage {
    TopK(i64),
    BottomK(i64),
    /// `> 10`, `>= 1s`, …: keeps the samples that pass.
    Filter {
        op: CmpOp,
        value: Static,
    },
}
