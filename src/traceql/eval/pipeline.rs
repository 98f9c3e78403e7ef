//! Compiling and running a spanset pipeline (§5): stages applied left to right to the list
//! of spansets of one trace.
//!
//! ```text
//!  [all spans] ─► {…} ─► by(e) ─► count() > 2 ─► coalesce() ─► … ─► spansets (empty: no match)
//! ```
//!
//! Each stage maps every input spanset to zero or more output spansets; a stage with no
//! output ends the run. Spanset operators evaluate both operands on each input spanset.

use std::collections::HashMap;

use super::aggregate::CompiledAggregate;
use super::compile::{Compiler, Expr};
use super::error::EvalError;
use super::field::{Binding, Filter};
use super::ops::compare_numbers;
use super::spanset::{Spanset, combine, merge_distinct};
use super::trace::EvalTrace;
use super::value::{GroupKey, Number};
use crate::traceql::ast::{
    CmpOp, FieldExpr, Pipeline, ScalarExpr, ScalarFilter, SpansetExpr, SpansetOp, Stage, Static,
};

/// A compiled pipeline.
#[derive(Debug, Clone)]
pub(crate) struct CompiledPipeline {
    stages: Vec<CompiledStage>,
}

#[derive(Debug, Clone)]
enum CompiledStage {
    Spanset(CompiledSpansetExpr),
    /// `aggregate op constant`.
    AggregateFilter {
        aggregate: CompiledAggregate,
        label: String,
        op: CmpOp,
        constant: Number,
    },
    /// `by(expr)`; `label` is `by(<expr as printed>)`.
    By {
        expr: Expr,
        label: String,
    },
    /// `coalesce()`.
    Coalesce,
    /// `select(…)` filters nothing; its fields are returned on result spans.
    Select,
}

#[derive(Debug, Clone)]
enum CompiledSpansetExpr {
    Filter(Filter),
    Op { op: SpansetOp, lhs: Box<CompiledSpansetExpr>, rhs: Box<CompiledSpansetExpr> },
    Pipeline(CompiledPipeline),
}

impl CompiledPipeline {
    /// Compiles a pipeline, rejecting what validation should already have rejected.
    pub(crate) fn compile(
        pipeline: &Pipeline,
        compiler: &mut Compiler,
    ) -> Result<CompiledPipeline, EvalError> {
        let stages = pipeline
            .stages
            .iter()
            .map(|stage| compile_stage(stage, compiler))
            .collect::<Result<_, _>>()?;
        Ok(CompiledPipeline { stages })
    }

    /// Runs the stages on `input`.
    pub(crate) fn run<'t>(
        &self,
        trace: &'t EvalTrace,
        input: Vec<Spanset<'t>>,
    ) -> Result<Vec<Spanset<'t>>, EvalError> {
        let mut current = input;
        for stage in &self.stages {
            if current.is_empty() {
                break;
            }
            current = run_stage(stage, trace, current)?;
        }
        Ok(current)
    }
}

fn compile_stage(stage: &Stage, compiler: &mut Compiler) -> Result<CompiledStage, EvalError> {
    Ok(match stage {
        Stage::Spanset(expr) => CompiledStage::Spanset(compile_spanset(expr, compiler)?),
        Stage::Scalar(filter) => compile_scalar_filter(filter, compiler)?,
        Stage::By(expr) => {
            CompiledStage::By { expr: compiler.compile(expr)?, label: format!("by({expr})") }
        }
        Stage::Select(_) => CompiledStage::Select,
        Stage::Coalesce => CompiledStage::Coalesce,
    })
}

fn compile_spanset(
    expr: &SpansetExpr,
    compiler: &mut Compiler,
) -> Result<CompiledSpansetExpr, EvalError> {
    Ok(match expr {
        SpansetExpr::Filter(condition) => {
            CompiledSpansetExpr::Filter(Filter::new(compiler.compile(condition)?))
        }
        SpansetExpr::Op { op, lhs, rhs } => CompiledSpansetExpr::Op {
            op: *op,
            lhs: Box::new(compile_spanset(lhs, compiler)?),
            rhs: Box::new(compile_spanset(rhs, compiler)?),
        },
        SpansetExpr::Pipeline(pipeline) => {
            CompiledSpansetExpr::Pipeline(CompiledPipeline::compile(pipeline, compiler)?)
        }
    })
}

/// Only `aggregate op constant` runs; validation rejects the other shapes.
fn compile_scalar_filter(
    filter: &ScalarFilter,
    compiler: &mut Compiler,
) -> Result<CompiledStage, EvalError> {
    let (ScalarExpr::Aggregate(aggregate), ScalarExpr::Static(constant)) =
        (&filter.lhs, &filter.rhs)
    else {
        return Err(EvalError::Unsupported(format!("the scalar filter {filter}")));
    };
    let constant = match constant {
        Static::Int(number) | Static::Duration(number) => Number::Whole(*number),
        Static::Float(number) => Number::Float(*number),
        _ => return Err(EvalError::Unsupported(format!("the scalar filter {filter}"))),
    };
    let arg = aggregate.arg.as_ref().map(|arg| compiler.compile(arg)).transpose()?;
    Ok(CompiledStage::AggregateFilter {
        aggregate: CompiledAggregate { func: aggregate.func, arg },
        label: aggregate.to_string(),
        op: filter.op,
        constant,
    })
}

