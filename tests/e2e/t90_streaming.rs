//! gRPC `tempopb.StreamingQuerier` on the query port, next to the HTTP API: a real tonic
//! client (the crate's generated one) dials `host:port` as Grafana does. The tag methods are
//! in [`tags`], their interims in [`tag_messages`].

mod tag_messages;
mod tags;

use std::collections::HashSet;
use std::time::Duration;

use prost::Message;
use spanlake::actors::faults::Fault;
use spanlake::proto::tempopb;
use spanlake::proto::tempopb::streaming_querier_client::StreamingQuerierClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tonic::transport::Channel;
use tracing::info;

use crate::harness::TestNode;
use crate::harness::clients::OtlpGrpc;
use crate::harness::spans;
use crate::t70_search::{shop, urlencode};

/// A `StreamingQuerier` client on the node's query port.
pub(crate) async fn connect(node: &TestNode) -> StreamingQuerierClient<Channel> {
    let channel = Channel::from_shared(node.query_url())
        .expect("valid url")
        .connect()
        .await
        .expect("gRPC connects to the query port");
    StreamingQuerierClient::new(channel)
}

/// Calls `Search` and reads the stream to its end: every message, with when it arrived.
async fn search_stream(
    client: &mut StreamingQuerierClient<Channel>,
    request: tempopb::SearchRequest,
    tenant: Option<&str>,
) -> Result<Vec<(Duration, tempopb::SearchResponse)>, tonic::Status> {
    let mut grpc_request = tonic::Request::new(request);
    if let Some(tenant) = tenant {
        grpc_request.metadata_mut().insert("x-scope-orgid", tenant.parse().expect("ascii"));
    }
    let started = Instant::now();
    let mut stream = client.search(grpc_request).await?.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push((started.elapsed(), message));
    }
    Ok(messages)
}

/// `GET /api/search` in protobuf, for comparison.
async fn http_search(node: &TestNode, query: &str, extra: &str) -> tempopb::SearchResponse {
    let path = format!("/api/search?q={}{extra}", urlencode(query));
    let (status, _, body) = node.tempo().get(&path, Some("application/protobuf")).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    tempopb::SearchResponse::decode(body.as_slice()).expect("protobuf search answer")
}

fn search_request(query: &str, limit: u32, spss: u32) -> tempopb::SearchRequest {
    tempopb::SearchRequest {
        query: query.to_string(),
        limit,
        spans_per_span_set: spss,
        ..Default::default()
    }
}

fn ids(traces: &[tempopb::TraceSearchMetadata]) -> Vec<String> {
    traces.iter().map(|trace| trace.trace_id.clone()).collect()
}

/// The stream ends with the answer `GET /api/search` gives, and every message has metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_search_ends_with_the_answer_http_search_gives() {
    let node = TestNode::start().await;
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(shop(), None).await.expect("export acknowledged");
    let mut client = connect(&node).await;

    for (query, limit, spss) in [
        ("{ span.http.status_code = 500 }", 20, 3),
        ("{ resource.service.name = \"frontend\" }", 20, 3),
        ("{ kind = server } >> { status = error }", 20, 0),
        ("{}", 1, 3),
        ("{ .nope = 1 }", 20, 3),
    ] {
        info!("--- {query} limit={limit} spss={spss}");
        let messages = search_stream(&mut client, search_request(query, limit, spss), None)
            .await
            .unwrap_or_else(|status| panic!("{query}: {status:?}"));
        assert!(!messages.is_empty(), "{query}: at least the final message");
        for (_, message) in &messages {
            assert!(message.metrics.is_some(), "{query}: every message carries metrics");
        }
        let (_, last) = messages.last().expect("a final message");
        let http = http_search(&node, query, &format!("&limit={limit}&spss={spss}")).await;
        assert_eq!(last.traces, http.traces, "{query}: the final message is the HTTP answer");
        let metrics = last.metrics.unwrap_or_default();
        assert_eq!(metrics.completed_jobs, metrics.total_jobs, "{query}: {metrics:?}");
    }
    let messages = search_stream(&mut client, search_request("{}", 0, 3), None).await.unwrap();
    let (_, last) = messages.last().expect("a final message");
    assert_eq!(
        ids(&last.traces),
        ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        "limit 0 over gRPC means the default, newest first"
    );
}

