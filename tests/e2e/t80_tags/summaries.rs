//! Tags of live traces answered by decoding them (before any tag query turned summaries on),
//! then from the live-store's tag summaries, then from the blocks' dictionaries once the
//! traces are evicted: the same names and values every way.

use std::time::Duration;

use spanlake::actors::faults::Fault;
use tracing::info;

use super::{WINDOW, assert_shop_tags, shop};
use crate::harness::clients::OtlpGrpc;
use crate::harness::{
    TestNode, flush_blocks_quickly, metric_sum, wait_for, wait_until_in_blocks_and_evicted,
};

/// Postpones eviction while armed (the trace stays live after its flush).
const HOLD_EVICTION: &str = "live_store.before_evict";

/// A trace whose tag summary is built answers from it (no window: live data only, which is
/// the summary), and after its flush and eviction the window answers the same from its block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_summaries_and_block_dictionaries_give_the_same_answers() {
    let node = TestNode::start_with(flush_blocks_quickly).await;
    node.node().faults().arm(HOLD_EVICTION, Fault::Error { times: u32::MAX });
    let tempo = node.tempo();
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    grpc.export(shop(), None).await.expect("export acknowledged");

    info!("--- live, not summarized (no tag query yet): answers from decoding the trace");
    assert_shop_tags(&tempo, "").await;

    info!("--- flushed, still live, summarized (the tag query turned summaries on)");
    {
        wait_for("the trace flushed, live and summarized", Duration::from_secs(30), || async {
            metric_sum(&tempo, "spanlake_block_builder_blocks_flushed_total").await >= 1.0
                && metric_sum(&tempo, "spanlake_live_store_live_traces").await == 1.0
                && metric_sum(&tempo, "spanlake_live_store_traces_awaiting_tag_summary").await
                    == 0.0
        })
        .await;
        assert!(metric_sum(&tempo, "spanlake_live_store_tag_summary_bytes").await > 0.0);
        assert_shop_tags(&tempo, "").await;
        assert_shop_tags(&tempo, WINDOW).await;
    }

    info!("--- evicted: the same answers from the block's dictionary");
    {
        node.node().faults().disarm(HOLD_EVICTION);
        wait_until_in_blocks_and_evicted(&tempo, "the trace evicted from memory").await;
        assert_eq!(metric_sum(&tempo, "spanlake_live_store_tag_summary_bytes").await, 0.0);
        assert_shop_tags(&tempo, WINDOW).await;
    }
}
