//! Evaluating compiled field expressions on one span (§4.2).
//!
//! A [`Binding`] is a span plus "the current event" and "the current link". A filter keeps a
//! span if some binding makes its expression `true` ([`Filter::matches`]): so
//! `{ event.a = 1 && event.b = 2 }` needs one event with both. Events and links vary
//! independently; a span without events (links) has a single binding where event (link)
//! fields are nil.
//!
//! Deliberate difference from Tempo: unary `-` or `!` on a value of the wrong type (nil
//! included) gives nil (`-`) or false (`!`) instead of failing the whole query, so one odd
//! span cannot fail a search.

use super::compile::{AttrRef, Expr, Field, LiteralTest};
use super::error::EvalError;
use super::ops::{arithmetic, compare, regex_matches};
use super::trace::{AttrValue, Attrs, EvalEvent, EvalLink, EvalSpan, EvalTrace};
use super::value::{HexId, Text, Value};
use crate::traceql::ast::{AttributeScope, Intrinsic, Kind, Status};

/// A span of a trace, with the event and link field references read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'t> {
    pub trace: &'t EvalTrace,
    pub span: &'t EvalSpan,
    pub event: Option<&'t EvalEvent>,
    pub link: Option<&'t EvalLink>,
}

impl<'t> Binding<'t> {
    /// Binds the span's first event and first link (used outside filters: `by()`,
    /// aggregates, returned fields).
    pub(crate) fn first(trace: &'t EvalTrace, span: &'t EvalSpan) -> Binding<'t> {
        Binding { trace, span, event: span.events.first(), link: span.links.first() }
    }
}

/// A `{…}` condition, with what it needs bound.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    expr: Expr,
    reads_event: bool,
    reads_link: bool,
}

impl Filter {
    /// Wraps a compiled condition.
    pub(crate) fn new(expr: Expr) -> Filter {
        let reads_event = expr.reads_event();
        let reads_link = expr.reads_link();
        Filter { expr, reads_event, reads_link }
    }

    /// Whether some binding of the span's events and links makes the condition true.
    pub(crate) fn matches(&self, trace: &EvalTrace, span: &EvalSpan) -> Result<bool, EvalError> {
        let events = bindable(self.reads_event, &span.events);
        let links = bindable(self.reads_link, &span.links);
        for event in events.clone() {
            for link in links.clone() {
                let binding = Binding { trace, span, event, link };
                if self.expr.eval(&binding)?.is_true() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The bindings of one kind: each item, or a single `None` when there are none or the
/// condition does not read them.
fn bindable<T>(reads: bool, items: &[T]) -> impl Iterator<Item = Option<&T>> + Clone {
    let items = if reads { items } else { &[] };
    let none = items.is_empty().then_some(None);
    items.iter().map(Some).chain(none)
}

impl Expr {
    /// Evaluates the expression on one binding.
    pub(crate) fn eval<'t>(&self, binding: &Binding<'t>) -> Result<Value<'t>, EvalError> {
        Ok(match self {
            Expr::Const(value) => value.clone(),
            Expr::Field(field) => field.read(binding),
            Expr::AttrTest { attr, test } => Value::Bool(attr_test(binding, attr, test)),
            Expr::Compare { op, lhs, rhs } => {
                Value::Bool(compare(*op, &lhs.eval(binding)?, &rhs.eval(binding)?))
            }
            Expr::Regex { operand, regex, negated } => {
                Value::Bool(regex_matches(&operand.eval(binding)?, regex, *negated))
            }
            Expr::Arith { op, lhs, rhs } => {
                arithmetic(*op, &lhs.eval(binding)?, &rhs.eval(binding)?)?
            }
            Expr::And(lhs, rhs) => {
                Value::Bool(lhs.eval(binding)?.is_true() && rhs.eval(binding)?.is_true())
            }
            Expr::Or(lhs, rhs) => Value::Bool(match lhs.eval(binding)? {
                Value::Bool(true) => true,
                // A non-bool operand makes `||` false, whatever the other side is.
                Value::Bool(false) => rhs.eval(binding)?.is_true(),
                _ => false,
            }),
            Expr::Neg(expr) => match expr.eval(binding)? {
                Value::Int(number) => Value::Int(number.wrapping_neg()),
                Value::Float(number) => Value::Float(-number),
                Value::Duration(nanos) => Value::Duration(nanos.wrapping_neg()),
                _ => Value::Nil,
            },
            Expr::Not(expr) => match expr.eval(binding)? {
                Value::Bool(flag) => Value::Bool(!flag),
                _ => Value::Bool(false),
            },
            Expr::Presence { expr, present } => {
                Value::Bool(expr.eval(binding)?.is_nil() != *present)
            }
        })
    }
}

/// `attribute op literal` as Tempo's storage evaluates it (see [`Expr::AttrTest`]).
fn attr_test(binding: &Binding<'_>, attr: &AttrRef, test: &LiteralTest) -> bool {
    let passes = |value: Option<&AttrValue>| value.is_some_and(|value| literal_test(value, test));
    match attr.scope {
        AttributeScope::None => {
            passes(binding.span.attributes.get(&attr.name))
                || passes(binding.trace.resource_of(binding.span).get(&attr.name))
        }
        _ => passes(attr_values(binding, attr.scope).and_then(|attrs| attrs.get(&attr.name))),
    }
}

fn literal_test(value: &AttrValue, test: &LiteralTest) -> bool {
    match test {
        LiteralTest::Regex { regex, negated } => {
            regex_matches(&Value::from_attr(value), regex, *negated)
        }
        LiteralTest::Compare { op, literal } => {
            // Storage compares per value type: an int literal never meets a float value, nor
            // a float literal an int value.
            let other_number_type = match literal {
                Value::Int(_) => matches!(value, AttrValue::Float(_) | AttrValue::FloatArray(_)),
                Value::Float(_) => matches!(value, AttrValue::Int(_) | AttrValue::IntArray(_)),
                _ => false,
            };
            !other_number_type && compare(*op, &Value::from_attr(value), literal)
        }
    }
}

/// The attribute list a scoped attribute is read from (not for unscoped names).
fn attr_values<'t>(binding: &Binding<'t>, scope: AttributeScope) -> Option<&'t Attrs> {
    let Binding { trace, span, event, link } = *binding;
    match scope {
        AttributeScope::Span | AttributeScope::None => Some(&span.attributes),
        AttributeScope::Resource => Some(trace.resource_of(span)),
        AttributeScope::Event => event.map(|event| &event.attributes),
        AttributeScope::Link => link.map(|link| &link.attributes),
        AttributeScope::Instrumentation => trace.scope_of(span).map(|scope| &scope.attributes),
    }
}

