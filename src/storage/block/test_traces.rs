//! Test inputs: proptest strategies covering every corner of the OTLP span model, and a
//! deterministic generator of realistic traces for size and speed reports.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::collection::{hash_set, vec};
use proptest::prelude::*;

use super::writer::BlockInputTrace;
use crate::model::ids::TraceId;

/// Keys with dedicated columns, so generated attributes hit them (with right and wrong types).
const KNOWN_KEYS: &[&str] = &[
    "service.name",
    "http.method",
    "http.request.method",
    "http.status_code",
    "http.response.status_code",
    "http.route",
    "http.url",
    "db.system",
    "k8s.pod.name",
];

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        70 => "\\PC{0,12}",
        20 => Just(String::new()),
        1 => Just("大きな値 ✓ ".repeat(8_000)), // ~100 KB
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KNOWN_KEYS).prop_map(str::to_string),
        3 => "\\PC{0,10}",
        1 => Just(String::new()),
    ]
}

fn arb_scalar() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => arb_text().prop_map(|text| Some(Value::StringValue(text))),
        2 => any::<i64>().prop_map(|int| Some(Value::IntValue(int))),
        1 => prop_oneof![Just(200i64), Just(404)].prop_map(|int| Some(Value::IntValue(int))),
        1 => any::<f64>().prop_map(|double| Some(Value::DoubleValue(double))),
        1 => any::<bool>().prop_map(|flag| Some(Value::BoolValue(flag))),
        1 => vec(any::<u8>(), 0..24).prop_map(|bytes| Some(Value::BytesValue(bytes))),
        1 => Just(None),
    ]
}

fn arb_any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = arb_scalar().prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values }))
            }),
            vec((arb_key(), proptest::option::of(inner)), 0..4).prop_map(|entries| {
                let values = entries
                    .into_iter()
                    .map(|(key, value)| KeyValue { key, value, key_strindex: 0 })
                    .collect();
                AnyValue { value: Some(Value::KvlistValue(KeyValueList { values })) }
            }),
        ]
    })
}

/// An attribute shaped for a dedicated column: a known key with a value of its type.
fn arb_dedicated_attribute() -> impl Strategy<Value = KeyValue> {
    const STRING_KEYS: &[&str] =
        &["service.name", "http.method", "http.route", "db.system", "k8s.pod.name"];
    const INT_KEYS: &[&str] = &["http.status_code", "http.response.status_code"];
    prop_oneof![
        (proptest::sample::select(STRING_KEYS), arb_text())
            .prop_map(|(key, text)| (key, Value::StringValue(text))),
        (proptest::sample::select(INT_KEYS), any::<i64>())
            .prop_map(|(key, int)| (key, Value::IntValue(int))),
    ]
    .prop_map(|(key, value)| KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    })
}

fn arb_attribute() -> impl Strategy<Value = KeyValue> {
    prop_oneof![
        6 => arb_dedicated_attribute(),
        12 => (arb_key(), arb_any_value())
            .prop_map(|(key, value)| KeyValue { key, value: Some(value), key_strindex: 0 }),
        1 => arb_key().prop_map(|key| KeyValue { key, value: None, key_strindex: 0 }),
        1 => (1..9i32).prop_map(|index| KeyValue {
            key: String::new(),
            value: Some(AnyValue { value: Some(Value::StringValueStrindex(index)) }),
            key_strindex: index,
        }),
    ]
}

fn arb_attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(arb_attribute(), 0..6)
}

fn arb_resource() -> impl Strategy<Value = Option<Resource>> {
    proptest::option::weighted(
        0.9,
        (arb_attributes(), 0..3u32, vec("\\PC{0,6}", 0..2)).prop_map(
            |(attributes, dropped, types)| Resource {
                attributes,
                dropped_attributes_count: dropped,
                entity_refs: types
                    .into_iter()
                    .map(|r#type| EntityRef {
                        r#type,
                        id_keys: vec!["service.name".to_string()],
                        ..Default::default()
                    })
                    .collect(),
            },
        ),
    )
}

fn arb_scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    proptest::option::weighted(
        0.8,
        (arb_text(), "\\PC{0,6}", arb_attributes(), 0..3u32).prop_map(
            |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count,
            },
        ),
    )
}

fn arb_event() -> impl Strategy<Value = Event> {
    (any::<u64>(), arb_text(), arb_attributes(), 0..3u32).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    )
}

fn arb_link() -> impl Strategy<Value = Link> {
    (
        vec(any::<u8>(), 0..17),
        vec(any::<u8>(), 0..9),
        "\\PC{0,8}",
        arb_attributes(),
        0..3u32,
        any::<u32>(),
    )
        .prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| Link {
                trace_id,
                span_id,
                trace_state,
                attributes,
                dropped_attributes_count,
                flags,
            },
        )
}