fn run_stage<'t>(
    stage: &CompiledStage,
    trace: &'t EvalTrace,
    input: Vec<Spanset<'t>>,
) -> Result<Vec<Spanset<'t>>, EvalError> {
    match stage {
        CompiledStage::Spanset(expr) => {
            let mut output = Vec::new();
            for spanset in &input {
                output.extend(eval_spanset_expr(expr, trace, spanset)?);
            }
            Ok(output)
        }
        CompiledStage::AggregateFilter { aggregate, label, op, constant } => {
            let mut output = Vec::with_capacity(input.len());
            for mut spanset in input {
                let Some(value) = aggregate.compute(trace, &spanset.spans)? else { continue };
                let kept =
                    value.as_number().is_some_and(|number| compare_numbers(*op, number, *constant));
                if kept {
                    spanset.set_attribute(label, value);
                    output.push(spanset);
                }
            }
            Ok(output)
        }
        CompiledStage::By { expr, label } => {
            let mut output = Vec::new();
            for spanset in &input {
                output.extend(group_by(expr, label, trace, spanset)?);
            }
            Ok(output)
        }
        CompiledStage::Coalesce => {
            let spans = merge_distinct(trace, input.iter().map(|spanset| &spanset.spans[..]));
            Ok(if spans.is_empty() {
                Vec::new()
            } else {
                vec![Spanset { spans, attributes: Vec::new() }]
            })
        }
        CompiledStage::Select => Ok(input),
    }
}

/// Evaluates a spanset expression on one input spanset; the result keeps the input's
/// attributes.
fn eval_spanset_expr<'t>(
    expr: &CompiledSpansetExpr,
    trace: &'t EvalTrace,
    input: &Spanset<'t>,
) -> Result<Vec<Spanset<'t>>, EvalError> {
    let spans = match expr {
        CompiledSpansetExpr::Filter(filter) => {
            let mut kept = Vec::new();
            for &index in &input.spans {
                if let Some(span) = trace.spans.get(index as usize)
                    && filter.matches(trace, span)?
                {
                    kept.push(index);
                }
            }
            kept
        }
        CompiledSpansetExpr::Op { op, lhs, rhs } => {
            let lhs = single_spanset(*op, eval_spanset_expr(lhs, trace, input)?)?;
            let rhs = single_spanset(*op, eval_spanset_expr(rhs, trace, input)?)?;
            combine(
                trace,
                *op,
                lhs.as_ref().map(|s| &s.spans[..]),
                rhs.as_ref().map(|s| &s.spans[..]),
            )
        }
        CompiledSpansetExpr::Pipeline(pipeline) => {
            return pipeline.run(trace, vec![input.clone()]);
        }
    };
    Ok(if spans.is_empty() {
        Vec::new()
    } else {
        vec![Spanset { spans, attributes: input.attributes.clone() }]
    })
}

/// The one spanset an operand of a spanset operator may give.
fn single_spanset<'t>(
    op: SpansetOp,
    mut spansets: Vec<Spanset<'t>>,
) -> Result<Option<Spanset<'t>>, EvalError> {
    match spansets.len() {
        0 | 1 => Ok(spansets.pop()),
        count => Err(EvalError::MultipleSpansets { op, count }),
    }
}

/// Splits a spanset by the value of `expr`, in order of first appearance.
fn group_by<'t>(
    expr: &Expr,
    label: &str,
    trace: &'t EvalTrace,
    input: &Spanset<'t>,
) -> Result<Vec<Spanset<'t>>, EvalError> {
    let mut group_of: HashMap<GroupKey<'t>, usize> = HashMap::new();
    let mut groups: Vec<Spanset<'t>> = Vec::new();
    for &index in &input.spans {
        let Some(span) = trace.spans.get(index as usize) else { continue };
        let value = expr.eval(&Binding::first(trace, span))?;
        let key = GroupKey(value);
        let group = match group_of.get(&key) {
            Some(group) => *group,
            None => {
                let mut spanset =
                    Spanset { spans: Vec::new(), attributes: input.attributes.clone() };
                spanset.set_attribute(label, key.0.clone());
                groups.push(spanset);
                group_of.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[group].spans.push(index);
    }
    Ok(groups)
}

/// Whether a pipeline can never produce a spanset whatever the trace (`{ false }`).
pub(crate) fn never_matches(pipeline: &Pipeline) -> bool {
    pipeline.stages.iter().any(|stage| match stage {
        Stage::Spanset(expr) => spanset_never_matches(expr),
        _ => false,
    })
}

fn spanset_never_matches(expr: &SpansetExpr) -> bool {
    match expr {
        // Only `true` keeps a span, so any other constant keeps none.
        SpansetExpr::Filter(FieldExpr::Static(value)) => *value != Static::Bool(true),
        SpansetExpr::Filter(_) => false,
        SpansetExpr::Pipeline(pipeline) => never_matches(pipeline),
        SpansetExpr::Op { op, lhs, rhs } => {
            let (lhs, rhs) = (spanset_never_matches(lhs), spanset_never_matches(rhs));
            match op {
                SpansetOp::Or => lhs && rhs,
                // A negated operator returns the right side when the left is empty.
                SpansetOp::NotChild
                | SpansetOp::NotParent
                | SpansetOp::NotDescendant
                | SpansetOp::NotAncestor
                | SpansetOp::NotSibling => rhs,
                _ => lhs || rhs,
            }
        }
    }
}
