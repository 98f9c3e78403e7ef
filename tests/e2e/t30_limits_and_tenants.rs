//! Memory limits answer 429 / ResourceExhausted with a retry hint, never a silent drop; tenants
//! are isolated when multi-tenancy is on; search limits come from the config.

use prost::Message;
use spanlake::config::HumanDuration;
use spanlake::proto::tempopb;
use tracing::info;

use crate::harness::TestNode;
use crate::harness::clients::{OtlpGrpc, post_otlp_http};
use crate::harness::spans::{self, hex};
use crate::t90_streaming::connect;

/// A tenant at its live-trace limit is refused with a retry hint; accepted spans stay readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_live_store_refuses_writes_with_a_retry_hint() {
    let node = TestNode::start_with(|config| {
        config.overrides.defaults.ingestion.max_traces_per_user = 10;
    })
    .await;
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(spans::request(&(1..=10).collect::<Vec<_>>(), 1), None)
        .await
        .expect("under the limit");

    let refused = grpc.export(spans::request(&[11], 1), None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(refused.message().starts_with("LIVE_TRACES_EXCEEDED"), "{}", refused.message());
    assert!(!refused.details().is_empty(), "RetryInfo details present");

    let (status, headers, body) = post_otlp_http(
        &node.otlp_http_url(),
        "application/x-protobuf",
        None,
        spans::request(&[12], 1).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["retry-after"], "5");

    for seed in 1..=10 {
        assert_eq!(node.tempo().trace_v2_protobuf(&hex(&spans::trace_id(seed))).await.len(), 1);
    }
    assert!(node.tempo().trace_v2_protobuf(&hex(&spans::trace_id(11))).await.is_empty());
    let (_, _, metrics) = node.tempo().get("/metrics", None).await;
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("spanlake_distributor_requests_refused_total{tenant=\"single-tenant\",reason=\"live_traces_exceeded\"} 2"),
        "{metrics}"
    );
}

/// With multi-tenancy on, ingest and reads need `X-Scope-OrgID`, and tenants see only their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_isolated_when_multitenancy_is_on() {
    let node = TestNode::start_with(|config| config.multitenancy_enabled = true).await;
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let missing = grpc.export(spans::request(&[1], 1), None).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::Unauthenticated);
    assert_eq!(missing.message(), "no org id");
    let for_team_a = spans::request(&[1], 2);
    let mut for_team_b = for_team_a.clone();
    // Team b holds a byte-identical copy of team a's first span only.
    for_team_b.resource_spans[0].scope_spans[0].spans.truncate(1);
    grpc.export(for_team_a, Some("team-a")).await.expect("tenant a");
    grpc.export(for_team_b, Some("team-b")).await.expect("tenant b");

    let trace = hex(&spans::trace_id(1));
    let client = reqwest::Client::new();
    let read = |tenant: Option<&'static str>| {
        let mut request = client
            .get(format!("{}/api/v2/traces/{trace}", node.query_url()))
            .header("accept", "application/protobuf");
        if let Some(tenant) = tenant {
            request = request.header("X-Scope-OrgID", tenant);
        }
        request.send()
    };
    let response = read(None).await.expect("request");
    assert_eq!(response.status(), 401);
    assert_eq!(response.text().await.unwrap().trim(), "no org id");
    let span_count = |body: &[u8]| {
        let response = spanlake::proto::tempopb::TraceByIdResponse::decode(body).expect("proto");
        crate::harness::clients::spans_in(&response.trace.unwrap().resource_spans).len()
    };
    let body_a = read(Some("team-a")).await.unwrap().bytes().await.unwrap();
    assert_eq!(span_count(&body_a), 2);
    let body_b = read(Some("team-b")).await.unwrap().bytes().await.unwrap();
    assert_eq!(span_count(&body_b), 1);
    let federated = read(Some("team-a|team-b")).await.unwrap().bytes().await.unwrap();
    assert_eq!(span_count(&federated), 2, "the same spans under two tenants merge once");
}

