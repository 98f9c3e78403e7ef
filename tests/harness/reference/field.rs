//! Field expressions (`{ … }` bodies, `by()` and aggregate arguments) evaluated on one span
//! of a [`TraceView`], following §3 and §4.2 of the TraceQL notes, quirks included:
//!
//! - `unscoped-attr OP literal` holds if the span-level or the resource-level value
//!   satisfies it; anywhere else an unscoped name reads the span value, then the resource's.
//! - In `attribute OP literal`, an int literal only meets int values (and int arrays) and a
//!   float literal only float values: `{ span.x = 1 }` misses `x = 1.0`.
//! - A filter holds for a span if some choice of "current event" and, independently,
//!   "current link" makes it true (a span without events or links has one choice: none).
//!   Outside filters the first event and first link are current.
//! - `-x` on a non-number is nil and `!x` on a non-bool is false (the project's choice;
//!   Tempo fails the query).

use std::cell::RefCell;
use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use regex::Regex;
use spanlake::traceql::ast::{
    Attribute, AttributeScope, BinaryOp, FieldExpr, FieldRef, Intrinsic, Kind, Static, Status,
    UnaryOp,
};

use super::trace::TraceView;
use super::value::{Value, arithmetic, compare, is_comparison};

/// The span being evaluated and its current event and link.
#[derive(Clone, Copy)]
struct Context<'t, 'a> {
    trace: &'t TraceView<'a>,
    span: usize,
    event: Option<&'a Event>,
    link: Option<&'a Link>,
}

/// Evaluates field expressions; keeps compiled regexes between spans.
#[derive(Default)]
pub struct FieldEvaluator {
    regexes: RefCell<HashMap<String, Option<Regex>>>,
}

