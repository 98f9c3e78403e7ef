//! Spanset aggregates (`count()`, `avg`, `min`, `max`, `sum`) and the filters on them (§5).
//!
//! `avg/min/max/sum(e)` evaluate `e` on each span (binding its first event and link), skip
//! nils and non-numbers, and have no value when nothing remains, which drops the spanset.
//! `sum` and `avg` keep the type of the first value and skip values of another type (`sum`
//! of ints stays an int, of durations a duration; `avg` of ints is a float, of durations a
//! duration truncated to ns). Deliberate difference from Tempo: `avg` leaves the skipped
//! values out of its denominator too (Tempo counts them, which looks accidental).

use super::compile::Expr;
use super::error::EvalError;
use super::field::Binding;
use super::trace::EvalTrace;
use super::value::{Number, Value};
use crate::traceql::ast::AggregateFn;

/// A compiled aggregate.
#[derive(Debug, Clone)]
pub(crate) struct CompiledAggregate {
    pub func: AggregateFn,
    /// The argument; `None` for `count()`.
    pub arg: Option<Expr>,
}

/// The numeric types an aggregate can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberType {
    Int,
    Float,
    Duration,
}

fn number_type(value: &Value<'_>) -> Option<NumberType> {
    match value {
        Value::Int(_) => Some(NumberType::Int),
        Value::Float(_) => Some(NumberType::Float),
        Value::Duration(_) => Some(NumberType::Duration),
        _ => None,
    }
}

impl CompiledAggregate {
    /// Computes the aggregate over some spans of a trace; `None` when it has no value.
    pub(crate) fn compute(
        &self,
        trace: &EvalTrace,
        spans: &[u32],
    ) -> Result<Option<Value<'static>>, EvalError> {
        let Some(arg) = &self.arg else {
            return Ok(Some(Value::Int(i64::try_from(spans.len()).unwrap_or(i64::MAX))));
        };
        let mut values = Vec::with_capacity(spans.len());
        for span in spans.iter().filter_map(|index| trace.spans.get(*index as usize)) {
            let value = match arg.eval(&Binding::first(trace, span))? {
                Value::Int(number) => Value::Int(number),
                Value::Float(number) => Value::Float(number),
                Value::Duration(nanos) => Value::Duration(nanos),
                _ => continue,
            };
            values.push(value);
        }
        Ok(match self.func {
            AggregateFn::Count => Some(Value::Int(i64::try_from(spans.len()).unwrap_or(i64::MAX))),
            AggregateFn::Min => extreme(values, std::cmp::Ordering::Less),
            AggregateFn::Max => extreme(values, std::cmp::Ordering::Greater),
            AggregateFn::Sum => sum(&values),
            AggregateFn::Avg => average(&values),
        })
    }
}

/// The value that compares `wanted` against every other (the first of equals); numbers of
/// different types compare by value.
fn extreme(values: Vec<Value<'static>>, wanted: std::cmp::Ordering) -> Option<Value<'static>> {
    let mut best: Option<(Value<'static>, Number)> = None;
    for value in values {
        let Some(number) = value.as_number() else { continue };
        let better = match &best {
            None => true,
            Some((_, current)) => number.compare(*current) == Some(wanted),
        };
        if better {
            best = Some((value, number));
        }
    }
    best.map(|(value, _)| value)
}

/// Sums the values of the first value's type.
fn sum(values: &[Value<'static>]) -> Option<Value<'static>> {
    let first_type = number_type(values.first()?)?;
    let same_type = values.iter().filter(|value| number_type(value) == Some(first_type));
    Some(match first_type {
        NumberType::Int => Value::Int(same_type.fold(0i64, |total, value| match value {
            Value::Int(number) => total.wrapping_add(*number),
            _ => total,
        })),
        NumberType::Duration => Value::Duration(same_type.fold(0i64, |total, value| match value {
            Value::Duration(nanos) => total.wrapping_add(*nanos),
            _ => total,
        })),
        NumberType::Float => Value::Float(same_type.fold(0.0, |total, value| match value {
            Value::Float(number) => total + number,
            _ => total,
        })),
    })
}

/// Averages the values of the first value's type.
fn average(values: &[Value<'static>]) -> Option<Value<'static>> {
    let first_type = number_type(values.first()?)?;
    let same_type: Vec<&Value<'static>> =
        values.iter().filter(|value| number_type(value) == Some(first_type)).collect();
    let count = same_type.len() as i128;
    let whole_total = || -> i128 {
        same_type
            .iter()
            .map(|value| match value {
                Value::Int(number) | Value::Duration(number) => i128::from(*number),
                _ => 0,
            })
            .sum()
    };
    Some(match first_type {
        NumberType::Int => Value::Float(whole_total() as f64 / count as f64),
        // Integer division truncates toward zero, as a Go duration conversion does.
        NumberType::Duration => {
            Value::Duration(i64::try_from(whole_total() / count).unwrap_or(i64::MAX))
        }
        NumberType::Float => {
            let total: f64 = same_type
                .iter()
                .map(|value| match value {
                    Value::Float(number) => *number,
                    _ => 0.0,
                })
                .sum();
            Value::Float(total / count as f64)
        }
    })
}
