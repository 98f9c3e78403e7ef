//! Live tag collection: what it finds, the filter, and the same answers as a block's
//! dictionary of the same traces.

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use prost::Message;

use super::*;
use crate::actors::query::tag_collect::CollectLimits;
use crate::actors::query::tag_sources::{ValueSource, collect_from_dictionary};
use crate::model::ids::TraceId;
use crate::storage::block::tag_dictionary::TagDictionaryBuilder;
use crate::traceql::ast::{Attribute, AttributeScope, FieldRef, Intrinsic};
use crate::traceql::{SearchPlan, parse_and_validate};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn span(trace: u8, id: u8, parent: u8, name: &str, code: i64, extra: Vec<KeyValue>) -> Span {
    use any_value::Value as V;
    let mut attributes = vec![kv("http.status_code", V::IntValue(code))];
    attributes.extend(extra);
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 { Vec::new() } else { vec![parent; 8] },
        name: name.into(),
        start_time_unix_nano: 1_000 + u64::from(id),
        end_time_unix_nano: 2_000,
        attributes,
        status: Some(Status {
            message: if code >= 500 { "boom".into() } else { String::new() },
            code: 0,
        }),
        ..Default::default()
    }
}

/// Trace 1: frontend root (200) and a cart child (500, with an event, a link, odd values).
fn shop_trace(trace: u8) -> Vec<ResourceSpans> {
    use any_value::Value as V;
    let resource = |service: &str, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![text("service.name", service), text("k8s.pod.name", "pod-1")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "shop-lib".into(),
                version: "1.2.3".into(),
                attributes: vec![kv("scope.flag", V::BoolValue(true))],
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut child = span(
        trace,
        2,
        1,
        "cart.get",
        500,
        vec![
            kv("ratio", V::DoubleValue(1_234_567.0)),
            kv("ratio", V::DoubleValue(f64::INFINITY)),
            kv(
                "tags",
                V::ArrayValue(ArrayValue {
                    values: vec![AnyValue { value: Some(V::IntValue(7)) }],
                }),
            ),
            kv("nested", V::KvlistValue(KeyValueList { values: vec![text("a", "b")] })),
            text("span.attr/slash", "x y"),
        ],
    );
    child.events = vec![Event {
        name: "exception".into(),
        attributes: vec![text("exception.type", "E")],
        ..Default::default()
    }];
    child.links =
        vec![Link { attributes: vec![text("link.kind", "follows")], ..Default::default() }];
    vec![
        resource(
            "frontend",
            vec![span(trace, 1, 0, "GET /cart", 200, vec![text("http.method", "GET")])],
        ),
        resource("cart", vec![child]),
    ]
}

fn live(trace: u8) -> LiveTraceRef {
    let data = TracesData { resource_spans: shop_trace(trace) }.encode_to_vec();
    LiveTraceRef {
        trace_id: TraceId([trace; 16]),
        fragments: vec![Bytes::from(data)],
        start_unix_nano: 1_000,
        end_unix_nano: 2_000,
        span_count: 2,
    }
}

const NO_LIMITS: CollectLimits = CollectLimits { limit: 0, max_stale: 0, max_bytes: 0 };

fn names_job(filter: Option<&str>) -> TagJob {
    TagJob {
        filter: filter.map(|q| SearchPlan::new(&parse_and_validate(q).unwrap()).unwrap()),
        values_of: None,
        untyped: false,
        template: TagCollector::for_names(&TagScope::ATTRIBUTES, false, NO_LIMITS),
    }
}

fn values_job(field: FieldRef, filter: Option<&str>) -> TagJob {
    TagJob {
        values_of: Some(ValueSource::for_field(&field)),
        template: TagCollector::for_values(NO_LIMITS),
        ..names_job(filter)
    }
}

fn attribute(scope: AttributeScope, name: &str) -> FieldRef {
    FieldRef::Attribute(Attribute { scope, parent: false, name: name.into() })
}

fn names(found: &TagCollector) -> Vec<(&'static str, Vec<String>)> {
    found.sorted_names().into_iter().map(|(scope, names)| (scope.as_str(), names)).collect()
}

fn texts(found: &TagCollector) -> Vec<String> {
    found
        .sorted_values()
        .into_iter()
        .map(|value| format!("{}:{}", value.kind.as_str(), value.text))
        .collect()
}

#[test]
fn names_of_every_scope_are_found() {
    let answer = collect_live_tags(&names_job(None), vec![live(1)]).unwrap();
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(&answer.found),
        [
            (
                "span",
                strings(&["http.method", "http.status_code", "ratio", "span.attr/slash", "tags"])
            ),
            ("resource", strings(&["k8s.pod.name", "service.name"])),
            ("event", strings(&["exception.type"])),
            ("link", strings(&["link.kind"])),
            ("instrumentation", strings(&["scope.flag"])),
        ]
    );
    assert_eq!(answer.inspected_bytes, live(1).size());
}

