//! Crashes, torn logs and actor failures: every acknowledged span reads back exactly once.

#[path = "../harness/mod.rs"]
mod harness;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spanlake::actors::faults::Fault;

use harness::clients::OtlpGrpc;
use harness::oracle::AckOracle;
use harness::spans::{self, hex};
use harness::{ProcessNode, TestNode, wait_for};

/// Spans acknowledged before a SIGKILL all come back after a restart on the same data, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_spans_survive_kill_9() {
    let mut node = ProcessNode::start().await;
    let mut oracle = AckOracle::default();
    {
        tracing::info!("--- ingest 40 requests from 4 concurrent clients, then SIGKILL at once");
        let mut clients = Vec::new();
        for worker in 0..4u64 {
            let url = node.otlp_grpc_url();
            clients.push(tokio::spawn(async move {
                let mut client = OtlpGrpc::connect(&url).await;
                let mut acknowledged = Vec::new();
                for round in 0..10u64 {
                    let seeds: Vec<u64> =
                        (0..5).map(|n| 10_000 + worker * 1_000 + round * 10 + n).collect();
                    let request = spans::request(&seeds, 3);
                    client
                        .export(request.clone(), None)
                        .await
                        .expect("acknowledged before the kill");
                    acknowledged.push(request);
                }
                acknowledged
            }));
        }
        for client in clients {
            for request in client.await.expect("client task") {
                oracle.acknowledged(&request);
            }
        }
        node.kill_9();
    }
    {
        tracing::info!("--- restart on the same data directory");
        node.spawn().await;
        oracle.verify_exactly_once(&node.tempo()).await;
        assert_eq!(oracle.acknowledged_spans(), 4 * 10 * 5 * 3);
    }
}

/// A log whose last segment ends mid-record recovers every complete record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_keeps_every_complete_record() {
    let mut node = ProcessNode::start().await;
    let mut client = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let mut oracle = AckOracle::default();
    for round in 0..20u64 {
        let request = spans::request(&[50_000 + round], 2);
        client.export(request.clone(), None).await.expect("acknowledged");
        oracle.acknowledged(&request);
    }
    node.kill_9();
    {
        tracing::info!("--- append half a record to the last segment of every partition");
        for partition in 0..4 {
            let dir = node.wal_dir(partition);
            let mut segments: Vec<_> = std::fs::read_dir(&dir)
                .expect("wal dir")
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "wal"))
                .collect();
            segments.sort();
            let last = segments.last().expect("a segment");
            let mut bytes = std::fs::read(last).expect("read segment");
            // A frame header announcing 4 KiB, then only 10 bytes of it: a torn write.
            bytes.extend_from_slice(&4096u32.to_le_bytes());
            bytes.extend_from_slice(&0xdead_beefu32.to_le_bytes());
            bytes.extend_from_slice(&[7u8; 10]);
            std::fs::write(last, bytes).expect("tear the tail");
        }
    }
    {
        tracing::info!("--- restart: complete records are served, and ingest continues");
        node.spawn().await;
        oracle.verify_exactly_once(&node.tempo()).await;
        let mut client = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
        let request = spans::request(&[60_000], 2);
        client.export(request.clone(), None).await.expect("ingest after recovery");
        oracle.acknowledged(&request);
        oracle.verify_exactly_once(&node.tempo()).await;
    }
}

