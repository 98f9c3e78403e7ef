//! The evaluation model of one trace: every span with its resource, scope, events and links
//! resolved, attribute values typed, and tree positions numbered, built once from OTLP.
//!
//! ```text
//!  Vec<ResourceSpans> ──from_otlp──► EvalTrace { resources[], scopes[], spans[] (input order) }
//!                                       span.resource ─► resources[i]   span.scope ─► scopes[j]
//!                                       span.nested   = nested-set numbers (None: unknown)
//! ```
//!
//! Attribute values TraceQL cannot compare (kvlists, bytes, mixed or empty arrays) are left
//! out, so they read as missing. The input is consumed: strings and id bytes are moved, not
//! copied.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span};

use crate::model::ids::TraceId;
use crate::model::nested_set::{NestedSet, SpanLink, nested_set};
use crate::traceql::ast::{Kind, Status};

/// A typed attribute value (the types TraceQL compares).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    StrArray(Vec<String>),
    IntArray(Vec<i64>),
    FloatArray(Vec<f64>),
    BoolArray(Vec<bool>),
}

/// An attribute list, in input order; the first of several equal keys wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs(pub Vec<(String, AttrValue)>);

impl Attrs {
    /// Returns the value of `key`, if present with a usable type.
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(name, _)| name == key).map(|(_, value)| value)
    }

    /// Converts OTLP key/values, dropping the values TraceQL cannot use.
    pub(crate) fn from_otlp(attributes: Vec<KeyValue>) -> Attrs {
        Attrs(
            attributes
                .into_iter()
                .filter_map(|kv| attr_value(kv.value).map(|value| (kv.key, value)))
                .collect(),
        )
    }
}

/// An instrumentation scope (`instrumentation:name`, `instrumentation.x`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalScope {
    pub name: String,
    pub version: String,
    pub attributes: Attrs,
}

/// A span event (`event:name`, `event:timeSinceStart`, `event.x`).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalEvent {
    pub name: String,
    pub time_unix_nano: u64,
    pub attributes: Attrs,
}

/// A span link (`link:traceID`, `link:spanID`, `link.x`).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalLink {
    /// The linked trace id as sent (normally 16 bytes).
    pub trace_id: Vec<u8>,
    /// The linked span id as sent (normally 8 bytes).
    pub span_id: Vec<u8>,
    pub attributes: Attrs,
}

/// One span, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSpan {
    /// The span id (an id of another length is right-aligned in 8 bytes: its last 8 bytes,
    /// or zero-padded on the left).
    pub span_id: [u8; 8],
    /// The parent's id; `None` for a root (an empty parent id).
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: Kind,
    pub status: Status,
    pub status_message: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub attributes: Attrs,
    /// Index into [`EvalTrace::resources`].
    pub resource: u32,
    /// Index into [`EvalTrace::scopes`].
    pub scope: u32,
    pub events: Vec<EvalEvent>,
    pub links: Vec<EvalLink>,
    /// Tree position; `None` when unknown (the span shares its id with another span), so
    /// structural operators never relate it to anything.
    pub(crate) nested: Option<NestedSet>,
    /// Number of direct children.
    pub child_count: u32,
}

impl EvalSpan {
    /// Returns the span's duration in nanoseconds (0 if it ends before it starts).
    pub fn duration_nanos(&self) -> i64 {
        let nanos = self.end_unix_nano.saturating_sub(self.start_unix_nano);
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }
}

/// One trace, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalTrace {
    pub trace_id: TraceId,
    /// Spans in input order (resource by resource, scope by scope): the order of results.
    pub spans: Vec<EvalSpan>,
    /// Resource attributes, one entry per `ResourceSpans`.
    pub resources: Vec<Attrs>,
    /// One entry per `ScopeSpans`.
    pub scopes: Vec<EvalScope>,
    /// Name of the root span; `None` when no span is a root.
    pub root_name: Option<String>,
    /// `service.name` of the root span's resource, when it is a string.
    pub root_service: Option<String>,
    /// Earliest span start (0 for a trace without spans).
    pub start_unix_nano: u64,
    /// Latest span end (0 for a trace without spans).
    pub end_unix_nano: u64,
}

