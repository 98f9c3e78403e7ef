//! Why a search could not be planned or run.

use crate::traceql::ast::SpansetOp;

/// A failure of the engine: the query cannot be planned, or one trace made it fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The query is a metrics query or a pipeline comparison, not a trace search.
    #[error("not a search query")]
    NotASearch,
    /// A construct validation rejects ("not yet supported") reached the engine.
    #[error("{0} not yet supported")]
    Unsupported(String),
    /// A regex that does not compile (validation normally rejects it first).
    #[error("invalid regex {pattern:?}: {message}")]
    Regex {
        /// The pattern as written.
        pattern: String,
        /// The compiler's explanation.
        message: String,
    },
    /// Integer division by zero on some span.
    #[error("division by zero")]
    DivisionByZero,
    /// Integer remainder by zero on some span.
    #[error("modulo by zero")]
    ModuloByZero,
    /// An operand of a spanset operator gave several spansets (after `by()`, say).
    #[error(
        "spanset operator {op} needs one spanset on each side, got {count}; merge them with coalesce()"
    )]
    MultipleSpansets {
        /// The operator.
        op: SpansetOp,
        /// How many spansets the operand gave.
        count: usize,
    },
}
