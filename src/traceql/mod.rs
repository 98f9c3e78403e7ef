//! TraceQL, Tempo's query language: lexer, parser, syntax tree and validation.
//!
//! Pure code, no I/O. [`parse`] turns text into a [`Query`] (or a [`ParseError`] naming the
//! line, column and byte span), [`validate`] applies the semantic rules, and
//! [`parse_and_validate`] does both, as the query API does. [`eval`] runs search queries on
//! assembled traces ([`SearchPlan`]). The rules are those of
//! `../shared/traceql.md` (a clean-room description of Tempo's behaviour); `corpus` checks
//! a conformance corpus and backs `spanlake traceql check`.

pub mod ast;
pub mod corpus;
mod display;
mod duration;
mod error;
pub mod eval;
mod hints;
mod lexer;
mod parser;
pub mod pushdown;
mod token;
mod validate;
mod value;

pub use ast::Query;
pub use error::{ParseError, QueryError};
pub use eval::{EvalError, EvalTrace, SearchPlan, Spanset, result_attributes};
pub use hints::{Hints, Sampling, UnsafeHints};
pub use validate::ValidateError;
pub(crate) use value::anchored_regex;

/// Parses a query (syntax only, with constants folded).
pub fn parse(src: &str) -> Result<Query, ParseError> {
    parser::parse(src)
}

/// Checks a parsed query against the semantic rules.
pub fn validate(query: &Query) -> Result<(), ValidateError> {
    validate::validate(query)
}

/// Parses and validates, as every API that takes a query does.
pub fn parse_and_validate(src: &str) -> Result<Query, QueryError> {
    let query = parse(src)?;
    validate(&query)?;
    Ok(query)
}
