//! TraceQL search: plan, fan out, combine.
//!
//! ```text
//!  search(request) ─► every live-store: SearchSnapshot (shared fragments, cheap)
//!                     newest traces first, cut into jobs of JOB_TRACES traces
//!                  ─► blocks overlapping start/end (only when given), newest first,
//!                     cut into jobs of JOB_ROW_GROUPS row groups
//!                  ─► QueryShardPool: SearchLive / SearchBlock   (JOBS_IN_FLIGHT at a time)
//!                     decode → EvalTrace → plan.run → hits
//!                  ◄─ combine: merge fragments of a trace, stop once `limit` traces matched,
//!                     newest start first
//! ```
//!
//! Jobs are taken newest first and results kept in job order, so the traces returned are the
//! newest that match. When the search ends early (limit reached, timeout, client gone) the
//! jobs not yet started are dropped and running block scans stop at their next trace.
//! Without `start`/`end` only live data is searched, as Tempo does.
//!
//! Block scans decode whole rows; reading only the columns a query needs and pruning row
//! groups by statistics is the next step.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;

use crate::actors::partition::live_store::LiveStoreHandle;
use crate::actors::partition::live_traces::LiveTraceRef;
use crate::actors::query::QueryError;
use crate::actors::query::search_hits::{BlockJob, merge_hit};
use crate::actors::query::shard::QueryShardPool;
use crate::model::ids::TenantId;
use crate::proto::tempopb;
use crate::storage::block::BlockMeta;
use crate::storage::block_list::BlockList;
use crate::traceql::{Query, SearchPlan};

/// Traces per live shard job.
const JOB_TRACES: usize = 256;
/// Row groups (about 65k spans each) per block shard job.
const JOB_ROW_GROUPS: usize = 2;
/// Jobs running at once per search.
const JOBS_IN_FLIGHT: usize = 4;

/// A validated search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Tenants searched (several for a federated query).
    pub tenants: Vec<TenantId>,
    /// A validated TraceQL search query.
    pub query: Query,
    /// Traces to return at most.
    pub limit: usize,
    /// Spans per spanset returned; 0 = all.
    pub spans_per_spanset: usize,
    /// Unix nanoseconds `[start, end]`; `None` = recent (live) data.
    pub window: Option<(u64, u64)>,
    /// Trace duration bounds, nanoseconds.
    pub min_duration_nanos: Option<u64>,
    /// Trace duration bounds, nanoseconds.
    pub max_duration_nanos: Option<u64>,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Searches the node's partitions.
#[derive(Clone)]
pub struct Searcher {
    live_stores: Vec<LiveStoreHandle>,
    blocks: Arc<dyn BlockList>,
    shards: QueryShardPool,
}

/// One unit of work for a query shard.
enum Job {
    Live(Vec<LiveTraceRef>),
    Block(BlockJob),
}

