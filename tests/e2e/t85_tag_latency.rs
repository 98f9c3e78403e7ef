//! A measurement, not a timed test: the latency of tag names and values over about 200k live
//! spans of the generated shop, through the real HTTP routes. Ignored by default; run it by
//! hand and read the numbers it prints:
//!
//! ```text
//! cargo test --test e2e t85 -- --ignored --nocapture
//! ```
//!
//! It asserts only what the answers must hold (the shop's services and span names), so a
//! wrong answer fails it; how fast they come is printed, never asserted.

use std::time::{Duration, Instant};

use spanlake::config::HumanDuration;

use crate::harness::TestNode;
use crate::harness::clients::{OtlpGrpc, TempoClient};
use crate::harness::shop::{export_requests, shop};
use crate::harness::{metric_sum, wait_for};

/// Shop requests generated; with the consumer and special traces, about 200k spans.
const REQUESTS: usize = 20_000;
/// Times each request is asked; the median and the fastest are printed.
const ROUNDS: usize = 5;

/// Asks `path` [`ROUNDS`] times; (median, fastest) latency and the last answer.
async fn measure(tempo: &TempoClient, path: &str) -> (Duration, Duration, serde_json::Value) {
    let mut latencies = Vec::new();
    let mut body = serde_json::Value::Null;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let (status, answer) = tempo.json(path).await;
        latencies.push(started.elapsed());
        assert_eq!(status, 200, "{path}: {answer}");
        body = answer;
    }
    latencies.sort();
    (latencies[ROUNDS / 2], latencies[0], body)
}

/// Prints tag latencies over ~200k live spans (see the module doc).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
async fn tag_latency_over_200k_live_spans() {
    // Nothing is cut into blocks while measuring: every span stays live.
    let node = TestNode::start_with(|config| {
        config.block_builder.max_block_duration = HumanDuration::from_secs(3600);
        config.block_builder.trace_idle_period = HumanDuration::from_secs(3600);
        config.block_builder.max_block_bytes = 4 << 30;
    })
    .await;
    let tempo = node.tempo();
    let data = shop(7, REQUESTS);
    let spans = data.span_count();
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let started = Instant::now();
    for request in export_requests(&data.resource_spans, 1 << 20) {
        otlp.export(request, None).await.expect("export acknowledged");
    }
    eprintln!("ingested {spans} spans in {:?}", started.elapsed());
    let traces = data.traces.len() as f64;
    // A first tag query turns summaries on (a node builds them only while tags are in use).
    tempo.get("/api/v2/search/tags", None).await;
    wait_for("every trace live and summarized", Duration::from_secs(120), || async {
        metric_sum(&tempo, "spanlake_live_store_live_traces").await == traces
            && metric_sum(&tempo, "spanlake_live_store_traces_awaiting_tag_summary").await == 0.0
    })
    .await;
    let live_bytes = metric_sum(&tempo, "spanlake_live_store_bytes").await;
    let summary_bytes = metric_sum(&tempo, "spanlake_live_store_tag_summary_bytes").await;
    eprintln!(
        "{traces} live traces: {live_bytes} bytes of spans, {summary_bytes} of tag summaries"
    );

    let cases = [
        ("names v2", "/api/v2/search/tags"),
        ("names v1", "/api/search/tags"),
        ("values v2 resource.service.name", "/api/v2/search/tag/resource.service.name/values"),
        ("values v2 name", "/api/v2/search/tag/name/values"),
        ("values v1 service.name", "/api/search/tag/service.name/values"),
        (
            "values v2 name, q by service",
            "/api/v2/search/tag/name/values?q=%7B%20resource.service.name%20%3D%20%22cart%22%20%7D",
        ),
    ];
    for (what, path) in cases {
        let (median, fastest, body) = measure(&tempo, path).await;
        eprintln!("{what:<34} median {median:>10.1?}  fastest {fastest:>10.1?}");
        let listed = ["tagNames", "scopes", "tagValues"]
            .iter()
            .find_map(|key| body[key].as_array())
            .map_or(0, Vec::len);
        assert!(listed > 1, "{what}: {body}");
    }
}
