//! Traces move from the log into Parquet blocks, the log is purged, and trace by id reads them
//! back from blocks exactly as sent — on the local filesystem, in memory and on a real S3.

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::Span;

use crate::harness::clients::{OtlpGrpc, spans_in};
use crate::harness::oracle::AckOracle;
use crate::harness::spans::{self, hex};
use crate::harness::{
    TestNode, assert_no_overlapping_blocks, flush_blocks_quickly, metric_sum, wait_for,
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
    wait_for("every span in blocks and evicted from memory", Duration::from_secs(30), || async {
        metric_sum(&tempo, "spanlake_block_builder_blocks_flushed_total").await >= 1.0
            && metric_sum(&tempo, "spanlake_live_store_live_traces").await == 0.0
    })
    .await;
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
