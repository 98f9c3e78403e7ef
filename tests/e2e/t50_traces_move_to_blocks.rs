//! Traces move from the log into Parquet blocks, the log is purged, and trace by id reads them
//! back from blocks exactly as sent — on the local filesystem, in memory and on a real S3.

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::Span;

use crate::harness::clients::{OtlpGrpc, spans_in};
use crate::harness::oracle::AckOracle;
use crate::harness::spans::{self, hex};
use crate::harness::{
    TestNode, assert_no_overlapping_blocks, flush_blocks_quickly, metric_sum, wait_for,
    wait_until_in_blocks_and_evicted,
};

fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    spans
}

/// Ingests, waits until everything is in blocks and out of memory, and compares every span.
async fn round_trip_through_blocks(node: &TestNode) {
    let tempo = node.tempo();
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let mut oracle = AckOracle::default();
    let mut sent = Vec::new();
    for round in 0..5u64 {
        let request = spans::request(&[round * 10 + 1, round * 10 + 2, round * 10 + 3], 4);
        grpc.export(request.clone(), None).await.expect("acknowledged");
        oracle.acknowledged(&request);
        sent.push(request);
    }
    wait_until_in_blocks_and_evicted(&tempo, "every span in blocks and evicted from memory").await;
    for request in &sent {
        for seed_span in spans::spans_of(request).chunks(4) {
            let trace = hex(&seed_span[0].trace_id);
            let found = tempo.trace_v2_protobuf(&trace).await;
            let expected: Vec<Span> = seed_span.iter().map(|span| (*span).clone()).collect();
            assert_eq!(sorted(spans_in(&found).into_iter().cloned().collect()), sorted(expected));
            for resource_spans in &found {
                assert_eq!(resource_spans.resource, request.resource_spans[0].resource);
                assert_eq!(
                    resource_spans.scope_spans[0].scope,
                    request.resource_spans[0].scope_spans[0].scope
                );
            }
        }
    }
    oracle.verify_exactly_once(&tempo).await;
}

/// The default backend: blocks on the local filesystem, purge, reads from blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_read_back_from_local_blocks() {
    let node = TestNode::start_with(flush_blocks_quickly).await;
    round_trip_through_blocks(&node).await;
    let blocks = assert_no_overlapping_blocks(&node.config.storage.trace.local.path);
    assert!(blocks >= 1);
}

/// The in-memory backend behaves the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_read_back_from_memory_blocks() {
    let node = TestNode::start_with(|config| {
        flush_blocks_quickly(config);
        config.storage.trace.backend = spanlake::config::StorageBackend::Memory;
    })
    .await;
    round_trip_through_blocks(&node).await;
}

/// Blocks survive a restart: a new node on the same directories finds them by listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_found_again_after_a_restart() {
    let mut node = TestNode::start_with(flush_blocks_quickly).await;
    round_trip_through_blocks(&node).await;
    let config = node.config.clone();
    node.node.take().expect("running").shutdown().await;
    node.node = Some(spanlake::Node::start(config).await.expect("restart"));
    let trace = hex(&spans::trace_id(1));
    assert_eq!(
        node.tempo()
            .trace_v2_protobuf(&trace)
            .await
            .iter()
            .map(|rs| rs.scope_spans[0].spans.len())
            .sum::<usize>(),
        4
    );
}

/// A real S3 API (moto on loopback): blocks are uploaded, listed and read back the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_read_back_from_s3_blocks() {
    let s3 = crate::harness::s3::S3Server::start().await;
    let node = TestNode::start_with(|config| {
        flush_blocks_quickly(config);
        s3.configure(config);
    })
    .await;
    round_trip_through_blocks(&node).await;
    {
        tracing::info!("--- a second node on the same bucket finds the blocks by listing");
        let config = node.config.clone();
        let mut node = node;
        node.node.take().expect("running").shutdown().await;
        node.node = Some(spanlake::Node::start(config).await.expect("restart on S3"));
        let found = node.tempo().trace_v2_protobuf(&hex(&spans::trace_id(11))).await;
        assert_eq!(spans_in(&found).len(), 4);
    }
}

/// A trace over max_bytes_per_trace is stored whole; by id, v2 returns a cut PARTIAL trace
/// with a message, v1 answers 422 — never a 5xx, never a silent loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_over_the_size_limit_is_kept_and_returned_partial() {
    let node = TestNode::start_with(|config| {
        flush_blocks_quickly(config);
        config.overrides.defaults.global.max_bytes_per_trace = 4_000;
    })
    .await;
    let tempo = node.tempo();
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let big = spans::request(&[77], 40);
    grpc.export(big.clone(), None).await.expect("a large trace is accepted");
    wait_for("the large trace in a block", Duration::from_secs(30), || async {
        metric_sum(&tempo, "spanlake_live_store_live_traces").await == 0.0
            && metric_sum(&tempo, "spanlake_block_builder_blocks_flushed_total").await >= 1.0
    })
    .await;
    let trace = hex(&spans::trace_id(77));
    let (status, body) = tempo.json(&format!("/api/v2/traces/{trace}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "PARTIAL");
    assert!(body["message"].as_str().unwrap().contains("exceeds maximum size of 4000 bytes"));
    let returned =
        body["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap().len();
    assert!(returned > 0 && returned < 40, "cut at whole spans: {returned}");
    let (status, _, body) = tempo.get(&format!("/api/traces/{trace}"), None).await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    {
        tracing::info!("--- the whole trace is stored: a larger limit returns all of it");
        let config = {
            let mut config = node.config.clone();
            config.overrides.defaults.global.max_bytes_per_trace = 10_000_000;
            config
        };
        let mut node = node;
        node.node.take().expect("running").shutdown().await;
        node.node = Some(spanlake::Node::start(config).await.expect("restart"));
        assert_eq!(spans_in(&node.tempo().trace_v2_protobuf(&trace).await).len(), 40);
    }
}
