//! Bulk tests of projected batches: one bool per row per span condition.

use std::cmp::Ordering;
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, UInt8Type, UInt64Type};
use arrow_array::{Array, ListArray, PrimitiveArray, RecordBatch, StringArray, StructArray};

use super::{AbsentKeys, Cond, Leaf, Scalar, Test, attribute_columns, attribute_name};
use crate::storage::block::Malformed;
use crate::storage::block::schema::{
    ATTR_BOOL, ATTR_DOUBLE, ATTR_INT, ATTR_KEY, ATTR_STR, ATTR_TYPE, DURATION_NANO,
    DedicatedColumn, DedicatedType, KIND, NAME, START_UNIX_NANO, STATUS_CODE, STATUS_MESSAGE,
    ValueType,
};
use crate::traceql::ast::{Static, Status};
use crate::traceql::eval::{equality, kind_from_code, ordering_holds, status_from_code};
use crate::traceql::pushdown::Target;

impl Cond {
    pub(super) fn mask(
        &self,
        batch: &RecordBatch,
        absent: &AbsentKeys,
    ) -> Result<Vec<bool>, Malformed> {
        let rows = batch.num_rows();
        Ok(match self {
            Cond::Always => vec![true; rows],
            Cond::Leaf(leaf) => leaf.mask(batch, absent)?,
            Cond::All(conds) => {
                let mut mask = vec![true; rows];
                for cond in conds {
                    mask.iter_mut().zip(cond.mask(batch, absent)?).for_each(|(a, b)| *a &= b);
                }
                mask
            }
            Cond::Any(conds) => {
                let mut mask = vec![false; rows];
                for cond in conds {
                    mask.iter_mut().zip(cond.mask(batch, absent)?).for_each(|(a, b)| *a |= b);
                }
                mask
            }
        })
    }
}

impl Leaf {
    fn mask(&self, batch: &RecordBatch, absent: &AbsentKeys) -> Result<Vec<bool>, Malformed> {
        let rows = batch.num_rows();
        let test = &self.test;
        Ok(match &self.target {
            Target::Name => {
                let names = strings(batch, NAME)?;
                let mut tester = test_strings(names, rows, test);
                (0..rows).map(|row| tester.passes(row)).collect()
            }
            Target::StatusMessage => {
                let messages = strings(batch, STATUS_MESSAGE)?;
                let when_null = test.passes(Scalar::Str(""));
                let mut tester = test_strings(messages, rows, test);
                (0..rows)
                    .map(|row| if messages.is_valid(row) { tester.passes(row) } else { when_null })
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
                            status_from_code(codes.value(row))
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
                kinds
                    .values()
                    .iter()
                    .map(|&code| equality(*op, kind_from_code(code) == *wanted))
                    .collect()
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
                let name = attribute_name(target);
                let mut mask = if absent.contains(&(list, name.to_string())) {
                    vec![false; rows]
                } else {
                    list_mask(batch, list, name, test)?
                };
                if let Some(dedicated) = dedicated {
                    dedicated_mask(batch, dedicated, test, &mut mask)?;
                }
                mask
            }
        })
    }
}

/// A string column as pass 1 reads it: plain, or a dictionary (each distinct value stored
/// once, rows holding indices).
#[derive(Clone, Copy)]
enum Strings<'a> {
    Plain(&'a StringArray),
    Dictionary { keys: &'a PrimitiveArray<Int32Type>, values: &'a StringArray },
}

impl<'a> Strings<'a> {
    fn new(array: &'a dyn Array) -> Option<Self> {
        if let Some(plain) = array.as_string_opt::<i32>() {
            return Some(Strings::Plain(plain));
        }
        let dictionary = array.as_dictionary_opt::<Int32Type>()?;
        let values = dictionary.values().as_string_opt::<i32>()?;
        Some(Strings::Dictionary { keys: dictionary.keys(), values })
    }

    fn is_valid(&self, row: usize) -> bool {
        match self {
            Strings::Plain(array) => array.is_valid(row),
            Strings::Dictionary { keys, .. } => keys.is_valid(row),
        }
    }

    /// The value of a valid row ("" for an index outside the dictionary, which the reader
    /// never produces).
    fn value(&self, row: usize) -> &'a str {
        match self {
            Strings::Plain(array) => array.value(row),
            Strings::Dictionary { keys, values } => {
                let index = usize::try_from(keys.value(row)).unwrap_or(usize::MAX);
                if index < values.len() { values.value(index) } else { "" }
            }
        }
    }
}

/// Answers a string predicate per row: once per dictionary value when the column is a
/// dictionary no larger than the rows asked about, else per row, remembering the answers
/// of a costly predicate (a regex) per distinct value.
struct StrTester<'a, P> {
    strings: Strings<'a>,
    predicate: P,
    by_index: Option<Vec<bool>>,
    seen: Option<HashMap<&'a str, bool>>,
}

