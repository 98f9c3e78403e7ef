//! Tag autocomplete (`/api/search/tags`, `/api/v2/search/tags`, `…/tag/<tag>/values`): spans
//! sent over OTLP/gRPC, their names and values listed from live data, then the same answers
//! from block tag dictionaries once the traces have left the live-store. Live answers from
//! the live-store's tag summaries are in [`summaries`].

mod summaries;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::{Value, json};
use spanlake::proto::tempopb;

use crate::harness::clients::{OtlpGrpc, TempoClient};
use crate::harness::{
    TestNode, flush_blocks_quickly, local_block_ranges, wait_until_in_blocks_and_evicted,
};

const SECOND: u64 = 1_000_000_000;
/// 2023-11-14T22:13:20Z: fixed, so a `start`/`end` window around it is fixed too.
const BASE_SECONDS: u64 = 1_700_000_000;
/// A window holding every span sent here.
const WINDOW: &str = "start=1699996400&end=1700003600";

/// What v1 tag names (no scope) answer for the [`shop`] trace: every attribute name of
/// every scope, unscoped, de-duplicated and sorted, without intrinsics.
pub(crate) const V1_TAG_NAMES: [&str; 10] = [
    "attr/slash",
    "cache key #1 & 100%",
    "deployment.environment",
    "exception.type",
    "http.method",
    "http.status_code",
    "link.reason",
    "retry.ratio",
    "scope.sampled",
    "service.name",
];

/// The exact intrinsic list of tempo-api.md §4.2.
pub(crate) const INTRINSICS: [&str; 25] = [
    "duration",
    "event:name",
    "event:timeSinceStart",
    "instrumentation:name",
    "instrumentation:version",
    "kind",
    "link:spanID",
    "link:traceID",
    "name",
    "rootName",
    "rootServiceName",
    "span:duration",
    "span:id",
    "span:kind",
    "span:name",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "status",
    "statusMessage",
    "trace:duration",
    "trace:id",
    "trace:rootName",
    "trace:rootService",
    "traceDuration",
];

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

