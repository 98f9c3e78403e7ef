//! Dedicated columns: well-known attributes pulled out of the generic list into their own
//! typed column, and put back at their original position on read.
//!
//! An attribute goes to its column when its key matches, its value has the column's type, it
//! uses no profile-only field, and no earlier attribute of the list took the column. The
//! positions it had in the list are kept in a small binary column: one LEB128 varint per
//! non-null dedicated column, in table order. Reading inserts the dedicated values at their
//! positions in ascending order, which rebuilds the original list exactly. Spans of the same
//! shape share the same position bytes, so the column is a dictionary hit and costs next to
//! nothing.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

use super::Malformed;
use super::schema::{DedicatedColumn, DedicatedType};
use crate::traceql::eval::AttrValue;

/// A dedicated value, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DedicatedValue<'a> {
    /// For a string column.
    String(&'a str),
    /// For an int column.
    Int(i64),
}

/// An attribute list split into generic entries and dedicated values.
#[derive(Debug)]
pub(crate) struct SplitAttributes<'a> {
    /// Entries that stay in the generic list, in order.
    pub generic: Vec<&'a KeyValue>,
    /// One slot per dedicated column, in table order.
    pub dedicated: Vec<Option<DedicatedValue<'a>>>,
    /// The original positions of the dedicated values (varints, table order).
    pub positions: Vec<u8>,
}

/// Splits `attributes` by the dedicated-column `table`.
pub(crate) fn split_dedicated<'a>(
    attributes: &'a [KeyValue],
    table: &[DedicatedColumn],
) -> SplitAttributes<'a> {
    let mut generic = Vec::with_capacity(attributes.len());
    let mut dedicated: Vec<Option<DedicatedValue<'a>>> = vec![None; table.len()];
    let mut positions_by_column: Vec<usize> = vec![0; table.len()];
    for (position, attribute) in attributes.iter().enumerate() {
        let slot = (attribute.key_strindex == 0)
            .then(|| table.iter().position(|column| column.attribute == attribute.key))
            .flatten()
            .filter(|column| dedicated[*column].is_none());
        let value = attribute.value.as_ref().and_then(|any| any.value.as_ref());
        let taken = match (slot, value) {
            (Some(column), Some(Value::StringValue(text)))
                if table[column].value_type == DedicatedType::String =>
            {
                Some((column, DedicatedValue::String(text)))
            }
            (Some(column), Some(Value::IntValue(int)))
                if table[column].value_type == DedicatedType::Int =>
            {
                Some((column, DedicatedValue::Int(*int)))
            }
            _ => None,
        };
        match taken {
            Some((column, value)) => {
                dedicated[column] = Some(value);
                positions_by_column[column] = position;
            }
            None => generic.push(attribute),
        }
    }
    let mut positions = Vec::new();
    for (column, value) in dedicated.iter().enumerate() {
        if value.is_some() {
            write_varint(&mut positions, positions_by_column[column] as u64);
        }
    }
    SplitAttributes { generic, dedicated, positions }
}

/// Accumulates the dedicated columns of one table.
pub(crate) struct DedicatedBuilders {
    builders: Vec<DedicatedBuilder>,
}

enum DedicatedBuilder {
    String(StringBuilder),
    Int(Int64Builder),
}

impl DedicatedBuilders {
    /// Empty columns for `table`.
    pub(crate) fn new(table: &[DedicatedColumn]) -> DedicatedBuilders {
        let builders = table
            .iter()
            .map(|column| match column.value_type {
                DedicatedType::String => DedicatedBuilder::String(StringBuilder::new()),
                DedicatedType::Int => DedicatedBuilder::Int(Int64Builder::new()),
            })
            .collect();
        DedicatedBuilders { builders }
    }

