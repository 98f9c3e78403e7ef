//! A naive reference evaluator for TraceQL search, written from the spec (§3–§6 of
//! `shared/traceql.md`) to check the engine against: plain loops over the spans of each
//! whole trace, walking the parsed query, with no indexes and no push-down.
//!
//! ```text
//!  resource spans ─► group by trace id ─► TraceView (spans, parent links, root, duration)
//!                                              │
//!  Query (Body::Search) ─► pipeline stages, each a list of spansets ─► output spansets
//! ```
//!
//! A trace matches when the last stage leaves at least one spanset. Spanset operators
//! evaluate both operands against each input spanset; an operand giving more than one
//! spanset fails the query, as does an integer division by zero. Per-span rules live in
//! `reference/field.rs`, values in `reference/value.rs`, tree rules in `reference/trace.rs`.

mod field;
mod trace;
mod value;

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use spanlake::traceql::Query;
use spanlake::traceql::ast::{
    Aggregate, AggregateFn, ArithOp, BinaryOp, Body, CmpOp, Pipeline, ScalarExpr, ScalarFilter,
    SpansetExpr, SpansetOp, Stage,
};

pub use field::FieldEvaluator;
pub use trace::{Relation, TraceView, group_traces};
pub use value::Value;

/// Per matching trace (hex id, leading zeros trimmed): its output spansets as span-id sets,
/// sorted (spanset order carries no meaning).
pub type SearchResult = BTreeMap<String, Vec<BTreeSet<String>>>;

/// One expected output spanset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedSpanset {
    /// Hex span ids.
    pub span_ids: BTreeSet<String>,
    /// Spans in the spanset (more than `span_ids` when two spans share an id).
    pub spans: usize,
}

/// Evaluates a search query over every trace in `resource_spans`; panics if the query fails.
pub fn reference_search(query: &Query, resource_spans: &[ResourceSpans]) -> SearchResult {
    Reference::new(resource_spans)
        .search(query)
        .unwrap_or_else(|error| panic!("the reference fails on {query}: {error}"))
        .into_iter()
        .map(|(trace, sets)| (trace, sets.into_iter().map(|set| set.span_ids).collect()))
        .collect()
}

/// The traces of a dataset, grouped once, to evaluate many queries on.
pub struct Reference<'a> {
    traces: Vec<TraceView<'a>>,
}

