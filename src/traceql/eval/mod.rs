//! The in-memory TraceQL search engine: a query compiled once into a [`SearchPlan`], run on
//! one assembled trace at a time ([`EvalTrace`]), giving the spansets that matched.
//!
//! ```text
//!  ast::Query ──SearchPlan::new──► plan (regexes compiled once, returned fields listed)
//!  OTLP spans ──EvalTrace::from_otlp──► trace ──plan.run──► Vec<Spanset> (empty: no match)
//!                                                           └─► result_attributes(span)
//! ```
//!
//! # Layout
//! - `trace`: the evaluation model of a trace (typed attributes, tree positions).
//! - `value`, `ops`: runtime values and the operators on them (§4.2).
//! - `compile`, `field`: field expressions, compiled then evaluated per span, with event and
//!   link bindings.
//! - `spanset`, `pipeline`, `aggregate`: spansets, spanset operators and pipeline stages (§5).
//!
//! Section numbers refer to the TraceQL notes (`traceql.md`). Where this engine differs
//! from Tempo on purpose, the module that does it says so: `field` (unary operators on the
//! wrong type), `ops` (`int ^ int`), `aggregate` (`avg` denominator), `trace` (ids).

mod aggregate;
mod compile;
mod error;
mod field;
mod ops;
mod pipeline;
mod spanset;
mod trace;
mod value;

#[cfg(test)]
mod test_trace;

pub use error::EvalError;
pub use spanset::Spanset;
pub use trace::{AttrValue, Attrs, EvalEvent, EvalLink, EvalScope, EvalSpan, EvalTrace};
pub use value::{HexId, Text, Value};

pub(crate) use ops::swap_operands as swap_cmp;
pub(crate) use ops::{equality, ordering_holds};
pub(crate) use trace::{
    eval_event, eval_link, eval_scope, id8, index_u32, kind_from_code, status_from_code,
};

use compile::{Compiler, Field};
use field::{Binding, kind_text, status_text};
use pipeline::{CompiledPipeline, never_matches};

use super::ast::{
    Body, FieldExpr, FieldRef, Intrinsic, Pipeline, Query, ScalarExpr, SpansetExpr, Stage,
};
use super::pushdown::TraceCond;

/// A query compiled once (regexes compiled, referenced fields collected), run on many traces.
#[derive(Debug, Clone)]
pub struct SearchPlan {
    pipeline: CompiledPipeline,
    returned: Vec<FieldRef>,
    returned_compiled: Vec<Field>,
    read: Vec<FieldRef>,
    noop: bool,
    necessary: TraceCond,
}

impl SearchPlan {
    /// Compiles a search query. Metrics queries and pipeline comparisons are
    /// [`EvalError::NotASearch`]; constructs validation rejects are [`EvalError::Unsupported`].
    pub fn new(query: &Query) -> Result<SearchPlan, EvalError> {
        let Body::Search(pipeline) = &query.body else {
            return Err(EvalError::NotASearch);
        };
        let mut compiler = Compiler::default();
        let compiled = CompiledPipeline::compile(pipeline, &mut compiler)?;
        let mut read = Vec::new();
        collect_pipeline_fields(pipeline, &mut read);
        let returned: Vec<FieldRef> =
            read.iter().filter(|field| is_returned(field)).cloned().collect();
        let returned_compiled =
            returned.iter().map(Field::compile).collect::<Result<Vec<_>, _>>()?;
        Ok(SearchPlan {
            pipeline: compiled,
            returned,
            returned_compiled,
            read,
            noop: never_matches(pipeline),
            necessary: TraceCond::of_query(query),
        })
    }

    /// Runs the pipeline on one trace. Empty vec = the trace does not match.
    ///
    /// The input is one spanset holding every span of the trace, in trace order; a trace
    /// without spans matches nothing.
    pub fn run<'t>(&self, trace: &'t EvalTrace) -> Result<Vec<Spanset<'t>>, EvalError> {
        if self.noop || trace.spans.is_empty() {
            return Ok(Vec::new());
        }
        let all_spans = (0..trace.spans.len()).map(|index| index as u32).collect();
        self.pipeline.run(trace, vec![Spanset { spans: all_spans, attributes: Vec::new() }])
    }

    /// Fields whose values are returned on result spans: every attribute and intrinsic used
    /// in conditions, aggregates, `by()` and `select()`, in query order without repeats,
    /// except name, duration, trace-level intrinsics and ids (§6).
    pub fn returned_fields(&self) -> &[FieldRef] {
        &self.returned
    }

    /// Every field the query reads (conditions, aggregates, `by()`, `select()`), in query
    /// order without repeats: a trace model holding these (plus what a hit reports) gives
    /// the same results as the whole trace.
    pub fn read_fields(&self) -> &[FieldRef] {
        &self.read
    }

    /// What a trace must contain to possibly match (for storage to skip the rest).
    pub fn necessary_condition(&self) -> &TraceCond {
        &self.necessary
    }

    /// Whether the query can never match (`{ false }`): answer at once.
    pub fn is_noop(&self) -> bool {
        self.noop
    }
}

