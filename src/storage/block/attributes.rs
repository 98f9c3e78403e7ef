//! Typed key/value lists: OTLP `KeyValue`s to `List<Struct{key, type, str, int, double, bool,
//! bytes}>` and back, exactly.
//!
//! `type` ([`ValueType`]) says which field holds the value; the others are null. Composite
//! values (arrays, kvlists) are stored as their protobuf encoding in `bytes`, and a `KeyValue`
//! using profile-only fields is stored whole, so every input decodes to an equal `KeyValue`.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, NullBufferBuilder,
    OffsetBufferBuilder, StringBuilder, UInt8Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt8Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int64Array, ListArray, StringArray,
    StructArray, UInt8Array,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use prost::Message;

use super::schema::{ValueType, attribute_fields, attribute_item_field};
use super::{BlockError, Malformed};

/// Accumulates attribute lists, one per row (or per event, per link).
pub(crate) struct AttributeListBuilder {
    offsets: OffsetBufferBuilder<i32>,
    validity: NullBufferBuilder,
    keys: StringBuilder,
    types: UInt8Builder,
    strings: StringBuilder,
    ints: Int64Builder,
    doubles: Float64Builder,
    bools: BooleanBuilder,
    bytes: BinaryBuilder,
}

impl Default for AttributeListBuilder {
    fn default() -> Self {
        AttributeListBuilder {
            offsets: OffsetBufferBuilder::new(0),
            validity: NullBufferBuilder::new(0),
            keys: StringBuilder::new(),
            types: UInt8Builder::new(),
            strings: StringBuilder::new(),
            ints: Int64Builder::new(),
            doubles: Float64Builder::new(),
            bools: BooleanBuilder::new(),
            bytes: BinaryBuilder::new(),
        }
    }
}

impl AttributeListBuilder {
    /// Appends one list holding `attributes` in order.
    pub(crate) fn append_list<'a>(&mut self, attributes: impl IntoIterator<Item = &'a KeyValue>) {
        let mut entries = 0;
        for attribute in attributes {
            self.append_entry(attribute);
            entries += 1;
        }
        self.offsets.push_length(entries);
        self.validity.append_non_null();
    }

    /// Appends a null list (an absent resource).
    pub(crate) fn append_null_list(&mut self) {
        self.offsets.push_length(0);
        self.validity.append_null();
    }

    fn append_entry(&mut self, attribute: &KeyValue) {
        self.keys.append_value(&attribute.key);
        let value_type = value_type_of(attribute);
        self.types.append_value(value_type as u8);
        let value = attribute.value.as_ref().and_then(|any| any.value.as_ref());
        match (value_type, value) {
            (ValueType::String, Some(Value::StringValue(text))) => self.strings.append_value(text),
            _ => self.strings.append_null(),
        }
        match (value_type, value) {
            (ValueType::Int, Some(Value::IntValue(int))) => self.ints.append_value(*int),
            _ => self.ints.append_null(),
        }
        match (value_type, value) {
            (ValueType::Double, Some(Value::DoubleValue(double))) => {
                self.doubles.append_value(*double)
            }
            _ => self.doubles.append_null(),
        }
        match (value_type, value) {
            (ValueType::Bool, Some(Value::BoolValue(flag))) => self.bools.append_value(*flag),
            _ => self.bools.append_null(),
        }
        match (value_type, value) {
            (ValueType::Bytes, Some(Value::BytesValue(bytes))) => self.bytes.append_value(bytes),
            (ValueType::Array, Some(Value::ArrayValue(array))) => {
                self.bytes.append_value(array.encode_to_vec())
            }
            (ValueType::KvList, Some(Value::KvlistValue(list))) => {
                self.bytes.append_value(list.encode_to_vec())
            }
            (ValueType::RawKeyValue, _) => self.bytes.append_value(attribute.encode_to_vec()),
            _ => self.bytes.append_null(),
        }
    }

    /// The lists appended so far as one array; the builder starts over.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef, BlockError> {
        let entries = StructArray::try_new(
            attribute_fields(),
            vec![
                Arc::new(self.keys.finish()),
                Arc::new(self.types.finish()),
                Arc::new(self.strings.finish()),
                Arc::new(self.ints.finish()),
                Arc::new(self.doubles.finish()),
                Arc::new(self.bools.finish()),
                Arc::new(self.bytes.finish()),
            ],
            None,
        )
        .map_err(encode_error)?;
        let offsets = std::mem::replace(&mut self.offsets, OffsetBufferBuilder::new(0));
        let list = ListArray::try_new(
            attribute_item_field(),
            offsets.finish(),
            Arc::new(entries),
            self.validity.finish(),
        )
        .map_err(encode_error)?;
        Ok(Arc::new(list))
    }
}