/// Tells running block scans to stop when the search is over, however it ends.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Searcher {
    pub(crate) fn new(
        live_stores: Vec<LiveStoreHandle>,
        blocks: Arc<dyn BlockList>,
        shards: QueryShardPool,
    ) -> Searcher {
        Searcher { live_stores, blocks, shards }
    }

    /// Runs a search to completion (or its timeout).
    #[tracing::instrument(name = "search", skip_all, fields(query = %request.query, limit = request.limit))]
    pub async fn search(
        &self,
        request: &SearchRequest,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        match tokio::time::timeout(request.timeout, self.run(request)).await {
            Ok(answer) => answer,
            Err(_) => Err(QueryError::Timeout { after: request.timeout }),
        }
    }

    async fn run(&self, request: &SearchRequest) -> Result<tempopb::SearchResponse, QueryError> {
        let plan = Arc::new(
            SearchPlan::new(&request.query)
                .map_err(|error| QueryError::Query { reason: error.to_string() })?,
        );
        let mut metrics = tempopb::SearchMetrics::default();
        if plan.is_noop() {
            return Ok(tempopb::SearchResponse { traces: Vec::new(), metrics: Some(metrics) });
        }
        let mut candidates = self.live_candidates(request).await?;
        // Newest first: the traces kept once `limit` is reached are the newest that match.
        candidates.sort_by_key(|trace| std::cmp::Reverse(trace.start_unix_nano));
        let mut jobs: Vec<Job> =
            candidates.chunks(JOB_TRACES).map(|chunk| Job::Live(chunk.to_vec())).collect();
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let blocks = self.candidate_blocks(request);
        metrics.total_blocks = u32::try_from(blocks.len()).unwrap_or(u32::MAX);
        metrics.total_block_bytes = blocks.iter().map(|meta| meta.data_bytes).sum();
        for meta in blocks {
            let groups: Vec<usize> = (0..meta.row_groups as usize).collect();
            for chunk in groups.chunks(JOB_ROW_GROUPS) {
                jobs.push(Job::Block(BlockJob {
                    meta: meta.clone(),
                    row_groups: chunk.to_vec(),
                    window: request.window,
                    cancel: cancel.0.clone(),
                }));
            }
        }
        metrics.total_jobs = u32::try_from(jobs.len()).unwrap_or(u32::MAX);
        let spss = request.spans_per_spanset;
        let mut answers = futures::stream::iter(jobs)
            .map(|job| {
                let plan = plan.clone();
                async move {
                    match job {
                        Job::Live(traces) => self.shards.search_live(plan, traces, spss).await,
                        Job::Block(job) => self.shards.search_block(plan, job, spss).await,
                    }
                }
            })
            .buffered(JOBS_IN_FLIGHT);
        let mut hits: HashMap<String, tempopb::TraceSearchMetadata> = HashMap::new();
        while let Some(answer) = answers.next().await {
            let answer = answer.map_err(QueryError::from_shard)?;
            metrics.completed_jobs += 1;
            metrics.inspected_traces += answer.inspected_traces;
            metrics.inspected_bytes += answer.inspected_bytes;
            metrics.inspected_spans += answer.inspected_spans;
            for hit in answer.hits {
                merge_hit(&mut hits, hit);
            }
            if hits.len() >= request.limit {
                break;
            }
        }
        let mut traces: Vec<_> = hits.into_values().collect();
        traces.sort_by(|a, b| {
            b.start_time_unix_nano.cmp(&a.start_time_unix_nano).then(a.trace_id.cmp(&b.trace_id))
        });
        traces.truncate(request.limit);
        Ok(tempopb::SearchResponse { traces, metrics: Some(metrics) })
    }

    /// The tenants' blocks overlapping the window, newest first; none without a window.
    fn candidate_blocks(&self, request: &SearchRequest) -> Vec<Arc<BlockMeta>> {
        let Some((start, end)) = request.window else { return Vec::new() };
        let mut blocks: Vec<Arc<BlockMeta>> = request
            .tenants
            .iter()
            .flat_map(|tenant| self.blocks.blocks(tenant))
            .filter(|meta| meta.start_unix_nano <= end && meta.end_unix_nano >= start)
            .collect();
        blocks.sort_by_key(|meta| std::cmp::Reverse(meta.end_unix_nano));
        blocks
    }

    /// Shared views of every live trace of the tenants in the window and duration bounds.
    async fn live_candidates(
        &self,
        request: &SearchRequest,
    ) -> Result<Vec<LiveTraceRef>, QueryError> {
        let snapshots = request.tenants.iter().flat_map(|tenant| {
            self.live_stores
                .iter()
                .map(move |store| store.search_snapshot(tenant.clone(), request.window))
        });
        let mut candidates = Vec::new();
        for answer in futures::future::join_all(snapshots).await {
            candidates.extend(answer?.into_iter().filter(|trace| {
                let duration = trace.end_unix_nano.saturating_sub(trace.start_unix_nano);
                request.min_duration_nanos.is_none_or(|min| duration >= min)
                    && request.max_duration_nanos.is_none_or(|max| duration <= max)
            }));
        }
        Ok(candidates)
    }
}
