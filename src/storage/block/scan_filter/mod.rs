//! A search's necessary condition ([`TraceCond`]) applied to block data without decoding
//! spans: row groups ruled out by their statistics, and the rest tested in bulk on the few
//! columns the condition reads.
//!
//! ```text
//!  TraceCond ──ScanFilter::new──► leaves compiled (regexes once), columns listed
//!     row group statistics ──may_match──► skip the group, or
//!     projected batch (trace id + leaf columns) ──span_masks──► one bool per row per
//!        span condition ──(per trace: any row?)──► TraceCond::holds ──► candidate trace
//! ```
//!
//! The same filter also rules out live traces from what their tag summaries know of their
//! values (`known`).
//!
//! Like the condition it applies, a filter only rules out: a trace it keeps still goes
//! through the engine. Every test here therefore answers "may a span pass?", reading a value
//! the way the engine does (`traceql::eval`): a status column null is `unset`, a missing
//! status message is "", a duration is the span's end minus start (0 when negative), an
//! attribute is read from its dedicated column or from the generic list (any entry with
//! the key, so a later duplicate key can only keep more), and a generic array value always
//! may pass.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::RowGroupMetaData;
use parquet::schema::types::SchemaDescriptor;
use regex::Regex;

use super::Malformed;
use super::dictionaries::Dictionary;
use super::schema::{
    ATTR_BOOL, ATTR_DOUBLE, ATTR_INT, ATTR_KEY, ATTR_STR, ATTR_TYPE, ATTRIBUTES, DURATION_NANO,
    DedicatedColumn, DedicatedType, KIND, NAME, RESOURCE_ATTRIBUTES, RESOURCE_DEDICATED,
    SPAN_DEDICATED, START_UNIX_NANO, STATUS_CODE, STATUS_MESSAGE, TRACE_END_UNIX_NANO, TRACE_ID,
    TRACE_START_UNIX_NANO,
};
use crate::traceql::anchored_regex;
use crate::traceql::ast::{CmpOp, Kind, Static};
use crate::traceql::eval::{equality, ordering_holds};
use crate::traceql::pushdown::{LeafTest, SpanCond, Target, TraceCond};

/// Why a filter could not be built.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("regex {pattern:?} does not compile: {message}")]
pub(crate) struct FilterError {
    pattern: String,
    message: String,
}

/// A compiled condition plus the search window, ready to test row groups and batches.
#[derive(Debug, Clone)]
pub(crate) struct ScanFilter {
    cond: TraceCond,
    span_conds: Vec<Cond>,
    /// Unix nanoseconds, inclusive; a trace must overlap it.
    window: Option<(u64, u64)>,
}

#[derive(Debug, Clone)]
enum Cond {
    Always,
    Leaf(Leaf),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

#[derive(Debug, Clone)]
struct Leaf {
    target: Target,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Compare(CmpOp, Static),
    Regex { regex: Regex, negated: bool },
    Exists,
}

/// The exhaustive dictionaries read for one row group, by (top-level column, leaf field).
pub(crate) type GroupDictionaries = HashMap<(&'static str, &'static str), Dictionary>;

/// Generic attribute lists known not to hold a key: (list column, key).
pub(crate) type AbsentKeys = std::collections::HashSet<(&'static str, String)>;

/// What is known of one row group before reading its data: metadata and dictionaries.
#[derive(Clone, Copy)]
pub(crate) struct GroupView<'a> {
    pub meta: &'a RowGroupMetaData,
    pub dictionaries: &'a GroupDictionaries,
}

/// One value as the engine would see it.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An array: compared element-wise by the engine; not decoded here.
    Array,
}

