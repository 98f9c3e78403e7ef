//! The tag methods of `StreamingQuerier` (`SearchTags`, `SearchTagsV2`, `SearchTagValues`,
//! `SearchTagValuesV2`): spans sent over OTLP, then every answer asked over gRPC and compared
//! with what the node's HTTP route answers (in protobuf) for the same request (the final
//! message; every stream is checked by [`complete`]).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use prost::Message;
use spanlake::proto::tempopb;
use spanlake::proto::tempopb::streaming_querier_client::StreamingQuerierClient;
use tonic::transport::Channel;
use tracing::info;

use super::connect;
use super::tag_messages::complete;
use crate::harness::clients::OtlpGrpc;
use crate::harness::{TestNode, flush_blocks_quickly, wait_for, wait_until_in_blocks_and_evicted};
use crate::t70_search::urlencode;
use crate::t80_tags::{INTRINSICS, V1_TAG_NAMES, shop};

/// Seconds around every span of [`shop`] (t80's `WINDOW`).
const WINDOW_START: u32 = 1_699_996_400;
const WINDOW_END: u32 = 1_700_003_600;

type Client = StreamingQuerierClient<Channel>;

/// A gRPC request with `x-scope-orgid` when a tenant is given.
fn with_tenant<T>(message: T, tenant: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(tenant) = tenant {
        request.metadata_mut().insert("x-scope-orgid", tenant.parse().expect("ascii"));
    }
    request
}

/// Every message of a server-streaming call, or its status.
pub(super) async fn read_all<T>(
    call: impl Future<Output = Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>>,
) -> Result<Vec<T>, tonic::Status> {
    let mut stream = call.await?.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok(messages)
}

