//! Operations on constants: the arithmetic, comparison and logic of §4.2 of the TraceQL
//! notes, used to fold constant sub-expressions while parsing.
//!
//! Folding only happens when the operation is type-valid and has a value: an invalid
//! operation (`1 = "foo"`) stays in the tree for validation to reject, and one without a
//! value (`1 / 0`, a non-finite float, a bad regex) stays for the engine to report.
//!
//! Known divergence from Tempo: `int ^ int` is computed correctly (Tempo swaps the operands).

use std::cmp::Ordering;

use regex::Regex;

use super::ast::{BinaryOp, Static, UnaryOp};

/// Compiles a TraceQL regex: RE2 syntax, fully anchored, `.` also matching newlines.
pub(crate) fn anchored_regex(pattern: &str) -> Result<Regex, regex::Error> {
    // Compiled alone first, so that a pattern such as `a)|(b` cannot escape the anchors.
    Regex::new(pattern)?;
    Regex::new(&format!("^(?s:{pattern})$"))
}

/// Checks that a pattern is a well-formed TraceQL regex without compiling it (compiling
/// builds automata and costs hundreds of microseconds; the engine does it once per query).
pub(crate) fn check_regex(pattern: &str) -> Result<(), Box<regex_syntax::Error>> {
    // A parser is used once: after an error it is left in a state it asserts against.
    regex_syntax::Parser::new().parse(pattern)?;
    regex_syntax::Parser::new().parse(&format!("^(?s:{pattern})$"))?;
    Ok(())
}

/// `lhs op rhs` for two constants, or `None` when it must not be folded.
pub(crate) fn fold_binary(op: BinaryOp, lhs: &Static, rhs: &Static) -> Option<Static> {
    use Static::*;
    match (lhs, rhs) {
        (Int(a), Int(b)) => int_op(op, *a, *b),
        (Str(a), Str(b)) => str_op(op, a, b),
        (Bool(a), Bool(b)) => match op {
            BinaryOp::And => Some(Bool(*a && *b)),
            BinaryOp::Or => Some(Bool(*a || *b)),
            BinaryOp::Eq => Some(Bool(a == b)),
            BinaryOp::Neq => Some(Bool(a != b)),
            _ => None,
        },
        (Status(a), Status(b)) => eq_op(op, a == b),
        (Kind(a), Kind(b)) => eq_op(op, a == b),
        _ => numeric_op(op, lhs, rhs),
    }
}

/// `op x` for a constant, or `None` when it must not be folded.
pub(crate) fn fold_unary(op: UnaryOp, value: &Static) -> Option<Static> {
    match (op, value) {
        (UnaryOp::Neg, Static::Int(i)) => Some(Static::Int(i.wrapping_neg())),
        (UnaryOp::Neg, Static::Float(f)) => Some(Static::Float(-f)),
        (UnaryOp::Neg, Static::Duration(d)) => Some(Static::Duration(d.wrapping_neg())),
        (UnaryOp::Not, Static::Bool(b)) => Some(Static::Bool(!b)),
        // A constant is never missing.
        (UnaryOp::Exists, _) => Some(Static::Bool(true)),
        (UnaryOp::NotExists, _) => Some(Static::Bool(false)),
        _ => None,
    }
}

fn eq_op(op: BinaryOp, equal: bool) -> Option<Static> {
    match op {
        BinaryOp::Eq => Some(Static::Bool(equal)),
        BinaryOp::Neq => Some(Static::Bool(!equal)),
        _ => None,
    }
}

fn cmp_op(op: BinaryOp, ordering: Option<Ordering>) -> Option<Static> {
    let ord = ordering?;
    let result = match op {
        BinaryOp::Eq => ord == Ordering::Equal,
        BinaryOp::Neq => ord != Ordering::Equal,
        BinaryOp::Lt => ord == Ordering::Less,
        BinaryOp::Lte => ord != Ordering::Greater,
        BinaryOp::Gt => ord == Ordering::Greater,
        BinaryOp::Gte => ord != Ordering::Less,
        _ => return None,
    };
    Some(Static::Bool(result))
}

/// Integer arithmetic wraps, as Go's does; division and remainder by zero have no value.
fn int_op(op: BinaryOp, a: i64, b: i64) -> Option<Static> {
    let v = match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div if b == 0 => return None,
        BinaryOp::Div => a.wrapping_div(b),
        BinaryOp::Mod if b == 0 => return None,
        BinaryOp::Mod => a.wrapping_rem(b),
        BinaryOp::Pow => int_pow(a, b)?,
        _ => return cmp_op(op, Some(a.cmp(&b))),
    };
    Some(Static::Int(v))
}

/// `base ^ exp` for ints (wrapping); `None` when a negative exponent has no finite value.
pub(crate) fn int_pow(base: i64, exp: i64) -> Option<i64> {
    if exp < 0 {
        // A fraction (or ±1, or ∞ for 0): truncated toward zero, like a float cast.
        let f = (base as f64).powf(exp as f64);
        return f.is_finite().then_some(f as i64);
    }
    let exp = u32::try_from(exp).unwrap_or(u32::MAX);
    Some(base.wrapping_pow(exp))
}