    /// Appends one row: a slot per column, as [`split_dedicated`] made them.
    pub(crate) fn append(&mut self, values: &[Option<DedicatedValue<'_>>]) {
        debug_assert_eq!(values.len(), self.builders.len());
        for (builder, value) in self.builders.iter_mut().zip(values) {
            match (builder, value) {
                (DedicatedBuilder::String(builder), Some(DedicatedValue::String(text))) => {
                    builder.append_value(text)
                }
                (DedicatedBuilder::Int(builder), Some(DedicatedValue::Int(int))) => {
                    builder.append_value(*int)
                }
                (DedicatedBuilder::String(builder), _) => builder.append_null(),
                (DedicatedBuilder::Int(builder), _) => builder.append_null(),
            }
        }
    }

    /// Appends a row with every column null.
    pub(crate) fn append_nulls(&mut self) {
        for builder in &mut self.builders {
            match builder {
                DedicatedBuilder::String(builder) => builder.append_null(),
                DedicatedBuilder::Int(builder) => builder.append_null(),
            }
        }
    }

    /// The columns, in table order; the builders start over.
    pub(crate) fn finish(&mut self) -> Vec<ArrayRef> {
        self.builders
            .iter_mut()
            .map(|builder| -> ArrayRef {
                match builder {
                    DedicatedBuilder::String(builder) => Arc::new(builder.finish()),
                    DedicatedBuilder::Int(builder) => Arc::new(builder.finish()),
                }
            })
            .collect()
    }
}

/// The dedicated columns of one table in a decoded batch.
pub(crate) struct DedicatedColumns<'a> {
    table: &'static [DedicatedColumn],
    columns: Vec<DedicatedArray<'a>>,
}

enum DedicatedArray<'a> {
    String(&'a StringArray),
    Int(&'a Int64Array),
}

impl<'a> DedicatedColumns<'a> {
    /// Finds and checks the table's columns in `batch`.
    pub(crate) fn new(
        batch: &'a RecordBatch,
        table: &'static [DedicatedColumn],
    ) -> Result<Self, Malformed> {
        let columns = table
            .iter()
            .map(|column| dedicated_array(batch, column))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DedicatedColumns { table, columns })
    }

    /// Puts the dedicated values of `row` back into `generic` at their stored `positions`.
    pub(crate) fn merge(
        &self,
        row: usize,
        mut generic: Vec<KeyValue>,
        positions: &[u8],
    ) -> Result<Vec<KeyValue>, Malformed> {
        let mut cursor = positions;
        let mut placed: Vec<(u64, KeyValue)> = Vec::new();
        for (column, array) in self.table.iter().zip(&self.columns) {
            let value = match array {
                DedicatedArray::String(array) if array.is_valid(row) => {
                    Value::StringValue(array.value(row).to_string())
                }
                DedicatedArray::Int(array) if array.is_valid(row) => {
                    Value::IntValue(array.value(row))
                }
                _ => continue,
            };
            let position = read_varint(&mut cursor)
                .ok_or_else(|| Malformed("dedicated positions are cut short".to_string()))?;
            let attribute = KeyValue {
                key: column.attribute.to_string(),
                value: Some(AnyValue { value: Some(value) }),
                key_strindex: 0,
            };
            placed.push((position, attribute));
        }
        if !cursor.is_empty() {
            return Err(Malformed("dedicated positions have trailing bytes".to_string()));
        }
        placed.sort_by_key(|(position, _)| *position);
        for (position, attribute) in placed {
            let index = usize::try_from(position).ok().filter(|index| *index <= generic.len());
            let Some(index) = index else {
                return Err(Malformed(format!("dedicated position {position} is out of range")));
            };
            generic.insert(index, attribute);
        }
        Ok(generic)
    }
}

fn dedicated_array<'a>(
    batch: &'a RecordBatch,
    column: &DedicatedColumn,
) -> Result<DedicatedArray<'a>, Malformed> {
    let shape = || Malformed(format!("dedicated column {} is missing", column.column));
    let array = batch.column_by_name(column.column).ok_or_else(shape)?;
    match column.value_type {
        DedicatedType::String => {
            array.as_string_opt::<i32>().map(DedicatedArray::String).ok_or_else(shape)
        }
        DedicatedType::Int => {
            array.as_primitive_opt::<Int64Type>().map(DedicatedArray::Int).ok_or_else(shape)
        }
    }
}