impl Field {
    /// Reads the field on a binding; nil when absent.
    pub(crate) fn read<'t>(&self, binding: &Binding<'t>) -> Value<'t> {
        match self {
            Field::Intrinsic(intrinsic) => read_intrinsic(binding, *intrinsic),
            Field::Attr(attr) => {
                let value = match attr.scope {
                    // Span level wins over resource level.
                    AttributeScope::None => binding
                        .span
                        .attributes
                        .get(&attr.name)
                        .or_else(|| binding.trace.resource_of(binding.span).get(&attr.name)),
                    scope => attr_values(binding, scope).and_then(|attrs| attrs.get(&attr.name)),
                };
                value.map_or(Value::Nil, Value::from_attr)
            }
        }
    }
}

fn read_intrinsic<'t>(binding: &Binding<'t>, intrinsic: Intrinsic) -> Value<'t> {
    let Binding { trace, span, event, link } = *binding;
    let hex = |bytes: &[u8]| {
        if bytes.is_empty() { Value::Nil } else { Value::Str(Text::Id(HexId::from_bytes(bytes))) }
    };
    let position = |number: fn(&crate::model::nested_set::NestedSet) -> i64| {
        span.nested.as_ref().map_or(Value::Nil, |nested| Value::Int(number(nested)))
    };
    match intrinsic {
        Intrinsic::Duration => Value::Duration(span.duration_nanos()),
        Intrinsic::Name => Value::str(&span.name),
        Intrinsic::Status => Value::Status(span.status),
        Intrinsic::StatusMessage => Value::str(&span.status_message),
        Intrinsic::Kind => Value::Kind(span.kind),
        Intrinsic::SpanId => hex(&span.span_id),
        Intrinsic::ParentId => span.parent_span_id.as_ref().map_or(Value::Nil, |id| hex(id)),
        // Only spans with a tree position have a child count.
        Intrinsic::ChildCount if span.nested.is_none() => Value::Nil,
        Intrinsic::ChildCount => Value::Int(i64::from(span.child_count)),
        // Rejected when the plan is built; never read.
        Intrinsic::Parent => Value::Nil,
        Intrinsic::TraceDuration => Value::Duration(trace.duration_nanos()),
        Intrinsic::TraceRootName => trace.root_name.as_deref().map_or(Value::Nil, Value::str),
        Intrinsic::TraceRootService => trace.root_service.as_deref().map_or(Value::Nil, Value::str),
        Intrinsic::TraceId => hex(&trace.trace_id.0),
        Intrinsic::EventName => event.map_or(Value::Nil, |event| Value::str(&event.name)),
        Intrinsic::EventTimeSinceStart => event.map_or(Value::Nil, |event| {
            let since = i128::from(event.time_unix_nano) - i128::from(span.start_unix_nano);
            Value::Duration(i64::try_from(since).unwrap_or(i64::MAX))
        }),
        Intrinsic::LinkTraceId => link.map_or(Value::Nil, |link| hex(&link.trace_id)),
        Intrinsic::LinkSpanId => link.map_or(Value::Nil, |link| hex(&link.span_id)),
        Intrinsic::InstrumentationName => {
            trace.scope_of(span).map_or(Value::Nil, |scope| Value::str(&scope.name))
        }
        Intrinsic::InstrumentationVersion => {
            trace.scope_of(span).map_or(Value::Nil, |scope| Value::str(&scope.version))
        }
        Intrinsic::NestedSetLeft => position(|nested| i64::from(nested.left)),
        Intrinsic::NestedSetRight => position(|nested| i64::from(nested.right)),
        // Roots read -1, as in Tempo's blocks (0 there means "unknown").
        Intrinsic::NestedSetParent => position(|nested| match nested.parent {
            0 => -1,
            parent => i64::from(parent),
        }),
    }
}

/// The text TraceQL uses for a status.
pub(crate) fn status_text(status: Status) -> &'static str {
    match status {
        Status::Error => "error",
        Status::Ok => "ok",
        Status::Unset => "unset",
    }
}

/// The text TraceQL uses for a kind.
pub(crate) fn kind_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Unspecified => "unspecified",
        Kind::Internal => "internal",
        Kind::Server => "server",
        Kind::Client => "client",
        Kind::Producer => "producer",
        Kind::Consumer => "consumer",
    }
}

#[cfg(test)]
#[path = "field_tests.rs"]
mod tests;
