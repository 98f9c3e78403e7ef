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
//! Like the condition it applies, a filter only rules out: a trace it keeps still goes
//! through the engine. Every test here therefore answers "may a span pass?", reading a value
//! the way the engine does (`traceql::eval`): a status column null is `unset`, a missing
//! status message is "", a duration is the span's end minus start (0 when negative), an
//! attribute is read from its dedicated column or from the generic list (any entry with
//! the key, so a later duplicate key can only keep more), and a generic array value always
//! may pass.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt64Type};
use arrow_array::{Array, ListArray, RecordBatch, StringArray, StructArray};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;
use parquet::schema::types::SchemaDescriptor;
use regex::Regex;

use super::Malformed;
use super::schema::{
    ATTR_BOOL, ATTR_DOUBLE, ATTR_INT, ATTR_KEY, ATTR_STR, ATTR_TYPE, ATTRIBUTES, DURATION_NANO,
    DedicatedColumn, DedicatedType, KIND, NAME, RESOURCE_ATTRIBUTES, RESOURCE_DEDICATED,
    SPAN_DEDICATED, START_UNIX_NANO, STATUS_CODE, STATUS_MESSAGE, TRACE_END_UNIX_NANO, TRACE_ID,
    TRACE_START_UNIX_NANO, ValueType,
};
use crate::traceql::anchored_regex;
use crate::traceql::ast::{CmpOp, Kind, Static, Status};
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

    /// The leaf columns the filter reads, trace id first.
    pub(crate) fn projection(&self, schema: &SchemaDescriptor) -> ProjectionMask {
        let mut wanted: Vec<(&str, &[&str])> = vec![(TRACE_ID, &[])];
        if self.window.is_some() {
            wanted.extend([(TRACE_START_UNIX_NANO, &[][..]), (TRACE_END_UNIX_NANO, &[])]);
        }
        for cond in &self.span_conds {
            cond.for_each_leaf(&mut |leaf| wanted.extend(leaf.columns()));
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
    pub(crate) fn may_match(&self, groups: &[&RowGroupMetaData]) -> bool {
        let stats: Vec<GroupStats<'_>> = groups.iter().map(|group| GroupStats { group }).collect();
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

    /// For each span condition, whether each row of `batch` (a [`Self::projection`] read)
    /// may pass it.
    pub(crate) fn span_masks(&self, batch: &RecordBatch) -> Result<Vec<Vec<bool>>, Malformed> {
        self.span_conds.iter().map(|cond| cond.mask(batch)).collect()
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

    fn may_hold(&self, stats: &GroupStats<'_>) -> bool {
        match self {
            Cond::Always => true,
            Cond::Leaf(leaf) => leaf.may_hold(stats),
            Cond::All(conds) => conds.iter().all(|cond| cond.may_hold(stats)),
            Cond::Any(conds) => conds.iter().any(|cond| cond.may_hold(stats)),
        }
    }

    fn mask(&self, batch: &RecordBatch) -> Result<Vec<bool>, Malformed> {
        let rows = batch.num_rows();
        Ok(match self {
            Cond::Always => vec![true; rows],
            Cond::Leaf(leaf) => leaf.mask(batch)?,
            Cond::All(conds) => {
                let mut mask = vec![true; rows];
                for cond in conds {
                    mask.iter_mut().zip(cond.mask(batch)?).for_each(|(a, b)| *a &= b);
                }
                mask
            }
            Cond::Any(conds) => {
                let mut mask = vec![false; rows];
                for cond in conds {
                    mask.iter_mut().zip(cond.mask(batch)?).for_each(|(a, b)| *a |= b);
                }
                mask
            }
        })
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
    fn columns(&self) -> Vec<(&'static str, &'static [&'static str])> {
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
                columns.push((list, fields));
                columns
            }
        }
    }

    fn may_hold(&self, stats: &GroupStats<'_>) -> bool {
        match &self.target {
            Target::Name => stats.str_may(NAME, &self.test, false),
            Target::StatusMessage => stats.str_may(STATUS_MESSAGE, &self.test, true),
            Target::Status => match &self.test {
                Test::Compare(CmpOp::Eq, Static::Status(Status::Error)) => {
                    stats.i64_range_may(STATUS_CODE, 2, 2)
                }
                Test::Compare(CmpOp::Eq, Static::Status(Status::Ok)) => {
                    stats.i64_range_may(STATUS_CODE, 1, 1)
                }
                _ => true,
            },
            Target::Kind => match &self.test {
                Test::Compare(CmpOp::Eq, Static::Kind(kind)) if *kind != Kind::Unspecified => {
                    let code = kind_code(*kind);
                    stats.i64_range_may(KIND, code, code)
                }
                _ => true,
            },
            Target::Duration => match &self.test {
                Test::Compare(op, Static::Duration(nanos) | Static::Int(nanos)) => {
                    // Negative stored durations read as 0: only trust non-negative ranges.
                    match stats.i64_bounds(DURATION_NANO) {
                        Some((min, max)) if min >= 0 => range_may(*op, *nanos, min, max),
                        _ => true,
                    }
                }
                _ => true,
            },
            target => {
                let Some((dedicated, list)) = attribute_columns(target) else {
                    return true;
                };
                let name = attribute_name(target);
                let in_dedicated = dedicated.is_some_and(|column| match column.value_type {
                    DedicatedType::String => stats.str_may(column.column, &self.test, false),
                    DedicatedType::Int => stats.int_attr_may(column.column, &self.test),
                });
                in_dedicated || stats.list_may_have_key(list, name)
            }
        }
    }

    fn mask(&self, batch: &RecordBatch) -> Result<Vec<bool>, Malformed> {
        let rows = batch.num_rows();
        let test = &self.test;
        Ok(match &self.target {
            Target::Name => {
                let names = string_column(batch, NAME)?;
                (0..rows).map(|row| test.passes(Scalar::Str(names.value(row)))).collect()
            }
            Target::StatusMessage => {
                let messages = string_column(batch, STATUS_MESSAGE)?;
                (0..rows)
                    .map(|row| {
                        let text = if messages.is_null(row) { "" } else { messages.value(row) };
                        test.passes(Scalar::Str(text))
                    })
                    .collect()
            }
            Target::Status => {
                let codes = column(batch, STATUS_CODE)?
                    .as_primitive_opt::<Int32Type>()
                    .ok_or_else(|| shape(STATUS_CODE))?;
                let Test::Compare(op, Static::Status(wanted)) = test else {
                    return Ok(vec![true; rows]);
                };
                (0..rows)
                    .map(|row| {
                        let status = if codes.is_null(row) {
                            Status::Unset
                        } else {
                            status_of(codes.value(row))
                        };
                        equality(*op, status == *wanted)
                    })
                    .collect()
            }
            Target::Kind => {
                let kinds = column(batch, KIND)?
                    .as_primitive_opt::<Int32Type>()
                    .ok_or_else(|| shape(KIND))?;
                let Test::Compare(op, Static::Kind(wanted)) = test else {
                    return Ok(vec![true; rows]);
                };
                kinds.values().iter().map(|&code| equality(*op, kind_of(code) == *wanted)).collect()
            }
            Target::Duration => {
                let durations = column(batch, DURATION_NANO)?
                    .as_primitive_opt::<Int64Type>()
                    .ok_or_else(|| shape(DURATION_NANO))?;
                let starts = column(batch, START_UNIX_NANO)?
                    .as_primitive_opt::<UInt64Type>()
                    .ok_or_else(|| shape(START_UNIX_NANO))?;
                let Test::Compare(op, Static::Duration(nanos) | Static::Int(nanos)) = test else {
                    return Ok(vec![true; rows]);
                };
                durations
                    .values()
                    .iter()
                    .zip(starts.values().iter())
                    .map(|(&duration, &start)| {
                        let end = start.wrapping_add(duration as u64);
                        let span = i64::try_from(end.saturating_sub(start)).unwrap_or(i64::MAX);
                        ordering_holds(*op, span.cmp(nanos))
                    })
                    .collect()
            }
            target => {
                let Some((dedicated, list)) = attribute_columns(target) else {
                    return Ok(vec![true; rows]);
                };
                let mut mask = list_mask(batch, list, attribute_name(target), test)?;
                if let Some(dedicated) = dedicated {
                    dedicated_mask(batch, dedicated, test, &mut mask)?;
                }
                mask
            }
        })
    }
}

/// ORs the dedicated column's answer into `mask`.
fn dedicated_mask(
    batch: &RecordBatch,
    dedicated: &DedicatedColumn,
    test: &Test,
    mask: &mut [bool],
) -> Result<(), Malformed> {
    let array = column(batch, dedicated.column)?;
    match dedicated.value_type {
        DedicatedType::String => {
            let values = array.as_string_opt::<i32>().ok_or_else(|| shape(dedicated.column))?;
            for (row, keep) in mask.iter_mut().enumerate() {
                if !*keep && values.is_valid(row) {
                    *keep = test.passes(Scalar::Str(values.value(row)));
                }
            }
        }
        DedicatedType::Int => {
            let values =
                array.as_primitive_opt::<Int64Type>().ok_or_else(|| shape(dedicated.column))?;
            for (row, keep) in mask.iter_mut().enumerate() {
                if !*keep && values.is_valid(row) {
                    *keep = test.passes(Scalar::Int(values.value(row)));
                }
            }
        }
    }
    Ok(())
}

/// Per row: does some entry of the attribute list have `key` and pass `test`?
fn list_mask(
    batch: &RecordBatch,
    list: &str,
    key: &str,
    test: &Test,
) -> Result<Vec<bool>, Malformed> {
    let lists: &ListArray = column(batch, list)?.as_list_opt::<i32>().ok_or_else(|| shape(list))?;
    let entries: &StructArray = lists.values().as_struct_opt().ok_or_else(|| shape(list))?;
    let field = |name: &str| entries.column_by_name(name).ok_or_else(|| shape(list));
    let keys = field(ATTR_KEY)?.as_string_opt::<i32>().ok_or_else(|| shape(list))?;
    let types = field(ATTR_TYPE)?
        .as_primitive_opt::<arrow_array::types::UInt8Type>()
        .ok_or_else(|| shape(list))?;
    // The value fields the projection left out are ones the test cannot pass on.
    let strs = entries.column_by_name(ATTR_STR).and_then(|array| array.as_string_opt::<i32>());
    let ints =
        entries.column_by_name(ATTR_INT).and_then(|array| array.as_primitive_opt::<Int64Type>());
    let doubles = entries
        .column_by_name(ATTR_DOUBLE)
        .and_then(|array| array.as_primitive_opt::<arrow_array::types::Float64Type>());
    let bools = entries.column_by_name(ATTR_BOOL).and_then(|array| array.as_boolean_opt());
    let key_bytes = key.as_bytes();
    let entry_passes = |entry: usize| -> bool {
        if keys.value(entry).as_bytes() != key_bytes {
            return false;
        }
        let value_type = ValueType::from_u8(types.value(entry));
        if matches!(test, Test::Exists) {
            return matches!(
                value_type,
                Some(
                    ValueType::String
                        | ValueType::Int
                        | ValueType::Double
                        | ValueType::Bool
                        | ValueType::Array
                )
            );
        }
        let scalar = match value_type {
            Some(ValueType::String) => match strs {
                Some(strs) => Scalar::Str(strs.value(entry)),
                None => return false,
            },
            Some(ValueType::Int) => match ints {
                Some(ints) => Scalar::Int(ints.value(entry)),
                None => return false,
            },
            Some(ValueType::Double) => match doubles {
                Some(doubles) => Scalar::Float(doubles.value(entry)),
                None => return false,
            },
            Some(ValueType::Bool) => match bools {
                Some(bools) => Scalar::Bool(bools.value(entry)),
                None => return false,
            },
            Some(ValueType::Array) => Scalar::Array,
            // Values the engine cannot read (bytes, kvlists, empty): never pass.
            _ => return false,
        };
        test.passes(scalar)
    };
    let offsets = lists.value_offsets();
    Ok((0..batch.num_rows())
        .map(|row| {
            let start = usize::try_from(offsets[row]).unwrap_or(0);
            let end = usize::try_from(offsets[row + 1]).unwrap_or(0);
            lists.is_valid(row) && (start..end).any(entry_passes)
        })
        .collect())
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

fn ordering_holds(op: CmpOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => ordering == Equal,
        CmpOp::Neq => ordering != Equal,
        CmpOp::Lt => ordering == Less,
        CmpOp::Lte => ordering != Greater,
        CmpOp::Gt => ordering == Greater,
        CmpOp::Gte => ordering != Less,
    }
}

fn equality(op: CmpOp, equal: bool) -> bool {
    match op {
        CmpOp::Eq => equal,
        CmpOp::Neq => !equal,
        _ => false,
    }
}

/// Whether some value in `[min, max]` may satisfy `value op literal`.
fn range_may(op: CmpOp, literal: i64, min: i64, max: i64) -> bool {
    match op {
        CmpOp::Eq => min <= literal && literal <= max,
        CmpOp::Neq => !(min == literal && max == literal),
        CmpOp::Lt => min < literal,
        CmpOp::Lte => min <= literal,
        CmpOp::Gt => max > literal,
        CmpOp::Gte => max >= literal,
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

/// As the engine maps OTLP kind numbers (unknown numbers are unspecified).
fn kind_of(code: i32) -> Kind {
    match code {
        1 => Kind::Internal,
        2 => Kind::Server,
        3 => Kind::Client,
        4 => Kind::Producer,
        5 => Kind::Consumer,
        _ => Kind::Unspecified,
    }
}

/// As the engine maps OTLP status codes (unknown numbers are unset).
fn status_of(code: i32) -> Status {
    match code {
        1 => Status::Ok,
        2 => Status::Error,
        _ => Status::Unset,
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, Malformed> {
    batch
        .column_by_name(name)
        .map(|array| array.as_ref())
        .ok_or_else(|| Malformed(format!("column {name} is missing from a filtered read")))
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, Malformed> {
    column(batch, name)?.as_string_opt::<i32>().ok_or_else(|| shape(name))
}

fn shape(name: &str) -> Malformed {
    Malformed(format!("column {name} has an unexpected type"))
}

/// The statistics of one row group, by top-level column name. Missing statistics answer
/// "may" to every question; a min or max that was truncated is still a bound.
struct GroupStats<'a> {
    group: &'a RowGroupMetaData,
}

impl GroupStats<'_> {
    /// The statistics of the leaf column whose path starts with `top` and ends with `leaf`
    /// (a primitive column: `leaf` is `top`).
    fn leaf(&self, top: &str, leaf: &str) -> Option<(&Statistics, i64)> {
        self.group.columns().iter().find_map(|chunk| {
            let parts = chunk.column_descr().path().parts();
            let matches = parts.first().map(String::as_str) == Some(top)
                && parts.last().map(String::as_str) == Some(leaf);
            matches.then(|| chunk.statistics().map(|stats| (stats, chunk.num_values())))?
        })
    }

    fn all_null(&self, name: &str) -> bool {
        self.leaf(name, name).is_some_and(|(stats, values)| {
            stats.null_count_opt().is_some_and(|nulls| i64::try_from(nulls).ok() == Some(values))
        })
    }

    fn i64_bounds(&self, name: &str) -> Option<(i64, i64)> {
        match self.leaf(name, name)?.0 {
            Statistics::Int32(stats) => {
                Some((i64::from(*stats.min_opt()?), i64::from(*stats.max_opt()?)))
            }
            Statistics::Int64(stats) => Some((*stats.min_opt()?, *stats.max_opt()?)),
            _ => None,
        }
    }

    fn u64_min(&self, name: &str) -> Option<u64> {
        match self.leaf(name, name)?.0 {
            Statistics::Int64(stats) => Some(*stats.min_opt()? as u64),
            _ => None,
        }
    }

    fn u64_max(&self, name: &str) -> Option<u64> {
        match self.leaf(name, name)?.0 {
            Statistics::Int64(stats) => Some(*stats.max_opt()? as u64),
            _ => None,
        }
    }

    /// Whether a non-null value in `[low, high]` may occur.
    fn i64_range_may(&self, name: &str, low: i64, high: i64) -> bool {
        if self.all_null(name) {
            return false;
        }
        match self.i64_bounds(name) {
            Some((min, max)) => low <= max && min <= high,
            None => true,
        }
    }

    /// A dedicated int attribute column: only int and float literals can be ruled out.
    fn int_attr_may(&self, name: &str, test: &Test) -> bool {
        if self.all_null(name) {
            return false;
        }
        match (test, self.i64_bounds(name)) {
            (Test::Compare(op, Static::Int(literal)), Some((min, max))) => {
                range_may(*op, *literal, min, max)
            }
            _ => true,
        }
    }

    /// A string column (`null_is_empty`: a null reads as "").
    fn str_may(&self, name: &str, test: &Test, null_is_empty: bool) -> bool {
        if self.all_null(name) && !null_is_empty {
            return false;
        }
        let Test::Compare(op, Static::Str(literal)) = test else {
            return true;
        };
        let Some((stats, _)) = self.leaf(name, name) else {
            return true;
        };
        if null_is_empty && stats.null_count_opt() != Some(0) {
            return true;
        }
        let (Some(min), Some(max)) = (stats.min_bytes_opt(), stats.max_bytes_opt()) else {
            return true;
        };
        let literal = literal.as_bytes();
        match op {
            CmpOp::Eq => min <= literal && literal <= max,
            CmpOp::Neq => true,
            CmpOp::Lt => min < literal,
            CmpOp::Lte => min <= literal,
            CmpOp::Gt => max > literal,
            CmpOp::Gte => max >= literal,
        }
    }

    /// Whether an attribute list may hold an entry with `key` (from the key leaf's bounds).
    fn list_may_have_key(&self, list: &str, key: &str) -> bool {
        let Some((stats, _)) = self.leaf(list, ATTR_KEY) else {
            return true;
        };
        match (stats.min_bytes_opt(), stats.max_bytes_opt()) {
            (Some(min), Some(max)) => min <= key.as_bytes() && key.as_bytes() <= max,
            // No bounds: either no statistics, or every list in the group is empty.
            _ => stats.null_count_opt().is_none(),
        }
    }
}

#[cfg(test)]
#[path = "scan_filter_tests.rs"]
mod tests;