/// One span in its own resource and scope.
fn resource_span(service: &str, span: Span) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![text("service.name", service), text("deployment.environment", "prod")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "shop-lib".into(),
                version: "1.2.3".into(),
                attributes: vec![kv("scope.sampled", any_value::Value::BoolValue(true))],
                ..Default::default()
            }),
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A shop trace: `frontend` GET /cart (server, 200) → `cart` cart.get (client, error 500,
/// with an event, a link and an attribute whose name holds `/`).
pub(crate) fn shop() -> ExportTraceServiceRequest {
    let start = BASE_SECONDS * SECOND;
    let root = Span {
        trace_id: vec![0xaa; 16],
        span_id: vec![1; 8],
        name: "GET /cart".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 120_000_000,
        attributes: vec![text("http.method", "GET"), int("http.status_code", 200)],
        status: Some(Status { code: StatusCode::Ok as i32, ..Default::default() }),
        ..Default::default()
    };
    let child = Span {
        trace_id: vec![0xaa; 16],
        span_id: vec![2; 8],
        parent_span_id: vec![1; 8],
        name: "cart.get".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start + 10_000_000,
        end_time_unix_nano: start + 110_000_000,
        attributes: vec![
            int("http.status_code", 500),
            kv("retry.ratio", any_value::Value::DoubleValue(0.25)),
            text("attr/slash", "a/b"),
            text("cache key #1 & 100%", "🚀"),
        ],
        events: vec![Event {
            time_unix_nano: start + 20_000_000,
            name: "exception".into(),
            attributes: vec![text("exception.type", "Timeout")],
            ..Default::default()
        }],
        links: vec![Link {
            trace_id: vec![0xbb; 16],
            span_id: vec![9; 8],
            attributes: vec![text("link.reason", "retry")],
            ..Default::default()
        }],
        status: Some(Status { code: StatusCode::Error as i32, message: "upstream timeout".into() }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![resource_span("frontend", root), resource_span("cart", child)],
    }
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn must_json(tempo: &TempoClient, path: &str) -> Value {
    let (status, body) = tempo.json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn must_fail(tempo: &TempoClient, path: &str) -> (u16, String) {
    let (status, _, body) = tempo.get(path, None).await;
    (status, String::from_utf8_lossy(&body).trim_end().to_string())
}

/// v2 scopes as a map `scope → tags`, checking each scope appears once.
fn scopes(answer: &Value) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for scope in answer["scopes"].as_array().unwrap_or_else(|| panic!("no scopes: {answer}")) {
        let name = scope["name"].as_str().unwrap_or_default().to_string();
        assert!(map.insert(name, scope["tags"].clone()).is_none(), "scope twice: {answer}");
    }
    map
}

/// Typed values as `type:value` strings, sorted.
fn typed(answer: &Value) -> Vec<String> {
    let mut values: Vec<String> = answer["tagValues"]
        .as_array()
        .unwrap_or_else(|| panic!("no tagValues: {answer}"))
        .iter()
        .map(|v| {
            format!("{}:{}", v["type"].as_str().unwrap_or(""), v["value"].as_str().unwrap_or(""))
        })
        .collect();
    values.sort();
    values
}

/// v2 values of `tag` (put in the path as given) with extra parameters.
async fn values_v2(tempo: &TempoClient, tag_in_path: &str, params: &str) -> Vec<String> {
    typed(&must_json(tempo, &format!("/api/v2/search/tag/{tag_in_path}/values?{params}")).await)
}

/// The names and values of [`shop`], asked with `params` (empty: live data; a window: live
/// data and blocks). The same whichever holds the spans.
async fn assert_shop_tags(tempo: &TempoClient, params: &str) {
    let answer = must_json(tempo, &format!("/api/v2/search/tags?{params}")).await;
    assert!(answer["metrics"]["inspectedBytes"].is_string(), "64-bit as a string: {answer}");
    assert_eq!(answer["metrics"]["completedJobs"], answer["metrics"]["totalJobs"], "{answer}");
    let by_scope = scopes(&answer);
    assert_eq!(by_scope["resource"], json!(["deployment.environment", "service.name"]));
    assert_eq!(
        by_scope["span"],
        json!([
            "attr/slash",
            "cache key #1 & 100%",
            "http.method",
            "http.status_code",
            "retry.ratio"
        ])
    );
    assert_eq!(by_scope["event"], json!(["exception.type"]));
    assert_eq!(by_scope["link"], json!(["link.reason"]));
    assert_eq!(by_scope["instrumentation"], json!(["scope.sampled"]));
    assert_eq!(by_scope["intrinsic"], json!(INTRINSICS));
    assert_eq!(by_scope.len(), 6);

    let answer = must_json(tempo, &format!("/api/search/tags?{params}")).await;
    assert_eq!(
        answer["tagNames"],
        json!(V1_TAG_NAMES),
        "v1: unscoped, de-duplicated, no intrinsics"
    );

    assert_eq!(
        values_v2(tempo, "resource.service.name", params).await,
        ["string:cart", "string:frontend"]
    );
    assert_eq!(values_v2(tempo, ".service.name", params).await, ["string:cart", "string:frontend"]);
    assert_eq!(values_v2(tempo, "span.http.status_code", params).await, ["int:200", "int:500"]);
    assert_eq!(values_v2(tempo, "span.retry.ratio", params).await, ["float:0.25"]);
    assert_eq!(values_v2(tempo, "name", params).await, ["string:GET /cart", "string:cart.get"]);
    assert_eq!(
        values_v2(tempo, "span:name", params).await,
        ["string:GET /cart", "string:cart.get"]
    );
    assert_eq!(values_v2(tempo, "rootServiceName", params).await, ["string:frontend"]);
    assert_eq!(values_v2(tempo, "statusMessage", params).await, ["string:upstream timeout"]);
    assert_eq!(values_v2(tempo, "event:name", params).await, ["string:exception"]);
    assert_eq!(values_v2(tempo, "span.attr/slash", params).await, ["string:a/b"], "raw /");
    assert_eq!(values_v2(tempo, "span.attr%2Fslash", params).await, ["string:a/b"], "%2F");
    let odd = urlencode("span.\"cache key #1 & 100%\"");
    assert_eq!(values_v2(tempo, &odd, params).await, ["string:🚀"]);

    let answer = must_json(tempo, &format!("/api/search/tag/service.name/values?{params}")).await;
    assert_eq!(answer["tagValues"], json!(["cart", "frontend"]));
    let answer =
        must_json(tempo, &format!("/api/search/tag/http.status_code/values?{params}")).await;
    assert_eq!(answer["tagValues"], json!(["200", "500"]), "v1 values are strings");
}

/// Every route over live data: scopes, the intrinsic list, typed and virtual values, names
/// with `/`, `q`, limits, protobuf and the 400s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_values_of_live_traces_in_tempos_shapes() {
    let node = TestNode::start().await;
    let tempo = node.tempo();
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop(), None).await.expect("export acknowledged");

    tracing::info!("--- every scope, every route, from live data (with and without a window)");
    {
        assert_shop_tags(&tempo, "").await;
        assert_shop_tags(&tempo, WINDOW).await;
    }

    tracing::info!("--- scopes: one scope, intrinsics only with scope=intrinsic in v1");
    {
        let answer = must_json(&tempo, "/api/v2/search/tags?scope=resource").await;
        assert_eq!(
            answer["scopes"],
            json!([{"name": "resource", "tags": ["deployment.environment", "service.name"]}])
        );
        let answer = must_json(&tempo, "/api/v2/search/tags?scope=intrinsic").await;
        assert_eq!(answer["scopes"], json!([{"name": "intrinsic", "tags": INTRINSICS}]));
        let answer = must_json(&tempo, "/api/v2/search/tags?scope=none").await;
        assert_eq!(scopes(&answer).len(), 6);
        let answer = must_json(&tempo, "/api/search/tags?scope=intrinsic").await;
        assert_eq!(answer["tagNames"], json!(INTRINSICS));
        let answer = must_json(&tempo, "/api/search/tags?scope=event").await;
        assert_eq!(answer["tagNames"], json!(["exception.type"]));
        assert_eq!(answer["metrics"]["inspectedBytes"].as_str().map(|b| b != "0"), Some(true));
        for route in ["/api/search/tags", "/api/v2/search/tags"] {
            assert_eq!(
                must_fail(&tempo, &format!("{route}?scope=spans")).await,
                (400, "invalid scope: spans".to_string())
            );
        }
    }

    tracing::info!("--- virtual values: status, kind, durations; v1 status.code and error");
    {
        assert_eq!(
            values_v2(&tempo, "status", "").await,
            ["keyword:error", "keyword:ok", "keyword:unset"]
        );
        assert_eq!(values_v2(&tempo, "span:status", "").await.len(), 3);
        let kinds = values_v2(&tempo, "kind", "").await;
        assert_eq!(
            kinds,
            [
                "keyword:client",
                "keyword:consumer",
                "keyword:internal",
                "keyword:producer",
                "keyword:server",
                "keyword:unspecified"
            ]
        );
        assert_eq!(values_v2(&tempo, "span:kind", "").await, kinds);
        for tag in ["duration", "span:duration", "traceDuration"] {
            assert!(values_v2(&tempo, tag, "").await.is_empty(), "{tag}");
        }
        let answer = must_json(&tempo, "/api/search/tag/status.code/values").await;
        assert_eq!(answer["tagValues"], json!(["error", "ok", "unset"]));
        let answer = must_json(&tempo, "/api/search/tag/error/values").await;
        assert_eq!(answer["tagValues"], json!(["true"]));
    }

    tracing::info!("--- q restricts the spans that contribute; an incomplete q is ignored");
    {
        let cart = urlencode("{ resource.service.name = \"cart\" }");
        let answer = must_json(&tempo, &format!("/api/v2/search/tags?scope=span&q={cart}")).await;
        assert_eq!(
            answer["scopes"],
            json!([{"name": "span", "tags": ["attr/slash", "cache key #1 & 100%", "http.status_code", "retry.ratio"]}])
        );
        let errors = urlencode("{ status = error }");
        assert_eq!(
            values_v2(&tempo, "span.http.status_code", &format!("q={errors}")).await,
            ["int:500"]
        );
        assert_eq!(values_v2(&tempo, "name", &format!("q={errors}")).await, ["string:cart.get"]);
        let incomplete = urlencode("{ resource.service.name = \"cart\" && span.http.method = }");
        assert_eq!(
            values_v2(&tempo, "resource.service.name", &format!("q={incomplete}")).await,
            ["string:cart", "string:frontend"]
        );
        let ors = (0..101).map(|n| format!(".a = {n}")).collect::<Vec<_>>().join(" || ");
        let (status, body) = must_fail(
            &tempo,
            &format!("/api/v2/search/tags?q={}", urlencode(&format!("{{ {ors} }}"))),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(body.starts_with("maximum condition groups reached (limit: 100)"), "{body}");
    }

    tracing::info!("--- limit per scope, maxStaleValues, and the values routes' strict numbers");
    {
        let answer = must_json(&tempo, "/api/v2/search/tags?limit=1").await;
        let by_scope = scopes(&answer);
        assert_eq!(by_scope["span"].as_array().map(Vec::len), Some(1), "{answer}");
        assert_eq!(by_scope["resource"].as_array().map(Vec::len), Some(1), "{answer}");
        assert_eq!(by_scope["intrinsic"], json!(INTRINSICS), "the intrinsic list is not limited");
        assert_eq!(values_v2(&tempo, "name", "limit=1").await.len(), 1);
        let answer = must_json(&tempo, "/api/search/tags?limit=2").await;
        assert_eq!(answer["tagNames"].as_array().map(Vec::len), Some(2));
        let answer = must_json(&tempo, "/api/v2/search/tags?maxStaleValues=1&scope=resource").await;
        assert!(answer["scopes"][0]["tags"].as_array().is_some_and(|tags| !tags.is_empty()));
        let answer = must_json(&tempo, "/api/v2/search/tags?limit=lots").await;
        assert_eq!(scopes(&answer).len(), 6, "the names routes ignore a bad limit, as Tempo");
        assert_eq!(
            must_fail(&tempo, "/api/v2/search/tag/name/values?limit=lots").await,
            (
                400,
                r#"invalid limit: strconv.ParseUint: parsing "lots": invalid syntax"#.to_string()
            )
        );
        assert_eq!(
            must_fail(&tempo, "/api/search/tags?start=soon").await,
            (400, r#"invalid start: strconv.ParseInt: parsing "soon": invalid syntax"#.to_string())
        );
        assert_eq!(
            must_fail(&tempo, "/api/v2/search/tags?start=1&end=999999").await,
            (
                400,
                "range specified by start and end exceeds 168h0m0s. received start=1 end=999999"
                    .to_string()
            )
        );
    }

    tracing::info!("--- an invalid v2 identifier is a 400; protobuf on request");
    {
        let (status, body) = must_fail(&tempo, "/api/v2/search/tag/app.user.id/values").await;
        assert_eq!(status, 400);
        assert!(
            body.starts_with("please provide a valid tagName: failed to parse identifier app.user.id: parse error at line 1, col 2"),
            "{body}"
        );
        let (status, content_type, body) =
            tempo.get("/api/v2/search/tags?scope=resource", Some("application/protobuf")).await;
        assert_eq!((status, content_type.as_str()), (200, "application/protobuf"));
        let decoded =
            tempopb::SearchTagsV2Response::decode(body.as_slice()).expect("protobuf body");
        assert_eq!(decoded.scopes[0].tags, ["deployment.environment", "service.name"]);
        let (_, _, body) = tempo
            .get("/api/v2/search/tag/span.http.status_code/values", Some("application/protobuf"))
            .await;
        let decoded =
            tempopb::SearchTagValuesV2Response::decode(body.as_slice()).expect("protobuf body");
        assert_eq!(decoded.tag_values.len(), 2);
        assert_eq!(decoded.tag_values[0].r#type, "int");
    }
}

/// Once the traces are in blocks and the live-store has evicted them, a window answers the
/// same names and values from the blocks' tag dictionaries; without a window there is no live
/// data left; a filtering `q` cannot use a dictionary, so it has nothing to answer from; a
/// block without a dictionary (an older block) is skipped, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_tags_come_from_block_dictionaries_after_eviction() {
    let node = TestNode::start_with(flush_blocks_quickly).await;
    let tempo = node.tempo();
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop(), None).await.expect("export acknowledged");
    wait_until_in_blocks_and_evicted(&tempo, "the trace in a block and evicted from memory").await;

    tracing::info!("--- no window: live data only, and there is none");
    {
        let answer = must_json(&tempo, "/api/v2/search/tags").await;
        assert_eq!(answer["scopes"], json!([{"name": "intrinsic", "tags": INTRINSICS}]));
        assert!(values_v2(&tempo, "resource.service.name", "").await.is_empty());
    }

    tracing::info!("--- a window: the blocks' dictionaries give the same answers as live data");
    {
        assert_shop_tags(&tempo, WINDOW).await;
        let answer = must_json(&tempo, &format!("/api/v2/search/tags?{WINDOW}")).await;
        assert_eq!(answer["metrics"]["totalJobs"], 1, "one block, no live traces: {answer}");
    }

    tracing::info!("--- a filtering q reads live data only");
    {
        let cart = urlencode("{ resource.service.name = \"cart\" }");
        let values = values_v2(&tempo, "name", &format!("{WINDOW}&q={cart}")).await;
        assert!(values.is_empty(), "{values:?}");
        let trivial = urlencode("{ }");
        let values = values_v2(&tempo, "name", &format!("{WINDOW}&q={trivial}")).await;
        assert_eq!(
            values,
            ["string:GET /cart", "string:cart.get"],
            "a trivially true q reads blocks"
        );
    }

    tracing::info!("--- a block without tags.json (written before it existed) is skipped");
    {
        let blocks_dir = node.config.storage.trace.local.path.clone();
        let mut removed = 0;
        for (tenant, partition, first, last) in local_block_ranges(&blocks_dir) {
            let block = format!("p{partition}-{first:020}-{last:020}");
            std::fs::remove_file(blocks_dir.join(tenant).join(block).join("tags.json"))
                .expect("every block has a tag dictionary");
            removed += 1;
        }
        assert_eq!(removed, 1);
        // A fresh node: nothing cached, the block is listed from the store.
        let config = node.config.clone();
        let mut node = node;
        node.node.take().expect("running").shutdown().await;
        node.node = Some(spanlake::Node::start(config).await.expect("restart"));
        let answer = must_json(&node.tempo(), &format!("/api/v2/search/tags?{WINDOW}")).await;
        assert_eq!(answer["scopes"], json!([{"name": "intrinsic", "tags": INTRINSICS}]));
        assert!(values_v2(&node.tempo(), "name", WINDOW).await.is_empty());
        let trace = node.tempo().trace_v2_protobuf(&"aa".repeat(16)).await;
        assert_eq!(trace.len(), 2, "the block itself still serves its traces");
    }
}

/// With multi-tenancy on, tag routes need `X-Scope-OrgID` and list only the tenant's tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_per_tenant() {
    let node = TestNode::start_with(|config| config.multitenancy_enabled = true).await;
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop(), Some("team-a")).await.expect("export acknowledged");
    let client = reqwest::Client::new();
    let get = |path: &str, tenant: Option<&str>| {
        let mut request = client.get(format!("{}{path}", node.query_url()));
        if let Some(tenant) = tenant {
            request = request.header("X-Scope-OrgID", tenant);
        }
        async move {
            let response = request.send().await.expect("query API");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };
    let path = "/api/v2/search/tag/resource.service.name/values";
    assert_eq!(get(path, None).await, (401, "no org id\n".to_string()));
    let (status, body) = get(path, Some("team-a")).await;
    assert_eq!(status, 200);
    assert_eq!(typed(&serde_json::from_str(&body).unwrap()), ["string:cart", "string:frontend"]);
    let (_, body) = get(path, Some("team-b")).await;
    assert!(typed(&serde_json::from_str(&body).unwrap()).is_empty());
    let (_, body) = get(path, Some("team-b|team-a")).await;
    assert_eq!(typed(&serde_json::from_str(&body).unwrap()).len(), 2, "federated");
}