fn str_op(op: BinaryOp, a: &str, b: &str) -> Option<Static> {
    match op {
        BinaryOp::Regex => Some(Static::Bool(anchored_regex(b).ok()?.is_match(a))),
        BinaryOp::NotRegex => Some(Static::Bool(!anchored_regex(b).ok()?.is_match(a))),
        _ => cmp_op(op, Some(a.as_bytes().cmp(b.as_bytes()))),
    }
}

/// Mixed numbers (int, float, duration): arithmetic in float, the result a float; comparisons
/// by value, exactly when both sides are whole numbers.
fn numeric_op(op: BinaryOp, lhs: &Static, rhs: &Static) -> Option<Static> {
    let (a, b) = (as_f64(lhs)?, as_f64(rhs)?);
    let v = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Mod => a % b,
        BinaryOp::Pow => a.powf(b),
        _ => {
            let ordering = match (as_i64(lhs), as_i64(rhs)) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a.partial_cmp(&b),
            };
            return cmp_op(op, ordering);
        }
    };
    v.is_finite().then_some(Static::Float(v))
}

fn as_f64(s: &Static) -> Option<f64> {
    match s {
        Static::Int(i) | Static::Duration(i) => Some(*i as f64),
        Static::Float(f) => Some(*f),
        _ => None,
    }
}

fn as_i64(s: &Static) -> Option<i64> {
    match s {
        Static::Int(i) | Static::Duration(i) => Some(*i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Static::*;

    fn b(op: BinaryOp, l: Static, r: Static) -> Option<Static> {
        fold_binary(op, &l, &r)
    }

    #[test]
    fn ints_stay_ints_and_wrap() {
        assert_eq!(b(BinaryOp::Add, Int(1), Int(1)), Some(Int(2)));
        assert_eq!(b(BinaryOp::Div, Int(7), Int(2)), Some(Int(3)));
        assert_eq!(b(BinaryOp::Mod, Int(-7), Int(2)), Some(Int(-1)));
        assert_eq!(b(BinaryOp::Add, Int(i64::MAX), Int(1)), Some(Int(i64::MIN)));
        assert_eq!(b(BinaryOp::Pow, Int(2), Int(3)), Some(Int(8)));
        assert_eq!(b(BinaryOp::Pow, Int(2), Int(-1)), Some(Int(0)));
        assert_eq!(b(BinaryOp::Div, Int(1), Int(0)), None);
        assert_eq!(b(BinaryOp::Mod, Int(1), Int(0)), None);
    }

    #[test]
    fn mixed_numbers_compute_in_float_and_compare_by_value() {
        assert_eq!(b(BinaryOp::Eq, Int(1), Float(1.0)), Some(Bool(true)));
        assert_eq!(b(BinaryOp::Lte, Int(1), Float(1.1)), Some(Bool(true)));
        assert_eq!(
            b(BinaryOp::Mul, Duration(1_000_000_000), Duration(2_000_000_000)),
            Some(Float(2e18))
        );
        assert_eq!(b(BinaryOp::Lt, Int(1), Duration(3_600_000_000_000)), Some(Bool(true)));
        assert_eq!(b(BinaryOp::Div, Float(1.0), Int(0)), None, "not finite");
        assert_eq!(
            b(BinaryOp::Eq, Int(i64::MAX), Duration(i64::MAX - 1)),
            Some(Bool(false)),
            "whole numbers compare exactly"
        );
    }

    #[test]
    fn strings_compare_bytewise_and_match_anchored() {
        assert_eq!(b(BinaryOp::Gte, Str("200".into()), Str("1000".into())), Some(Bool(true)));
        assert_eq!(b(BinaryOp::Regex, Str("test".into()), Str("tes".into())), Some(Bool(false)));
        assert_eq!(b(BinaryOp::Regex, Str("a\nb".into()), Str("a.b".into())), Some(Bool(true)));
        assert_eq!(b(BinaryOp::Regex, Str("a".into()), Str("[".into())), None);
        assert_eq!(b(BinaryOp::Regex, Str("axxx".into()), Str("a)|(b".into())), None);
        assert!(check_regex("GET /api/.*").is_ok());
        assert!(check_regex("[").is_err());
        assert!(check_regex("a)|(b").is_err(), "cannot escape the anchors");
    }

    #[test]
    fn invalid_operations_are_not_folded() {
        assert_eq!(b(BinaryOp::Eq, Int(1), Str("foo".into())), None);
        assert_eq!(b(BinaryOp::Add, Bool(true), Bool(true)), None);
        assert_eq!(
            b(
                BinaryOp::Gt,
                Status(crate::traceql::ast::Status::Ok),
                Status(crate::traceql::ast::Status::Ok)
            ),
            None
        );
        assert_eq!(fold_unary(UnaryOp::Neg, &Bool(true)), None);
        assert_eq!(fold_unary(UnaryOp::Not, &Int(1)), None);
        assert_eq!(
            fold_unary(UnaryOp::Neg, &Duration(5)),
            Some(Duration(-5)),
            "negation keeps the duration type"
        );
    }
}
