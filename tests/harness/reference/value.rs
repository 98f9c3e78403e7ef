//! Runtime values of the reference evaluator and the operations of §4.2 on them:
//! comparisons (nil or mismatched types are false, `!=` included), arithmetic (int with int
//! stays int, any other numeric mix is float), arrays (any element / every element).

use std::cmp::Ordering;

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use spanlake::traceql::ast::{BinaryOp, Kind, Static, Status};

/// A value seen while evaluating one span.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Missing.
    Nil,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Status(Status),
    Kind(Kind),
    /// A trace or span id: lower-case hex without leading zeros, compared as decoded ids.
    Id(String),
    /// A homogeneous array of scalar attribute values.
    Array(Vec<Value>),
}

impl Value {
    pub fn from_static(value: &Static) -> Value {
        match value {
            Static::Int(i) => Value::Int(*i),
            Static::Float(f) => Value::Float(*f),
            Static::Str(s) => Value::Str(s.clone()),
            Static::Bool(b) => Value::Bool(*b),
            Static::Duration(d) => Value::Duration(*d),
            Static::Status(s) => Value::Status(*s),
            Static::Kind(k) => Value::Kind(*k),
        }
    }

    /// An OTLP attribute value; bytes, key-value lists, nested and mixed arrays are not
    /// searchable and read as nil.
    pub fn from_any(value: Option<&AnyValue>) -> Value {
        let Some(value) = value.and_then(|v| v.value.as_ref()) else { return Value::Nil };
        match value {
            any_value::Value::StringValue(s) => Value::Str(s.clone()),
            any_value::Value::BoolValue(b) => Value::Bool(*b),
            any_value::Value::IntValue(i) => Value::Int(*i),
            any_value::Value::DoubleValue(f) => Value::Float(*f),
            any_value::Value::ArrayValue(array) => {
                let elements: Vec<Value> =
                    array.values.iter().map(|element| Value::from_any(Some(element))).collect();
                let homogeneous = elements.iter().all(|e| {
                    matches!(e, Value::Str(_) | Value::Bool(_) | Value::Int(_) | Value::Float(_))
                        && std::mem::discriminant(e) == std::mem::discriminant(&elements[0])
                });
                if homogeneous { Value::Array(elements) } else { Value::Nil }
            }
            _ => Value::Nil,
        }
    }