#[test]
fn a_filter_keeps_the_names_and_values_of_matching_spans_only() {
    let filter = Some("{ span.http.status_code = 200 }");
    let answer = collect_live_tags(&names_job(filter), vec![live(1)]).unwrap();
    let found = names(&answer.found);
    assert_eq!(found[0], ("span", vec!["http.method".to_string(), "http.status_code".to_string()]));
    assert!(found.iter().all(|(scope, _)| !matches!(*scope, "event" | "link")), "{found:?}");
    let services = values_job(attribute(AttributeScope::Resource, "service.name"), filter);
    let answer = collect_live_tags(&services, vec![live(1)]).unwrap();
    assert_eq!(texts(&answer.found), ["string:frontend"]);
    let none = collect_live_tags(&names_job(Some("{ .nope = 1 }")), vec![live(1)]).unwrap();
    assert!(names(&none.found).is_empty());
}

#[test]
fn values_are_typed_and_intrinsics_have_values() {
    let values = |field: FieldRef| {
        texts(&collect_live_tags(&values_job(field, None), vec![live(1)]).unwrap().found)
    };
    assert_eq!(values(attribute(AttributeScope::Span, "http.status_code")), ["int:200", "int:500"]);
    assert_eq!(
        values(attribute(AttributeScope::Span, "ratio")),
        ["float:1.234567e+06"],
        "Inf is not a value"
    );
    assert_eq!(values(attribute(AttributeScope::Span, "tags")), ["int:7"]);
    assert_eq!(values(attribute(AttributeScope::Span, "nested")), Vec::<String>::new());
    assert_eq!(
        values(attribute(AttributeScope::None, "service.name")),
        ["string:cart", "string:frontend"]
    );
    assert_eq!(values(attribute(AttributeScope::Instrumentation, "scope.flag")), ["bool:true"]);
    assert_eq!(
        values(FieldRef::Intrinsic(Intrinsic::Name)),
        ["string:GET /cart", "string:cart.get"]
    );
    assert_eq!(values(FieldRef::Intrinsic(Intrinsic::TraceRootService)), ["string:frontend"]);
    assert_eq!(values(FieldRef::Intrinsic(Intrinsic::StatusMessage)), ["string:boom"]);
    assert_eq!(values(FieldRef::Intrinsic(Intrinsic::EventName)), ["string:exception"]);
    assert_eq!(values(FieldRef::Intrinsic(Intrinsic::InstrumentationVersion)), ["string:1.2.3"]);
    assert_eq!(
        values(FieldRef::Intrinsic(Intrinsic::SpanId)),
        Vec::<String>::new(),
        "ids are not listed"
    );
}

#[test]
fn a_block_dictionary_gives_the_same_answers_as_the_live_traces() {
    let mut builder = TagDictionaryBuilder::new();
    for trace in [1u8, 2] {
        builder.add_trace(&shop_trace(trace), Some("GET /cart"), Some("frontend"));
    }
    let dictionary = builder.finish();
    let both = || vec![live(1), live(2)];
    let job = names_job(None);
    assert_eq!(
        names(&collect_from_dictionary(&job, &dictionary)),
        names(&collect_live_tags(&job, both()).unwrap().found)
    );
    for field in [
        attribute(AttributeScope::None, "service.name"),
        attribute(AttributeScope::Span, "ratio"),
        attribute(AttributeScope::Span, "tags"),
        attribute(AttributeScope::Event, "exception.type"),
        attribute(AttributeScope::Link, "link.kind"),
        attribute(AttributeScope::Instrumentation, "scope.flag"),
        FieldRef::Intrinsic(Intrinsic::Name),
        FieldRef::Intrinsic(Intrinsic::StatusMessage),
        FieldRef::Intrinsic(Intrinsic::TraceRootName),
        FieldRef::Intrinsic(Intrinsic::TraceRootService),
        FieldRef::Intrinsic(Intrinsic::EventName),
        FieldRef::Intrinsic(Intrinsic::InstrumentationName),
    ] {
        let job = values_job(field.clone(), None);
        assert_eq!(
            texts(&collect_from_dictionary(&job, &dictionary)),
            texts(&collect_live_tags(&job, both()).unwrap().found),
            "{field:?}"
        );
    }
}

#[test]
fn a_job_stops_once_its_collector_is_done() {
    let mut job = names_job(None);
    job.template =
        TagCollector::for_names(&[TagScope::Span], false, CollectLimits { limit: 1, ..NO_LIMITS });
    let answer = collect_live_tags(&job, vec![live(1), live(2), live(3)]).unwrap();
    assert_eq!(answer.inspected_bytes, live(1).size(), "the first trace filled the only scope");
}
