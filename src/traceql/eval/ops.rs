//! Operators on runtime values (§4.2): comparisons, regex matching and arithmetic.
//!
//! Comparisons never fail: nil, or values of types that do not compare, give `false` (for
//! `!=` too). Arrays compare element-wise: `=`, `<`, `=~`, … hold if any element satisfies
//! them, `!=` and `!~` only if every element does. Numbers compare by value across int,
//! float and duration (ns).

use std::cmp::Ordering;

use regex::Regex;

use super::error::EvalError;
use super::value::{Number, Value};
use crate::traceql::ast::{ArithOp, CmpOp};
use crate::traceql::value::int_pow;

/// `lhs op rhs`.
pub(crate) fn compare(op: CmpOp, lhs: &Value<'_>, rhs: &Value<'_>) -> bool {
    // `!=` over an array means "no element equals".
    let every = op == CmpOp::Neq;
    match (lhs.is_array(), rhs.is_array()) {
        (true, true) => false,
        (true, false) => lhs.test_elements(every, |element| compare_scalars(op, element, rhs)),
        (false, true) => rhs.test_elements(every, |element| compare_scalars(op, lhs, element)),
        (false, false) => compare_scalars(op, lhs, rhs),
    }
}

/// The operator that gives the same answer with the operands swapped (`1 < x` is `x > 1`).
pub(crate) fn swap_operands(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Lte => CmpOp::Gte,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Gte => CmpOp::Lte,
        CmpOp::Eq | CmpOp::Neq => op,
    }
}

fn compare_scalars(op: CmpOp, lhs: &Value<'_>, rhs: &Value<'_>) -> bool {
    match (lhs, rhs) {
        (Value::Str(a), Value::Str(b)) => {
            if (a.is_id() || b.is_id()) && matches!(op, CmpOp::Eq | CmpOp::Neq) {
                equality(op, ids_equal(a.as_str(), b.as_str()))
            } else {
                ordering_holds(op, a.as_str().as_bytes().cmp(b.as_str().as_bytes()))
            }
        }
        (Value::Bool(a), Value::Bool(b)) => equality(op, a == b),
        (Value::Status(a), Value::Status(b)) => equality(op, a == b),
        (Value::Kind(a), Value::Kind(b)) => equality(op, a == b),
        _ => match (lhs.as_number(), rhs.as_number()) {
            (Some(a), Some(b)) => a.compare(b).is_some_and(|ordering| ordering_holds(op, ordering)),
            _ => false,
        },
    }
}

/// Hex ids are equal when they are the same number: leading zeros and case do not count.
fn ids_equal(a: &str, b: &str) -> bool {
    a.trim_start_matches('0').eq_ignore_ascii_case(b.trim_start_matches('0'))
}

/// `=` / `!=` for types without an order; ordering operators are false.
pub(crate) fn equality(op: CmpOp, equal: bool) -> bool {
    match op {
        CmpOp::Eq => equal,
        CmpOp::Neq => !equal,
        _ => false,
    }
}

/// Whether `op` holds for two operands ordered as `ordering`.
pub(crate) fn ordering_holds(op: CmpOp, ordering: Ordering) -> bool {
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Neq => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Lte => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Gte => ordering != Ordering::Less,
    }
}

/// `value =~ regex` (or `!~` when `negated`); non-strings never match either way.
pub(crate) fn regex_matches(value: &Value<'_>, regex: &Regex, negated: bool) -> bool {
    value.test_elements(negated, |element| match element.as_str() {
        Some(text) => regex.is_match(text) != negated,
        None => false,
    })
}

/// `lhs op rhs`: int with int stays int (wrapping, as Go does), any other pair of numbers is
/// computed in float; anything else is nil.
pub(crate) fn arithmetic(
    op: ArithOp,
    lhs: &Value<'_>,
    rhs: &Value<'_>,
) -> Result<Value<'static>, EvalError> {
    if let (Value::Int(a), Value::Int(b)) = (lhs, rhs) {
        return int_arithmetic(op, *a, *b);
    }
    let (Some(a), Some(b)) = (lhs.as_number(), rhs.as_number()) else {
        return Ok(Value::Nil);
    };
    let (a, b) = (a.as_f64(), b.as_f64());
    Ok(Value::Float(match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div => a / b,
        ArithOp::Mod => a % b,
        ArithOp::Pow => a.powf(b),
    }))
}

fn int_arithmetic(op: ArithOp, a: i64, b: i64) -> Result<Value<'static>, EvalError> {
    let result = match op {
        ArithOp::Add => a.wrapping_add(b),
        ArithOp::Sub => a.wrapping_sub(b),
        ArithOp::Mul => a.wrapping_mul(b),
        ArithOp::Div if b == 0 => return Err(EvalError::DivisionByZero),
        ArithOp::Div => a.wrapping_div(b),
        ArithOp::Mod if b == 0 => return Err(EvalError::ModuloByZero),
        // Truncated remainder: the sign follows the dividend, as in Go.
        ArithOp::Mod => a.wrapping_rem(b),
        // Computed as written (Tempo swaps the operands; a documented divergence).
        ArithOp::Pow => match int_pow(a, b) {
            Some(power) => power,
            None => return Ok(Value::Nil),
        },
    };
    Ok(Value::Int(result))
}

/// Compares two numbers for an aggregate filter (exact for whole numbers, else in float).
pub(crate) fn compare_numbers(op: CmpOp, lhs: Number, rhs: Number) -> bool {
    lhs.compare(rhs).is_some_and(|ordering| ordering_holds(op, ordering))
}