    /// An id from its bytes.
    pub fn id(bytes: &[u8]) -> Value {
        Value::Id(normalize_id(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Int, float or duration, as a float (durations in ns).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Int(i) | Value::Duration(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A key that tells apart values of different types (for `by()`).
    pub fn group_key(&self) -> String {
        match self {
            Value::Float(f) => format!("Float({:x})", f.to_bits()),
            other => format!("{other:?}"),
        }
    }
}

/// Lower-case hex without leading zeros; `None` for something that is not hex.
fn normalize_id(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_start_matches('0');
    if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `op` is one of the comparisons (`= != < <= > >= =~ !~`).
pub fn is_comparison(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Eq | Neq | Lt | Lte | Gt | Gte | Regex | NotRegex)
}

/// `lhs op rhs` for a comparison. `matches` answers `text =~ pattern` (fully anchored).
pub fn compare(
    op: BinaryOp,
    lhs: &Value,
    rhs: &Value,
    matches: &dyn Fn(&str, &str) -> bool,
) -> bool {
    match (lhs, rhs) {
        (Value::Array(_), Value::Array(_)) => false,
        (Value::Array(elements), scalar) => {
            array_compare(op, elements, |element| compare(op, element, scalar, matches))
        }
        (scalar, Value::Array(elements)) => {
            array_compare(op, elements, |element| compare(op, scalar, element, matches))
        }
        _ => compare_scalars(op, lhs, rhs, matches),
    }
}

/// `=`, `=~` and the orderings hold if any element satisfies them; `!=` and `!~` only if
/// every element does.
fn array_compare(op: BinaryOp, elements: &[Value], test: impl Fn(&Value) -> bool) -> bool {
    match op {
        BinaryOp::Neq | BinaryOp::NotRegex => elements.iter().all(test),
        _ => elements.iter().any(test),
    }
}

fn compare_scalars(
    op: BinaryOp,
    lhs: &Value,
    rhs: &Value,
    matches: &dyn Fn(&str, &str) -> bool,
) -> bool {
    use Value::*;
    let ordering = match (lhs, rhs) {
        (Int(a) | Duration(a), Int(b) | Duration(b)) => Some(a.cmp(b)),
        (Int(_) | Duration(_) | Float(_), Int(_) | Duration(_) | Float(_)) => {
            let (a, b) = (lhs.as_number().unwrap_or(f64::NAN), rhs.as_number().unwrap_or(f64::NAN));
            if a.is_nan() || b.is_nan() {
                return op == BinaryOp::Neq;
            }
            a.partial_cmp(&b)
        }
        (Str(text), Str(pattern)) if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex) => {
            let matched = matches(text, pattern);
            return if op == BinaryOp::Regex { matched } else { !matched };
        }
        (Str(a), Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Bool(a), Bool(b)) => return equality(op, a == b),
        (Status(a), Status(b)) => return equality(op, a == b),
        (Kind(a), Kind(b)) => return equality(op, a == b),
        (Id(a), Id(b)) => return equality(op, a == b),
        (Id(id), Str(text)) | (Str(text), Id(id)) => {
            if !is_hex(text) {
                return false;
            }
            return equality(op, *id == normalize_id(text));
        }
        _ => None,
    };
    let Some(ordering) = ordering else { return false };
    match op {
        BinaryOp::Eq => ordering == Ordering::Equal,
        BinaryOp::Neq => ordering != Ordering::Equal,
        BinaryOp::Lt => ordering == Ordering::Less,
        BinaryOp::Lte => ordering != Ordering::Greater,
        BinaryOp::Gt => ordering == Ordering::Greater,
        BinaryOp::Gte => ordering != Ordering::Less,
        _ => false,
    }
}

fn equality(op: BinaryOp, equal: bool) -> bool {
    match op {
        BinaryOp::Eq => equal,
        BinaryOp::Neq => !equal,
        _ => false,
    }
}

/// `lhs op rhs` for `+ - * / % ^`: nil unless both are numbers; int with int stays int
/// (Go's truncating division and remainder; dividing by zero is an error); any other mix
/// is computed in float, durations counting as nanoseconds.
pub fn arithmetic(op: BinaryOp, lhs: &Value, rhs: &Value) -> Result<Value, String> {
    if let (Value::Int(a), Value::Int(b)) = (lhs, rhs) {
        let (a, b) = (*a, *b);
        return Ok(Value::Int(match op {
            BinaryOp::Add => a.wrapping_add(b),
            BinaryOp::Sub => a.wrapping_sub(b),
            BinaryOp::Mul => a.wrapping_mul(b),
            BinaryOp::Div if b == 0 => return Err("integer division by zero".to_string()),
            BinaryOp::Div => a.wrapping_div(b),
            BinaryOp::Mod if b == 0 => return Err("integer modulo by zero".to_string()),
            BinaryOp::Mod => a.wrapping_rem(b),
            BinaryOp::Pow if b >= 0 => a.wrapping_pow(u32::try_from(b).unwrap_or(u32::MAX)),
            BinaryOp::Pow => (a as f64).powf(b as f64) as i64,
            _ => return Ok(Value::Nil),
        }));
    }
    let (Some(a), Some(b)) = (lhs.as_number(), rhs.as_number()) else { return Ok(Value::Nil) };
    Ok(Value::Float(match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Mod => a % b,
        BinaryOp::Pow => a.powf(b),
        _ => return Ok(Value::Nil),
    }))
}
