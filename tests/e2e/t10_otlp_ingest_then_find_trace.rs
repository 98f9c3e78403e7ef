//! Spans sent over every OTLP transport read back by id through v1 and v2, JSON and protobuf,
//! identical field by field.

use base64::Engine;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use prost::Message;

use crate::harness::TestNode;
use crate::harness::clients::{OtlpGrpc, gzip, must_post_protobuf, post_otlp_http, spans_in};
use crate::harness::spans::{self, hex};

/// Sorts a trace's spans by id so two reads compare regardless of fragment order.
fn sorted_spans(resource_spans: &[ResourceSpans]) -> Vec<Span> {
    let mut spans: Vec<Span> = spans_in(resource_spans).into_iter().cloned().collect();
    spans.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    spans
}

/// The resource and scope every span of a trace was sent with must come back with it.
fn assert_same_context(sent: &ResourceSpans, found: &[ResourceSpans]) {
    for resource_spans in found {
        assert_eq!(resource_spans.resource, sent.resource, "resource");
        assert_eq!(resource_spans.schema_url, sent.schema_url, "resource schema url");
        for scope_spans in &resource_spans.scope_spans {
            assert_eq!(scope_spans.scope, sent.scope_spans[0].scope, "scope");
            assert_eq!(scope_spans.schema_url, sent.scope_spans[0].schema_url, "scope schema url");
        }
    }
}

/// Every transport (gRPC+gzip, HTTP protobuf, HTTP protobuf+gzip) stores every field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_from_every_transport_read_back_identical_by_id() {
    let node = TestNode::start().await;
    let tempo = node.tempo();
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;

    tracing::info!("--- send one trace per transport, three spans each");
    let grpc_request = spans::request(&[1], 3);
    grpc.export(grpc_request.clone(), None).await.expect("gRPC export acknowledged");
    let http_request = spans::request(&[2], 3);
    must_post_protobuf(&node.otlp_http_url(), &http_request).await;
    let gzip_request = spans::request(&[3], 3);
    let (status, _, _) = post_otlp_http(
        &node.otlp_http_url(),
        "application/x-protobuf",
        Some("gzip"),
        gzip(&gzip_request.encode_to_vec()),
    )
    .await;
    assert_eq!(status, 200);

    for (seed, sent) in [(1, &grpc_request), (2, &http_request), (3, &gzip_request)] {
        let trace_hex = hex(&spans::trace_id(seed));
        let expected: Vec<Span> = {
            let mut spans: Vec<Span> = spans::spans_of(sent).into_iter().cloned().collect();
            spans.sort_by(|a, b| a.span_id.cmp(&b.span_id));
            spans
        };
        {
            tracing::info!("--- v2 protobuf returns every field of trace {seed}");
            let found = tempo.trace_v2_protobuf(&trace_hex).await;
            assert_eq!(sorted_spans(&found), expected);
            assert_same_context(&sent.resource_spans[0], &found);
        }
        {
            tracing::info!("--- v1 protobuf returns the same spans");
            let found = tempo.trace_v1_protobuf(&trace_hex).await.expect("v1 finds the trace");
            assert_eq!(sorted_spans(&found), expected);
        }
    }
}

