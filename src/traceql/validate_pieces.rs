//! The pieces of a query that validation checks one by one (see the `validate` module docs).
//!
//! [`pieces_of`] walks the syntax tree once and lists every part with rules of its own, in
//! query order and each after the pieces it contains, so checking the list in turn gives the
//! error priority the parent module documents.

use crate::traceql::ast::{
    Aggregate, Body, FieldExpr, FieldRef, MetricsExpr, MetricsFunction, Pipeline, PipelineScalar,
    ScalarExpr, ScalarFilter, SecondStage, SpansetExpr, Stage, Static,
};

/// A part of a query that has rules of its own. [`pieces_of`] lists them in query order, each
/// after the pieces it contains, so checking them in turn gives the priority of the module docs.
pub(super) enum Piece<'q> {
    /// The body of `{…}` or of `compare({…})`.
    Filter(&'q FieldExpr),
    /// The expression of `by(…)` in a pipeline.
    Group(&'q FieldExpr),
    /// A field named by `select(…)`, by a metrics function or by its `by(…)`.
    Field(&'q FieldRef),
    /// `count()`, `avg(e)`, … in a scalar filter or a pipeline comparison.
    Aggregate(&'q Aggregate),
    /// A constant beside aggregates or metrics results, and where it stands.
    Number(&'q Static, &'static str),
    /// The shape of a scalar filter.
    ScalarFilter(&'q ScalarFilter),
    /// `(pipeline | aggregate) cmp …`.
    PipelineCompare,
    /// A metrics function, whether it is an operand of arithmetic, and the first second stage
    /// applied to its result (its own or the whole query's).
    Metrics { function: &'q MetricsFunction, in_arithmetic: bool, next: Option<&'q SecondStage> },
    /// `topk(k)`, `bottomk(k)` or `cmp constant` on metrics results.
    SecondStage(&'q SecondStage),
}

pub(super) fn pieces_of(body: &Body) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    match body {
        Body::Search(pipeline) => collect_pipeline(pipeline, &mut pieces),
        Body::Metrics(query) => {
            let in_arithmetic = matches!(query.expr, MetricsExpr::Arith { .. });
            let outer = query.second_stage.first();
            collect_metrics(&query.expr, in_arithmetic, outer, &mut pieces);
            pieces.extend(query.second_stage.iter().map(Piece::SecondStage));
        }
        Body::PipelineCompare(compare) => {
            collect_pipeline_scalar(&compare.lhs, &mut pieces);
            collect_pipeline_scalar(&compare.rhs, &mut pieces);
            pieces.push(Piece::PipelineCompare);
        }
    }
    pieces
}

fn collect_pipeline<'q>(pipeline: &'q Pipeline, pieces: &mut Vec<Piece<'q>>) {
    for stage in &pipeline.stages {
        match stage {
            Stage::Spanset(spanset) => collect_spanset(spanset, pieces),
            Stage::Scalar(filter) => {
                collect_scalar(&filter.lhs, pieces);
                collect_scalar(&filter.rhs, pieces);
                pieces.push(Piece::ScalarFilter(filter));
            }
            Stage::By(expr) => pieces.push(Piece::Group(expr)),
            Stage::Select(fields) => pieces.extend(fields.iter().map(Piece::Field)),
            Stage::Coalesce => {}
        }
    }
}

fn collect_spanset<'q>(spanset: &'q SpansetExpr, pieces: &mut Vec<Piece<'q>>) {
    match spanset {
        SpansetExpr::Filter(expr) => pieces.push(Piece::Filter(expr)),
        SpansetExpr::Op { lhs, rhs, .. } => {
            collect_spanset(lhs, pieces);
            collect_spanset(rhs, pieces);
        }
        SpansetExpr::Pipeline(pipeline) => collect_pipeline(pipeline, pieces),
    }
}

fn collect_scalar<'q>(scalar: &'q ScalarExpr, pieces: &mut Vec<Piece<'q>>) {
    match scalar {
        ScalarExpr::Aggregate(aggregate) => pieces.push(Piece::Aggregate(aggregate)),
        ScalarExpr::Static(value) => pieces.push(Piece::Number(value, "an aggregate filter")),
        ScalarExpr::Arith { lhs, rhs, .. } => {
            collect_scalar(lhs, pieces);
            collect_scalar(rhs, pieces);
        }
    }
}

fn collect_pipeline_scalar<'q>(scalar: &'q PipelineScalar, pieces: &mut Vec<Piece<'q>>) {
    match scalar {
        PipelineScalar::Aggregate { pipeline, aggregate } => {
            collect_pipeline(pipeline, pieces);
            pieces.push(Piece::Aggregate(aggregate));
        }
        PipelineScalar::Static(value) => pieces.push(Piece::Number(value, "a pipeline comparison")),
        PipelineScalar::Arith { lhs, rhs, .. } => {
            collect_pipeline_scalar(lhs, pieces);
            collect_pipeline_scalar(rhs, pieces);
        }
    }
}

/// `outer` is the first second stage written after the whole metrics expression.
fn collect_metrics<'q>(
    expr: &'q MetricsExpr,
    in_arithmetic: bool,
    outer: Option<&'q SecondStage>,
    pieces: &mut Vec<Piece<'q>>,
) {
    match expr {
        MetricsExpr::Pipeline(metrics) => {
            collect_pipeline(&metrics.pipeline, pieces);
            match &metrics.function {
                MetricsFunction::Rate { by } | MetricsFunction::CountOverTime { by } => {
                    pieces.extend(by.iter().map(Piece::Field));
                }
                MetricsFunction::OverTime { field, by, .. }
                | MetricsFunction::QuantileOverTime { field, by, .. } => {
                    pieces.push(Piece::Field(field));
                    pieces.extend(by.iter().map(Piece::Field));
                }
                MetricsFunction::Compare { filter, .. } => pieces.push(Piece::Filter(filter)),
            }
            pieces.extend(metrics.second_stage.iter().map(Piece::SecondStage));
            let next = metrics.second_stage.first().or(outer);
            pieces.push(Piece::Metrics { function: &metrics.function, in_arithmetic, next });
        }
        MetricsExpr::Const(value) => pieces.push(Piece::Number(value, "metrics arithmetic")),
        MetricsExpr::Arith { lhs, rhs, .. } => {
            collect_metrics(lhs, in_arithmetic, outer, pieces);
            collect_metrics(rhs, in_arithmetic, outer, pieces);
        }
    }
}