/// A span without ids; the trace strategy fills them in.
fn arb_span_body() -> impl Strategy<Value = Span> {
    (
        (arb_text(), 0..6i32, any::<u32>(), "\\PC{0,8}"),
        (0..5u64, any::<u64>(), prop_oneof![3 => 0..1_000_000u64, 1 => any::<u64>()]),
        arb_attributes(),
        (vec(arb_event(), 0..3), vec(arb_link(), 0..3)),
        (0..3u32, 0..3u32, 0..3u32),
        proptest::option::of((0..3i32, arb_text())),
    )
        .prop_map(|(head, times, attributes, (events, links), dropped, status)| {
            let (name, kind, flags, trace_state) = head;
            let (start_bucket, start_noise, length) = times;
            // Few distinct start times, so sorting ties on start and falls back to span id.
            let start = if start_bucket == 0 { start_noise } else { start_bucket * 1_000 };
            Span {
                name,
                kind,
                flags,
                trace_state,
                start_time_unix_nano: start,
                end_time_unix_nano: start.wrapping_add(length),
                attributes,
                events,
                links,
                dropped_attributes_count: dropped.0,
                dropped_events_count: dropped.1,
                dropped_links_count: dropped.2,
                status: status.map(|(code, message)| Status { code, message }),
                ..Default::default()
            }
        })
}

/// Where a span's parent id points.
#[derive(Debug, Clone)]
enum ParentChoice {
    None,
    Sibling(usize),
    Nowhere([u8; 8]),
}

fn arb_parent() -> impl Strategy<Value = ParentChoice> {
    prop_oneof![
        1 => Just(ParentChoice::None),
        4 => any::<usize>().prop_map(ParentChoice::Sibling),
        1 => any::<[u8; 8]>().prop_map(ParentChoice::Nowhere),
    ]
}

