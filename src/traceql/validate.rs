//! Semantic validation of a parsed TraceQL query (spec §4.1).
//!
//! The parser accepts every well-formed query; this pass rejects the ones that are meaningless
//! (`{ 1 = "foo" }`, `sum(3) = 2`) with [`ValidateError::Invalid`], and the ones Tempo parses
//! but does not run (`parent`, aggregate-vs-aggregate filters, pipeline comparisons) with
//! [`ValidateError::Unsupported`].
//!
//! The query is cut into pieces (filters, `by()` expressions, fields, aggregates, constants,
//! metrics functions, second stages), listed in query order with each piece after the pieces
//! it contains. Two passes over that list decide which error wins when there are several:
//!
//! ```text
//! pass 1  any `parent` intrinsic or `parent.` attribute, anywhere         -> Unsupported
//! pass 2  piece by piece; inside an expression, operands before operators:
//!           types, regexes, aggregate arguments, by(), metrics arguments  -> Invalid
//!         then the shape of each scalar filter or pipeline comparison,
//!           once its own aggregates passed                                -> Unsupported
//! ```
//!
//! `validate_pieces.rs` cuts the query into pieces; `validate_metrics.rs` holds the rules of
//! metrics functions.
//!
//! Expression types are static: attribute references are [`StaticType::Dynamic`] and accept
//! any operator the other operand allows.

use std::fmt;

use super::ast::{
    Aggregate, Attribute, AttributeScope, BinaryOp, FieldExpr, FieldRef, Intrinsic, Query,
    ScalarExpr, ScalarFilter, SecondStage, Static, UnaryOp,
};
use super::value::check_regex;
use metrics::{check_compare_alone, check_metrics_function};
use pieces::{Piece, pieces_of};

#[path = "validate_metrics.rs"]
mod metrics;
#[path = "validate_pieces.rs"]
mod pieces;

/// Why a parsed query was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidateError {
    /// The query means nothing: a type or argument error.
    #[error("invalid query: {0}")]
    Invalid(String),
    /// The query is meaningful, but Tempo (and so spanlake) does not run it.
    #[error("{0} not yet supported")]
    Unsupported(String),
}

/// The type an expression has at validation time (also used by the parser's constant folding
/// and later by the query planner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaticType {
    Int,
    Float,
    String,
    Bool,
    Duration,
    Status,
    Kind,
    /// An attribute value: unknown until the span is read.
    Dynamic,
}

impl StaticType {
    /// Returns the type of a constant.
    pub(crate) fn of_static(value: &Static) -> Self {
        match value {
            Static::Int(_) => Self::Int,
            Static::Float(_) => Self::Float,
            Static::Str(_) => Self::String,
            Static::Bool(_) => Self::Bool,
            Static::Duration(_) => Self::Duration,
            Static::Status(_) => Self::Status,
            Static::Kind(_) => Self::Kind,
        }
    }

    /// Returns the type of an intrinsic (spec §3). `parent` is dynamic: it is rejected as
    /// unsupported before its type could matter.
    pub(crate) fn of_intrinsic(intrinsic: Intrinsic) -> Self {
        use Intrinsic as I;
        match intrinsic {
            I::Duration | I::TraceDuration | I::EventTimeSinceStart => Self::Duration,
            I::Name | I::StatusMessage | I::SpanId | I::ParentId | I::EventName => Self::String,
            I::TraceRootName | I::TraceRootService | I::TraceId | I::LinkTraceId => Self::String,
            I::LinkSpanId | I::InstrumentationName | I::InstrumentationVersion => Self::String,
            I::Status => Self::Status,
            I::Kind => Self::Kind,
            I::ChildCount | I::NestedSetLeft | I::NestedSetRight | I::NestedSetParent => Self::Int,
            I::Parent => Self::Dynamic,
        }
    }

    /// Tells whether the type is int, float or duration.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, Self::Int | Self::Float | Self::Duration)
    }

    /// Tells whether `op` may take an operand of this type (dynamic operands allow everything).
    fn allows(self, op: BinaryOp) -> bool {
        use BinaryOp as B;
        let equality = matches!(op, B::Eq | B::Neq);
        let ordering = matches!(op, B::Lt | B::Lte | B::Gt | B::Gte);
        match self {
            Self::Dynamic => true,
            Self::Bool => equality || matches!(op, B::And | B::Or),
            Self::Int | Self::Float | Self::Duration => equality || ordering || is_arithmetic(op),
            Self::String => equality || ordering || matches!(op, B::Regex | B::NotRegex),
            Self::Status | Self::Kind => equality,
        }
    }
}