impl EvalTrace {
    /// Builds the evaluation model of a trace from its OTLP spans, consuming them.
    ///
    /// The root is the span without a parent id (the earliest-starting one if there are
    /// several, then the lowest span id). Tree positions are numbered over the whole trace; spans sharing an id get
    /// no position, since which of them a child hangs from is unknown.
    pub fn from_otlp(trace_id: TraceId, resource_spans: Vec<ResourceSpans>) -> EvalTrace {
        let mut spans = Vec::new();
        let mut resources = Vec::with_capacity(resource_spans.len());
        let mut scopes = Vec::new();
        for resource_span in resource_spans {
            let resource_index = index_u32(resources.len());
            resources.push(Attrs::from_otlp(
                resource_span.resource.map(|resource| resource.attributes).unwrap_or_default(),
            ));
            for scope_span in resource_span.scope_spans {
                let scope_index = index_u32(scopes.len());
                scopes.push(eval_scope(scope_span.scope));
                spans.extend(
                    scope_span
                        .spans
                        .into_iter()
                        .map(|span| eval_span(span, resource_index, scope_index)),
                );
            }
        }
        EvalTrace::assemble(trace_id, spans, resources, scopes)
    }

    /// Builds a trace from spans already converted (`resource`/`scope` indices into the
    /// given lists; tree positions unset): numbers the tree, finds the root and the bounds,
    /// as [`EvalTrace::from_otlp`] does. Storage uses it to build a trace from the columns a
    /// query reads.
    pub(crate) fn assemble(
        trace_id: TraceId,
        mut spans: Vec<EvalSpan>,
        resources: Vec<Attrs>,
        scopes: Vec<EvalScope>,
    ) -> EvalTrace {
        number_tree(&mut spans);

        // The earliest span without a parent; ties broken by span id, then name and service,
        // so the choice does not depend on span order (live input order, block row order).
        let service_of = |span: &EvalSpan| -> Option<&String> {
            match resources.get(span.resource as usize)?.get("service.name")? {
                AttrValue::Str(service) => Some(service),
                _ => None,
            }
        };
        let root = spans
            .iter()
            .filter(|span| span.parent_span_id.is_none())
            .min_by_key(|span| (span.start_unix_nano, span.span_id, &span.name, service_of(span)));
        let root_name = root.map(|span| span.name.clone());
        let root_service = root.and_then(service_of).cloned();
        let start_unix_nano = spans.iter().map(|span| span.start_unix_nano).min().unwrap_or(0);
        let end_unix_nano = spans.iter().map(|span| span.end_unix_nano).max().unwrap_or(0);
        EvalTrace {
            trace_id,
            spans,
            resources,
            scopes,
            root_name,
            root_service,
            start_unix_nano,
            end_unix_nano,
        }
    }

    /// Returns the trace duration in nanoseconds (latest end − earliest start).
    pub fn duration_nanos(&self) -> i64 {
        let nanos = self.end_unix_nano.saturating_sub(self.start_unix_nano);
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }

    /// Returns the resource attributes of a span (empty if the index is out of range).
    pub fn resource_of(&self, span: &EvalSpan) -> &Attrs {
        static EMPTY: Attrs = Attrs(Vec::new());
        self.resources.get(span.resource as usize).unwrap_or(&EMPTY)
    }

    /// Returns the instrumentation scope of a span, if the index is in range.
    pub fn scope_of(&self, span: &EvalSpan) -> Option<&EvalScope> {
        self.scopes.get(span.scope as usize)
    }
}

/// Positions are `u32` throughout; a trace never holds 4 billion spans or resources.
pub(crate) fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Converts an OTLP scope; none is the empty scope.
pub(crate) fn eval_scope(scope: Option<InstrumentationScope>) -> EvalScope {
    let Some(scope) = scope else {
        return EvalScope::default();
    };
    EvalScope {
        name: scope.name,
        version: scope.version,
        attributes: Attrs::from_otlp(scope.attributes),
    }
}

fn eval_span(span: Span, resource: u32, scope: u32) -> EvalSpan {
    let (status, status_message) = match span.status {
        Some(status) => (status_from_code(status.code), status.message),
        None => (Status::Unset, String::new()),
    };
    EvalSpan {
        span_id: id8(&span.span_id),
        parent_span_id: (!span.parent_span_id.is_empty()).then(|| id8(&span.parent_span_id)),
        name: span.name,
        kind: kind_from_code(span.kind),
        status,
        status_message,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        attributes: Attrs::from_otlp(span.attributes),
        resource,
        scope,
        events: span.events.into_iter().map(eval_event).collect(),
        links: span.links.into_iter().map(eval_link).collect(),
        nested: None,
        child_count: 0,
    }
}

/// Converts an OTLP span event.
pub(crate) fn eval_event(event: span::Event) -> EvalEvent {
    EvalEvent {
        name: event.name,
        time_unix_nano: event.time_unix_nano,
        attributes: Attrs::from_otlp(event.attributes),
    }
}

/// Converts an OTLP span link.
pub(crate) fn eval_link(link: span::Link) -> EvalLink {
    EvalLink {
        trace_id: link.trace_id,
        span_id: link.span_id,
        attributes: Attrs::from_otlp(link.attributes),
    }
}

