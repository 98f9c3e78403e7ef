//! Tag dictionaries: what is recorded, the caps, the stored form, and blocks without one.

use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::*;
use crate::model::ids::{LogIndex, PartitionId, TenantId, TraceId};
use crate::storage::block::{
    BlockBuildOptions, BlockId, BlockInputTrace, build_block, load_tag_dictionary, tags_path,
    upload_block,
};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn any(value: any_value::Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn sample_trace(trace: u8) -> Vec<ResourceSpans> {
    use any_value::Value as V;
    let span = Span {
        trace_id: vec![trace; 16],
        span_id: vec![1; 8],
        name: "GET /cart".into(),
        attributes: vec![
            kv("http.status_code", V::IntValue(200)),
            kv("ratio", V::DoubleValue(0.5)),
            kv("ratio", V::DoubleValue(f64::NAN)),
            kv("cache.hit", V::BoolValue(true)),
            kv(
                "tags",
                V::ArrayValue(ArrayValue {
                    values: vec![any(V::StringValue("a".into())), any(V::StringValue("b".into()))],
                }),
            ),
            kv(
                "mixed",
                V::ArrayValue(ArrayValue {
                    values: vec![any(V::StringValue("a".into())), any(V::IntValue(1))],
                }),
            ),
            kv("payload", V::BytesValue(vec![1, 2])),
            kv("nested", V::KvlistValue(KeyValueList { values: vec![text("inner", "v")] })),
            text("span.attr/slash", "x y"),
        ],
        events: vec![Event {
            name: "exception".into(),
            attributes: vec![text("exception.message", "boom")],
            ..Default::default()
        }],
        links: vec![Link { attributes: vec![text("link.kind", "follows")], ..Default::default() }],
        status: Some(Status { message: "failed".into(), code: 2 }),
        ..Default::default()
    };
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![text("service.name", "cart")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "shop-lib".into(),
                version: "1.2.3".into(),
                attributes: vec![kv("scope.flag", V::BoolValue(false))],
                ..Default::default()
            }),
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    }]
}

fn names(dictionary: &TagDictionary, scope: TagScope) -> Vec<&str> {
    dictionary.names(scope).collect()
}

#[test]
fn every_queryable_name_and_value_is_recorded_by_scope_and_type() {
    let mut builder = TagDictionaryBuilder::new();
    builder.add_trace(&sample_trace(1), Some("GET /cart"), Some("cart"));
    let dictionary = builder.finish();
    assert_eq!(
        names(&dictionary, TagScope::Span),
        ["cache.hit", "http.status_code", "ratio", "span.attr/slash", "tags"],
        "kvlists, bytes and mixed arrays are not queryable"
    );
    assert_eq!(names(&dictionary, TagScope::Resource), ["service.name"]);
    assert_eq!(names(&dictionary, TagScope::Event), ["exception.message"]);
    assert_eq!(names(&dictionary, TagScope::Link), ["link.kind"]);
    assert_eq!(names(&dictionary, TagScope::Instrumentation), ["scope.flag"]);
    let values = |scope, name| dictionary.values(scope, name).unwrap().clone();
    assert_eq!(values(TagScope::Span, "http.status_code").ints, [200]);
    assert_eq!(values(TagScope::Span, "ratio").floats, [0.5], "NaN is not a value");
    assert_eq!(values(TagScope::Span, "cache.hit").bools, [true]);
    assert_eq!(values(TagScope::Span, "tags").strings, ["a", "b"], "array elements are values");
    assert_eq!(values(TagScope::Instrumentation, "scope.flag").bools, [false]);
    let intrinsic = |name| values(TagScope::Intrinsic, name).strings;
    assert_eq!(intrinsic(intrinsic::NAME), ["GET /cart"]);
    assert_eq!(intrinsic(intrinsic::STATUS_MESSAGE), ["failed"]);
    assert_eq!(intrinsic(intrinsic::ROOT_NAME), ["GET /cart"]);
    assert_eq!(intrinsic(intrinsic::ROOT_SERVICE_NAME), ["cart"]);
    assert_eq!(intrinsic(intrinsic::EVENT_NAME), ["exception"]);
    assert_eq!(intrinsic(intrinsic::INSTRUMENTATION_NAME), ["shop-lib"]);
    assert_eq!(intrinsic(intrinsic::INSTRUMENTATION_VERSION), ["1.2.3"]);
    assert!(!dictionary.capped);
}