/// Panics in the distributor, the live-store and the partition log while four clients keep
/// ingesting are survived: supervisors restart the actors, ingest continues, and nothing
/// acknowledged is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_spans_survive_actor_panics_mid_ingest() {
    let node = TestNode::start().await;
    let oracle = Arc::new(Mutex::new(AckOracle::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for worker in 0..4u64 {
        let url = node.otlp_grpc_url();
        let oracle = oracle.clone();
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut client = OtlpGrpc::connect(&url).await;
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let seeds: Vec<u64> = (0..4).map(|n| 70_000_000 + worker * 1_000_000 + round * 10 + n).collect();
                round += 1;
                let request = spans::request(&seeds, 2);
                let outcome = client.export(request.clone(), None).await;
                let mut oracle = oracle.lock().expect("oracle lock");
                match outcome {
                    Ok(_) => oracle.acknowledged(&request),
                    Err(status) => {
                        tracing::info!(code = ?status.code(), message = status.message(), "write unknown");
                        oracle.unknown(&request);
                    }
                }
            }
        }));
    }
    let faults = node.node().faults();
    let points = [
        "distributor.before_route",
        "live_store.before_apply",
        "partition_log.before_enqueue",
        "partition_log.before_append",
        "partition_log.before_sync",
        "partition_log.after_sync",
    ];
    for point in points {
        tracing::info!("--- arm {point} while ingest runs");
        faults.arm(point, Fault::Panic { times: 1 });
        wait_for(&format!("{point} to fire"), Duration::from_secs(30), || async {
            faults.fired(point) == 1
        })
        .await;
        let acknowledged_before = oracle.lock().expect("oracle lock").acknowledged_spans();
        wait_for("ingest to continue after the restart", Duration::from_secs(30), || {
            let oracle = oracle.clone();
            async move {
                oracle.lock().expect("oracle lock").acknowledged_spans() > acknowledged_before + 50
            }
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    {
        tracing::info!(
            "--- a lookup that hits a panicking live-store is answered after its restart"
        );
        faults.arm("live_store.before_find", Fault::Panic { times: 1 });
        let tempo = node.tempo();
        wait_for("the live-store answers lookups", Duration::from_secs(30), || {
            let tempo = &tempo;
            async move { tempo.get("/api/v2/traces/1", None).await.0 == 200 }
        })
        .await;
        assert_eq!(faults.fired("live_store.before_find"), 1);
    }
    let oracle = std::mem::take(&mut *oracle.lock().expect("oracle lock"));
    oracle.verify_exactly_once(&node.tempo()).await;
    let restarts = node.node().restarts();
    assert_eq!(restarts.get("distributor"), 1);
    assert_eq!(restarts.get("live_store"), 2);
    assert_eq!(restarts.get("partition_log"), 4);
    tracing::info!(acknowledged = oracle.acknowledged_spans(), "verified");
}

/// A live-store that keeps failing escalates to its partition supervisor, which is restarted
/// whole by the node; the partition serves again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_escalate_and_the_partition_recovers() {
    let node = TestNode::start_with(|config| config.supervision.max_restarts = 2).await;
    let mut client = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let mut oracle = AckOracle::default();
    // Scoped to one partition, so all three panics spend the same restart budget.
    node.node().faults().arm("p0/live_store.before_apply", Fault::Panic { times: 3 });
    for batch in 0..30u64 {
        let seeds: Vec<u64> = (0..8).map(|n| 80_000 + batch * 10 + n).collect();
        let request = spans::request(&seeds, 2);
        match client.export(request.clone(), None).await {
            Ok(_) => oracle.acknowledged(&request),
            Err(_) => oracle.unknown(&request),
        }
    }
    wait_for("a partition supervisor restart", Duration::from_secs(30), || async {
        node.node().restarts().get("partition_supervisor") >= 1
    })
    .await;
    oracle.verify_exactly_once(&node.tempo()).await;
}

/// A block-builder crashing after the data upload, after the index and blooms, after
/// `meta.json`, or right before the log purge rebuilds the same block on restart: every
/// acknowledged span reads back exactly once, and no two blocks cover the same log records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_builder_crashes_at_every_step_lose_and_duplicate_nothing() {
    let mut node = TestNode::start_with(harness::flush_blocks_quickly).await;
    let mut client = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let mut oracle = AckOracle::default();
    let points = [
        "block_builder.after_data_upload",
        "block_builder.after_index_upload",
        "block_builder.after_meta_upload",
        "block_builder.before_log_purge",
    ];
    for (round, point) in points.iter().enumerate() {
        tracing::info!("--- crash the block-builder at {point}");
        node.node().faults().arm(point, Fault::Panic { times: 1 });
        for batch in 0..5u64 {
            let seeds: Vec<u64> =
                (0..4).map(|n| 90_000 + round as u64 * 1_000 + batch * 10 + n).collect();
            let request = spans::request(&seeds, 3);
            client
                .export(request.clone(), None)
                .await
                .expect("ingest is not affected by the builder");
            oracle.acknowledged(&request);
        }
        let faults = node.node().faults().clone();
        wait_for(&format!("{point} to fire"), Duration::from_secs(30), || {
            let faults = faults.clone();
            async move { faults.fired(point) == 1 }
        })
        .await;
    }
    let tempo = node.tempo();
    wait_for("everything flushed after the crashes", Duration::from_secs(30), || async {
        harness::metric_sum(&tempo, "spanlake_live_store_live_traces").await == 0.0
    })
    .await;
    oracle.verify_exactly_once(&tempo).await;
    assert_eq!(node.node().restarts().get("block_builder"), 4);
    {
        tracing::info!("--- a whole-node restart finds the same blocks, once");
        let config = node.config.clone();
        node.node.take().expect("running").shutdown().await;
        node.node = Some(spanlake::Node::start(config).await.expect("restart"));
        oracle.verify_exactly_once(&node.tempo()).await;
    }
    let blocks = harness::assert_no_overlapping_blocks(&node.config.storage.trace.local.path);
    assert!(blocks >= 4, "{blocks} blocks");
}

