//! The read path: trace by id over every partition's live-store and the candidate blocks.
//!
//! ```text
//!  find_trace(tenants, id) ─┬─► every live-store (FindTrace)
//!                           └─► blocks of each tenant overlapping the time range
//!                                 ─► QueryShardPool (bloom → index → one row range)
//!                           merge, de-duplicate identical spans ─► FoundTrace
//! ```
//!
//! A block that cannot be read is logged and counted, the answer is marked partial, and the
//! other blocks and traces are served. The Search issue adds the query-frontend.
//!
//! Tag autocomplete (`tags`): names and values from live traces (`tags_live`) and block tag
//! dictionaries, collected under Tempo's limits (`tag_collect`), from validated requests
//! (`tag_request`); what is read for which tag is in `tag_sources`; streaming interims are
//! `tag_interims`.

pub(crate) mod block_cache;
pub(crate) mod remote;
pub(crate) mod remote_jobs;
pub(crate) mod search;
pub(crate) mod search_combiner;
pub(crate) mod search_hits;
pub(crate) mod shard;
pub(crate) mod sources;
pub(crate) mod tag_collect;
pub(crate) mod tag_interims;
pub(crate) mod tag_request;
pub(crate) mod tag_sources;
pub(crate) mod tags;
pub(crate) mod tags_live;
pub(crate) mod trace_merge;

use remote::{LiveReplicas, LiveTarget};

pub use search::{INTERIM_PERIOD, SearchRequest, Searcher};

use std::sync::Arc;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use thiserror::Error;
use tracing::error;

use crate::actors::call::CallError;
use crate::actors::metrics::{NodeMetrics, TenantLabels};
use crate::api::error_code::ErrorCode;
use crate::model::ids::{TenantId, TraceId};
use crate::storage::block::BlockMeta;
use crate::storage::block_list::BlockList;
use shard::QueryShardPool;
use trace_merge::TraceMerger;

/// Why a query failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum QueryError {
    /// A partition did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Stored data did not decode: a bug or corruption, never user input.
    #[error("stored trace data is corrupt: {reason}")]
    Corrupt {
        /// The decoder's message.
        reason: String,
    },
    /// The query cannot run (a runtime error of the query itself, such as a division by zero).
    #[error("invalid TraceQL query: {reason}")]
    Query {
        /// What went wrong.
        reason: String,
    },
    /// The query ran past its time limit.
    #[error("query timed out after {after:?}")]
    Timeout {
        /// The limit.
        after: std::time::Duration,
    },
    /// No replica of a partition held elsewhere answered.
    #[error("a partition could not be read: {reason}")]
    Unavailable {
        /// Which partition and why.
        reason: String,
    },
}

impl QueryError {
    /// The API status for this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            QueryError::Call(error) => error.error_code(),
            QueryError::Corrupt { .. } => ErrorCode::Internal,
            QueryError::Query { .. } => ErrorCode::BadRequest,
            QueryError::Timeout { .. } => ErrorCode::Timeout,
            QueryError::Unavailable { .. } => ErrorCode::Unavailable,
        }
    }

    /// A failed shard job as a query error.
    pub(crate) fn from_shard(error: shard::ShardError) -> QueryError {
        use search_hits::SearchJobError;
        match error {
            shard::ShardError::Call(call) => QueryError::Call(call),
            shard::ShardError::Search(SearchJobError::Query(reason)) => {
                QueryError::Query { reason }
            }
            other => QueryError::Corrupt { reason: other.to_string() },
        }
    }
}

/// A time window in Unix seconds; spans outside it are not looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start, seconds.
    pub start_seconds: i64,
    /// Inclusive end, seconds.
    pub end_seconds: i64,
}

impl TimeRange {
    /// True when a block's span-time range overlaps this window.
    fn overlaps_block(&self, meta: &BlockMeta) -> bool {
        self.overlaps_nanos(meta.start_unix_nano, meta.end_unix_nano)
    }

    fn overlaps_nanos(&self, start_unix_nano: u64, end_unix_nano: u64) -> bool {
        let to_seconds = |nanos: u64| i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX);
        to_seconds(start_unix_nano) <= self.end_seconds
            && to_seconds(end_unix_nano) >= self.start_seconds
    }
}

/// A trace as found, with what it cost to find it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundTrace {
    /// The merged spans; empty when the trace is unknown.
    pub resource_spans: Vec<ResourceSpans>,
    /// Bytes of span data examined.
    pub inspected_bytes: u64,
    /// Why the answer is incomplete (an unreadable block, a cut at the size limit).
    pub partial: Option<String>,
    /// The trace was larger than `max_bytes_per_trace` and was cut to it.
    pub truncated: bool,
}

/// Looks traces up by id across the node's partitions and blocks.
#[derive(Clone)]
pub struct TraceByIdQuerier {
    live_stores: LiveReplicas,
    blocks: Arc<dyn BlockList>,
    shards: QueryShardPool,
    max_bytes_per_trace: usize,
    metrics: Arc<NodeMetrics>,
}

impl TraceByIdQuerier {
    pub(crate) fn new(
        live_stores: LiveReplicas,
        blocks: Arc<dyn BlockList>,
        shards: QueryShardPool,
        max_bytes_per_trace: usize,
        metrics: Arc<NodeMetrics>,
    ) -> TraceByIdQuerier {
        TraceByIdQuerier { live_stores, blocks, shards, max_bytes_per_trace, metrics }
    }