impl<'a> Reference<'a> {
    pub fn new(resource_spans: &'a [ResourceSpans]) -> Reference<'a> {
        Reference { traces: group_traces(resource_spans) }
    }

    /// Per matching trace, its output spansets (sorted); `Err` when the query fails.
    pub fn search(&self, query: &Query) -> Result<BTreeMap<String, Vec<ExpectedSpanset>>, String> {
        let Body::Search(pipeline) = &query.body else {
            return Err("not a search query".to_string());
        };
        let fields = FieldEvaluator::default();
        let mut result = BTreeMap::new();
        for trace in &self.traces {
            let evaluator = Evaluator { trace, fields: &fields };
            let everything = Spanset { spans: (0..trace.spans.len()).collect() };
            let output = evaluator.pipeline(pipeline, vec![everything])?;
            if output.is_empty() {
                continue;
            }
            let mut sets: Vec<ExpectedSpanset> = output
                .iter()
                .map(|set| ExpectedSpanset {
                    span_ids: set
                        .spans
                        .iter()
                        .map(|&i| hex(&trace.spans[i].span.span_id))
                        .collect(),
                    spans: set.spans.len(),
                })
                .collect();
            sets.sort();
            result.insert(trace_id_hex(trace.trace_id), sets);
        }
        Ok(result)
    }
}

/// Lower-case hex with leading zeros trimmed (how search results print trace ids).
pub fn trace_id_hex(trace_id: &[u8]) -> String {
    let full = hex(trace_id);
    let trimmed = full.trim_start_matches('0');
    if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Span indexes into the trace, ascending and distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spanset {
    spans: Vec<usize>,
}

/// Evaluates a pipeline on one trace.
struct Evaluator<'t, 'a> {
    trace: &'t TraceView<'a>,
    fields: &'t FieldEvaluator,
}

impl Evaluator<'_, '_> {
    fn pipeline(&self, pipeline: &Pipeline, input: Vec<Spanset>) -> Result<Vec<Spanset>, String> {
        let mut sets = input;
        for stage in &pipeline.stages {
            sets = self.stage(stage, sets)?;
        }
        Ok(sets)
    }

    fn stage(&self, stage: &Stage, input: Vec<Spanset>) -> Result<Vec<Spanset>, String> {
        let mut output = Vec::new();
        match stage {
            Stage::Spanset(expr) => {
                for set in &input {
                    output.extend(self.spanset_expr(expr, set)?);
                }
            }
            Stage::Scalar(filter) => {
                for set in input {
                    if self.scalar_filter_holds(filter, &set)? {
                        output.push(set);
                    }
                }
            }
            Stage::By(expr) => {
                for set in &input {
                    // (group key, spans), in order of first appearance.
                    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
                    for &span in &set.spans {
                        let key = self.fields.value(self.trace, span, expr)?.group_key();
                        match groups.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, spans)) => spans.push(span),
                            None => groups.push((key, vec![span])),
                        }
                    }
                    output.extend(groups.into_iter().map(|(_, spans)| Spanset { spans }));
                }
            }
            Stage::Select(_) => output = input,
            Stage::Coalesce => {
                if !input.is_empty() {
                    let all: Vec<usize> = input.iter().flat_map(|set| set.spans.clone()).collect();
                    output.push(Spanset { spans: sorted_distinct(all) });
                }
            }
        }
        Ok(output)
    }

    /// A spanset expression against one input spanset: zero or more non-empty spansets.
    fn spanset_expr(&self, expr: &SpansetExpr, input: &Spanset) -> Result<Vec<Spanset>, String> {
        let spans = match expr {
            SpansetExpr::Filter(condition) => {
                let mut kept = Vec::new();
                for &span in &input.spans {
                    if self.fields.filter_holds(self.trace, span, condition)? {
                        kept.push(span);
                    }
                }
                kept
            }
            SpansetExpr::Pipeline(pipeline) => return self.pipeline(pipeline, vec![input.clone()]),
            SpansetExpr::Op { op, lhs, rhs } => {
                let left = self.operand(lhs, input)?;
                let right = self.operand(rhs, input)?;
                self.combine(*op, &left, &right)
            }
        };
        Ok(if spans.is_empty() { Vec::new() } else { vec![Spanset { spans }] })
    }

    /// The spans of an operand of a spanset operator (none if it gave no spanset).
    fn operand(&self, expr: &SpansetExpr, input: &Spanset) -> Result<Vec<usize>, String> {
        let mut sets = self.spanset_expr(expr, input)?;
        match sets.len() {
            0 => Ok(Vec::new()),
            1 => Ok(sets.remove(0).spans),
            n => {
                Err(format!("an operand of a spanset operator gave {n} spansets (use coalesce())"))
            }
        }
    }

    fn combine(&self, op: SpansetOp, left: &[usize], right: &[usize]) -> Vec<usize> {
        use SpansetOp::*;
        let union = || sorted_distinct(left.iter().chain(right).copied().collect());
        let (relation, form) = match op {
            And => return if left.is_empty() || right.is_empty() { Vec::new() } else { union() },
            Or => return union(),
            Child => (Relation::Child, Form::Plain),
            Parent => (Relation::Parent, Form::Plain),
            Descendant => (Relation::Descendant, Form::Plain),
            Ancestor => (Relation::Ancestor, Form::Plain),
            Sibling => (Relation::Sibling, Form::Plain),
            NotChild => (Relation::Child, Form::Negated),
            NotParent => (Relation::Parent, Form::Negated),
            NotDescendant => (Relation::Descendant, Form::Negated),
            NotAncestor => (Relation::Ancestor, Form::Negated),
            NotSibling => (Relation::Sibling, Form::Negated),
            UnionChild => (Relation::Child, Form::Union),
            UnionParent => (Relation::Parent, Form::Union),
            UnionDescendant => (Relation::Descendant, Form::Union),
            UnionAncestor => (Relation::Ancestor, Form::Union),
            UnionSibling => (Relation::Sibling, Form::Union),
        };
        // right_has_partner[b]: some a on the left with relation(a, b).
        let right_has_partner = self.trace.related_to_any(relation, left);
        match form {
            Form::Plain => right.iter().copied().filter(|&b| right_has_partner[b]).collect(),
            Form::Negated => right.iter().copied().filter(|&b| !right_has_partner[b]).collect(),
            Form::Union => {
                let left_has_partner = self.trace.related_to_any(relation.inverse(), right);
                let mut both: Vec<usize> =
                    left.iter().copied().filter(|&a| left_has_partner[a]).collect();
                both.extend(right.iter().copied().filter(|&b| right_has_partner[b]));
                sorted_distinct(both)
            }
        }
    }

    fn scalar_filter_holds(&self, filter: &ScalarFilter, set: &Spanset) -> Result<bool, String> {
        let (Some(left), Some(right)) =
            (self.scalar(&filter.lhs, set)?, self.scalar(&filter.rhs, set)?)
        else {
            return Ok(false); // an aggregate with no value drops the spanset
        };
        let (Some(a), Some(b)) = (left.as_number(), right.as_number()) else { return Ok(false) };
        Ok(match filter.op {
            CmpOp::Eq => a == b,
            CmpOp::Neq => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
        })
    }

    fn scalar(&self, expr: &ScalarExpr, set: &Spanset) -> Result<Option<Value>, String> {
        match expr {
            ScalarExpr::Static(value) => Ok(Some(Value::from_static(value))),
            ScalarExpr::Aggregate(aggregate) => self.aggregate(aggregate, set),
            ScalarExpr::Arith { op, lhs, rhs } => {
                let (Some(left), Some(right)) = (self.scalar(lhs, set)?, self.scalar(rhs, set)?)
                else {
                    return Ok(None);
                };
                let op = match op {
                    ArithOp::Add => BinaryOp::Add,
                    ArithOp::Sub => BinaryOp::Sub,
                    ArithOp::Mul => BinaryOp::Mul,
                    ArithOp::Div => BinaryOp::Div,
                    ArithOp::Mod => BinaryOp::Mod,
                    ArithOp::Pow => BinaryOp::Pow,
                };
                value::arithmetic(op, &left, &right).map(Some)
            }
        }
    }

    /// `count()`, or `avg/min/max/sum(e)` over the numeric values of e (nils and other
    /// types skipped; `None` when no value remains). `sum` and `avg` keep the first value's
    /// type and add only values of that type, but `avg` divides by every value's count.
    fn aggregate(&self, aggregate: &Aggregate, set: &Spanset) -> Result<Option<Value>, String> {
        let Some(arg) = &aggregate.arg else {
            return Ok(Some(Value::Int(set.spans.len() as i64)));
        };
        let mut values = Vec::new();
        for &span in &set.spans {
            let value = self.fields.value(self.trace, span, arg)?;
            if value.as_number().is_some() {
                values.push(value);
            }
        }
        let Some(first) = values.first().cloned() else { return Ok(None) };
        let number = |v: &Value| v.as_number().unwrap_or_default();
        Ok(Some(match aggregate.func {
            AggregateFn::Count => Value::Int(set.spans.len() as i64),
            AggregateFn::Min => {
                values.iter().fold(first, |m, v| if number(v) < number(&m) { v.clone() } else { m })
            }
            AggregateFn::Max => {
                values.iter().fold(first, |m, v| if number(v) > number(&m) { v.clone() } else { m })
            }
            AggregateFn::Sum => sum_of_first_type(&values),
            AggregateFn::Avg => {
                let count = values.len() as i64;
                match sum_of_first_type(&values) {
                    Value::Int(sum) => Value::Float(sum as f64 / count as f64),
                    Value::Float(sum) => Value::Float(sum / count as f64),
                    Value::Duration(sum) => Value::Duration(sum / count),
                    other => other,
                }
            }
        }))
    }
}

/// The three shapes of structural operator.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// `>`: right-hand spans with a partner on the left.
    Plain,
    /// `!>`: right-hand spans without one.
    Negated,
    /// `&>`: spans of both sides that are part of a pair.
    Union,
}

fn sum_of_first_type(values: &[Value]) -> Value {
    match values[0] {
        Value::Int(_) => Value::Int(values.iter().fold(0i64, |sum, v| match v {
            Value::Int(i) => sum.wrapping_add(*i),
            _ => sum,
        })),
        Value::Duration(_) => Value::Duration(values.iter().fold(0i64, |sum, v| match v {
            Value::Duration(d) => sum.wrapping_add(*d),
            _ => sum,
        })),
        _ => Value::Float(values.iter().fold(0.0, |sum, v| match v {
            Value::Float(f) => sum + f,
            _ => sum,
        })),
    }
}

fn sorted_distinct(mut spans: Vec<usize>) -> Vec<usize> {
    spans.sort_unstable();
    spans.dedup();
    spans
}
