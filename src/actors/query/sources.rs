//! Where a query's data is: the live traces of its tenants and the blocks in its window,
//! both newest first (searches and tag queries stop early, so the newest data goes first).

use std::sync::Arc;

use crate::actors::partition::live_store::{LiveStoreHandle, SnapshotUse};
use crate::actors::partition::live_traces::LiveTraceRef;
use crate::actors::query::{QueryError, TimeRange};
use crate::model::ids::TenantId;
use crate::storage::block::BlockMeta;
use crate::storage::block_list::BlockList;

/// Shared views of the tenants' live traces overlapping `window` (Unix ns; all when `None`),
/// newest start first.
pub(crate) async fn live_traces_newest_first(
    live_stores: &[LiveStoreHandle],
    tenants: &[TenantId],
    window: Option<(u64, u64)>,
    purpose: SnapshotUse,
) -> Result<Vec<LiveTraceRef>, QueryError> {
    let snapshots = tenants.iter().flat_map(|tenant| {
        live_stores.iter().map(move |store| store.search_snapshot(tenant.clone(), window, purpose))
    });
    let mut traces = Vec::new();
    for answer in futures::future::join_all(snapshots).await {
        traces.extend(answer?);
    }
    traces.sort_by_key(|trace| std::cmp::Reverse(trace.start_unix_nano));
    Ok(traces)
}

/// The tenants' blocks overlapping `[start, end]` (Unix ns, compared in whole seconds as the
/// API's windows are), newest end first.
pub(crate) fn blocks_newest_first(
    blocks: &dyn BlockList,
    tenants: &[TenantId],
    (start, end): (u64, u64),
) -> Vec<Arc<BlockMeta>> {
    let seconds = |nanos: u64| i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX);
    let range = TimeRange { start_seconds: seconds(start), end_seconds: seconds(end) };
    let mut found: Vec<Arc<BlockMeta>> = tenants
        .iter()
        .flat_map(|tenant| blocks.blocks(tenant))
        .filter(|meta| range.overlaps_block(meta))
        .collect();
    found.sort_by_key(|meta| std::cmp::Reverse(meta.end_unix_nano));
    found
}
