//! Jaeger tags as OTLP attributes, with the semantics of the Collector's attribute map: a
//! repeated key keeps its first position and takes the last value, and a removal moves the
//! last entry into the gap (so a renamed key such as `hostname` → `host.name` keeps its place).

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

use super::{JaegerTag, TagValue};

/// Above this many tags, repeated keys are found through a hash map instead of a scan, so a
/// hostile span with many tags costs linear, not quadratic, time.
const LINEAR_SCAN_LIMIT: usize = 16;

/// Converts typed tags to typed attributes; a repeated key keeps its first position and its
/// last value.
pub(crate) fn tags_to_attributes(tags: Vec<JaegerTag>) -> Vec<KeyValue> {
    let mut attributes: Vec<KeyValue> = Vec::with_capacity(tags.len());
    if tags.len() <= LINEAR_SCAN_LIMIT {
        for tag in tags {
            let value = any_value_of(tag.value);
            match attributes.iter_mut().find(|existing| existing.key == tag.key) {
                Some(existing) => existing.value = Some(value),
                None => attributes.push(key_value(tag.key, value)),
            }
        }
        return attributes;
    }
    let mut positions: HashMap<String, usize> = HashMap::with_capacity(tags.len());
    for tag in tags {
        let value = any_value_of(tag.value);
        let existing = positions.get(&tag.key).and_then(|&position| attributes.get_mut(position));
        match existing {
            Some(existing) => existing.value = Some(value),
            None => {
                positions.insert(tag.key.clone(), attributes.len());
                attributes.push(key_value(tag.key, value));
            }
        }
    }
    attributes
}

/// The attribute `key`, if present.
pub(crate) fn get<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attributes.iter().find(|attribute| attribute.key == key)
}

/// Removes the attribute `key`, moving the last attribute into its place.
pub(crate) fn remove(attributes: &mut Vec<KeyValue>, key: &str) -> Option<KeyValue> {
    let position = attributes.iter().position(|attribute| attribute.key == key)?;
    Some(attributes.swap_remove(position))
}

/// An attribute's value (always set on attributes built here).
pub(crate) fn value_of(attribute: &KeyValue) -> Option<&any_value::Value> {
    attribute.value.as_ref().and_then(|value| value.value.as_ref())
}

/// The string an attribute holds, or `""` for any other type (the Collector's `Value.Str()`).
pub(crate) fn string_of(attribute: &KeyValue) -> &str {
    match value_of(attribute) {
        Some(any_value::Value::StringValue(text)) => text,
        _ => "",
    }
}

/// An attribute with a string value.
pub(crate) fn string_attribute(key: &str, value: String) -> KeyValue {
    key_value(key.to_owned(), AnyValue { value: Some(any_value::Value::StringValue(value)) })
}

/// An attribute with any value.
pub(crate) fn key_value(key: String, value: AnyValue) -> KeyValue {
    KeyValue { key, value: Some(value), ..Default::default() }
}

/// A typed tag value as an OTLP value; an unknown tag type becomes the Collector's
/// `<Unknown Jaeger TagType "…">` string.
fn any_value_of(value: TagValue) -> AnyValue {
    let value = match value {
        TagValue::String(text) => any_value::Value::StringValue(text),
        TagValue::Bool(flag) => any_value::Value::BoolValue(flag),
        TagValue::Long(number) => any_value::Value::IntValue(number),
        TagValue::Double(number) => any_value::Value::DoubleValue(number),
        TagValue::Binary(bytes) => any_value::Value::BytesValue(bytes),
        TagValue::UnknownType(label) => {
            any_value::Value::StringValue(format!("<Unknown Jaeger TagType \"{label}\">"))
        }
    };
    AnyValue { value: Some(value) }
}