/// A node configured with small search limits (`query_frontend.search.*`) applies them:
/// its default and largest `limit`, and its widest window, refused with Tempo's 400 texts;
/// the window cap holds for the tag routes and the gRPC tag methods too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_limits_come_from_the_config() {
    let node = TestNode::start_with(|config| {
        let search = &mut config.query_frontend.search;
        search.default_result_limit = 2;
        search.max_result_limit = 5;
        search.max_duration = HumanDuration::from_secs(3600);
    })
    .await;
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(spans::request(&[1, 2, 3], 1), None).await.expect("export acknowledged");
    let tempo = node.tempo();

    let (status, answer) = tempo.json("/api/search?q=%7B%7D").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["traces"].as_array().map(Vec::len), Some(2), "the configured default");
    let (_, answer) = tempo.json("/api/search?q=%7B%7D&limit=5").await;
    assert_eq!(answer["traces"].as_array().map(Vec::len), Some(3), "up to the maximum");
    let (status, _) = tempo.json("/api/search?q=%7B%7D&start=1000&end=4600").await;
    assert_eq!(status, 200, "a window of exactly the maximum");

    let refusals = [
        ("limit=6", "limit 6 exceeds max limit 5"),
        (
            "start=1000&end=4601",
            "range specified by start and end exceeds 1h0m0s. received start=1000 end=4601",
        ),
    ];
    for (params, expected) in refusals {
        let (status, _, body) = tempo.get(&format!("/api/search?q=%7B%7D&{params}"), None).await;
        assert_eq!((status, String::from_utf8_lossy(&body).trim_end()), (400, expected));
    }

    info!("--- the tag routes: the same window cap, the same text");
    let too_wide = "range specified by start and end exceeds 1h0m0s. received start=1000 end=4601";
    for route in [
        "/api/search/tags",
        "/api/v2/search/tags",
        "/api/search/tag/service.name/values",
        "/api/v2/search/tag/resource.service.name/values",
    ] {
        let (status, _, body) = tempo.get(&format!("{route}?start=1000&end=4600"), None).await;
        assert_eq!(status, 200, "{route}: a window of exactly the maximum");
        let (status, _, body_over) = tempo.get(&format!("{route}?start=1000&end=4601"), None).await;
        assert_eq!(
            (status, String::from_utf8_lossy(&body_over).trim_end()),
            (400, too_wide),
            "{route} (at the maximum: {})",
            String::from_utf8_lossy(&body)
        );
    }

    info!("--- the gRPC tag methods: InvalidArgument with that text");
    let mut client = connect(&node).await;
    let tags = tempopb::SearchTagsRequest { start: 1000, end: 4601, ..Default::default() };
    let values = tempopb::SearchTagValuesRequest {
        tag_name: "resource.service.name".into(),
        start: 1000,
        end: 4601,
        ..Default::default()
    };
    let refusals = [
        client.search_tags(tags.clone()).await.map(|_| ()),
        client.search_tags_v2(tags.clone()).await.map(|_| ()),
        client.search_tag_values(values.clone()).await.map(|_| ()),
        client.search_tag_values_v2(values.clone()).await.map(|_| ()),
    ];
    for refusal in refusals {
        let status = refusal.expect_err("a window over the cap is refused");
        assert_eq!((status.code(), status.message()), (tonic::Code::InvalidArgument, too_wide));
    }
    let at_the_cap = tempopb::SearchTagsRequest { end: 4600, ..tags };
    assert!(client.search_tags_v2(at_the_cap).await.is_ok(), "a window of exactly the maximum");
}

/// With `query_frontend.search.max_duration: 0s` there is no window cap: a year-wide window
/// is a search and a tag request like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_max_duration_means_no_window_cap() {
    let node = TestNode::start_with(|config| {
        config.query_frontend.search.max_duration = HumanDuration::ZERO;
    })
    .await;
    let tempo = node.tempo();
    let year = "start=1000&end=31623400";
    for route in ["/api/search?q=%7B%7D&", "/api/v2/search/tags?", "/api/search/tag/name/values?"] {
        let (status, _, body) = tempo.get(&format!("{route}{year}"), None).await;
        assert_eq!(status, 200, "{route}: {}", String::from_utf8_lossy(&body));
    }
    let mut client = connect(&node).await;
    let request = tempopb::SearchTagsRequest { start: 1000, end: 31_623_400, ..Default::default() };
    assert!(client.search_tags_v2(request).await.is_ok());
}