/// The values of `returned_fields` on one span, keyed by the unscoped attribute name
/// (`service.name`) or the intrinsic's name (`status`, `kind` as strings). Missing values
/// are left out; when two fields share a key (`span.x`, `resource.x`) the first present one
/// wins. Event and link fields come from the first event or link that has them.
pub fn result_attributes<'t>(
    plan: &SearchPlan,
    trace: &'t EvalTrace,
    span: u32,
) -> Vec<(String, Value<'t>)> {
    let Some(eval_span) = trace.spans.get(span as usize) else {
        return Vec::new();
    };
    let mut result: Vec<(String, Value<'t>)> = Vec::new();
    for (field_ref, field) in plan.returned.iter().zip(&plan.returned_compiled) {
        let key = match field_ref {
            FieldRef::Attribute(attr) => attr.name.clone(),
            FieldRef::Intrinsic(intrinsic) => intrinsic.to_string(),
        };
        if result.iter().any(|(existing, _)| *existing == key) {
            continue;
        }
        let value = match field.read(&Binding::first(trace, eval_span)) {
            Value::Status(status) => Value::str(status_text(status)),
            Value::Kind(kind) => Value::str(kind_text(kind)),
            Value::Nil => first_bound_value(field, trace, eval_span),
            value => value,
        };
        if !value.is_nil() {
            result.push((key, value));
        }
    }
    result
}

/// Reads an event or link field on each event (link) until one has a value.
fn first_bound_value<'t>(field: &Field, trace: &'t EvalTrace, span: &'t EvalSpan) -> Value<'t> {
    let bindings: Vec<Binding<'t>> = if field.reads_event() {
        span.events
            .iter()
            .map(|event| Binding { trace, span, event: Some(event), link: None })
            .collect()
    } else if field.reads_link() {
        span.links
            .iter()
            .map(|link| Binding { trace, span, event: None, link: Some(link) })
            .collect()
    } else {
        Vec::new()
    };
    bindings
        .iter()
        .map(|binding| field.read(binding))
        .find(|value| !value.is_nil())
        .unwrap_or(Value::Nil)
}

/// Whether a field's values are returned on result spans (§6).
fn is_returned(field: &FieldRef) -> bool {
    !matches!(
        field,
        FieldRef::Intrinsic(
            Intrinsic::Name
                | Intrinsic::Duration
                | Intrinsic::Parent
                | Intrinsic::TraceDuration
                | Intrinsic::TraceRootName
                | Intrinsic::TraceRootService
                | Intrinsic::TraceId
                | Intrinsic::SpanId
                | Intrinsic::ParentId
                | Intrinsic::LinkTraceId
                | Intrinsic::LinkSpanId
        )
    ) && !matches!(field, FieldRef::Attribute(attr) if attr.parent)
}

fn push_field(field: &FieldRef, fields: &mut Vec<FieldRef>) {
    if !fields.contains(field) {
        fields.push(field.clone());
    }
}

fn collect_pipeline_fields(pipeline: &Pipeline, fields: &mut Vec<FieldRef>) {
    for stage in &pipeline.stages {
        match stage {
            Stage::Spanset(expr) => collect_spanset_fields(expr, fields),
            Stage::Scalar(filter) => {
                collect_scalar_fields(&filter.lhs, fields);
                collect_scalar_fields(&filter.rhs, fields);
            }
            Stage::By(expr) => collect_expr_fields(expr, fields),
            Stage::Select(selected) => selected.iter().for_each(|field| push_field(field, fields)),
            Stage::Coalesce => {}
        }
    }
}

fn collect_spanset_fields(expr: &SpansetExpr, fields: &mut Vec<FieldRef>) {
    match expr {
        SpansetExpr::Filter(condition) => collect_expr_fields(condition, fields),
        SpansetExpr::Op { lhs, rhs, .. } => {
            collect_spanset_fields(lhs, fields);
            collect_spanset_fields(rhs, fields);
        }
        SpansetExpr::Pipeline(pipeline) => collect_pipeline_fields(pipeline, fields),
    }
}

fn collect_scalar_fields(expr: &ScalarExpr, fields: &mut Vec<FieldRef>) {
    match expr {
        ScalarExpr::Aggregate(aggregate) => {
            if let Some(arg) = &aggregate.arg {
                collect_expr_fields(arg, fields);
            }
        }
        ScalarExpr::Static(_) => {}
        ScalarExpr::Arith { lhs, rhs, .. } => {
            collect_scalar_fields(lhs, fields);
            collect_scalar_fields(rhs, fields);
        }
    }
}

fn collect_expr_fields(expr: &FieldExpr, fields: &mut Vec<FieldRef>) {
    match expr {
        FieldExpr::Static(_) => {}
        FieldExpr::Ref(field) => push_field(field, fields),
        FieldExpr::Binary { lhs, rhs, .. } => {
            collect_expr_fields(lhs, fields);
            collect_expr_fields(rhs, fields);
        }
        FieldExpr::Unary { expr, .. } => collect_expr_fields(expr, fields),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