/// The type tag an attribute is stored under.
fn value_type_of(attribute: &KeyValue) -> ValueType {
    if attribute.key_strindex != 0 {
        return ValueType::RawKeyValue;
    }
    match attribute.value.as_ref().map(|any| any.value.as_ref()) {
        None => ValueType::Absent,
        Some(None) => ValueType::Empty,
        Some(Some(Value::StringValue(_))) => ValueType::String,
        Some(Some(Value::IntValue(_))) => ValueType::Int,
        Some(Some(Value::DoubleValue(_))) => ValueType::Double,
        Some(Some(Value::BoolValue(_))) => ValueType::Bool,
        Some(Some(Value::BytesValue(_))) => ValueType::Bytes,
        Some(Some(Value::ArrayValue(_))) => ValueType::Array,
        Some(Some(Value::KvlistValue(_))) => ValueType::KvList,
        Some(Some(Value::StringValueStrindex(_))) => ValueType::RawKeyValue,
    }
}

/// An Arrow error while assembling arrays: a bug or an input beyond Arrow's limits.
pub(crate) fn encode_error(error: arrow_schema::ArrowError) -> BlockError {
    BlockError::Encode { reason: error.to_string() }
}

/// Reads attribute lists back from a decoded column.
pub(crate) struct AttributeListColumn<'a> {
    lists: &'a ListArray,
    keys: &'a StringArray,
    types: &'a UInt8Array,
    strings: &'a StringArray,
    ints: &'a Int64Array,
    doubles: &'a Float64Array,
    bools: &'a BooleanArray,
    bytes: &'a BinaryArray,
}

impl<'a> AttributeListColumn<'a> {
    /// Checks the column's shape; `name` is for the error.
    pub(crate) fn new(column: &'a dyn Array, name: &str) -> Result<Self, Malformed> {
        let shape = || Malformed(format!("column {name} is not an attribute list"));
        let lists = column.as_list_opt::<i32>().ok_or_else(shape)?;
        let entries = lists.values().as_struct_opt().ok_or_else(shape)?;
        if entries.num_columns() != 7 {
            return Err(shape());
        }
        let field = |index: usize| entries.column(index).as_ref();
        Ok(AttributeListColumn {
            lists,
            keys: field(0).as_string_opt::<i32>().ok_or_else(shape)?,
            types: field(1).as_primitive_opt::<UInt8Type>().ok_or_else(shape)?,
            strings: field(2).as_string_opt::<i32>().ok_or_else(shape)?,
            ints: field(3).as_primitive_opt::<Int64Type>().ok_or_else(shape)?,
            doubles: field(4).as_primitive_opt::<Float64Type>().ok_or_else(shape)?,
            bools: field(5).as_boolean_opt().ok_or_else(shape)?,
            bytes: field(6).as_binary_opt::<i32>().ok_or_else(shape)?,
        })
    }

    /// The list of `row`; `None` when it is null.
    pub(crate) fn list(&self, row: usize) -> Result<Option<Vec<KeyValue>>, Malformed> {
        if self.lists.is_null(row) {
            return Ok(None);
        }
        let offsets = self.lists.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        (start..end).map(|entry| self.entry(entry)).collect::<Result<Vec<_>, _>>().map(Some)
    }

    /// The list of `row`, treating null as empty.
    pub(crate) fn list_or_empty(&self, row: usize) -> Result<Vec<KeyValue>, Malformed> {
        Ok(self.list(row)?.unwrap_or_default())
    }

