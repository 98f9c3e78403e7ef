//! Bulk tests of projected batches: one bool per row per span condition.

use std::cmp::Ordering;
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, UInt8Type, UInt64Type};
use arrow_array::{Array, ListArray, RecordBatch, StringArray, StructArray};

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
                let names = string_column(batch, NAME)?;
                let mut memo = StrMemo::new(test);
                (0..rows).map(|row| memo.passes(names.value(row))).collect()
            }
            Target::StatusMessage => {
                let messages = string_column(batch, STATUS_MESSAGE)?;
                let mut memo = StrMemo::new(test);
                (0..rows)
                    .map(|row| {
                        let text = if messages.is_null(row) { "" } else { messages.value(row) };
                        memo.passes(text)
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

/// A string test that remembers its answers when they are costly to compute (a regex),
/// since a batch repeats few distinct values (names, routes, services).
struct StrMemo<'t, 'a> {
    test: &'t Test,
    seen: Option<HashMap<&'a str, bool>>,
}

impl<'t, 'a> StrMemo<'t, 'a> {
    fn new(test: &'t Test) -> Self {
        let seen = matches!(test, Test::Regex { .. }).then(HashMap::new);
        StrMemo { test, seen }
    }

    fn passes(&mut self, text: &'a str) -> bool {
        match &mut self.seen {
            Some(seen) => *seen.entry(text).or_insert_with(|| self.test.passes(Scalar::Str(text))),
            None => self.test.passes(Scalar::Str(text)),
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
            let values = array.as_string_opt::<i32>().ok_or_else(|| shape(dedicated.column))?;
            let mut memo = StrMemo::new(test);
            for (row, keep) in mask.iter_mut().enumerate() {
                if !*keep && values.is_valid(row) {
                    *keep = memo.passes(values.value(row));
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
    let keys = field(ATTR_KEY)?.as_string_opt::<i32>().ok_or_else(|| shape(list))?;
    let types = field(ATTR_TYPE)?.as_primitive_opt::<UInt8Type>().ok_or_else(|| shape(list))?;
    // The value fields the projection left out are ones the test cannot pass on.
    let strs = entries.column_by_name(ATTR_STR).and_then(|array| array.as_string_opt::<i32>());
    let ints =
        entries.column_by_name(ATTR_INT).and_then(|array| array.as_primitive_opt::<Int64Type>());
    let doubles = entries
        .column_by_name(ATTR_DOUBLE)
        .and_then(|array| array.as_primitive_opt::<Float64Type>());
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