/// A search slower than the interim period streams interims (what is new, cumulative
/// metrics) no faster than every 500 ms, then the complete answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_search_streams_interims_then_the_complete_answer() {
    let node = TestNode::start().await;
    let seeds: Vec<u64> = (1..=1300).collect();
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(spans::request(&seeds, 1), None).await.expect("export acknowledged");
    // 1300 traces are 6 jobs, 4 at a time: the 5th and 6th start after the first finish.
    let delay = Duration::from_millis(600);
    node.node().faults().arm("query_shard.before_search", Fault::Delay { delay, times: 100 });
    let mut client = connect(&node).await;

    let started = Instant::now();
    let messages =
        search_stream(&mut client, search_request("{}", 5000, 1), None).await.expect("search");
    let elapsed = started.elapsed();
    info!(messages = messages.len(), ?elapsed, "--- streamed");
    assert!(messages.len() >= 2, "interims before the final message: {}", messages.len());
    let interims = messages.len() - 1;
    let most = (elapsed.as_millis() / 500) as usize;
    assert!(interims <= most, "{interims} interims in {elapsed:?}: more than one per 500 ms");

    let mut completed = 0;
    let mut first_copies: Vec<String> = Vec::new();
    for (_, message) in &messages {
        let metrics = message.metrics.expect("every message carries metrics");
        assert!(metrics.completed_jobs >= completed, "metrics are cumulative");
        completed = metrics.completed_jobs;
        assert_eq!(metrics.total_jobs, 6);
        for id in ids(&message.traces) {
            if !first_copies.contains(&id) {
                first_copies.push(id);
            }
        }
    }
    let (_, last) = messages.last().expect("final");
    assert_eq!(last.traces.len(), 1300, "the final message is complete");
    assert_eq!(last.metrics.as_ref().map(|m| m.completed_jobs), Some(6));
    let interim_traces: usize = messages[..interims].iter().map(|(_, m)| m.traces.len()).sum();
    assert!(interim_traces > 0, "interims carry the traces found so far");
    let finals: HashSet<String> = ids(&last.traces).into_iter().collect();
    assert_eq!(first_copies.len(), finals.len(), "no trace twice in the interims");
    assert!(first_copies.iter().all(|id| finals.contains(id)), "interims show final traces");
}

/// Refusals are gRPC statuses with the HTTP texts; tenancy comes from `x-scope-orgid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_missing_tenants_are_grpc_statuses() {
    let node = TestNode::start_with(|config| config.multitenancy_enabled = true).await;
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(shop(), Some("team-a")).await.expect("export acknowledged");
    let mut client = connect(&node).await;

    let missing = search_stream(&mut client, search_request("{}", 20, 3), None).await.unwrap_err();
    assert_eq!((missing.code(), missing.message()), (tonic::Code::Unauthenticated, "no org id"));

    let bad = search_stream(&mut client, search_request("{ .a = }", 20, 3), Some("team-a"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().starts_with("invalid TraceQL query: parse error at line 1, col 8"),
        "{}",
        bad.message()
    );
    let (status, _, body) = node.tempo().get("/api/search?q=%7B%7D", None).await;
    assert_eq!((status, String::from_utf8_lossy(&body).trim_end()), (401, "no org id"));
    let too_many = search_stream(&mut client, search_request("{}", 20, 500), Some("team-a"))
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), tonic::Code::InvalidArgument);
    assert_eq!(too_many.message(), "spans per span set exceeds 100. received 500");

    let for_a = search_stream(&mut client, search_request("{}", 20, 3), Some("team-a"))
        .await
        .expect("search as team-a");
    assert_eq!(for_a.last().map(|(_, m)| m.traces.len()), Some(2));
    let for_b = search_stream(&mut client, search_request("{}", 20, 3), Some("team-b"))
        .await
        .expect("search as team-b");
    assert_eq!(for_b.last().map(|(_, m)| m.traces.len()), Some(0), "tenants are isolated");

    let metrics = client
        .metrics_query_range(tempopb::QueryRangeRequest::default())
        .await
        .expect_err("not implemented yet");
    assert_eq!(metrics.code(), tonic::Code::Unimplemented);
    assert!(metrics.message().contains("MetricsQueryRange"), "{}", metrics.message());
}

/// Sends `GET path` on an open HTTP/1.1 connection and reads one response: status and body.
async fn http1_get(connection: &mut TcpStream, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: spanlake\r\n\r\n");
    connection.write_all(request.as_bytes()).await.expect("write request");
    read_http1_response(connection).await
}