/// The JSON renderings follow Tempo's jsonpb rules field by field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_traces_use_tempo_encoding() {
    let node = TestNode::start().await;
    let tempo = node.tempo();
    let request = spans::request(&[7], 2);
    must_post_protobuf(&node.otlp_http_url(), &request).await;
    let trace_hex = hex(&spans::trace_id(7));
    let base64 = base64::engine::general_purpose::STANDARD;

    {
        tracing::info!("--- v1 JSON: batches, base64 ids, enum names, 64-bit strings");
        let (status, body) = tempo.json(&format!("/api/traces/{trace_hex}")).await;
        assert_eq!(status, 200);
        let batch = &body["batches"][0];
        assert_eq!(batch["resource"]["attributes"][0]["key"], "service.name");
        assert_eq!(batch["resource"]["attributes"][0]["value"]["stringValue"], "shop");
        assert_eq!(batch["resource"]["droppedAttributesCount"], 6);
        let scope = &batch["scopeSpans"][0];
        assert_eq!(scope["scope"]["name"], "shop-lib");
        assert_eq!(scope["scope"]["version"], "1.2.3");
        let json_spans = scope["spans"].as_array().expect("spans");
        assert_eq!(json_spans.len(), 2);
        let sent_root = spans::rich_span(7, 0, 2);
        let root = json_spans
            .iter()
            .find(|span| span["spanId"] == base64.encode(&sent_root.span_id))
            .expect("root span by base64 id");
        assert_eq!(root["traceId"], base64.encode(spans::trace_id(7)));
        assert_eq!(root["kind"], "SPAN_KIND_SERVER");
        assert_eq!(root["name"], "op-0");
        assert_eq!(root["traceState"], "vendor=x");
        assert_eq!(root["flags"], 0x101);
        assert_eq!(root["startTimeUnixNano"], sent_root.start_time_unix_nano.to_string());
        assert_eq!(root["endTimeUnixNano"], sent_root.end_time_unix_nano.to_string());
        assert!(root.get("parentSpanId").is_none(), "empty parent omitted");
        assert_eq!(root["status"]["code"], "STATUS_CODE_OK");
        let attributes = root["attributes"].as_array().expect("attributes");
        let by_key =
            |key: &str| attributes.iter().find(|a| a["key"] == key).expect(key)["value"].clone();
        assert_eq!(by_key("big.int")["intValue"], (i64::MAX - 7).to_string());
        assert_eq!(by_key("ratio")["doubleValue"], 7.25);
        assert_eq!(
            by_key("cache.hit")["boolValue"],
            false,
            "a oneof member is kept even when false"
        );
        assert_eq!(by_key("payload")["bytesValue"], base64.encode([0u8, 1, 2, 0xff]));
        assert_eq!(by_key("tags")["arrayValue"]["values"][1]["intValue"], "7");
        assert_eq!(by_key("nested")["kvlistValue"]["values"][0]["value"]["stringValue"], "v");
        assert_eq!(root["events"][0]["name"], "exception");
        assert_eq!(
            root["events"][0]["timeUnixNano"],
            (sent_root.start_time_unix_nano + 10).to_string()
        );
        assert_eq!(root["links"][0]["traceState"], "linked=1");
        assert_eq!(root["droppedLinksCount"], 5);
        let child = json_spans.iter().find(|span| span["name"] == "op-1").expect("child span");
        assert_eq!(child["kind"], "SPAN_KIND_CLIENT");
        assert_eq!(child["parentSpanId"], base64.encode(&sent_root.span_id));
        assert_eq!(child["status"]["code"], "STATUS_CODE_ERROR");
        assert_eq!(child["status"]["message"], "failed");
    }
    {
        tracing::info!("--- v2 JSON: trace.resourceSpans and metrics");
        let (status, body) = tempo.json(&format!("/api/v2/traces/{trace_hex}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            body["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap().len(),
            2
        );
        assert!(body["metrics"]["inspectedBytes"].is_string(), "inspectedBytes is a 64-bit string");
        assert!(body.get("status").is_none(), "complete traces carry no status");
    }
    {
        tracing::info!("--- a 64-bit id finds the trace left-padded; uppercase hex works");
        let (status, _) = tempo.json(&format!("/api/traces/{}", trace_hex.to_uppercase())).await;
        assert_eq!(status, 200);
    }
}

/// OTLP/JSON in either key style, with ids in hex and 64-bit numbers as strings or numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_json_in_both_key_styles_is_stored() {
    let node = TestNode::start().await;
    let tempo = node.tempo();
    let camel = serde_json::json!({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"demo-svc"}}]},
        "scopeSpans":[{"scope":{"name":"demo-lib","version":"0.1"},"spans":[{
        "traceId":"5B8EFFF798038103D269B633813FC700","spanId":"EEE19B7EC3C1B100",
        "name":"demo-span","kind":2,"startTimeUnixNano":1689969302000000000u64,"endTimeUnixNano":"1689970000000000000",
        "attributes":[{"key":"demo.attr","value":{"intValue":"42"}}],"status":{"code":"STATUS_CODE_ERROR"}}]}]}]});
    let (status, headers, body) = post_otlp_http(
        &node.otlp_http_url(),
        "application/json",
        None,
        camel.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), serde_json::json!({}));

    let snake = serde_json::json!({"resource_spans":[{"scope_spans":[{"spans":[{
        "trace_id":"5b8efff798038103d269b633813fc700","span_id":"eee19b7ec3c1b101","parent_span_id":"EEE19B7EC3C1B100",
        "name":"child","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":"1689969302100000000","end_time_unix_nano":1689969302200000000u64}]}]}]});
    let (status, _, body) = post_otlp_http(
        &node.otlp_http_url(),
        "application/json",
        Some("gzip"),
        gzip(snake.to_string().as_bytes()),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let found = tempo.trace_v2_protobuf("5b8efff798038103d269b633813fc700").await;
    let spans = spans_in(&found);
    assert_eq!(spans.len(), 2);
    let root = spans.iter().find(|span| span.name == "demo-span").expect("root");
    assert_eq!(root.kind, 2);
    assert_eq!(root.start_time_unix_nano, 1_689_969_302_000_000_000);
    assert_eq!(root.status.as_ref().unwrap().code, 2);
    let child = spans.iter().find(|span| span.name == "child").expect("child");
    assert_eq!(hex(&child.parent_span_id), "eee19b7ec3c1b100");
    assert_eq!(child.kind, 3);
}

/// Unknown traces: v1 answers 404 with an empty body, v2 200 with an empty trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_traces_are_answered_as_each_version_does() {
    let node = TestNode::start().await;
    let tempo = node.tempo();
    let (status, _, body) = tempo.get("/api/traces/abc123", None).await;
    assert_eq!((status, body.len()), (404, 0));
    let (status, body) = tempo.json("/api/v2/traces/abc123").await;
    assert_eq!(status, 200);
    assert_eq!(body["trace"], serde_json::json!({}));
    assert!(body["metrics"].is_object());
    assert!(tempo.trace_v2_protobuf("abc123").await.is_empty(), "protobuf carries an empty trace");
}
