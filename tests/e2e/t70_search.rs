//! TraceQL search through `GET /api/search`: spans sent over OTLP/gRPC, found by what they
//! contain, returned in Tempo's JSON and protobuf shapes.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::{Value, json};

use crate::harness::clients::OtlpGrpc;
use crate::harness::{TestNode, flush_blocks_quickly, wait_until_in_blocks_and_evicted};

const SECOND: u64 = 1_000_000_000;
/// 2023-11-14T22:13:20Z: fixed, so expected JSON is fixed.
const BASE: u64 = 1_700_000_000 * SECOND;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

struct SpanSpec {
    service: &'static str,
    id: u8,
    parent: u8,
    name: &'static str,
    kind: SpanKind,
    error: bool,
    status_code: i64,
    start_ms: u64,
    duration_ms: u64,
}

/// One trace: every span in its own resource (so services differ per span).
fn trace(trace_byte: u8, start: u64, specs: &[SpanSpec]) -> Vec<ResourceSpans> {
    specs
        .iter()
        .map(|s| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", s.service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![trace_byte; 16],
                    span_id: vec![s.id; 8],
                    parent_span_id: if s.parent == 0 { Vec::new() } else { vec![s.parent; 8] },
                    name: s.name.into(),
                    kind: s.kind as i32,
                    start_time_unix_nano: start + s.start_ms * 1_000_000,
                    end_time_unix_nano: start + (s.start_ms + s.duration_ms) * 1_000_000,
                    attributes: vec![kv(
                        "http.status_code",
                        any_value::Value::IntValue(s.status_code),
                    )],
                    status: Some(Status {
                        code: if s.error { StatusCode::Error } else { StatusCode::Ok } as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect()
}

/// Trace 0xaa (older): frontend GET /cart → cart service call that fails with 500.
/// Trace 0xbb (newer): frontend GET /home, all fine.
pub(crate) fn shop() -> ExportTraceServiceRequest {
    let mut resource_spans = trace(
        0xaa,
        BASE,
        &[
            SpanSpec {
                service: "frontend",
                id: 1,
                parent: 0,
                name: "GET /cart",
                kind: SpanKind::Server,
                error: false,
                status_code: 200,
                start_ms: 0,
                duration_ms: 120,
            },
            SpanSpec {
                service: "cart",
                id: 2,
                parent: 1,
                name: "cart.get",
                kind: SpanKind::Client,
                error: true,
                status_code: 500,
                start_ms: 10,
                duration_ms: 100,
            },
        ],
    );
    resource_spans.extend(trace(
        0xbb,
        BASE + 60 * SECOND,
        &[SpanSpec {
            service: "frontend",
            id: 3,
            parent: 0,
            name: "GET /home",
            kind: SpanKind::Server,
            error: false,
            status_code: 200,
            start_ms: 0,
            duration_ms: 30,
        }],
    ));
    ExportTraceServiceRequest { resource_spans }
}

async fn search(node: &TestNode, query: &str, extra: &str) -> (u16, Value) {
    let path = format!("/api/search?q={}{extra}", urlencode(query));
    node.tempo().json(&path).await
}

pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn trace_ids(answer: &Value) -> Vec<String> {
    answer["traces"]
        .as_array()
        .unwrap_or_else(|| panic!("no traces array in {answer}"))
        .iter()
        .map(|t| t["traceID"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A filter finds the one trace that has the span, with Tempo's exact JSON for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_finds_the_matching_trace_in_tempos_shape() {
    let node = TestNode::start().await;
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop(), None).await.expect("export acknowledged");

    let (status, answer) = search(&node, "{ span.http.status_code = 500 }", "").await;
    assert_eq!(status, 200, "{answer}");
    let trace = &answer["traces"][0];
    let expected_set = json!({
        "spans": [{
            "spanID": "0202020202020202",
            "name": "cart.get",
            "startTimeUnixNano": (BASE + 10_000_000).to_string(),
            "durationNanos": "100000000",
            "attributes": [{"key": "http.status_code", "value": {"intValue": "500"}}]
        }],
        "matched": 1
    });
    assert_eq!(
        trace,
        &json!({
            "traceID": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "rootServiceName": "frontend",
            "rootTraceName": "GET /cart",
            "startTimeUnixNano": BASE.to_string(),
            "durationMs": 120,
            "spanSet": expected_set,
            "spanSets": [expected_set],
            "serviceStats": {"cart": {"spanCount": 1, "errorCount": 1}, "frontend": {"spanCount": 1}}
        })
    );
    assert_eq!(answer["traces"].as_array().map(Vec::len), Some(1));
    assert_eq!(answer["metrics"]["inspectedTraces"], 2, "{answer}");
    assert_eq!(answer["metrics"]["completedJobs"], answer["metrics"]["totalJobs"]);
}

/// Structure, no match, limit and order, protobuf, and bad queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structure_limits_order_protobuf_and_errors() {
    let node = TestNode::start().await;
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop(), None).await.expect("export acknowledged");

    let (_, answer) = search(&node, "{ kind = server } >> { status = error }", "").await;
    assert_eq!(trace_ids(&answer), ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]);
    assert_eq!(answer["traces"][0]["spanSets"][0]["spans"][0]["spanID"], "0202020202020202");

    let (_, answer) = search(&node, "{ resource.service.name = \"frontend\" }", "").await;
    assert_eq!(
        trace_ids(&answer),
        ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        "newest start first"
    );
    let (_, answer) = search(&node, "{}", "&limit=1").await;
    assert_eq!(trace_ids(&answer), ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"], "the newest one");

    let (status, answer) = search(&node, "{ .nope = 1 }", "").await;
    assert_eq!(status, 200);
    assert_eq!(answer["traces"], json!([]), "no match is an empty list, not a missing one");
    assert_eq!(answer["metrics"]["inspectedTraces"], 2);
    assert_eq!(answer["metrics"]["inspectedSpans"], "3", "64-bit numbers are strings");

    let (status, _, body) = node
        .tempo()
        .get(
            &format!("/api/search?q={}", urlencode("{ duration > 110ms }")),
            Some("application/protobuf"),
        )
        .await;
    assert_eq!(status, 200);
    let decoded =
        spanlake::proto::tempopb::SearchResponse::decode(body.as_slice()).expect("protobuf body");
    assert_eq!(decoded.traces.len(), 1);
    assert_eq!(decoded.traces[0].span_sets[0].spans[0].name, "GET /cart");

    let (status, _, body) =
        node.tempo().get(&format!("/api/search?q={}", urlencode("{ .a = }")), None).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("invalid TraceQL query: parse error at line 1, col 8"), "{body}");
    let (status, _, body) = node.tempo().get("/api/search?q=%7B%7D&spss=500", None).await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).trim_end()),
        (400, "spans per span set exceeds 100. received 500")
    );
}