    fn entry(&self, entry: usize) -> Result<KeyValue, Malformed> {
        let key = self.keys.value(entry).to_string();
        let tag = self.types.value(entry);
        let value_type = ValueType::from_u8(tag)
            .ok_or_else(|| Malformed(format!("unknown attribute value type {tag}")))?;
        let missing = || Malformed(format!("attribute {key:?} of type {tag} has no value"));
        let bytes = || (!self.bytes.is_null(entry)).then(|| self.bytes.value(entry));
        let value = match value_type {
            ValueType::Absent => return Ok(KeyValue { key, value: None, key_strindex: 0 }),
            ValueType::Empty => None,
            ValueType::String => {
                if self.strings.is_null(entry) {
                    return Err(missing());
                }
                Some(Value::StringValue(self.strings.value(entry).to_string()))
            }
            ValueType::Int => {
                if self.ints.is_null(entry) {
                    return Err(missing());
                }
                Some(Value::IntValue(self.ints.value(entry)))
            }
            ValueType::Double => {
                if self.doubles.is_null(entry) {
                    return Err(missing());
                }
                Some(Value::DoubleValue(self.doubles.value(entry)))
            }
            ValueType::Bool => {
                if self.bools.is_null(entry) {
                    return Err(missing());
                }
                Some(Value::BoolValue(self.bools.value(entry)))
            }
            ValueType::Bytes => Some(Value::BytesValue(bytes().ok_or_else(missing)?.to_vec())),
            ValueType::Array => {
                let encoded = bytes().ok_or_else(missing)?;
                let array = ArrayValue::decode(encoded).map_err(|error| protobuf(&key, error))?;
                Some(Value::ArrayValue(array))
            }
            ValueType::KvList => {
                let encoded = bytes().ok_or_else(missing)?;
                let list = KeyValueList::decode(encoded).map_err(|error| protobuf(&key, error))?;
                Some(Value::KvlistValue(list))
            }
            ValueType::RawKeyValue => {
                let encoded = bytes().ok_or_else(missing)?;
                return KeyValue::decode(encoded).map_err(|error| protobuf(&key, error));
            }
        };
        Ok(KeyValue { key, value: Some(AnyValue { value }), key_strindex: 0 })
    }
}

fn protobuf(key: &str, error: prost::DecodeError) -> Malformed {
    Malformed(format!("attribute {key:?} holds bad protobuf: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: Option<Value>) -> KeyValue {
        KeyValue { key: key.to_string(), value: Some(AnyValue { value }), key_strindex: 0 }
    }

    /// One attribute of every stored type.
    pub(crate) fn every_type() -> Vec<KeyValue> {
        vec![
            kv("s", Some(Value::StringValue("ünïcødé ✓".to_string()))),
            kv("", Some(Value::StringValue(String::new()))),
            kv("i", Some(Value::IntValue(i64::MIN))),
            kv("d", Some(Value::DoubleValue(-0.0))),
            kv("b", Some(Value::BoolValue(false))),
            kv("bytes", Some(Value::BytesValue(vec![0, 255]))),
            kv(
                "array",
                Some(Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue { value: None },
                        AnyValue { value: Some(Value::IntValue(1)) },
                    ],
                })),
            ),
            kv(
                "kvlist",
                Some(Value::KvlistValue(KeyValueList { values: vec![kv("nested", None)] })),
            ),
            kv("empty", None),
            KeyValue { key: "absent".to_string(), value: None, key_strindex: 0 },
            KeyValue { key: String::new(), value: None, key_strindex: 7 },
            kv("strindex", Some(Value::StringValueStrindex(3))),
        ]
    }

    #[test]
    fn every_value_type_round_trips_and_nulls_stay_null() {
        let mut builder = AttributeListBuilder::default();
        builder.append_list(&every_type());
        builder.append_null_list();
        builder.append_list(&[]);
        let array = builder.finish().unwrap();
        let column = AttributeListColumn::new(array.as_ref(), "attributes").unwrap();
        assert_eq!(column.list(0).unwrap().unwrap(), every_type());
        assert_eq!(column.list(1).unwrap(), None);
        assert_eq!(column.list(2).unwrap(), Some(vec![]));
    }

    #[test]
    fn a_column_of_another_shape_is_malformed() {
        let strings: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        assert!(AttributeListColumn::new(strings.as_ref(), "attributes").is_err());
    }
}