impl FieldEvaluator {
    /// Whether `{ expr }` keeps span `span`.
    pub fn filter_holds(
        &self,
        trace: &TraceView<'_>,
        span: usize,
        expr: &FieldExpr,
    ) -> Result<bool, String> {
        let view = trace.spans[span].span;
        let events: Vec<Option<&Event>> =
            if mentions(expr, is_event_field) && !view.events.is_empty() {
                view.events.iter().map(Some).collect()
            } else {
                vec![None]
            };
        let links: Vec<Option<&Link>> = if mentions(expr, is_link_field) && !view.links.is_empty() {
            view.links.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for &event in &events {
            for &link in &links {
                let context = Context { trace, span, event, link };
                if self.eval(context, expr)? == Value::Bool(true) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The value of `expr` for span `span` (first event and link current).
    pub fn value(
        &self,
        trace: &TraceView<'_>,
        span: usize,
        expr: &FieldExpr,
    ) -> Result<Value, String> {
        let view = trace.spans[span].span;
        let context = Context { trace, span, event: view.events.first(), link: view.links.first() };
        self.eval(context, expr)
    }

    fn eval(&self, context: Context<'_, '_>, expr: &FieldExpr) -> Result<Value, String> {
        match expr {
            FieldExpr::Static(value) => Ok(Value::from_static(value)),
            FieldExpr::Ref(field) => Ok(field_value(context, field)),
            FieldExpr::Unary { op, expr } => {
                let value = self.eval(context, expr)?;
                Ok(match (op, value) {
                    (UnaryOp::Neg, Value::Int(i)) => Value::Int(i.wrapping_neg()),
                    (UnaryOp::Neg, Value::Float(f)) => Value::Float(-f),
                    (UnaryOp::Neg, Value::Duration(d)) => Value::Duration(d.wrapping_neg()),
                    (UnaryOp::Neg, _) => Value::Nil,
                    (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
                    (UnaryOp::Not, _) => Value::Bool(false),
                    (UnaryOp::Exists, value) => Value::Bool(!value.is_nil()),
                    (UnaryOp::NotExists, value) => Value::Bool(value.is_nil()),
                })
            }
            FieldExpr::Binary { op: BinaryOp::And, lhs, rhs } => {
                match self.eval(context, lhs)? {
                    Value::Bool(true) => {}
                    _ => return Ok(Value::Bool(false)),
                }
                Ok(Value::Bool(self.eval(context, rhs)? == Value::Bool(true)))
            }
            FieldExpr::Binary { op: BinaryOp::Or, lhs, rhs } => match self.eval(context, lhs)? {
                Value::Bool(true) => Ok(Value::Bool(true)),
                Value::Bool(false) => {
                    Ok(Value::Bool(self.eval(context, rhs)? == Value::Bool(true)))
                }
                _ => Ok(Value::Bool(false)),
            },
            FieldExpr::Binary { op, lhs, rhs } if is_comparison(*op) => {
                if let Some(result) = self.attribute_against_literal(context, *op, lhs, rhs) {
                    return Ok(Value::Bool(result));
                }
                let (left, right) = (self.eval(context, lhs)?, self.eval(context, rhs)?);
                Ok(Value::Bool(compare(*op, &left, &right, &|text, pattern| {
                    self.matches(text, pattern)
                })))
            }
            FieldExpr::Binary { op, lhs, rhs } => {
                let (left, right) = (self.eval(context, lhs)?, self.eval(context, rhs)?);
                arithmetic(*op, &left, &right)
            }
        }
    }

    /// `attribute OP literal` (either order), with the storage quirks; `None` for any other
    /// comparison.
    fn attribute_against_literal(
        &self,
        context: Context<'_, '_>,
        op: BinaryOp,
        lhs: &FieldExpr,
        rhs: &FieldExpr,
    ) -> Option<bool> {
        let (attribute, literal, attribute_on_left) = match (lhs, rhs) {
            (FieldExpr::Ref(FieldRef::Attribute(a)), FieldExpr::Static(s)) => (a, s, true),
            (FieldExpr::Static(s), FieldExpr::Ref(FieldRef::Attribute(a))) => (a, s, false),
            _ => return None,
        };
        let candidates = if attribute.scope == AttributeScope::None && !attribute.parent {
            let view = context.trace.spans[context.span];
            vec![
                lookup(&view.span.attributes, &attribute.name),
                lookup(view.resource, &attribute.name),
            ]
        } else {
            vec![attribute_value(context, attribute)]
        };
        let literal_value = Value::from_static(literal);
        let matches = |text: &str, pattern: &str| self.matches(text, pattern);
        Some(candidates.iter().any(|candidate| {
            literal_admits(literal, candidate)
                && if attribute_on_left {
                    compare(op, candidate, &literal_value, &matches)
                } else {
                    compare(op, &literal_value, candidate, &matches)
                }
        }))
    }

    /// `text =~ pattern`, fully anchored with `.` matching newlines.
    fn matches(&self, text: &str, pattern: &str) -> bool {
        let mut regexes = self.regexes.borrow_mut();
        let regex = regexes
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(&format!("^(?s:{pattern})$")).ok());
        regex.as_ref().is_some_and(|regex| regex.is_match(text))
    }
}

/// An int literal only meets int values, a float literal only float values.
fn literal_admits(literal: &Static, value: &Value) -> bool {
    let element = match value {
        Value::Array(elements) => elements.first().unwrap_or(&Value::Nil),
        other => other,
    };
    match literal {
        Static::Int(_) => matches!(element, Value::Int(_)),
        Static::Float(_) => matches!(element, Value::Float(_)),
        _ => true,
    }
}

fn mentions(expr: &FieldExpr, test: fn(&FieldRef) -> bool) -> bool {
    match expr {
        FieldExpr::Static(_) => false,
        FieldExpr::Ref(field) => test(field),
        FieldExpr::Unary { expr, .. } => mentions(expr, test),
        FieldExpr::Binary { lhs, rhs, .. } => mentions(lhs, test) || mentions(rhs, test),
    }
}

fn is_event_field(field: &FieldRef) -> bool {
    matches!(
        field,
        FieldRef::Intrinsic(Intrinsic::EventName | Intrinsic::EventTimeSinceStart)
            | FieldRef::Attribute(Attribute { scope: AttributeScope::Event, .. })
    )
}

fn is_link_field(field: &FieldRef) -> bool {
    matches!(
        field,
        FieldRef::Intrinsic(Intrinsic::LinkTraceId | Intrinsic::LinkSpanId)
            | FieldRef::Attribute(Attribute { scope: AttributeScope::Link, .. })
    )
}

fn lookup(attributes: &[KeyValue], name: &str) -> Value {
    attributes
        .iter()
        .find(|kv| kv.key == name)
        .map_or(Value::Nil, |kv| Value::from_any(kv.value.as_ref()))
}

fn field_value(context: Context<'_, '_>, field: &FieldRef) -> Value {
    match field {
        FieldRef::Attribute(attribute) => attribute_value(context, attribute),
        FieldRef::Intrinsic(intrinsic) => intrinsic_value(context, *intrinsic),
    }
}

fn attribute_value(context: Context<'_, '_>, attribute: &Attribute) -> Value {
    if attribute.parent {
        return Value::Nil; // "not yet supported": validation rejects it
    }
    let view = context.trace.spans[context.span];
    let name = attribute.name.as_str();
    match attribute.scope {
        AttributeScope::None => match lookup(&view.span.attributes, name) {
            Value::Nil => lookup(view.resource, name),
            value => value,
        },
        AttributeScope::Span => lookup(&view.span.attributes, name),
        AttributeScope::Resource => lookup(view.resource, name),
        AttributeScope::Event => context.event.map_or(Value::Nil, |e| lookup(&e.attributes, name)),
        AttributeScope::Link => context.link.map_or(Value::Nil, |l| lookup(&l.attributes, name)),
        AttributeScope::Instrumentation => {
            context.scope_attributes().map_or(Value::Nil, |attributes| lookup(attributes, name))
        }
    }
}

impl Context<'_, '_> {
    fn scope_attributes(&self) -> Option<&[KeyValue]> {
        self.trace.spans[self.span].scope.map(|scope| scope.attributes.as_slice())
    }
}

fn intrinsic_value(context: Context<'_, '_>, intrinsic: Intrinsic) -> Value {
    let trace = context.trace;
    let view = trace.spans[context.span];
    let span = view.span;
    let root = trace.root.map(|root| trace.spans[root]);
    match intrinsic {
        Intrinsic::Duration => {
            Value::Duration(span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as i64)
        }
        Intrinsic::Name => Value::Str(span.name.clone()),
        Intrinsic::Status => Value::Status(match span.status.as_ref().map(|s| s.code) {
            Some(code) if code == StatusCode::Error as i32 => Status::Error,
            Some(code) if code == StatusCode::Ok as i32 => Status::Ok,
            _ => Status::Unset,
        }),
        Intrinsic::StatusMessage => {
            Value::Str(span.status.as_ref().map(|s| s.message.clone()).unwrap_or_default())
        }
        Intrinsic::Kind => Value::Kind(match span.kind {
            1 => Kind::Internal,
            2 => Kind::Server,
            3 => Kind::Client,
            4 => Kind::Producer,
            5 => Kind::Consumer,
            _ => Kind::Unspecified,
        }),
        Intrinsic::SpanId => Value::id(&span.span_id),
        Intrinsic::ParentId if span.parent_span_id.is_empty() => Value::Nil,
        Intrinsic::ParentId => Value::id(&span.parent_span_id),
        Intrinsic::ChildCount => trace.child_count(context.span).map_or(Value::Nil, Value::Int),
        Intrinsic::Parent => Value::Nil,
        Intrinsic::TraceDuration => Value::Duration(trace.duration),
        Intrinsic::TraceRootName => root.map_or(Value::Nil, |r| Value::Str(r.span.name.clone())),
        Intrinsic::TraceRootService => {
            root.map_or(Value::Nil, |r| lookup(r.resource, "service.name"))
        }
        Intrinsic::TraceId => Value::id(trace.trace_id),
        Intrinsic::EventName => context.event.map_or(Value::Nil, |e| Value::Str(e.name.clone())),
        Intrinsic::EventTimeSinceStart => context.event.map_or(Value::Nil, |e| {
            Value::Duration(e.time_unix_nano as i64 - span.start_time_unix_nano as i64)
        }),
        Intrinsic::LinkTraceId => context.link.map_or(Value::Nil, |l| Value::id(&l.trace_id)),
        Intrinsic::LinkSpanId => context.link.map_or(Value::Nil, |l| Value::id(&l.span_id)),
        Intrinsic::InstrumentationName => {
            view.scope.map_or(Value::Nil, |scope| Value::Str(scope.name.clone()))
        }
        Intrinsic::InstrumentationVersion => {
            view.scope.map_or(Value::Nil, |scope| Value::Str(scope.version.clone()))
        }
        Intrinsic::NestedSetLeft => {
            trace.nested_set(context.span).map_or(Value::Nil, |n| Value::Int(n.left))
        }
        Intrinsic::NestedSetRight => {
            trace.nested_set(context.span).map_or(Value::Nil, |n| Value::Int(n.right))
        }
        Intrinsic::NestedSetParent => {
            trace.nested_set(context.span).map_or(Value::Nil, |n| Value::Int(n.parent))
        }
    }
}