impl ScanFilter {
    /// Compiles `cond` (each distinct regex once).
    pub(crate) fn new(cond: TraceCond, window: Option<(u64, u64)>) -> Result<Self, FilterError> {
        let mut regexes = HashMap::new();
        let span_conds = cond
            .span_conds()
            .into_iter()
            .map(|span_cond| compile(span_cond, &mut regexes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ScanFilter { cond, span_conds, window })
    }

    /// Whether the filter rules nothing out (every row must be read anyway).
    pub(crate) fn keeps_everything(&self) -> bool {
        self.cond.is_always() && self.window.is_none()
    }

    /// Attribute keys (list, key) the filter tests that no group of `groups` has in its
    /// generic list, by the exhaustive key dictionaries: those lists need not be read.
    pub(crate) fn absent_keys(&self, groups: &[GroupView<'_>]) -> AbsentKeys {
        let mut absent = AbsentKeys::new();
        for cond in &self.span_conds {
            cond.for_each_leaf(&mut |leaf| {
                let Some((_, list)) = attribute_columns(&leaf.target) else {
                    return;
                };
                let key = attribute_name(&leaf.target);
                let nowhere = groups.iter().all(|group| {
                    group.dictionaries.get(&(list, ATTR_KEY)).is_some_and(|keys| {
                        !keys.values.iter().any(|value| value.as_ref() == key.as_bytes())
                    })
                });
                if nowhere {
                    absent.insert((list, key.to_string()));
                }
            });
        }
        absent
    }

    /// The leaf columns the filter reads, trace id first, without the generic lists of
    /// `absent` keys.
    pub(crate) fn projection(
        &self,
        schema: &SchemaDescriptor,
        absent: &AbsentKeys,
    ) -> ProjectionMask {
        let mut wanted: Vec<(&str, &[&str])> = vec![(TRACE_ID, &[])];
        if self.window.is_some() {
            wanted.extend([(TRACE_START_UNIX_NANO, &[][..]), (TRACE_END_UNIX_NANO, &[])]);
        }
        for cond in &self.span_conds {
            cond.for_each_leaf(&mut |leaf| wanted.extend(leaf.columns(absent)));
        }
        let leaves = (0..schema.num_columns()).filter(|&index| {
            let parts = schema.column(index).path().parts().to_vec();
            wanted.iter().any(|(top, fields)| {
                parts.first().map(String::as_str) == Some(*top)
                    && (fields.is_empty()
                        || parts.last().is_some_and(|last| fields.contains(&last.as_str())))
            })
        });
        ProjectionMask::leaves(schema, leaves)
    }

    /// Whether some row groups read together (a trace may run across them) may hold a
    /// matching trace, from their statistics alone. A trace's spans may sit in any of the
    /// groups, so each span condition is asked of all of them before the trace condition.
    pub(crate) fn may_match(&self, groups: &[GroupView<'_>]) -> bool {
        let stats: Vec<GroupStats<'_>> = groups
            .iter()
            .map(|view| GroupStats { group: view.meta, dictionaries: view.dictionaries })
            .collect();
        if let Some((start, end)) = self.window {
            let in_window = stats.iter().any(|stats| {
                let starts_after =
                    stats.u64_min(TRACE_START_UNIX_NANO).is_some_and(|min| min > end);
                let ends_before = stats.u64_max(TRACE_END_UNIX_NANO).is_some_and(|max| max < start);
                !starts_after && !ends_before
            });
            if !in_window {
                return false;
            }
        }
        let held: Vec<bool> = self
            .span_conds
            .iter()
            .map(|cond| stats.iter().any(|stats| cond.may_hold(stats)))
            .collect();
        self.cond.holds(&held)
    }

    /// The string leaf columns (top-level column, leaf field) whose dictionaries can rule
    /// row groups out for this filter.
    pub(crate) fn dictionary_columns(&self) -> Vec<(&'static str, &'static str)> {
        let mut columns = Vec::new();
        for cond in &self.span_conds {
            cond.for_each_leaf(&mut |leaf| {
                let string_test =
                    matches!(leaf.test, Test::Compare(_, Static::Str(_)) | Test::Regex { .. });
                match &leaf.target {
                    Target::Name if string_test => columns.push((NAME, NAME)),
                    target => {
                        if let Some((dedicated, list)) = attribute_columns(target) {
                            if let Some(column) = dedicated
                                && column.value_type == DedicatedType::String
                                && string_test
                            {
                                columns.push((column.column, column.column));
                            }
                            columns.push((list, ATTR_KEY));
                            if string_test {
                                columns.push((list, ATTR_STR));
                            }
                        }
                    }
                }
            });
        }
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// For each span condition, whether each row of `batch` (a [`Self::projection`] read)
    /// may pass it.
    pub(crate) fn span_masks(
        &self,
        batch: &RecordBatch,
        absent: &AbsentKeys,
    ) -> Result<Vec<Vec<bool>>, Malformed> {
        self.span_conds.iter().map(|cond| cond.mask(batch, absent)).collect()
    }

    /// Whether a trace whose rows gave `held` (per span condition: did any row pass?) may
    /// match; `bounds` is the trace's (start, end) when a window is set.
    pub(crate) fn trace_may_match(&self, held: &[bool], bounds: Option<(u64, u64)>) -> bool {
        if let (Some((start, end)), Some((trace_start, trace_end))) = (self.window, bounds)
            && (trace_start > end || trace_end < start)
        {
            return false;
        }
        self.cond.holds(held)
    }

    /// Number of span conditions (the length of [`Self::span_masks`]).
    pub(crate) fn span_cond_count(&self) -> usize {
        self.span_conds.len()
    }

    /// Whether the filter needs the trace bounds of each trace.
    pub(crate) fn has_window(&self) -> bool {
        self.window.is_some()
    }
}

fn compile(cond: &SpanCond, regexes: &mut HashMap<String, Regex>) -> Result<Cond, FilterError> {
    Ok(match cond {
        SpanCond::Always => Cond::Always,
        SpanCond::All(conds) => {
            Cond::All(conds.iter().map(|c| compile(c, regexes)).collect::<Result<_, _>>()?)
        }
        SpanCond::Any(conds) => {
            Cond::Any(conds.iter().map(|c| compile(c, regexes)).collect::<Result<_, _>>()?)
        }
        SpanCond::Test(leaf) => {
            let test = match &leaf.test {
                LeafTest::Compare(op, literal) => Test::Compare(*op, literal.clone()),
                LeafTest::Exists => Test::Exists,
                LeafTest::Regex { pattern, negated } => {
                    let regex = match regexes.get(pattern) {
                        Some(regex) => regex.clone(),
                        None => {
                            let regex = anchored_regex(pattern).map_err(|error| FilterError {
                                pattern: pattern.clone(),
                                message: error.to_string(),
                            })?;
                            regexes.insert(pattern.clone(), regex.clone());
                            regex
                        }
                    };
                    Test::Regex { regex, negated: *negated }
                }
            };
            Cond::Leaf(Leaf { target: leaf.target.clone(), test })
        }
    })
}

impl Cond {
    fn for_each_leaf<'a>(&'a self, visit: &mut impl FnMut(&'a Leaf)) {
        match self {
            Cond::Always => {}
            Cond::Leaf(leaf) => visit(leaf),
            Cond::All(conds) | Cond::Any(conds) => {
                conds.iter().for_each(|cond| cond.for_each_leaf(visit))
            }
        }
    }
}

/// The dedicated column and the generic list an attribute target reads.
fn attribute_columns(target: &Target) -> Option<(Option<&'static DedicatedColumn>, &'static str)> {
    let (name, table, list) = match target {
        Target::SpanAttr(name) => (name, SPAN_DEDICATED, ATTRIBUTES),
        Target::ResourceAttr(name) => (name, RESOURCE_DEDICATED, RESOURCE_ATTRIBUTES),
        _ => return None,
    };
    Some((table.iter().find(|column| column.attribute == name), list))
}

fn attribute_name(target: &Target) -> &str {
    match target {
        Target::SpanAttr(name) | Target::ResourceAttr(name) => name,
        _ => "",
    }
}

impl Leaf {
    /// (column, leaf fields; empty = the whole column) read by this leaf.
    fn columns(&self, absent: &AbsentKeys) -> Vec<(&'static str, &'static [&'static str])> {
        match &self.target {
            Target::Name => vec![(NAME, &[])],
            Target::StatusMessage => vec![(STATUS_MESSAGE, &[])],
            Target::Status => vec![(STATUS_CODE, &[])],
            Target::Kind => vec![(KIND, &[])],
            Target::Duration => vec![(DURATION_NANO, &[]), (START_UNIX_NANO, &[])],
            target => {
                let Some((dedicated, list)) = attribute_columns(target) else {
                    return Vec::new();
                };
                let mut columns: Vec<(&'static str, &'static [&'static str])> =
                    dedicated.map(|column| (column.column, &[][..])).into_iter().collect();
                // Only the value fields the test can pass on (a string literal never
                // passes on an int, …); arrays only need the type.
                let fields: &'static [&'static str] = match &self.test {
                    Test::Compare(_, Static::Str(_)) | Test::Regex { .. } => {
                        &[ATTR_KEY, ATTR_TYPE, ATTR_STR]
                    }
                    Test::Compare(_, Static::Int(_) | Static::Float(_)) => {
                        &[ATTR_KEY, ATTR_TYPE, ATTR_INT, ATTR_DOUBLE]
                    }
                    Test::Compare(_, Static::Bool(_)) => &[ATTR_KEY, ATTR_TYPE, ATTR_BOOL],
                    _ => &[ATTR_KEY, ATTR_TYPE],
                };
                if !absent.contains(&(list, attribute_name(target).to_string())) {
                    columns.push((list, fields));
                }
                columns
            }
        }
    }
}

impl Test {
    /// Whether a value may pass: exact for scalars, always for arrays.
    fn passes(&self, value: Scalar<'_>) -> bool {
        match (self, value) {
            (_, Scalar::Array) | (Test::Exists, _) => true,
            (Test::Regex { regex, negated }, Scalar::Str(text)) => regex.is_match(text) != *negated,
            (Test::Regex { .. }, _) => false,
            (Test::Compare(op, literal), value) => compare(*op, value, literal),
        }
    }
}

/// `value op literal` as the engine compares them; numbers compare by value across int and
/// float (the engine is stricter for attribute literals, so this only keeps more).
fn compare(op: CmpOp, value: Scalar<'_>, literal: &Static) -> bool {
    match (value, literal) {
        (Scalar::Str(text), Static::Str(wanted)) => {
            ordering_holds(op, text.as_bytes().cmp(wanted.as_bytes()))
        }
        (Scalar::Bool(flag), Static::Bool(wanted)) => equality(op, flag == *wanted),
        (Scalar::Int(number), Static::Int(wanted)) => ordering_holds(op, number.cmp(wanted)),
        (Scalar::Float(number), Static::Float(wanted)) => {
            number.partial_cmp(wanted).is_some_and(|ordering| ordering_holds(op, ordering))
        }
        // Int against float: the engine never matches these for attributes; rounding makes
        // ruling them out here not worth the risk.
        (Scalar::Int(_), Static::Float(_)) | (Scalar::Float(_), Static::Int(_)) => true,
        _ => false,
    }
}

fn kind_code(kind: Kind) -> i64 {
    match kind {
        Kind::Unspecified => 0,
        Kind::Internal => 1,
        Kind::Server => 2,
        Kind::Client => 3,
        Kind::Producer => 4,
        Kind::Consumer => 5,
    }
}

mod known;
mod masks;
mod prune;

pub(crate) use known::{KnownValue, KnownValues};
use prune::GroupStats;

#[cfg(test)]
mod tests;
