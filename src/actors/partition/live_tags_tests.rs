//! Tag summaries: what a fragment adds, the root across fragments, and the bounds.

use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::*;
use crate::storage::block::tag_dictionary::{TagDictionaryBuilder, intrinsic};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

/// One span of `service`: id `id`, parent `parent` (0 = a root), starting at `start`.
fn span(service: &str, id: u8, parent: u8, start: u64, attributes: Vec<KeyValue>) -> Vec<u8> {
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 { Vec::new() } else { vec![parent; 8] },
        name: format!("op-{id}"),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 10,
        attributes,
        ..Default::default()
    };
    let data = TracesData {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
            ..Default::default()
        }],
    };
    data.encode_to_vec()
}

fn strings(values: Option<&NameValues>) -> Vec<String> {
    values
        .map(|values| values.values())
        .unwrap_or_default()
        .iter()
        .map(|value| format!("{value:?}"))
        .collect()
}

#[test]
fn fragments_add_names_and_distinct_typed_values() {
    use any_value::Value as V;
    let mut tags = TraceTags::default();
    tags.add_fragment(&span("cart", 2, 1, 200, vec![kv("code", V::IntValue(200))]));
    let array =
        V::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(V::IntValue(500)) }] });
    tags.add_fragment(&span(
        "cart",
        3,
        1,
        300,
        vec![kv("code", V::IntValue(200)), kv("code", array)],
    ));
    assert_eq!(tags.covered(), 2);
    assert!(tags.covers(2) && !tags.covers(3));
    assert_eq!(tags.names(TagScope::Span).collect::<Vec<_>>(), ["code"]);
    assert_eq!(tags.names(TagScope::Resource).collect::<Vec<_>>(), ["service.name"]);
    assert_eq!(strings(tags.values(TagScope::Span, "code")), ["Int(200)", "Int(500)"]);
    assert_eq!(
        strings(tags.values(TagScope::Intrinsic, intrinsic::NAME)),
        ["Str(\"op-2\")", "Str(\"op-3\")"]
    );
    assert_eq!((tags.root_name(), tags.root_service()), (None, None), "no root span yet");
    assert!(tags.bytes() > 0);
}

#[test]
fn the_root_is_the_earliest_parentless_span_of_any_fragment() {
    let mut tags = TraceTags::default();
    tags.add_fragment(&span("late", 9, 0, 500, Vec::new()));
    assert_eq!((tags.root_name(), tags.root_service()), (Some("op-9"), Some("late")));
    tags.add_fragment(&span("frontend", 5, 0, 100, Vec::new()));
    assert_eq!((tags.root_name(), tags.root_service()), (Some("op-5"), Some("frontend")));
    tags.add_fragment(&span("tie", 4, 0, 100, Vec::new()));
    assert_eq!(tags.root_name(), Some("op-4"), "same start: the smaller span id, as blocks");
    tags.add_fragment(&span("child", 1, 7, 1, Vec::new()));
    assert_eq!(tags.root_name(), Some("op-4"), "a span with a parent is never the root");
}

#[test]
fn a_name_past_its_caps_is_partial_not_truncated_silently() {
    let many: Vec<KeyValue> =
        (0..=MAX_VALUES_PER_NAME).map(|n| text("user.id", &format!("u{n}"))).collect();
    let mut tags = TraceTags::default();
    tags.add_fragment(&span("a", 1, 0, 1, many));
    let values = tags.values(TagScope::Span, "user.id").unwrap();
    assert_eq!(values.values().len(), MAX_VALUES_PER_NAME);
    assert!(values.is_partial());
    let long = text("sql", &"x".repeat(MAX_VALUE_BYTES + 1));
    tags.add_fragment(&span("a", 2, 1, 2, vec![long, text("short", "y")]));
    let sql = tags.values(TagScope::Span, "sql").unwrap();
    assert!(sql.values().is_empty() && sql.is_partial(), "named, its value left out");
    assert!(!tags.values(TagScope::Span, "short").unwrap().is_partial());
}

#[test]
fn an_oversized_or_undecodable_summary_is_dropped() {
    let value = "v".repeat(MAX_VALUE_BYTES);
    let names = MAX_SUMMARY_BYTES / MAX_VALUE_BYTES;
    let attributes = |count: usize| -> Vec<KeyValue> {
        (0..count).map(|n| text(&format!("k{n}"), &value)).collect()
    };
    let mut tags = TraceTags::default();
    tags.add_fragment(&span("a", 1, 0, 1, attributes(names / 2)));
    assert!(!tags.is_dropped() && tags.covers(1));
    tags.add_fragment(&span("a", 2, 1, 2, attributes(names + 1)));
    assert!(tags.is_dropped(), "over {MAX_SUMMARY_BYTES} bytes");
    assert!(!tags.covers(2) && tags.bytes() == 0 && tags.names(TagScope::Span).count() == 0);

    let mut corrupt = TraceTags::default();
    corrupt.add_fragment(&[0xff, 0xff, 0xff]);
    assert!(corrupt.is_dropped() && !corrupt.covers(1));
    corrupt.add_fragment(&span("a", 1, 0, 1, Vec::new()));
    assert_eq!(corrupt.covered(), 2, "a dropped summary still counts what it saw");
    assert!(corrupt.is_dropped(), "and stays dropped");
}

#[test]
fn a_summary_records_what_the_block_dictionary_records() {
    use any_value::Value as V;
    let attributes = vec![
        kv("ratio", V::DoubleValue(f64::INFINITY)),
        kv("ratio", V::DoubleValue(-0.0)),
        kv("ratio", V::DoubleValue(0.0)),
        kv("flag", V::BoolValue(false)),
        kv("bytes", V::BytesValue(vec![1])),
        text("empty", ""),
    ];
    let fragment = span("cart", 1, 0, 1, attributes);
    let mut tags = TraceTags::default();
    tags.add_fragment(&fragment);
    let mut builder = TagDictionaryBuilder::new();
    let data = TracesData::decode(fragment.as_slice()).unwrap();
    builder.add_trace(&data.resource_spans, tags.root_name(), tags.root_service());
    let dictionary = builder.finish();
    for scope in TagScope::ATTRIBUTES {
        assert_eq!(
            tags.names(scope).collect::<Vec<_>>(),
            dictionary.names(scope).collect::<Vec<_>>()
        );
    }
    let intrinsics: Vec<&str> = dictionary.names(TagScope::Intrinsic).collect();
    assert_eq!(intrinsics, [intrinsic::NAME, intrinsic::ROOT_NAME, intrinsic::ROOT_SERVICE_NAME]);
    assert_eq!(tags.names(TagScope::Intrinsic).collect::<Vec<_>>(), [intrinsic::NAME]);
    assert_eq!((tags.root_name(), tags.root_service()), (Some("op-1"), Some("cart")));
    assert!(tags.names(TagScope::Span).all(|name| name != "bytes"), "not queryable: left out");
    assert_eq!(strings(tags.values(TagScope::Span, "ratio")), ["Float(-0.0)", "Float(0.0)"]);
    assert_eq!(dictionary.values(TagScope::Span, "ratio").unwrap().floats.len(), 2);
}
