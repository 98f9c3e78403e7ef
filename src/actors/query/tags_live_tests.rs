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

use std::sync::Arc;

use super::*;
use crate::actors::query::tag_collect::CollectLimits;
use crate::actors::query::tag_sources::{ValueSource, collect_from_dictionary};
use crate::model::ids::TraceId;
use crate::storage::block::tag_dictionary::TagDictionaryBuilder;
use crate::traceql::ast::{Attribute, AttributeScope, FieldRef, Intrinsic};
use crate::traceql::parse_and_validate;

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
        tags: None,
    }
}

/// The trace as the live-store holds it once summarized: one fragment per resource (so the
/// root and the rest arrive apart), and the tag summary of both.
fn summarized(trace: u8) -> LiveTraceRef {
    let fragments: Vec<Bytes> = shop_trace(trace)
        .into_iter()
        .rev()
        .map(|resource| Bytes::from(TracesData { resource_spans: vec![resource] }.encode_to_vec()))
        .collect();
    let mut tags = TraceTags::default();
    fragments.iter().for_each(|fragment| tags.add_fragment(fragment));
    LiveTraceRef { fragments, tags: Some(Arc::new(tags)), ..live(trace) }
}

/// A summarized trace whose spans are garbage: only the summary can answer for it.
fn summary_only(trace: u8) -> LiveTraceRef {
    let garbage = vec![Bytes::from_static(&[0xff; 3]); 2];
    LiveTraceRef { fragments: garbage, ..summarized(trace) }
}

const NO_LIMITS: CollectLimits = CollectLimits { limit: 0, max_stale: 0, max_bytes: 0 };

fn names_job(filter: Option<&str>) -> TagJob {
    let filter = filter.map(|q| parse_and_validate(q).unwrap());
    let template = TagCollector::for_names(&TagScope::ATTRIBUTES, false, NO_LIMITS);
    let job = TagJob::new(filter.as_ref(), None, false, template);
    assert_eq!(job.filter.is_some(), filter.is_some(), "the test filters compile");
    job
}