/// Reads one HTTP/1.1 response with a `content-length` body.
async fn read_http1_response(connection: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(head_end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse().expect("content-length"))
                .unwrap_or(0);
            if received.len() >= head_end + 4 + length {
                let status = head[9..12].parse().expect("status code");
                let body = String::from_utf8_lossy(&received[head_end + 4..head_end + 4 + length]);
                let body = body.to_string();
                received.drain(..head_end + 4 + length);
                assert!(received.is_empty(), "one response at a time");
                return (status, body);
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(10), connection.read(&mut buffer))
            .await
            .expect("a response in time")
            .expect("read response");
        assert!(read > 0, "connection closed mid-response");
        received.extend_from_slice(&buffer[..read]);
    }
}

/// gRPC and HTTP share the port: HTTP/1.1 keeps working after and between gRPC calls,
/// keep-alive and concurrent requests included; plain HTTP/2 is told to use HTTP/1.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keeps_working_on_the_port_that_serves_grpc() {
    let node = TestNode::start().await;
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(shop(), None).await.expect("export acknowledged");
    let mut client = connect(&node).await;
    search_stream(&mut client, search_request("{}", 20, 3), None).await.expect("gRPC search");

    info!("--- one HTTP/1.1 connection, several requests");
    let mut connection = TcpStream::connect(node.node().addrs().http).await.expect("connect");
    assert_eq!(http1_get(&mut connection, "/ready").await, (200, "ready\n".to_string()));
    let (status, body) = http1_get(&mut connection, "/api/search?q=%7B%7D").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "{body}");
    search_stream(&mut client, search_request("{}", 20, 3), None).await.expect("gRPC again");
    assert_eq!(http1_get(&mut connection, "/api/echo").await, (200, "echo\n".to_string()));
    let pipelined =
        "GET /ready HTTP/1.1\r\nHost: s\r\n\r\nGET /api/echo HTTP/1.1\r\nHost: s\r\n\r\n";
    connection.write_all(pipelined.as_bytes()).await.expect("write");
    let mut answers = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answers).contains("echo\n") {
        let read = connection.read(&mut buffer).await.expect("read");
        assert!(read > 0, "connection closed");
        answers.extend_from_slice(&buffer[..read]);
    }
    let answers = String::from_utf8_lossy(&answers);
    assert_eq!(answers.matches("HTTP/1.1 200").count(), 2, "{answers}");
    let ready_at = answers.find("ready\n").expect("ready answered");
    assert!(ready_at < answers.find("echo\n").unwrap_or(0), "answered in order: {answers}");

    info!("--- concurrent HTTP/1.1 requests while a gRPC stream runs");
    let tempo = node.tempo();
    let requests = (0..16).map(|n| {
        let path = if n % 2 == 0 { "/ready".to_string() } else { "/api/search?q=%7B%7D".into() };
        let tempo = &tempo;
        async move { tempo.get(&path, None).await.0 }
    });
    let (statuses, grpc) = futures::future::join(
        futures::future::join_all(requests),
        search_stream(&mut client, search_request("{}", 20, 3), None),
    )
    .await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    assert_eq!(grpc.expect("gRPC search").last().map(|(_, m)| m.traces.len()), Some(2));

    info!("--- HTTP/2 that is not gRPC");
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().expect("client");
    let response = h2.get(format!("{}/ready", node.query_url())).send().await.expect("h2");
    assert_eq!(response.status().as_u16(), 505);
    let text = response.text().await.expect("body");
    assert!(text.contains("serves only gRPC"), "{text}");
    let (status, _, _) = node.tempo().get("/ready", None).await;
    assert_eq!(status, 200, "and HTTP/1.1 still works");

    info!("--- shutdown with an idle HTTP/1.1 connection and a gRPC channel open");
    let mut node = node;
    let addr = node.node().addrs().http;
    let running = node.node.take().expect("running");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), running.shutdown()).await.expect("shuts down");
    info!(took = ?started.elapsed(), "--- stopped");
    assert!(TcpStream::connect(addr).await.is_err(), "the port is closed");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), connection.read_to_end(&mut rest));
    assert!(closed.await.is_ok(), "the open HTTP/1.1 connection was closed");
    let after = search_stream(&mut client, search_request("{}", 20, 3), None).await;
    assert!(after.is_err(), "no gRPC after shutdown");
}