/// Some dedicated columns of a table read without the generic list (a search that knows
/// the list lacks the keys it wants): their values in table order, typed for the engine.
pub(crate) struct DedicatedSubset<'a> {
    columns: Vec<(&'static str, DedicatedArray<'a>)>,
}

impl<'a> DedicatedSubset<'a> {
    /// The columns of `table` whose attribute `wanted` accepts; they must be in `batch`.
    pub(crate) fn new(
        batch: &'a RecordBatch,
        table: &'static [DedicatedColumn],
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Self, Malformed> {
        let columns = table
            .iter()
            .filter(|column| wanted(column.attribute))
            .map(|column| Ok((column.attribute, dedicated_array(batch, column)?)))
            .collect::<Result<Vec<_>, Malformed>>()?;
        Ok(DedicatedSubset { columns })
    }

    /// The values `row` has, as (key, value) in table order.
    pub(crate) fn values(&self, row: usize) -> Vec<(String, AttrValue)> {
        self.columns
            .iter()
            .filter_map(|(key, array)| {
                let value = match array {
                    DedicatedArray::String(array) if array.is_valid(row) => {
                        AttrValue::Str(array.value(row).to_string())
                    }
                    DedicatedArray::Int(array) if array.is_valid(row) => {
                        AttrValue::Int(array.value(row))
                    }
                    _ => return None,
                };
                Some((key.to_string(), value))
            })
            .collect()
    }
}

/// Appends `value` as an unsigned LEB128 varint.
fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one unsigned LEB128 varint from the front of `input`.
fn read_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (index, byte) in input.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            *input = &input[index + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use arrow_array::RecordBatch;
    use arrow_schema::{Field, Schema};

    use super::*;
    use crate::storage::block::schema::SPAN_DEDICATED;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
            key_strindex: 0,
        }
    }

    fn round_trip(attributes: &[KeyValue]) -> (usize, Vec<KeyValue>) {
        let split = split_dedicated(attributes, SPAN_DEDICATED);
        let generic: Vec<KeyValue> = split.generic.iter().map(|kv| (*kv).clone()).collect();
        let mut builders = DedicatedBuilders::new(SPAN_DEDICATED);
        builders.append(&split.dedicated);
        let arrays = builders.finish();
        let fields: Vec<Field> = SPAN_DEDICATED
            .iter()
            .zip(&arrays)
            .map(|(column, array)| Field::new(column.column, array.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let columns = DedicatedColumns::new(&batch, SPAN_DEDICATED).unwrap();
        (generic.len(), columns.merge(0, generic, &split.positions).unwrap())
    }

    #[test]
    fn dedicated_values_return_to_their_positions() {
        let attributes = vec![
            kv("a", Value::IntValue(1)),
            kv("http.status_code", Value::IntValue(200)),
            kv("b", Value::StringValue("x".into())),
            kv("http.method", Value::StringValue("GET".into())),
            kv("http.method", Value::StringValue("POST".into())), // duplicate key stays generic
            kv("http.route", Value::IntValue(3)),                 // wrong type stays generic
        ];
        let (generic, merged) = round_trip(&attributes);
        assert_eq!(generic, 4);
        assert_eq!(merged, attributes);
    }

    #[test]
    fn only_dedicated_values_round_trip() {
        let attributes = vec![
            kv("db.system", Value::StringValue("postgresql".into())),
            kv("http.url", Value::StringValue(String::new())),
        ];
        assert_eq!(round_trip(&attributes), (0, attributes));
    }

    #[test]
    fn varints_round_trip_and_short_input_is_refused() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            let mut input = out.as_slice();
            assert_eq!(read_varint(&mut input), Some(value));
            assert!(input.is_empty());
        }
        assert_eq!(read_varint(&mut [0x80u8].as_slice()), None);
    }
}