#[test]
fn a_unique_value_per_span_is_capped_per_name() {
    let mut builder = TagDictionaryBuilder::new();
    for n in 0..5_000 {
        builder.add(TagScope::Span, "request.id", ScalarRef::Str(&format!("id-{n:05}")));
        builder.add(
            TagScope::Span,
            "http.method",
            ScalarRef::Str(if n % 2 == 0 { "GET" } else { "POST" }),
        );
    }
    builder.add(TagScope::Span, "sql", ScalarRef::Str(&"x".repeat(MAX_VALUE_BYTES + 1)));
    let dictionary = builder.finish();
    let ids = dictionary.values(TagScope::Span, "request.id").unwrap();
    assert_eq!(ids.strings.len(), MAX_VALUES_PER_NAME);
    assert!(ids.capped);
    let methods = dictionary.values(TagScope::Span, "http.method").unwrap();
    assert_eq!(
        (methods.strings.clone(), methods.capped),
        (vec!["GET".into(), "POST".into()], false)
    );
    let sql = dictionary.values(TagScope::Span, "sql").unwrap();
    assert!(sql.strings.is_empty() && sql.capped, "the name is kept, the huge value is not");
    assert!(!dictionary.capped);
}

#[test]
fn the_whole_dictionary_stays_under_its_byte_cap() {
    let mut builder = TagDictionaryBuilder::new();
    let value = "v".repeat(MAX_VALUE_BYTES);
    for name in 0..2_000 {
        let name = format!("attr.{name:04}");
        builder.add(TagScope::Span, &name, ScalarRef::Str(&value));
    }
    let dictionary = builder.finish();
    assert!(dictionary.capped);
    assert!(
        dictionary.encode().len() < MAX_DICTIONARY_BYTES + 100_000,
        "{}",
        dictionary.encode().len()
    );
    let recorded = names(&dictionary, TagScope::Span).len();
    assert!(recorded > 900 && recorded < 2_000, "{recorded}");
}

#[test]
fn the_dictionary_round_trips_and_refuses_other_versions() {
    let mut builder = TagDictionaryBuilder::new();
    builder.add_trace(&sample_trace(1), Some("GET /cart"), Some("cart"));
    builder.add(TagScope::Span, "big", ScalarRef::Int(i64::MAX));
    builder.add(TagScope::Span, "ratio", ScalarRef::Float(-0.0));
    builder.add(TagScope::Span, "ratio", ScalarRef::Float(1e300));
    let dictionary = builder.finish();
    let bytes = dictionary.encode();
    assert_eq!(TagDictionary::decode(&bytes, "tags.json").unwrap(), dictionary);
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.contains(r#""span":{"big":{"ints":[9223372036854775807]}"#), "{text}");
    let newer = TagDictionary { version: 2, ..dictionary };
    let error = TagDictionary::decode(&newer.encode(), "tags.json").unwrap_err();
    assert!(error.to_string().contains("unsupported tag dictionary version 2"), "{error}");
    assert!(TagDictionary::decode(b"{not json", "tags.json").unwrap_err().is_corrupt());
}

#[test]
fn the_same_traces_give_the_same_bytes_in_any_order() {
    let build = |order: &[u8]| {
        let mut builder = TagDictionaryBuilder::new();
        for trace in order {
            builder.add_trace(&sample_trace(*trace), None, None);
        }
        builder.finish().encode()
    };
    assert_eq!(build(&[1, 2, 3]), build(&[3, 1, 2]));
}

fn block_of(trace: u8) -> crate::storage::block::BuiltBlock {
    let input =
        BlockInputTrace { trace_id: TraceId([trace; 16]), resource_spans: sample_trace(trace) };
    let block_id = BlockId::for_log_range(PartitionId(0), LogIndex(1), LogIndex(2));
    build_block(
        block_id,
        &TenantId::new("acme"),
        PartitionId(0),
        LogIndex(1),
        LogIndex(2),
        vec![input],
        &BlockBuildOptions::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn blocks_carry_their_dictionary_and_blocks_without_one_read_as_none() {
    let block = block_of(7);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    upload_block(store.as_ref(), &TenantId::new("acme"), &block).await.unwrap();
    let (dictionary, size) =
        load_tag_dictionary(store.as_ref(), &block.meta).await.unwrap().unwrap();
    assert_eq!(size, block.tags.len() as u64);
    assert_eq!(names(&dictionary, TagScope::Resource), ["service.name"]);
    assert_eq!(
        dictionary.values(TagScope::Intrinsic, intrinsic::ROOT_SERVICE_NAME).unwrap().strings,
        ["cart"],
        "the root comes from the block's trace summary"
    );
    store.delete(&tags_path(&TenantId::new("acme"), &block.meta.block_id)).await.unwrap();
    assert!(load_tag_dictionary(store.as_ref(), &block.meta).await.unwrap().is_none());
}
