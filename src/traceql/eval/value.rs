//! Runtime values: what a field expression evaluates to on one span.
//!
//! Strings and arrays borrow from the trace (`'t`), so reading an attribute never allocates.
//! Ids are rendered as hex into an inline buffer ([`HexId`]); query constants that are
//! strings share the plan's text through an `Arc`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::trace::AttrValue;
use crate::traceql::ast::{Kind, Static, Status};

/// A value computed for one span; `Nil` is a missing value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'t> {
    Nil,
    Int(i64),
    Float(f64),
    Str(Text<'t>),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Status(Status),
    Kind(Kind),
    IntArray(&'t [i64]),
    FloatArray(&'t [f64]),
    StrArray(&'t [String]),
    BoolArray(&'t [bool]),
}

/// The text of a string value.
#[derive(Debug, Clone)]
pub enum Text<'t> {
    /// Text held by the trace.
    Borrowed(&'t str),
    /// An id (`span:id`, `trace:id`, …) rendered as lowercase hex. `=` and `!=` compare ids
    /// ignoring leading zeros and case (§4.2).
    Id(HexId),
    /// A query constant.
    Shared(Arc<str>),
}

impl Text<'_> {
    /// Returns the text.
    pub fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(text) => text,
            Text::Id(id) => id.as_str(),
            Text::Shared(text) => text,
        }
    }

    /// Whether this text is an id.
    pub fn is_id(&self) -> bool {
        matches!(self, Text::Id(_))
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// Up to 16 id bytes as lowercase hex, without a heap allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexId {
    text: [u8; 32],
    len: u8,
}

impl HexId {
    /// Renders the first 16 bytes of an id.
    pub fn from_bytes(bytes: &[u8]) -> HexId {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 32];
        let bytes = &bytes[..bytes.len().min(16)];
        for (i, byte) in bytes.iter().enumerate() {
            text[2 * i] = DIGITS[usize::from(byte >> 4)];
            text[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
        }
        HexId { text, len: (bytes.len() * 2) as u8 }
    }

    /// Returns the hex text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexId({})", self.as_str())
    }
}

impl<'t> Value<'t> {
    /// Borrows an attribute value.
    pub fn from_attr(value: &'t AttrValue) -> Value<'t> {
        match value {
            AttrValue::Str(text) => Value::Str(Text::Borrowed(text)),
            AttrValue::Int(number) => Value::Int(*number),
            AttrValue::Float(number) => Value::Float(*number),
            AttrValue::Bool(flag) => Value::Bool(*flag),
            AttrValue::StrArray(items) => Value::StrArray(items),
            AttrValue::IntArray(items) => Value::IntArray(items),
            AttrValue::FloatArray(items) => Value::FloatArray(items),
            AttrValue::BoolArray(items) => Value::BoolArray(items),
        }
    }

    /// A borrowed string.
    pub fn str(text: &'t str) -> Value<'t> {
        Value::Str(Text::Borrowed(text))
    }

    /// Whether the value is missing.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Whether the value is the boolean `true` (the only value that keeps a span).
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// Returns the text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// Returns a number (int, float or duration in ns) for numeric comparison and math.
    pub(crate) fn as_number(&self) -> Option<Number> {
        match self {
            Value::Int(number) | Value::Duration(number) => Some(Number::Whole(*number)),
            Value::Float(number) => Some(Number::Float(*number)),
            _ => None,
        }
    }

    /// Whether the value is an array.
    pub fn is_array(&self) -> bool {
        matches!(
            self,
            Value::IntArray(_) | Value::FloatArray(_) | Value::StrArray(_) | Value::BoolArray(_)
        )
    }

    /// Calls `test` on each element of an array, or once on a scalar; with `every` it
    /// answers whether all calls returned true, otherwise whether any did.
    pub(crate) fn test_elements(
        &self,
        every: bool,
        mut test: impl FnMut(&Value<'t>) -> bool,
    ) -> bool {
        match *self {
            Value::IntArray(items) => quantify(every, items.iter().map(|i| Value::Int(*i)), test),
            Value::FloatArray(items) => {
                quantify(every, items.iter().map(|f| Value::Float(*f)), test)
            }
            Value::BoolArray(items) => quantify(every, items.iter().map(|b| Value::Bool(*b)), test),
            Value::StrArray(items) => quantify(every, items.iter().map(|s| Value::str(s)), test),
            _ => test(self),
        }
    }
}

/// `all` or `any` of `test` over `items`.
fn quantify<'t>(
    every: bool,
    mut items: impl Iterator<Item = Value<'t>>,
    mut test: impl FnMut(&Value<'t>) -> bool,
) -> bool {
    if every { items.all(|item| test(&item)) } else { items.any(|item| test(&item)) }
}

impl Value<'static> {
    /// The runtime value of a query constant.
    pub fn from_static(value: &Static) -> Value<'static> {
        match value {
            Static::Int(number) => Value::Int(*number),
            Static::Float(number) => Value::Float(*number),
            Static::Str(text) => Value::Str(Text::Shared(Arc::from(text.as_str()))),
            Static::Bool(flag) => Value::Bool(*flag),
            Static::Duration(nanos) => Value::Duration(*nanos),
            Static::Status(status) => Value::Status(*status),
            Static::Kind(kind) => Value::Kind(*kind),
        }
    }
}

/// A numeric value: whole (int, or duration in ns) or float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Whole(i64),
    Float(f64),
}

impl Number {
    /// The value as a float.
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Number::Whole(number) => number as f64,
            Number::Float(number) => number,
        }
    }

    /// Compares by value: exactly when both are whole, in float otherwise (`None` for NaN).
    pub(crate) fn compare(self, other: Number) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Number::Whole(a), Number::Whole(b)) => Some(a.cmp(&b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

/// A value used as a `by()` group key: equal when of the same type with the same content
/// (floats by bit pattern), so `1` and `1.0` are different groups and nil is a group.
#[derive(Debug, Clone)]
pub(crate) struct GroupKey<'t>(pub Value<'t>);

impl PartialEq for GroupKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (&self.0, &other.0) {
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (FloatArray(a), FloatArray(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b.iter()).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b) && a == b,
        }
    }
}

impl Eq for GroupKey<'_> {}

impl Hash for GroupKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(&self.0).hash(state);
        match &self.0 {
            Value::Nil => {}
            Value::Int(number) | Value::Duration(number) => number.hash(state),
            Value::Float(number) => number.to_bits().hash(state),
            Value::Str(text) => text.as_str().hash(state),
            Value::Bool(flag) => flag.hash(state),
            Value::Status(status) => status.hash(state),
            Value::Kind(kind) => kind.hash(state),
            Value::IntArray(items) => items.hash(state),
            Value::FloatArray(items) => items.iter().for_each(|item| item.to_bits().hash(state)),
            Value::StrArray(items) => items.hash(state),
            Value::BoolArray(items) => items.hash(state),
        }
    }
}