/// `GET path` with `Accept: application/protobuf` (and `X-Scope-OrgID`): status and body.
async fn http_get(node: &TestNode, path: &str, tenant: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", node.query_url()))
        .header("Accept", "application/protobuf");
    if let Some(tenant) = tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    let response = request.send().await.expect("query API answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

/// The protobuf answer of an HTTP route.
pub(super) async fn http_answer<M: Message + Default>(
    node: &TestNode,
    path: &str,
    tenant: Option<&str>,
) -> M {
    let (status, body) = http_get(node, path, tenant).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    M::decode(body.as_slice()).expect("protobuf answer")
}

/// The query string the HTTP routes read into the same request message.
fn params(scope: &str, q: &str, start: u32, end: u32, limit: u32, max_stale: u32) -> String {
    let mut params = Vec::new();
    let mut text = |name: &str, value: &str| {
        if !value.is_empty() {
            params.push(format!("{name}={}", urlencode(value)));
        }
    };
    text("scope", scope);
    text("q", q);
    let mut number = |name: &str, value: u32| {
        if value != 0 {
            params.push(format!("{name}={value}"));
        }
    };
    number("start", start);
    number("end", end);
    number("limit", limit);
    number("maxStaleValues", max_stale);
    params.join("&")
}

fn tags_path(route: &str, r: &tempopb::SearchTagsRequest) -> String {
    let query =
        params(&r.scope, &r.query, r.start, r.end, r.max_tags_per_scope, r.stale_values_threshold);
    format!("{route}?{query}")
}

pub(super) fn values_path(prefix: &str, r: &tempopb::SearchTagValuesRequest) -> String {
    let query = params("", &r.query, r.start, r.end, r.max_tag_values, r.stale_value_threshold);
    format!("{prefix}{}/values?{query}", urlencode(&r.tag_name))
}

fn tags_request(scope: &str, q: &str) -> tempopb::SearchTagsRequest {
    tempopb::SearchTagsRequest { scope: scope.into(), query: q.into(), ..Default::default() }
}

fn values_request(tag: &str, q: &str) -> tempopb::SearchTagValuesRequest {
    tempopb::SearchTagValuesRequest { tag_name: tag.into(), query: q.into(), ..Default::default() }
}

fn windowed<T>(mut request: T, set: impl FnOnce(&mut T)) -> T {
    set(&mut request);
    request
}

/// `SearchTagsV2`, checked against `GET /api/v2/search/tags`.
async fn tags_v2(
    client: &mut Client,
    node: &TestNode,
    request: tempopb::SearchTagsRequest,
    tenant: Option<&str>,
) -> tempopb::SearchTagsV2Response {
    let call = client.search_tags_v2(with_tenant(request.clone(), tenant));
    let grpc = complete(&format!("{request:?}"), read_all(call).await);
    let http = http_answer(node, &tags_path("/api/v2/search/tags", &request), tenant).await;
    assert_eq!(grpc, http, "{request:?}: the gRPC answer is the HTTP answer");
    assert!(grpc.metrics.is_some(), "metrics are always set");
    grpc
}

/// `SearchTags`, checked against `GET /api/search/tags`.
async fn tags_v1(
    client: &mut Client,
    node: &TestNode,
    request: tempopb::SearchTagsRequest,
    tenant: Option<&str>,
) -> tempopb::SearchTagsResponse {
    let call = client.search_tags(with_tenant(request.clone(), tenant));
    let grpc = complete(&format!("{request:?}"), read_all(call).await);
    let http = http_answer(node, &tags_path("/api/search/tags", &request), tenant).await;
    assert_eq!(grpc, http, "{request:?}: the gRPC answer is the HTTP answer");
    assert!(grpc.metrics.is_some(), "metrics are always set");
    grpc
}

/// `SearchTagValuesV2` as sorted `type:value` strings, checked against the v2 values route.
async fn values_v2(
    client: &mut Client,
    node: &TestNode,
    request: tempopb::SearchTagValuesRequest,
    tenant: Option<&str>,
) -> Vec<String> {
    let call = client.search_tag_values_v2(with_tenant(request.clone(), tenant));
    let grpc: tempopb::SearchTagValuesV2Response =
        complete(&format!("{request:?}"), read_all(call).await);
    let path = values_path("/api/v2/search/tag/", &request);
    let http = http_answer(node, &path, tenant).await;
    assert_eq!(grpc, http, "{request:?}: the gRPC answer is the HTTP answer");
    assert!(grpc.metrics.is_some(), "metrics are always set");
    let mut typed: Vec<String> =
        grpc.tag_values.iter().map(|value| format!("{}:{}", value.r#type, value.value)).collect();
    typed.sort();
    typed
}

/// `SearchTagValues`, checked against the v1 values route.
async fn values_v1(
    client: &mut Client,
    node: &TestNode,
    request: tempopb::SearchTagValuesRequest,
    tenant: Option<&str>,
) -> Vec<String> {
    let call = client.search_tag_values(with_tenant(request.clone(), tenant));
    let grpc: tempopb::SearchTagValuesResponse =
        complete(&format!("{request:?}"), read_all(call).await);
    let http = http_answer(node, &values_path("/api/search/tag/", &request), tenant).await;
    assert_eq!(grpc, http, "{request:?}: the gRPC answer is the HTTP answer");
    assert!(grpc.metrics.is_some(), "metrics are always set");
    grpc.tag_values
}

/// Scope name → tags; each scope once.
fn by_scope(answer: &tempopb::SearchTagsV2Response) -> BTreeMap<String, Vec<String>> {
    let mut scopes = BTreeMap::new();
    for scope in &answer.scopes {
        let before = scopes.insert(scope.name.clone(), scope.tags.clone());
        assert!(before.is_none(), "scope {} twice: {answer:?}", scope.name);
    }
    scopes
}

/// A gRPC refusal is `InvalidArgument` with the body of the HTTP route's 400.
async fn assert_refused_as_http<T: Debug>(
    node: &TestNode,
    grpc: Result<Vec<T>, tonic::Status>,
    path: &str,
    expected_start: &str,
) {
    let status = grpc.expect_err(path);
    let (http_status, body) = http_get(node, path, None).await;
    let body = String::from_utf8_lossy(&body).trim_end().to_string();
    assert_eq!(http_status, 400, "{path}: {body}");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{path}: {status:?}");
    assert_eq!(status.message(), body, "{path}: the HTTP text");
    assert!(body.starts_with(expected_start), "{path}: {body}");
}

/// Every tag method answers, in its final message and with metrics in every message, exactly
/// what its HTTP twin answers for the same request: scopes and the intrinsic list, typed and
/// virtual values, `q`, windows and limits; bad requests are `InvalidArgument` with the HTTP
/// 400 texts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_tag_methods_answer_what_the_http_routes_answer() {
    let node = TestNode::start().await;
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(shop(), None).await.expect("export acknowledged");
    let mut client = connect(&node).await;
    let services = values_request("resource.service.name", "");
    wait_for("the shop's services listed over gRPC", Duration::from_secs(10), || {
        let mut client = client.clone();
        let request = services.clone();
        async move {
            let call = client.search_tag_values_v2(request);
            read_all(call).await.is_ok_and(|messages| {
                messages.iter().map(|m| m.tag_values.len()).sum::<usize>() == 2
            })
        }
    })
    .await;

    info!("--- SearchTagsV2: every scope, intrinsics, with and without a window");
    for request in [
        tags_request("", ""),
        windowed(tags_request("", ""), |r| (r.start, r.end) = (WINDOW_START, WINDOW_END)),
    ] {
        let answer = tags_v2(&mut client, &node, request, None).await;
        let metrics = answer.metrics.unwrap_or_default();
        assert!(metrics.inspected_bytes > 0 && metrics.completed_jobs == metrics.total_jobs);
        let scopes = by_scope(&answer);
        assert_eq!(scopes["resource"], ["deployment.environment", "service.name"]);
        assert_eq!(
            scopes["span"],
            ["attr/slash", "cache key #1 & 100%", "http.method", "http.status_code", "retry.ratio"]
        );
        assert_eq!(scopes["event"], ["exception.type"]);
        assert_eq!(scopes["link"], ["link.reason"]);
        assert_eq!(scopes["instrumentation"], ["scope.sampled"]);
        assert_eq!(scopes["intrinsic"], INTRINSICS);
        assert_eq!(scopes.len(), 6, "{scopes:?}");
    }

    info!("--- SearchTagsV2: one scope, intrinsic, none, q, limit");
    {
        let answer = tags_v2(&mut client, &node, tags_request("resource", ""), None).await;
        assert_eq!(by_scope(&answer).keys().collect::<Vec<_>>(), ["resource"]);
        let answer = tags_v2(&mut client, &node, tags_request("intrinsic", ""), None).await;
        assert_eq!(by_scope(&answer)["intrinsic"], INTRINSICS);
        assert_eq!(answer.scopes.len(), 1);
        let answer = tags_v2(&mut client, &node, tags_request("none", ""), None).await;
        assert_eq!(answer.scopes.len(), 6);
        let cart = "{ resource.service.name = \"cart\" }";
        let answer = tags_v2(&mut client, &node, tags_request("span", cart), None).await;
        assert_eq!(
            by_scope(&answer)["span"],
            ["attr/slash", "cache key #1 & 100%", "http.status_code", "retry.ratio"],
            "q keeps the tags of the cart span only"
        );
        let limited = windowed(tags_request("", ""), |r| r.max_tags_per_scope = 1);
        let answer = tags_v2(&mut client, &node, limited, None).await;
        assert_eq!(by_scope(&answer)["span"].len(), 1);
        assert_eq!(by_scope(&answer)["intrinsic"], INTRINSICS, "the intrinsic list is whole");
    }

    info!("--- SearchTags (v1): unscoped names; intrinsics only for scope=intrinsic");
    {
        let answer = tags_v1(&mut client, &node, tags_request("", ""), None).await;
        assert_eq!(answer.tag_names, V1_TAG_NAMES);
        let answer = tags_v1(&mut client, &node, tags_request("intrinsic", ""), None).await;
        assert_eq!(answer.tag_names, INTRINSICS);
        let answer = tags_v1(&mut client, &node, tags_request("event", ""), None).await;
        assert_eq!(answer.tag_names, ["exception.type"]);
    }

    info!("--- SearchTagValuesV2: typed values, virtual values, q, names as sent");
    {
        let mut values = async |tag: &str, q: &str| {
            values_v2(&mut client, &node, values_request(tag, q), None).await
        };
        assert_eq!(values("resource.service.name", "").await, ["string:cart", "string:frontend"]);
        assert_eq!(values("span.http.status_code", "").await, ["int:200", "int:500"]);
        assert_eq!(values("span.retry.ratio", "").await, ["float:0.25"]);
        assert_eq!(values("name", "").await, ["string:GET /cart", "string:cart.get"]);
        assert_eq!(values("status", "").await, ["keyword:error", "keyword:ok", "keyword:unset"]);
        assert!(values("duration", "").await.is_empty());
        let errors = "{ status = error }";
        assert_eq!(values("span.http.status_code", errors).await, ["int:500"]);
        assert_eq!(values("name", errors).await, ["string:cart.get"]);
        let incomplete = "{ resource.service.name = \"cart\" && span.http.method = }";
        assert_eq!(values("resource.service.name", incomplete).await.len(), 2, "q ignored");
        assert_eq!(values("span.attr/slash", "").await, ["string:a/b"], "no decoding");
        assert_eq!(values("span.\"cache key #1 & 100%\"", "").await, ["string:🚀"]);
        let window = windowed(values_request("span.http.status_code", ""), |r| {
            (r.start, r.end, r.max_tag_values) = (WINDOW_START, WINDOW_END, 1)
        });
        assert_eq!(values_v2(&mut client, &node, window, None).await.len(), 1, "limit");
    }

    info!("--- SearchTagValues (v1): strings, virtual values");
    {
        let mut values =
            async |tag: &str| values_v1(&mut client, &node, values_request(tag, ""), None).await;
        assert_eq!(values("service.name").await, ["cart", "frontend"]);
        assert_eq!(values("http.status_code").await, ["200", "500"], "v1 values are strings");
        assert_eq!(values("status.code").await, ["error", "ok", "unset"]);
        assert_eq!(values("error").await, ["true"]);
    }

    info!("--- bad requests: InvalidArgument with the HTTP 400 texts");
    {
        let bad_tag = values_request("app.user.id", "");
        let grpc = read_all(client.search_tag_values_v2(bad_tag.clone())).await;
        let path = values_path("/api/v2/search/tag/", &bad_tag);
        let expected = "please provide a valid tagName: failed to parse identifier app.user.id";
        assert_refused_as_http(&node, grpc, &path, expected).await;

        let empty_tag = values_request("", "");
        let grpc = read_all(client.search_tag_values(empty_tag.clone())).await;
        let path = values_path("/api/search/tag/", &empty_tag);
        assert_refused_as_http(&node, grpc, &path, "please provide a non-empty tagName").await;

        let bad_scope = tags_request("spans", "");
        let grpc = read_all(client.search_tags_v2(bad_scope.clone())).await;
        let path = tags_path("/api/v2/search/tags", &bad_scope);
        assert_refused_as_http(&node, grpc, &path, "invalid scope: spans").await;
        let grpc = read_all(client.search_tags(bad_scope.clone())).await;
        let path = tags_path("/api/search/tags", &bad_scope);
        assert_refused_as_http(&node, grpc, &path, "invalid scope: spans").await;

        let too_long = windowed(values_request("name", ""), |r| (r.start, r.end) = (1, 999_999));
        let grpc = read_all(client.search_tag_values_v2(too_long.clone())).await;
        let path = values_path("/api/v2/search/tag/", &too_long);
        assert_refused_as_http(&node, grpc, &path, "range specified by start and end exceeds")
            .await;

        let ors = (0..101).map(|n| format!(".a = {n}")).collect::<Vec<_>>().join(" || ");
        let too_many = tags_request("", &format!("{{ {ors} }}"));
        let grpc = read_all(client.search_tags_v2(too_many.clone())).await;
        let path = tags_path("/api/v2/search/tags", &too_many);
        assert_refused_as_http(&node, grpc, &path, "maximum condition groups reached (limit: 100)")
            .await;
    }
}

/// With multi-tenancy on, the tag methods need `x-scope-orgid` and see only its tenants'
/// data, federated (`a|b`) included, as the HTTP routes do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_tag_methods_need_a_tenant_and_see_only_its_data() {
    let node = TestNode::start_with(|config| config.multitenancy_enabled = true).await;
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(shop(), Some("team-a")).await.expect("export acknowledged");
    let mut client = connect(&node).await;

    info!("--- no tenant: Unauthenticated, for every tag method");
    {
        let missing = [
            read_all(client.search_tags(tags_request("", ""))).await.map(|_| ()),
            read_all(client.search_tags_v2(tags_request("", ""))).await.map(|_| ()),
            read_all(client.search_tag_values(values_request("service.name", "")))
                .await
                .map(|_| ()),
            read_all(client.search_tag_values_v2(values_request("name", ""))).await.map(|_| ()),
        ];
        for status in missing {
            let status = status.expect_err("a tenant is required");
            assert_eq!(
                (status.code(), status.message()),
                (tonic::Code::Unauthenticated, "no org id")
            );
        }
    }

    info!("--- each tenant sees its own tags");
    {
        let services = values_request("resource.service.name", "");
        wait_for("team-a's services listed over gRPC", Duration::from_secs(10), || {
            let mut client = client.clone();
            let request = with_tenant(services.clone(), Some("team-a"));
            async move {
                read_all(client.search_tag_values_v2(request)).await.is_ok_and(|messages| {
                    messages.iter().map(|m| m.tag_values.len()).sum::<usize>() == 2
                })
            }
        })
        .await;
        let for_a = values_v2(&mut client, &node, services.clone(), Some("team-a")).await;
        assert_eq!(for_a, ["string:cart", "string:frontend"]);
        let for_b = values_v2(&mut client, &node, services.clone(), Some("team-b")).await;
        assert!(for_b.is_empty(), "tenants are isolated: {for_b:?}");
        let federated = values_v2(&mut client, &node, services, Some("team-b|team-a")).await;
        assert_eq!(federated, ["string:cart", "string:frontend"]);
        let names = tags_v1(&mut client, &node, tags_request("resource", ""), Some("team-b")).await;
        assert!(names.tag_names.is_empty(), "{names:?}");
        let scopes = tags_v2(&mut client, &node, tags_request("", ""), Some("team-a")).await;
        assert_eq!(scopes.scopes.len(), 6);
    }
}

/// Once the spans have left the live-store, a window answers from the blocks' tag
/// dictionaries over gRPC too, the same as over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_tag_methods_read_block_dictionaries_in_a_window() {
    let node = TestNode::start_with(flush_blocks_quickly).await;
    let tempo = node.tempo();
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(shop(), None).await.expect("export acknowledged");
    wait_until_in_blocks_and_evicted(&tempo, "the trace in a block and evicted from memory").await;
    let mut client = connect(&node).await;

    let live_only = tags_v2(&mut client, &node, tags_request("", ""), None).await;
    assert_eq!(live_only.scopes.len(), 1, "no live data: the intrinsics only");
    let window = windowed(tags_request("", ""), |r| (r.start, r.end) = (WINDOW_START, WINDOW_END));
    let answer = tags_v2(&mut client, &node, window, None).await;
    let scopes = by_scope(&answer);
    assert_eq!(scopes["resource"], ["deployment.environment", "service.name"]);
    assert_eq!(scopes.len(), 6, "{scopes:?}");
    assert_eq!(answer.metrics.map(|m| m.total_jobs), Some(1), "one block, no live traces");
    let values = windowed(values_request("span.http.status_code", ""), |r| {
        (r.start, r.end) = (WINDOW_START, WINDOW_END)
    });
    assert_eq!(values_v2(&mut client, &node, values, None).await, ["int:200", "int:500"]);
}