/// Right-aligns an id in 8 bytes.
pub(crate) fn id8(bytes: &[u8]) -> [u8; 8] {
    let mut id = [0u8; 8];
    let tail = &bytes[bytes.len().saturating_sub(8)..];
    id[8 - tail.len()..].copy_from_slice(tail);
    id
}

/// OTLP `SpanKind` numbers; unknown numbers read as unspecified.
pub(crate) fn kind_from_code(code: i32) -> Kind {
    match code {
        1 => Kind::Internal,
        2 => Kind::Server,
        3 => Kind::Client,
        4 => Kind::Producer,
        5 => Kind::Consumer,
        _ => Kind::Unspecified,
    }
}

/// OTLP `StatusCode` numbers; unknown numbers read as unset.
pub(crate) fn status_from_code(code: i32) -> Status {
    match code {
        1 => Status::Ok,
        2 => Status::Error,
        _ => Status::Unset,
    }
}

/// Converts an OTLP value; `None` for the types TraceQL has no values for.
fn attr_value(value: Option<AnyValue>) -> Option<AttrValue> {
    use any_value::Value;
    Some(match value?.value? {
        Value::StringValue(text) => AttrValue::Str(text),
        Value::BoolValue(flag) => AttrValue::Bool(flag),
        Value::IntValue(number) => AttrValue::Int(number),
        Value::DoubleValue(number) => AttrValue::Float(number),
        Value::ArrayValue(array) => typed_array(array.values)?,
        Value::KvlistValue(_) | Value::BytesValue(_) | Value::StringValueStrindex(_) => {
            return None;
        }
    })
}

/// An array whose elements all have the same scalar type; `None` if empty or mixed.
fn typed_array(values: Vec<AnyValue>) -> Option<AttrValue> {
    use any_value::Value;
    let mut elements = values.into_iter().map(|value| value.value);
    let mut array = match elements.next()?? {
        Value::StringValue(text) => AttrValue::StrArray(vec![text]),
        Value::BoolValue(flag) => AttrValue::BoolArray(vec![flag]),
        Value::IntValue(number) => AttrValue::IntArray(vec![number]),
        Value::DoubleValue(number) => AttrValue::FloatArray(vec![number]),
        _ => return None,
    };
    for element in elements {
        match (&mut array, element?) {
            (AttrValue::StrArray(items), Value::StringValue(text)) => items.push(text),
            (AttrValue::BoolArray(items), Value::BoolValue(flag)) => items.push(flag),
            (AttrValue::IntArray(items), Value::IntValue(number)) => items.push(number),
            (AttrValue::FloatArray(items), Value::DoubleValue(number)) => items.push(number),
            _ => return None,
        }
    }
    Some(array)
}

/// Numbers the span tree and counts children. A span whose id is shared by another span of
/// the trace has no position (and no child count); a span whose parent id is such a shared
/// id, or was never received, heads its own subtree.
fn number_tree(spans: &mut [EvalSpan]) {
    const NO_PARENT: [u8; 0] = [];
    let mut id_counts: HashMap<[u8; 8], u32> = HashMap::with_capacity(spans.len());
    for span in spans.iter() {
        *id_counts.entry(span.span_id).or_default() += 1;
    }
    let unique = |id: &[u8; 8]| id_counts.get(id).copied() == Some(1);
    let positioned: Vec<usize> = (0..spans.len()).filter(|&i| unique(&spans[i].span_id)).collect();
    let numbers = {
        let links: Vec<SpanLink<'_>> = positioned
            .iter()
            .map(|&i| {
                let span = &spans[i];
                let parent = span.parent_span_id.as_ref().filter(|id| unique(id));
                SpanLink {
                    span_id: &span.span_id,
                    parent_span_id: parent.map_or(&NO_PARENT[..], |id| &id[..]),
                    start_unix_nano: span.start_unix_nano,
                }
            })
            .collect();
        nested_set(&links)
    };
    // `left` numbers are unique and at most 2 × spans, so they index a table directly.
    let mut span_at_left = vec![u32::MAX; spans.len() * 2 + 2];
    for (&index, numbers) in positioned.iter().zip(&numbers) {
        if let Some(slot) = span_at_left.get_mut(numbers.left as usize) {
            *slot = index_u32(index);
        }
    }
    for numbers in &numbers {
        if numbers.parent == 0 {
            continue;
        }
        let parent = span_at_left.get(numbers.parent as usize).copied().unwrap_or(u32::MAX);
        if let Some(parent_span) = spans.get_mut(parent as usize) {
            parent_span.child_count += 1;
        }
    }
    for (&index, numbers) in positioned.iter().zip(numbers) {
        if let Some(span) = spans.get_mut(index) {
            span.nested = Some(numbers);
        }
    }
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
