//! The filter asked of what is known of a trace's values rather than of block rows: the
//! live-store's tag summaries list, per attribute, the values a trace's spans hold, which is
//! enough to rule a trace out before decoding it.
//!
//! A span condition may hold when each of its leaves may hold for some span of the trace
//! (weaker than "for one span", so still only ruling out); a leaf may hold when one of the
//! known values of its target passes its test, or when the values are not known.

use super::{Cond, Leaf, Scalar, ScanFilter};
use crate::traceql::pushdown::Target;

/// What is known of the values one target takes over the spans of a trace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KnownValues<'a> {
    /// Nothing certain: the leaf may hold.
    Unknown,
    /// Every value the target takes on any span; empty when no span sets it.
    All(Vec<KnownValue<'a>>),
}

/// One scalar value a target takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KnownValue<'a> {
    /// A string.
    Str(&'a str),
    /// An int.
    Int(i64),
    /// A double.
    Float(f64),
    /// A bool.
    Bool(bool),
}

impl ScanFilter {
    /// Whether a trace whose values are `known` (per target) may match; the filter's window
    /// is not checked (callers pick traces by time themselves).
    pub(crate) fn may_match_known<'a>(&self, known: &dyn Fn(&Target) -> KnownValues<'a>) -> bool {
        let held: Vec<bool> =
            self.span_conds.iter().map(|cond| cond.may_hold_known(known)).collect();
        self.cond.holds(&held)
    }
}

impl Cond {
    fn may_hold_known<'a>(&self, known: &dyn Fn(&Target) -> KnownValues<'a>) -> bool {
        match self {
            Cond::Always => true,
            Cond::Leaf(leaf) => leaf.may_hold_known(known),
            Cond::All(conds) => conds.iter().all(|cond| cond.may_hold_known(known)),
            Cond::Any(conds) => conds.iter().any(|cond| cond.may_hold_known(known)),
        }
    }
}

impl Leaf {
    fn may_hold_known<'a>(&self, known: &dyn Fn(&Target) -> KnownValues<'a>) -> bool {
        match known(&self.target) {
            KnownValues::Unknown => true,
            KnownValues::All(values) => values.into_iter().any(|value| {
                self.test.passes(match value {
                    KnownValue::Str(text) => Scalar::Str(text),
                    KnownValue::Int(number) => Scalar::Int(number),
                    KnownValue::Float(number) => Scalar::Float(number),
                    KnownValue::Bool(flag) => Scalar::Bool(flag),
                })
            }),
        }
    }
}