fn values_job(field: FieldRef, filter: Option<&str>) -> TagJob {
    let filter = filter.map(|q| parse_and_validate(q).unwrap());
    let source = Some(ValueSource::for_field(&field));
    TagJob::new(filter.as_ref(), source, false, TagCollector::for_values(NO_LIMITS))
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
    for field in fields() {
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

/// Every job a summary can answer, and the fields compared across the three sources.
fn fields() -> Vec<FieldRef> {
    vec![
        attribute(AttributeScope::None, "service.name"),
        attribute(AttributeScope::Resource, "k8s.pod.name"),
        attribute(AttributeScope::Span, "http.status_code"),
        attribute(AttributeScope::Span, "ratio"),
        attribute(AttributeScope::Span, "tags"),
        attribute(AttributeScope::Span, "nested"),
        attribute(AttributeScope::Event, "exception.type"),
        attribute(AttributeScope::Link, "link.kind"),
        attribute(AttributeScope::Instrumentation, "scope.flag"),
        FieldRef::Intrinsic(Intrinsic::Name),
        FieldRef::Intrinsic(Intrinsic::StatusMessage),
        FieldRef::Intrinsic(Intrinsic::TraceRootName),
        FieldRef::Intrinsic(Intrinsic::TraceRootService),
        FieldRef::Intrinsic(Intrinsic::EventName),
        FieldRef::Intrinsic(Intrinsic::InstrumentationName),
        FieldRef::Intrinsic(Intrinsic::InstrumentationVersion),
        FieldRef::Intrinsic(Intrinsic::SpanId),
    ]
}

#[test]
fn summaries_answer_what_decoding_and_the_block_dictionary_answer() {
    let mut builder = TagDictionaryBuilder::new();
    for trace in [1u8, 2] {
        builder.add_trace(&shop_trace(trace), Some("GET /cart"), Some("frontend"));
    }
    let dictionary = builder.finish();
    let decoded = || vec![live(1), live(2)];
    // Garbage spans: an answer at all proves the summaries gave it.
    let from_summaries = || vec![summary_only(1), summary_only(2)];
    let job = names_job(None);
    let summary_names = names(&collect_live_tags(&job, from_summaries()).unwrap().found);
    assert_eq!(summary_names, names(&collect_live_tags(&job, decoded()).unwrap().found));
    assert_eq!(summary_names, names(&collect_from_dictionary(&job, &dictionary)));
    for field in fields() {
        let job = values_job(field.clone(), None);
        let summary_values = texts(&collect_live_tags(&job, from_summaries()).unwrap().found);
        assert_eq!(
            summary_values,
            texts(&collect_live_tags(&job, decoded()).unwrap().found),
            "{field:?}"
        );
        assert_eq!(summary_values, texts(&collect_from_dictionary(&job, &dictionary)), "{field:?}");
    }
    let answer = collect_live_tags(&names_job(None), vec![summary_only(1)]).unwrap();
    assert_eq!(answer.inspected_bytes, summary_only(1).size(), "the trace's bytes, as decoding");
}

#[test]
fn a_filter_a_lagging_summary_or_a_partial_name_decodes_the_spans() {
    let decode_failure = |job: &TagJob, live: LiveTraceRef| {
        matches!(collect_live_tags(job, vec![live]), Err(SearchJobError::Corrupt(_)))
    };
    let names = names_job(None);
    assert!(!decode_failure(&names, summary_only(1)), "the summary answers");
    let filtered = names_job(Some("{ span.http.status_code = 200 }"));
    assert!(decode_failure(&filtered, summary_only(1)), "q needs the spans");
    let mut lagging = summary_only(1);
    lagging.fragments.push(Bytes::from_static(&[0xff]));
    assert!(decode_failure(&names, lagging), "a fragment newer than the summary");
    let dropped = LiveTraceRef { tags: Some(Arc::new(dropped_summary())), ..summary_only(1) };
    assert!(decode_failure(&names, dropped), "a dropped summary");

    let many: Vec<KeyValue> = (0..=64).map(|n| text("user.id", &format!("u{n}"))).collect();
    let mut resource_spans = shop_trace(1);
    resource_spans[0].scope_spans[0].spans[0].attributes.extend(many);
    let data = TracesData { resource_spans }.encode_to_vec();
    let mut tags = TraceTags::default();
    tags.add_fragment(&data);
    let partial = LiveTraceRef {
        fragments: vec![Bytes::from_static(&[0xff])],
        tags: Some(Arc::new(tags)),
        ..live(1)
    };
    let user_ids = values_job(attribute(AttributeScope::Span, "user.id"), None);
    assert!(decode_failure(&user_ids, partial.clone()), "65 values: the name is partial");
    let methods = values_job(attribute(AttributeScope::Span, "http.method"), None);
    assert!(!decode_failure(&methods, partial), "other names still come from the summary");
    let full = LiveTraceRef { fragments: vec![Bytes::from(data)], tags: None, ..live(1) };
    assert_eq!(texts(&collect_live_tags(&user_ids, vec![full]).unwrap().found).len(), 65);
}

fn dropped_summary() -> TraceTags {
    let mut tags = TraceTags::default();
    tags.add_fragment(&[0xff]);
    tags.add_fragment(&[0xff]);
    assert!(tags.is_dropped());
    tags
}

#[test]
fn a_filter_decodes_only_the_traces_whose_summary_may_match() {
    let outcome =
        |q: &str, live: LiveTraceRef| match collect_live_tags(&names_job(Some(q)), vec![live]) {
            Ok(answer) => Ok(names(&answer.found).len()),
            Err(SearchJobError::Corrupt(_)) => Err("decoded"),
            Err(other) => panic!("{other:?}"),
        };
    let ruled_out = [
        "{ resource.service.name = \"nope\" }",
        "{ .service.name = \"nope\" }",
        "{ span.http.status_code > 500 }",
        "{ name =~ \"POST.*\" }",
        "{ span.missing != 1 }",
        "{ span.http.method = \"GET\" } && { resource.service.name = \"nope\" }",
    ];
    for q in ruled_out {
        assert_eq!(outcome(q, summary_only(1)), Ok(0), "{q}: ruled out without decoding");
    }
    let may_match = [
        "{ resource.service.name = \"cart\" }",
        "{ name =~ \"GET.*\" }",
        "{ span.http.status_code >= 500 }",
        "{ status = error }",
        "{ span.tags = 8 }",
        "{ span.ratio > 2000000.0 }",
        "{ span.http.method = \"GET\" } || { resource.service.name = \"nope\" }",
    ];
    for q in may_match {
        assert_eq!(outcome(q, summary_only(1)), Err("decoded"), "{q}: the spans decide");
    }
    let mut lagging = summary_only(1);
    lagging.fragments.push(Bytes::from_static(&[0xff]));
    assert_eq!(
        outcome(ruled_out[0], lagging),
        Err("decoded"),
        "a lagging summary rules nothing out"
    );
    assert_eq!(outcome(may_match[0], summarized(1)), Ok(5), "decoded: the cart span's names");
}