/// A block whose data object is corrupted or missing is reported in the logs and /metrics;
/// traces in other blocks and in memory are still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_block_does_not_hide_other_traces() {
    let node = TestNode::start_with(harness::flush_blocks_quickly).await;
    let tempo = node.tempo();
    let mut client = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let first = spans::request(&[1, 2, 3], 2);
    client.export(first.clone(), None).await.expect("acknowledged");
    harness::wait_until_in_blocks_and_evicted(&tempo, "the first block").await;
    let second = spans::request(&[4, 5, 6], 2);
    client.export(second.clone(), None).await.expect("acknowledged");
    wait_for("the second block", Duration::from_secs(30), || async {
        harness::metric_sum(&tempo, "spanlake_block_builder_blocks_flushed_total").await >= 2.0
    })
    .await;
    {
        tracing::info!("--- corrupt every data object of the first block(s), remove an index");
        let ranges = harness::local_block_ranges(&node.config.storage.trace.local.path);
        let (tenant, partition, first_index, last_index) =
            ranges.first().cloned().expect("a block");
        let block_dir = node
            .config
            .storage
            .trace
            .local
            .path
            .join(&tenant)
            .join(format!("p{partition}-{first_index:020}-{last_index:020}"));
        std::fs::write(block_dir.join("data.parquet"), b"garbage").expect("corrupt data");
        let _ = std::fs::remove_file(block_dir.join("index"));
    }
    let mut served = 0;
    let mut failed_reads = 0;
    for seed in 1..=6 {
        let trace = hex(&spans::trace_id(seed));
        let (status, _, body) = tempo.get(&format!("/api/v2/traces/{trace}"), None).await;
        assert_eq!(status, 200, "never a 5xx: {}", String::from_utf8_lossy(&body));
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        if body["status"] == "PARTIAL" {
            failed_reads += 1;
            assert!(body["message"].as_str().unwrap_or("").contains("could not be read"));
        } else {
            assert!(body["trace"]["resourceSpans"].is_array(), "trace {seed} served: {body}");
            served += 1;
        }
    }
    assert!(served >= 1 && failed_reads >= 1, "served {served}, partial {failed_reads}");
    assert!(harness::metric_sum(&tempo, "spanlake_query_block_errors_total").await >= 1.0);
}
