//! Test helpers: small OTLP traces written compactly, queries compiled from text, and
//! results read back as span names.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use super::{EvalError, EvalTrace, SearchPlan, Spanset};
use crate::model::ids::TraceId;
use crate::traceql::parse_and_validate;

/// The trace id every test trace has.
pub(crate) const TRACE_ID: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd];

/// Something that converts to an OTLP value.
pub(crate) trait ToAny {
    fn to_any(self) -> AnyValue;
}

fn any(value: any_value::Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

impl ToAny for &str {
    fn to_any(self) -> AnyValue {
        any(any_value::Value::StringValue(self.to_owned()))
    }
}
impl ToAny for i64 {
    fn to_any(self) -> AnyValue {
        any(any_value::Value::IntValue(self))
    }
}
impl ToAny for f64 {
    fn to_any(self) -> AnyValue {
        any(any_value::Value::DoubleValue(self))
    }
}
impl ToAny for bool {
    fn to_any(self) -> AnyValue {
        any(any_value::Value::BoolValue(self))
    }
}
impl ToAny for AnyValue {
    fn to_any(self) -> AnyValue {
        self
    }
}

/// An array value.
pub(crate) fn array(values: Vec<AnyValue>) -> AnyValue {
    any(any_value::Value::ArrayValue(ArrayValue { values }))
}

/// A kvlist value (not comparable: reads as missing).
pub(crate) fn kvlist() -> AnyValue {
    any(any_value::Value::KvlistValue(KeyValueList { values: vec![kv("k", "v")] }))
}

/// A bytes value (not comparable: reads as missing).
pub(crate) fn bytes() -> AnyValue {
    any(any_value::Value::BytesValue(vec![1, 2]))
}

/// A key/value pair.
pub(crate) fn kv(key: &str, value: impl ToAny) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(value.to_any()), ..Default::default() }
}

/// The 8-byte id `n`.
pub(crate) fn id(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// A span with id `n`, the given parent, starting at `n * 100` ns and lasting 50 ns.
pub(crate) fn span(name: &str, n: u64, parent: Option<u64>) -> Span {
    Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: id(n),
        parent_span_id: parent.map(id).unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: n * 100,
        end_time_unix_nano: n * 100 + 50,
        ..Default::default()
    }
}

/// Changes to a test span.
pub(crate) trait SpanExt: Sized {
    fn attr(self, key: &str, value: impl ToAny) -> Self;
    fn times(self, start: u64, end: u64) -> Self;
    fn kind(self, code: i32) -> Self;
    fn status(self, code: i32, message: &str) -> Self;
    fn event(self, name: &str, time: u64, attributes: Vec<KeyValue>) -> Self;
    fn link(self, trace_id: Vec<u8>, span_id: Vec<u8>, attributes: Vec<KeyValue>) -> Self;
}

impl SpanExt for Span {
    fn attr(mut self, key: &str, value: impl ToAny) -> Span {
        self.attributes.push(kv(key, value));
        self
    }
    fn times(mut self, start: u64, end: u64) -> Span {
        self.start_time_unix_nano = start;
        self.end_time_unix_nano = end;
        self
    }
    fn kind(mut self, code: i32) -> Span {
        self.kind = code;
        self
    }
    fn status(mut self, code: i32, message: &str) -> Span {
        self.status = Some(Status { code, message: message.to_owned() });
        self
    }
    fn event(mut self, name: &str, time: u64, attributes: Vec<KeyValue>) -> Span {
        self.events.push(span::Event {
            name: name.to_owned(),
            time_unix_nano: time,
            attributes,
            ..Default::default()
        });
        self
    }
    fn link(mut self, trace_id: Vec<u8>, span_id: Vec<u8>, attributes: Vec<KeyValue>) -> Span {
        self.links.push(span::Link { trace_id, span_id, attributes, ..Default::default() });
        self
    }
}

/// A resource with the given attributes holding one scope (`lib` 1.0, with attribute
/// `scope.attr = "yes"`) of spans.
pub(crate) fn resource(attributes: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource { attributes, ..Default::default() }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "lib".to_owned(),
                version: "1.0".to_owned(),
                attributes: vec![kv("scope.attr", "yes")],
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A trace of one resource (`service.name = svc`).
pub(crate) fn trace_of(spans: Vec<Span>) -> EvalTrace {
    EvalTrace::from_otlp(TraceId(TRACE_ID), vec![resource(vec![kv("service.name", "svc")], spans)])
}

/// root → a → c, root → b (ids 1, 2, 3, 4).
pub(crate) fn small_tree() -> Vec<Span> {
    vec![span("root", 1, None), span("a", 2, Some(1)), span("b", 4, Some(1)), span("c", 3, Some(2))]
}

/// Compiles a query (parsed and validated).
pub(crate) fn plan(query: &str) -> SearchPlan {
    let parsed = parse_and_validate(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    SearchPlan::new(&parsed).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Runs a query on a trace.
pub(crate) fn run<'t>(query: &str, trace: &'t EvalTrace) -> Result<Vec<Spanset<'t>>, EvalError> {
    plan(query).run(trace)
}

/// The span names of each resulting spanset.
pub(crate) fn names(query: &str, trace: &EvalTrace) -> Vec<Vec<String>> {
    run(query, trace)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .iter()
        .map(|spanset| {
            spanset.spans.iter().map(|i| trace.spans[*i as usize].name.clone()).collect()
        })
        .collect()
}

/// The names of the spans a filter keeps (sorted), for single-spanset queries.
pub(crate) fn matched(query: &str, trace: &EvalTrace) -> Vec<String> {
    let mut all: Vec<String> = names(query, trace).into_iter().flatten().collect();
    all.sort();
    all
}