    /// Every span of `trace_id` held for any of `tenants`, merged and de-duplicated.
    #[tracing::instrument(name = "find_trace", skip_all, fields(trace_id = %trace_id, tenants = tenants.len()))]
    pub async fn find_trace(
        &self,
        tenants: &[TenantId],
        trace_id: TraceId,
        range: Option<TimeRange>,
    ) -> Result<FoundTrace, QueryError> {
        let targets = self.live_stores.targets();
        let replicas = &self.live_stores;
        let lookups = tenants.iter().flat_map(|tenant| {
            targets.iter().map(move |target| async move {
                match target {
                    LiveTarget::Local(store) => {
                        store.find_trace(tenant.clone(), trace_id).await.map_err(QueryError::from)
                    }
                    LiveTarget::Remote { partition, nodes } => replicas
                        .find_remote(*partition, nodes, tenant, trace_id)
                        .await
                        .map_err(|reason| QueryError::Unavailable { reason }),
                }
            })
        });
        let candidates: Vec<Arc<BlockMeta>> = tenants
            .iter()
            .flat_map(|tenant| self.blocks.blocks(tenant))
            .filter(|meta| range.is_none_or(|range| range.overlaps_block(meta)))
            .collect();
        let block_lookups =
            candidates.iter().map(|meta| self.shards.find_in_block(meta.clone(), trace_id));
        let (answers, block_answers) = futures::future::join(
            futures::future::join_all(lookups),
            futures::future::join_all(block_lookups),
        )
        .await;
        let mut merger = TraceMerger::new();
        for answer in answers {
            let Some(snapshot) = answer? else { continue };
            if let Some(range) = range
                && !range.overlaps_nanos(snapshot.start_unix_nano, snapshot.end_unix_nano)
            {
                continue;
            }
            merger
                .add_encoded(snapshot.traces_data)
                .map_err(|error| QueryError::Corrupt { reason: error.to_string() })?;
        }
        let mut partial = None;
        for (meta, answer) in candidates.iter().zip(block_answers) {
            match answer {
                Ok(resource_spans) => {
                    merger.inspected(resource_spans.iter().map(|rs| rs.encoded_len() as u64).sum());
                    merger.add(resource_spans);
                }
                Err(failure) => {
                    error!(tenant = %meta.tenant, block = %meta.block_id, %trace_id, error = %failure, "block unreadable, answering without it");
                    let labels = TenantLabels { tenant: meta.tenant.clone() };
                    self.metrics.query_block_errors.get_or_create(&labels).inc();
                    partial
                        .get_or_insert_with(|| format!("some blocks could not be read: {failure}"));
                }
            }
        }
        let inspected_bytes = merger.inspected_bytes();
        let (resource_spans, truncated) = cut_to_size(merger.finish(), self.max_bytes_per_trace);
        if truncated {
            partial = Some(format!(
                "Trace exceeds maximum size of {} bytes, a partial trace is returned",
                self.max_bytes_per_trace
            ));
        }
        Ok(FoundTrace { resource_spans, inspected_bytes, partial, truncated })
    }
}

/// Keeps whole spans, in order, until the encoded trace would pass `max_bytes`.
fn cut_to_size(resource_spans: Vec<ResourceSpans>, max_bytes: usize) -> (Vec<ResourceSpans>, bool) {
    let total: usize = resource_spans.iter().map(Message::encoded_len).sum();
    if max_bytes == 0 || total <= max_bytes {
        return (resource_spans, false);
    }
    let mut kept = Vec::new();
    let mut size = 0usize;
    'outer: for mut resource in resource_spans {
        let scopes = std::mem::take(&mut resource.scope_spans);
        let mut kept_resource = resource.clone();
        size += kept_resource.encoded_len();
        for mut scope in scopes {
            let spans = std::mem::take(&mut scope.spans);
            let mut kept_scope = scope.clone();
            size += kept_scope.encoded_len();
            for span in spans {
                size += span.encoded_len() + 4;
                if size > max_bytes {
                    if !kept_scope.spans.is_empty() {
                        kept_resource.scope_spans.push(kept_scope);
                    }
                    if !kept_resource.scope_spans.is_empty() {
                        kept.push(kept_resource);
                    }
                    break 'outer;
                }
                kept_scope.spans.push(span);
            }
            kept_resource.scope_spans.push(kept_scope);
        }
        kept.push(kept_resource);
    }
    (kept, true)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};

    use super::*;

    #[test]
    fn traces_over_the_limit_are_cut_at_whole_spans() {
        let spans =
            (0..100).map(|n| Span { name: format!("span-{n:03}"), ..Default::default() }).collect();
        let trace = vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }];
        let size: usize = trace.iter().map(Message::encoded_len).sum();
        let (same, cut) = cut_to_size(trace.clone(), size);
        assert!(!cut);
        assert_eq!(same, trace);
        let (half, cut) = cut_to_size(trace, size / 2);
        assert!(cut);
        let kept = half[0].scope_spans[0].spans.len();
        assert!((40..=50).contains(&kept), "kept {kept} of 100");
        assert!(half.iter().map(Message::encoded_len).sum::<usize>() <= size / 2);
    }
}