impl fmt::Display for StaticType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Int => "int",
            Self::Float => "float",
            Self::String => "string",
            Self::Bool => "bool",
            Self::Duration => "duration",
            Self::Status => "status",
            Self::Kind => "kind",
            Self::Dynamic => "dynamic",
        })
    }
}

/// Checks a whole query; the first problem found (in the order of the module docs) is returned.
pub(crate) fn validate(query: &Query) -> Result<(), ValidateError> {
    let pieces = pieces_of(&query.body);
    pieces.iter().try_for_each(reject_parent_in_piece)?;
    pieces.iter().try_for_each(check_piece)
}

/// Returns the type `expr` has at validation time.
pub(crate) fn implied_type(expr: &FieldExpr) -> StaticType {
    match expr {
        FieldExpr::Static(value) => StaticType::of_static(value),
        FieldExpr::Ref(FieldRef::Intrinsic(intrinsic)) => StaticType::of_intrinsic(*intrinsic),
        FieldExpr::Ref(FieldRef::Attribute(_)) => StaticType::Dynamic,
        FieldExpr::Binary { op, lhs, rhs } => {
            if is_arithmetic(*op) {
                match implied_type(lhs) {
                    StaticType::Dynamic => implied_type(rhs),
                    lhs_type => lhs_type,
                }
            } else {
                StaticType::Bool
            }
        }
        // As in Tempo, `!x` takes its operand's type: `!.a` stays dynamic.
        FieldExpr::Unary { op: UnaryOp::Neg | UnaryOp::Not, expr } => implied_type(expr),
        FieldExpr::Unary { .. } => StaticType::Bool,
    }
}

/// Checks one field expression (recursively), as the filter body rules require: every
/// operation in it, operands first, after rejecting `parent` references. It does not require
/// the result to be a boolean; that is the filter's own rule.
#[allow(dead_code, reason = "for the search engine's sub-expressions (next issue); tested here")]
pub(crate) fn validate_field_expr(expr: &FieldExpr) -> Result<(), ValidateError> {
    reject_parent_in_expr(expr)?;
    check_field_expr(expr)
}

/// Checks a single binary operation whose operands are already known valid: operand
/// compatibility, operator-per-type, regex rules. The parser calls this before folding
/// `lhs op rhs` of two statics, so it must be cheap and must not recurse.
pub(crate) fn check_binary(
    op: BinaryOp,
    lhs: &FieldExpr,
    rhs: &FieldExpr,
) -> Result<(), ValidateError> {
    let lhs_type = implied_type(lhs);
    let rhs_type = implied_type(rhs);
    let text = || binary_text(op, lhs, rhs);
    if !operands_compatible(lhs_type, rhs_type) {
        let problem = if is_arithmetic(op) || matches!(op, BinaryOp::And | BinaryOp::Or) {
            format!("cannot apply {op} to {lhs_type} and {rhs_type}")
        } else {
            format!("cannot compare {lhs_type} with {rhs_type}")
        };
        return Err(invalid(format!("{problem}: {}", text())));
    }
    if let Some(bad) = [lhs_type, rhs_type].into_iter().find(|t| !t.allows(op)) {
        return Err(invalid(format!("operator {op} is not defined for {bad}: {}", text())));
    }
    if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex) {
        let FieldExpr::Static(pattern @ Static::Str(source)) = rhs else {
            return Err(invalid(format!(
                "the right side of {op} must be a string literal: {}",
                text()
            )));
        };
        if let Err(err) = check_regex(source) {
            let summary = regex_error_summary(&err);
            return Err(invalid(format!("invalid regex {pattern}: {summary}: {}", text())));
        }
    }
    Ok(())
}