/// `GET /api/search?tags=…` (logfmt; no `q`) and its answer in Tempo's JSON.
async fn tag_search(node: &TestNode, tags: &str, extra: &str) -> (u16, Value) {
    node.tempo().json(&format!("/api/search?tags={}{extra}", urlencode(tags))).await
}

/// The shop, plus trace 0xcc (newest): `billing` span `charge card` with span attribute
/// `plan="free tier"`.
fn shop_and_billing() -> ExportTraceServiceRequest {
    let mut request = shop();
    let mut billing = trace(
        0xcc,
        BASE + 120 * SECOND,
        &[SpanSpec {
            service: "billing",
            id: 4,
            parent: 0,
            name: "charge card",
            kind: SpanKind::Internal,
            error: false,
            status_code: 200,
            start_ms: 0,
            duration_ms: 50,
        }],
    );
    for resource_spans in &mut billing {
        for scope_spans in &mut resource_spans.scope_spans {
            for span in &mut scope_spans.spans {
                span.attributes.push(text("plan", "free tier"));
            }
        }
    }
    request.resource_spans.extend(billing);
    request
}

/// A legacy tag search finds traces by span attribute, by resource attribute (a substring
/// of `service.name`, as Tempo matches it), by a quoted value with a space, and by trace
/// duration; it answers trace metadata without spansets; malformed tags are a 400 that says
/// what is wrong and where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_tag_search_finds_traces_by_tags_and_duration() {
    let node = TestNode::start().await;
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop_and_billing(), None).await.expect("export acknowledged");
    const AA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const BB: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const CC: &str = "cccccccccccccccccccccccccccccccc";

    let (status, answer) = tag_search(&node, r#"plan="free tier""#, "").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["traces"],
        json!([{
            "traceID": CC,
            "rootServiceName": "billing",
            "rootTraceName": "charge card",
            "startTimeUnixNano": (BASE + 120 * SECOND).to_string(),
            "durationMs": 50,
            "serviceStats": {"billing": {"spanCount": 1}}
        }]),
        "trace metadata only: a tag search has no spansets"
    );
    let (_, answer) = tag_search(&node, "service.name=front", "").await;
    assert_eq!(trace_ids(&answer), [BB, AA], "substring, newest first");
    let (_, answer) = tag_search(&node, r#"name="GET /cart""#, "").await;
    assert_eq!(trace_ids(&answer), [AA]);
    let (_, answer) = tag_search(&node, "http.status_code=500 status.code=error", "").await;
    assert_eq!(trace_ids(&answer), [AA]);
    let (_, answer) = tag_search(&node, "service.name=frontend", "&minDuration=100ms").await;
    assert_eq!(trace_ids(&answer), [AA], "only the 120 ms trace is over 100 ms");
    let (_, answer) = tag_search(&node, "service.name=frontend", "&maxDuration=50ms").await;
    assert_eq!(trace_ids(&answer), [BB]);
    let (_, answer) = tag_search(&node, r#"plan="free""#, "").await;
    assert_eq!(answer["traces"], json!([]), "other attributes match whole values only");
    let (_, answer) = node.tempo().json("/api/search?plan=free%20tier").await;
    assert_eq!(trace_ids(&answer), [CC], "loose parameters are tags, as old Grafana sent");

    let refusals = [
        (
            format!("tags={}", urlencode("service.name=foo =error")),
            "invalid tags: unexpected '=' at pos 18",
        ),
        (
            format!("tags={}", urlencode(r#"plan="free"#)),
            "invalid tags: unterminated quoted value at pos 11",
        ),
        (format!("tags={}", urlencode("a=1 a=2")), "invalid tags: tag a has been set twice"),
        (
            format!("tags=a%3Db&q={}", urlencode("{}")),
            "invalid request: can't specify tags and q in the same query",
        ),
    ];
    for (query, expected) in refusals {
        let (status, _, body) = node.tempo().get(&format!("/api/search?{query}"), None).await;
        assert_eq!((status, String::from_utf8_lossy(&body).trim_end()), (400, expected), "{query}");
    }
}

/// Once the traces are in blocks and gone from memory, a search with a time window finds
/// them in the blocks, with the same answer as from live data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_traces_in_blocks() {
    let node = TestNode::start_with(flush_blocks_quickly).await;
    let tempo = node.tempo();
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop(), None).await.expect("export acknowledged");
    let window = format!("&start={}&end={}", BASE / SECOND - 60, BASE / SECOND + 600);
    let query = "{ span.http.status_code = 500 }";
    let (_, live) = search(&node, query, &window).await;
    assert_eq!(trace_ids(&live), ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]);

    wait_until_in_blocks_and_evicted(&tempo, "the traces in blocks and evicted from memory").await;
    let (status, from_blocks) = search(&node, query, &window).await;
    assert_eq!(status, 200, "{from_blocks}");
    assert_eq!(from_blocks["traces"], live["traces"], "same answer from blocks as from memory");
    assert!(from_blocks["metrics"]["totalBlocks"].as_u64() >= Some(1), "{from_blocks}");
    assert!(from_blocks["metrics"]["totalBlockBytes"].as_str().is_some(), "{from_blocks}");

    let (_, structural) = search(&node, "{ kind = server } >> { status = error }", &window).await;
    assert_eq!(trace_ids(&structural), ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]);
    let (_, outside) = search(&node, query, "&start=1000&end=2000").await;
    assert_eq!(outside["traces"], json!([]), "blocks outside the window are not read");
    let (_, recent_only) = search(&node, query, "").await;
    assert_eq!(recent_only["traces"], json!([]), "without start/end only live data is searched");
    let (status, tagged) = tag_search(&node, "http.status_code=500", &window).await;
    assert_eq!((status, trace_ids(&tagged)), (200, vec!["a".repeat(32)]), "tags search blocks too");
    let (_, long) =
        tag_search(&node, "service.name=frontend", &format!("{window}&minDuration=100ms")).await;
    assert_eq!(trace_ids(&long), ["a".repeat(32)], "and so does minDuration");
}
