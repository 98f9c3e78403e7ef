//! The in-memory TraceQL search engine: a query compiled once into a search plan, run on
//! one assembled trace at a time ([`EvalTrace`]), giving the spansets that matched.
//!
//! # Layout
//! - `trace`: the evaluation model of a trace (typed attributes, tree positions).

mod trace;

#[cfg(test)]
mod test_trace;

pub use trace::{AttrValue, Attrs, EvalEvent, EvalLink, EvalScope, EvalSpan, EvalTrace};