fn arb_trace(trace_id: TraceId) -> impl Strategy<Value = BlockInputTrace> {
    let scope_spans = (arb_scope(), "\\PC{0,6}", vec((arb_span_body(), arb_parent()), 1..5));
    let resource_spans = (arb_resource(), "\\PC{0,6}", vec(scope_spans, 1..3));
    (vec(resource_spans, 1..3), any::<u32>()).prop_map(move |(groups, salt)| {
        let span_count: usize = groups
            .iter()
            .map(|(_, _, scopes)| scopes.iter().map(|(_, _, spans)| spans.len()).sum::<usize>())
            .sum();
        let span_id = |index: usize| {
            let mut id = [0u8; 8];
            id[..4].copy_from_slice(&salt.to_be_bytes());
            id[4..].copy_from_slice(&((index as u32) + 1).to_be_bytes());
            id.to_vec()
        };
        let mut next = 0;
        let resource_spans = groups
            .into_iter()
            .map(|(resource, schema_url, scopes)| ResourceSpans {
                resource,
                schema_url,
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, schema_url, spans)| ScopeSpans {
                        scope,
                        schema_url,
                        spans: spans
                            .into_iter()
                            .map(|(mut span, parent)| {
                                span.trace_id = trace_id.0.to_vec();
                                span.span_id = span_id(next);
                                span.parent_span_id = match parent {
                                    ParentChoice::None => Vec::new(),
                                    ParentChoice::Sibling(index) => span_id(index % span_count),
                                    ParentChoice::Nowhere(bytes) => bytes.to_vec(),
                                };
                                next += 1;
                                span
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        BlockInputTrace { trace_id, resource_spans }
    })
}

/// A block's worth of traces with distinct non-zero ids.
pub(crate) fn arb_block_input() -> impl Strategy<Value = Vec<BlockInputTrace>> {
    hash_set(any::<[u8; 16]>().prop_filter("non-zero", |id| *id != [0; 16]), 0..8)
        .prop_flat_map(|ids| ids.into_iter().map(|id| arb_trace(TraceId(id))).collect::<Vec<_>>())
}

/// Realistic traces: a few services, HTTP/DB/RPC spans with typical attributes, 4–30 spans
/// per trace. Deterministic for a seed.
pub(crate) fn realistic_traces(trace_count: usize, seed: u64) -> Vec<BlockInputTrace> {
    let mut random = SplitMix(seed);
    let services = ["frontend", "checkout", "cart", "payment", "shipping", "currency"];
    let routes = [
        "/api/cart",
        "/api/checkout/{id}",
        "/api/products/{id}",
        "/healthz",
        "/api/users/{id}/orders",
    ];
    (0..trace_count)
        .map(|_| {
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&random.next().to_be_bytes());
            trace_id[8..].copy_from_slice(&random.next().to_be_bytes());
            let start = 1_700_000_000_000_000_000 + random.below(3_600_000_000_000);
            let span_count = 4 + random.below(27) as usize;
            let mut spans_by_service: Vec<Vec<Span>> = vec![Vec::new(); services.len()];
            let mut span_ids: Vec<Vec<u8>> = Vec::new();
            for index in 0..span_count {
                let service =
                    if index == 0 { 0 } else { random.below(services.len() as u64) as usize };
                let span_id = random.next().to_be_bytes().to_vec();
                let parent = if index == 0 {
                    Vec::new()
                } else {
                    span_ids[random.below(index as u64) as usize].clone()
                };
                let span_start = start + random.below(50_000_000);
                let route = routes[random.below(routes.len() as u64) as usize];
                let kind_roll = random.below(3);
                let text = |key: &str, value: String| KeyValue {
                    key: key.to_string(),
                    value: Some(AnyValue { value: Some(Value::StringValue(value)) }),
                    key_strindex: 0,
                };
                let int = |key: &str, value: i64| KeyValue {
                    key: key.to_string(),
                    value: Some(AnyValue { value: Some(Value::IntValue(value)) }),
                    key_strindex: 0,
                };
                let (name, kind, attributes) = match kind_roll {
                    0 => (
                        format!("GET {route}"),
                        2,
                        vec![
                            text("http.request.method", "GET".to_string()),
                            text("http.route", route.to_string()),
                            text(
                                "url.full",
                                format!("https://shop.example.com{route}?q={}", random.below(1000)),
                            ),
                            int(
                                "http.response.status_code",
                                if random.below(20) == 0 { 500 } else { 200 },
                            ),
                            text("network.protocol.version", "1.1".to_string()),
                            text(
                                "user_agent.original",
                                "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0".to_string(),
                            ),
                        ],
                    ),
                    1 => (
                        "SELECT orders".to_string(),
                        3,
                        vec![
                            text("db.system", "postgresql".to_string()),
                            text("db.name", "shop".to_string()),
                            text(
                                "db.statement",
                                format!(
                                    "SELECT * FROM orders WHERE user_id = {}",
                                    random.below(100_000)
                                ),
                            ),
                            text("server.address", "db-0.shop.svc".to_string()),
                        ],
                    ),
                    _ => (
                        format!("{}/Process", services[service]),
                        1,
                        vec![
                            text("rpc.system", "grpc".to_string()),
                            text("rpc.service", format!("shop.{}", services[service])),
                            text("rpc.method", "Process".to_string()),
                            int("rpc.grpc.status_code", 0),
                        ],
                    ),
                };
                span_ids.push(span_id.clone());
                spans_by_service[service].push(Span {
                    trace_id: trace_id.to_vec(),
                    span_id,
                    parent_span_id: parent,
                    name,
                    kind,
                    start_time_unix_nano: span_start,
                    end_time_unix_nano: span_start + 100_000 + random.below(20_000_000),
                    attributes,
                    events: if random.below(10) == 0 {
                        vec![Event {
                            time_unix_nano: span_start + 5,
                            name: "exception".to_string(),
                            attributes: vec![text(
                                "exception.message",
                                "connection reset by peer".to_string(),
                            )],
                            dropped_attributes_count: 0,
                        }]
                    } else {
                        Vec::new()
                    },
                    status: Some(Status { code: 0, message: String::new() }),
                    ..Default::default()
                });
            }
            let resource_spans = spans_by_service
                .into_iter()
                .enumerate()
                .filter(|(_, spans)| !spans.is_empty())
                .map(|(service, spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            KeyValue {
                                key: "service.name".to_string(),
                                value: Some(AnyValue {
                                    value: Some(Value::StringValue(services[service].to_string())),
                                }),
                                key_strindex: 0,
                            },
                            KeyValue {
                                key: "k8s.pod.name".to_string(),
                                value: Some(AnyValue {
                                    value: Some(Value::StringValue(format!(
                                        "{}-7d9f8b-{}",
                                        services[service], service
                                    ))),
                                }),
                                key_strindex: 0,
                            },
                            KeyValue {
                                key: "telemetry.sdk.language".to_string(),
                                value: Some(AnyValue {
                                    value: Some(Value::StringValue("go".to_string())),
                                }),
                                key_strindex: 0,
                            },
                            KeyValue {
                                key: "telemetry.sdk.version".to_string(),
                                value: Some(AnyValue {
                                    value: Some(Value::StringValue("1.24.0".to_string())),
                                }),
                                key_strindex: 0,
                            },
                        ],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
                                .to_string(),
                            version: "0.46.1".to_string(),
                            ..Default::default()
                        }),
                        spans,
                        schema_url: "https://opentelemetry.io/schemas/1.24.0".to_string(),
                    }],
                    schema_url: String::new(),
                })
                .collect();
            BlockInputTrace { trace_id: TraceId(trace_id), resource_spans }
        })
        .collect()
}

/// A tiny deterministic generator (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}