/// Tests rows of `strings` against `test`.
fn test_strings<'a, 't>(
    strings: Strings<'a>,
    rows: usize,
    test: &'t Test,
) -> StrTester<'a, impl Fn(&str) -> bool + 't> {
    let costly = matches!(test, Test::Regex { .. });
    StrTester::with(strings, rows, move |text: &str| test.passes(Scalar::Str(text)), costly)
}

impl<'a, P: Fn(&str) -> bool> StrTester<'a, P> {
    fn with(strings: Strings<'a>, rows: usize, predicate: P, costly: bool) -> Self {
        let by_index = match strings {
            Strings::Dictionary { values, .. } if values.len() <= rows => Some(
                (0..values.len())
                    .map(|index| values.is_valid(index) && predicate(values.value(index)))
                    .collect(),
            ),
            _ => None,
        };
        let seen = (by_index.is_none() && costly).then(HashMap::new);
        StrTester { strings, predicate, by_index, seen }
    }

    /// The answer for a valid row.
    fn passes(&mut self, row: usize) -> bool {
        if let (Some(by_index), Strings::Dictionary { keys, .. }) = (&self.by_index, self.strings) {
            let index = usize::try_from(keys.value(row)).unwrap_or(usize::MAX);
            return by_index.get(index).copied().unwrap_or(false);
        }
        let text = self.strings.value(row);
        match &mut self.seen {
            Some(seen) => *seen.entry(text).or_insert_with(|| (self.predicate)(text)),
            None => (self.predicate)(text),
        }
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
            let values = Strings::new(array).ok_or_else(|| shape(dedicated.column))?;
            let mut tester = test_strings(values, mask.len(), test);
            for (row, keep) in mask.iter_mut().enumerate() {
                if !*keep && values.is_valid(row) {
                    *keep = tester.passes(row);
                }
            }
        }
        DedicatedType::Int => {
            let values =
                array.as_primitive_opt::<Int64Type>().ok_or_else(|| shape(dedicated.column))?;
            if let Test::Compare(op, Static::Int(wanted)) = test {
                // The common case (`http.status_code = 500`) without the general dispatch:
                // which orderings pass is decided once.
                let passing = [Ordering::Less, Ordering::Equal, Ordering::Greater]
                    .map(|ordering| ordering_holds(*op, ordering));
                let nulls = values.nulls().filter(|nulls| nulls.null_count() > 0);
                for (row, (keep, value)) in mask.iter_mut().zip(values.values()).enumerate() {
                    let valid = nulls.is_none_or(|nulls| nulls.is_valid(row));
                    *keep = *keep || (valid && passing[(value.cmp(wanted) as i8 + 1) as usize]);
                }
            } else {
                for (row, keep) in mask.iter_mut().enumerate() {
                    if !*keep && values.is_valid(row) {
                        *keep = test.passes(Scalar::Int(values.value(row)));
                    }
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
    let keys = Strings::new(field(ATTR_KEY)?).ok_or_else(|| shape(list))?;
    let types = field(ATTR_TYPE)?.as_primitive_opt::<UInt8Type>().ok_or_else(|| shape(list))?;
    // The value fields the projection left out are ones the test cannot pass on.
    let strs = entries.column_by_name(ATTR_STR).and_then(|array| Strings::new(array.as_ref()));
    let ints =
        entries.column_by_name(ATTR_INT).and_then(|array| array.as_primitive_opt::<Int64Type>());
    let doubles = entries
        .column_by_name(ATTR_DOUBLE)
        .and_then(|array| array.as_primitive_opt::<Float64Type>());
    let bools = entries.column_by_name(ATTR_BOOL).and_then(|array| array.as_boolean_opt());
    let entry_count = entries.len();
    let mut key_tester = StrTester::with(keys, entry_count, |found: &str| found == key, false);
    let mut str_tester = strs.map(|strs| test_strings(strs, entry_count, test));
    let mut entry_passes = |entry: usize| -> bool {
        if !key_tester.passes(entry) {
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
            Some(ValueType::String) => {
                return match (&mut str_tester, strs) {
                    (Some(tester), Some(strs)) if strs.is_valid(entry) => tester.passes(entry),
                    _ => false,
                };
            }
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
            lists.is_valid(row) && (start..end).any(&mut entry_passes)
        })
        .collect())
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, Malformed> {
    batch
        .column_by_name(name)
        .map(|array| array.as_ref())
        .ok_or_else(|| Malformed(format!("column {name} is missing from a filtered read")))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<Strings<'a>, Malformed> {
    Strings::new(column(batch, name)?).ok_or_else(|| shape(name))
}

fn shape(name: &str) -> Malformed {
    Malformed(format!("column {name} has an unexpected type"))
}