/// Same for a unary operation: `-` needs a number, `!` a boolean, and `x = nil` is refused
/// where x can never be missing (intrinsics and `resource.service.name`).
pub(crate) fn check_unary(op: UnaryOp, expr: &FieldExpr) -> Result<(), ValidateError> {
    let operand_type = implied_type(expr);
    let allowed = match op {
        UnaryOp::Neg => operand_type.is_numeric() || operand_type == StaticType::Dynamic,
        UnaryOp::Not => matches!(operand_type, StaticType::Bool | StaticType::Dynamic),
        UnaryOp::Exists | UnaryOp::NotExists => true,
    };
    if !allowed {
        let text = unary_text(op, expr);
        return Err(invalid(format!("operator {op} is not defined for {operand_type}: {text}")));
    }
    let never_nil = match expr {
        FieldExpr::Ref(FieldRef::Intrinsic(_)) => true,
        FieldExpr::Ref(FieldRef::Attribute(attribute)) => is_service_name(attribute),
        _ => false,
    };
    if op == UnaryOp::NotExists && never_nil {
        return Err(invalid(format!("{expr} is never nil: {}", unary_text(op, expr))));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pass 1: `parent` references.

fn reject_parent_in_piece(piece: &Piece<'_>) -> Result<(), ValidateError> {
    match piece {
        Piece::Filter(expr) | Piece::Group(expr) => reject_parent_in_expr(expr),
        Piece::Aggregate(aggregate) => aggregate.arg.as_ref().map_or(Ok(()), reject_parent_in_expr),
        Piece::Field(field) => reject_parent_ref(field),
        Piece::Number(..)
        | Piece::ScalarFilter(_)
        | Piece::PipelineCompare
        | Piece::Metrics { .. }
        | Piece::SecondStage(_) => Ok(()),
    }
}

fn reject_parent_in_expr(expr: &FieldExpr) -> Result<(), ValidateError> {
    match expr {
        FieldExpr::Static(_) => Ok(()),
        FieldExpr::Ref(field) => reject_parent_ref(field),
        FieldExpr::Binary { lhs, rhs, .. } => {
            reject_parent_in_expr(lhs)?;
            reject_parent_in_expr(rhs)
        }
        FieldExpr::Unary { expr, .. } => reject_parent_in_expr(expr),
    }
}

fn reject_parent_ref(field: &FieldRef) -> Result<(), ValidateError> {
    match field {
        FieldRef::Intrinsic(Intrinsic::Parent) => Err(unsupported("intrinsic parent")),
        FieldRef::Attribute(attribute) if attribute.parent => {
            Err(unsupported(format!("parent attribute {field}")))
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 2: everything else.

fn check_piece(piece: &Piece<'_>) -> Result<(), ValidateError> {
    match *piece {
        Piece::Filter(expr) => check_filter(expr),
        Piece::Group(expr) => {
            check_field_expr(expr)?;
            if references_span(expr) {
                Ok(())
            } else {
                Err(invalid(format!("by() expression must reference the span: by({expr})")))
            }
        }
        // Fields are plain references: nothing beyond `parent` to check.
        Piece::Field(_) => Ok(()),
        Piece::Aggregate(aggregate) => check_aggregate(aggregate),
        Piece::Number(value, place) => {
            let found = StaticType::of_static(value);
            if found.is_numeric() {
                Ok(())
            } else {
                Err(invalid(format!("{place} needs a number, found {found}: {value}")))
            }
        }
        Piece::ScalarFilter(filter) => check_scalar_filter_shape(filter),
        Piece::PipelineCompare => Err(unsupported("comparison of pipelines")),
        Piece::Metrics { function, in_arithmetic, next } => {
            check_metrics_function(function)?;
            check_compare_alone(function, in_arithmetic, next)
        }
        Piece::SecondStage(SecondStage::TopK(k)) if *k <= 0 => {
            Err(invalid(format!("topk needs k > 0, found {k}")))
        }
        Piece::SecondStage(SecondStage::BottomK(k)) if *k <= 0 => {
            Err(invalid(format!("bottomk needs k > 0, found {k}")))
        }
        Piece::SecondStage(SecondStage::Filter { value, .. }) => {
            check_piece(&Piece::Number(value, "a metrics filter"))
        }
        Piece::SecondStage(_) => Ok(()),
    }
}

/// The body of `{…}` (and of `compare({…})`) must be a valid boolean or attribute expression.
fn check_filter(expr: &FieldExpr) -> Result<(), ValidateError> {
    check_field_expr(expr)?;
    match implied_type(expr) {
        StaticType::Bool | StaticType::Dynamic => Ok(()),
        found => Err(invalid(format!(
            "spanset filter must be a boolean expression, found {found}: {expr}"
        ))),
    }
}

fn check_field_expr(expr: &FieldExpr) -> Result<(), ValidateError> {
    match expr {
        FieldExpr::Static(_) | FieldExpr::Ref(_) => Ok(()),
        FieldExpr::Binary { op, lhs, rhs } => {
            check_field_expr(lhs)?;
            check_field_expr(rhs)?;
            check_binary(*op, lhs, rhs)
        }
        FieldExpr::Unary { op, expr } => {
            check_field_expr(expr)?;
            check_unary(*op, expr)
        }
    }
}

fn check_aggregate(aggregate: &Aggregate) -> Result<(), ValidateError> {
    let Some(arg) = &aggregate.arg else {
        return Ok(());
    };
    check_field_expr(arg)?;
    let arg_type = implied_type(arg);
    if !arg_type.is_numeric() && arg_type != StaticType::Dynamic {
        return Err(invalid(format!(
            "aggregate argument must be a number, found {arg_type}: {aggregate}"
        )));
    }
    if !references_span(arg) {
        return Err(invalid(format!("aggregate argument must reference the span: {aggregate}")));
    }
    Ok(())
}

/// Runs after the filter's aggregates and constants passed, so `sum(3) = min(14)` is an
/// ordinary error while `min(.a) = max(.b)` is unsupported.
fn check_scalar_filter_shape(filter: &ScalarFilter) -> Result<(), ValidateError> {
    let text = || {
        let (lhs, op, rhs) = (scalar_text(&filter.lhs), filter.op, scalar_text(&filter.rhs));
        format!("{lhs} {op} {rhs}")
    };
    match (&filter.lhs, &filter.rhs) {
        (ScalarExpr::Aggregate(_), ScalarExpr::Static(_)) => Ok(()),
        (ScalarExpr::Arith { .. }, _) | (_, ScalarExpr::Arith { .. }) => {
            Err(unsupported(format!("arithmetic on aggregates ({})", text())))
        }
        (ScalarExpr::Static(_), ScalarExpr::Static(_)) => {
            Err(invalid(format!("aggregate filter without an aggregate: {}", text())))
        }
        (ScalarExpr::Static(_), ScalarExpr::Aggregate(_)) => Err(unsupported(format!(
            "aggregate comparison with the constant on the left ({})",
            text()
        ))),
        (ScalarExpr::Aggregate(_), ScalarExpr::Aggregate(_)) => {
            Err(unsupported(format!("aggregate comparison between two aggregates ({})", text())))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn invalid(message: impl Into<String>) -> ValidateError {
    ValidateError::Invalid(message.into())
}

fn unsupported(feature: impl Into<String>) -> ValidateError {
    ValidateError::Unsupported(feature.into())
}

/// Both types equal, both numeric, or either unknown until run time.
fn operands_compatible(lhs: StaticType, rhs: StaticType) -> bool {
    let open = |t: StaticType| matches!(t, StaticType::Dynamic);
    lhs == rhs || (lhs.is_numeric() && rhs.is_numeric()) || open(lhs) || open(rhs)
}

fn is_arithmetic(op: BinaryOp) -> bool {
    use BinaryOp as B;
    matches!(op, B::Add | B::Sub | B::Mul | B::Div | B::Mod | B::Pow)
}

fn is_service_name(attribute: &Attribute) -> bool {
    attribute.scope == AttributeScope::Resource
        && !attribute.parent
        && attribute.name == "service.name"
}

/// Whether the expression reads anything from the span (an attribute or an intrinsic).
fn references_span(expr: &FieldExpr) -> bool {
    match expr {
        FieldExpr::Static(_) => false,
        FieldExpr::Ref(_) => true,
        FieldExpr::Binary { lhs, rhs, .. } => references_span(lhs) || references_span(rhs),
        FieldExpr::Unary { expr, .. } => references_span(expr),
    }
}

// The texts below are only built once a check has failed.

fn binary_text(op: BinaryOp, lhs: &FieldExpr, rhs: &FieldExpr) -> String {
    let node = FieldExpr::Binary { op, lhs: Box::new(lhs.clone()), rhs: Box::new(rhs.clone()) };
    node.to_string()
}

fn unary_text(op: UnaryOp, expr: &FieldExpr) -> String {
    FieldExpr::Unary { op, expr: Box::new(expr.clone()) }.to_string()
}

fn scalar_text(scalar: &ScalarExpr) -> String {
    let operand = |side: &ScalarExpr| match side {
        ScalarExpr::Arith { .. } => format!("({})", scalar_text(side)),
        _ => scalar_text(side),
    };
    match scalar {
        ScalarExpr::Aggregate(aggregate) => aggregate.to_string(),
        ScalarExpr::Static(value) => value.to_string(),
        ScalarExpr::Arith { op, lhs, rhs } => format!("{} {op} {}", operand(lhs), operand(rhs)),
    }
}

/// The regex crate's message spans several lines and shows our anchoring wrapper; keep the
/// last line, which names the problem, in our lowercase style.
fn regex_error_summary(err: &regex_syntax::Error) -> String {
    let full = err.to_string();
    let last_line = full.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    let summary = last_line.trim().trim_start_matches("error: ").trim_end_matches('.');
    let mut chars = summary.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => full,
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
