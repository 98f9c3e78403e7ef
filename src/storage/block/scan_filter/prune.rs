//! Ruling row groups out before reading their data: column statistics (bounds, null
//! counts) and exhaustive dictionaries.

use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

use super::{
    Cond, GroupDictionaries, Leaf, Scalar, Test, attribute_columns, attribute_name, kind_code,
};
use crate::storage::block::dictionaries::Dictionary;
use crate::storage::block::schema::{
    ATTR_KEY, ATTR_STR, ATTR_TYPE, DURATION_NANO, DedicatedType, KIND, NAME, STATUS_CODE,
    STATUS_MESSAGE, ValueType,
};
use crate::traceql::ast::{CmpOp, Kind, Static, Status};
use crate::traceql::pushdown::Target;

impl Cond {
    pub(super) fn may_hold(&self, stats: &GroupStats<'_>) -> bool {
        match self {
            Cond::Always => true,
            Cond::Leaf(leaf) => leaf.may_hold(stats),
            Cond::All(conds) => conds.iter().all(|cond| cond.may_hold(stats)),
            Cond::Any(conds) => conds.iter().any(|cond| cond.may_hold(stats)),
        }
    }
}

impl Leaf {
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
                in_dedicated || stats.list_may(list, name, &self.test)
            }
        }
    }
}

/// Whether some value of an exhaustive dictionary passes a string test (a value that is
/// not UTF-8 cannot be judged, so it may).
fn dictionary_may(dictionary: &Dictionary, test: &Test) -> bool {
    dictionary.values.iter().any(|value| match std::str::from_utf8(value) {
        Ok(text) => test.passes(Scalar::Str(text)),
        Err(_) => true,
    })
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

/// The statistics of one row group, by top-level column name. Missing statistics answer
/// "may" to every question; a min or max that was truncated is still a bound.
pub(super) struct GroupStats<'a> {
    pub group: &'a RowGroupMetaData,
    pub dictionaries: &'a GroupDictionaries,
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

    pub(super) fn u64_min(&self, name: &str) -> Option<u64> {
        match self.leaf(name, name)?.0 {
            Statistics::Int64(stats) => Some(*stats.min_opt()? as u64),
            _ => None,
        }
    }

    pub(super) fn u64_max(&self, name: &str) -> Option<u64> {
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
    fn int_attr_may(&self, name: &'static str, test: &Test) -> bool {
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
    fn str_may(&self, name: &'static str, test: &Test, null_is_empty: bool) -> bool {
        if self.all_null(name) && !null_is_empty {
            return false;
        }
        if !null_is_empty && let Some(dictionary) = self.dictionaries.get(&(name, name)) {
            return dictionary_may(dictionary, test);
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

    /// Whether an attribute list may hold an entry with `key` passing `test`: the key must
    /// be in the keys' dictionary, and a string value passing the test in the values'.
    fn list_may(&self, list: &'static str, key: &str, test: &Test) -> bool {
        if let Some(keys) = self.dictionaries.get(&(list, ATTR_KEY))
            && !keys.values.iter().any(|value| value.as_ref() == key.as_bytes())
        {
            return false;
        }
        let string_test = matches!(test, Test::Compare(_, Static::Str(_)) | Test::Regex { .. });
        if string_test
            && let Some(values) = self.dictionaries.get(&(list, ATTR_STR))
            && !dictionary_may(values, test)
            && !self.list_may_hold_arrays(list)
        {
            return false;
        }
        self.list_may_have_key(list, key)
    }

    /// Whether a list may hold array values (which string tests compare element-wise), from
    /// the bounds of its type tags.
    fn list_may_hold_arrays(&self, list: &str) -> bool {
        match self.leaf(list, ATTR_TYPE) {
            Some((Statistics::Int32(stats), _)) => {
                stats.max_opt().is_none_or(|max| *max >= ValueType::Array as i32)
            }
            _ => true,
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
