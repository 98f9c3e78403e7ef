//! TraceQL search: plan, fan out, combine.
//!
//! ```text
//!  search(request) ─► partitions held only by other nodes: one Remote job each, sent to a
//!                     replica (remote_jobs; it runs the live part of this search there)
//!                  ─► every local live-store: SearchSnapshot (shared fragments, cheap)
//!                     newest traces first, cut into jobs of JOB_TRACES traces
//!                  ─► blocks overlapping start/end (only when given), newest first,
//!                     cut into jobs of JOB_ROW_GROUPS row groups
//!                  ─► QueryShardPool: SearchLive / SearchBlock   (JOBS_IN_FLIGHT at a time)
//!                     decode → EvalTrace → plan.run → hits
//!                  ◄─ SearchCombiner: merge fragments of a trace, stop once `limit` traces
//!                     matched, newest start first
//!                     (streaming: every INTERIM_PERIOD at most, what changed ─► interims)
//! ```
//!
//! Jobs are taken newest first and results kept in job order, so the traces returned are the
//! newest that match. A remote job answers with the newest `limit` matches of its partition;
//! remote jobs go first, so when the limit cuts a search short, what is dropped is local data
//! older than everything kept from the same node (the same trade Tempo's frontend makes when
//! it stops at `limit`). When the search ends early (limit reached, timeout, client gone) the
//! jobs not yet started are dropped and running block scans stop at their next trace.
//! Without `start`/`end` only live data is searched, as Tempo does.
//!
//! Block scans decode whole rows; reading only the columns a query needs and pruning row
//! groups by statistics is the next step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use crate::actors::partition::live_store::{LiveStoreHandle, SnapshotUse};
use crate::actors::partition::live_traces::LiveTraceRef;
use crate::actors::query::QueryError;
use crate::actors::query::remote::{LiveReplicas, Reach};
use crate::actors::query::remote_jobs::{RemoteSearch, SEARCH_METHOD, decode_search_answer};
use crate::actors::query::search_combiner::SearchCombiner;
use crate::actors::query::search_hits::{BlockJob, SearchAnswer};
use crate::actors::query::shard::QueryShardPool;
use crate::actors::query::sources::{blocks_newest_first, live_traces_newest_first};
use crate::model::ids::{PartitionId, TenantId};
use crate::proto::tempopb;
use crate::storage::block_list::BlockList;
use crate::traceql::{Query, SearchPlan};

/// Traces per live shard job.
const JOB_TRACES: usize = 256;
/// Row groups (about 65k spans each) per block shard job.
const JOB_ROW_GROUPS: usize = 2;
/// Jobs running at once per search.
const JOBS_IN_FLIGHT: usize = 4;
/// Streaming searches send interim results at most this often (Tempo's pace).
pub const INTERIM_PERIOD: Duration = Duration::from_millis(500);

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
    /// Whether hits carry their spansets: TraceQL searches do, legacy tag searches (whose
    /// query was made from tags) do not, as in Tempo.
    pub spansets: bool,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Searches every readable partition (here or through other nodes) and the blocks.
#[derive(Clone)]
pub struct Searcher {
    live: LiveReplicas,
    blocks: Arc<dyn BlockList>,
    shards: QueryShardPool,
}

/// One unit of work: for a query shard, or for a replica on another node.
enum Job {
    Live(Vec<LiveTraceRef>),
    Block(BlockJob),
    Remote { partition: PartitionId, nodes: Vec<u64> },
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
        live: LiveReplicas,
        blocks: Arc<dyn BlockList>,
        shards: QueryShardPool,
    ) -> Searcher {
        Searcher { live, blocks, shards }
    }

    /// Runs a search to completion (or its timeout).
    #[tracing::instrument(name = "search", skip_all, fields(query = %request.query, limit = request.limit))]
    pub async fn search(
        &self,
        request: &SearchRequest,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        self.run_with_timeout(request, None, Reach::Everything).await
    }

    /// Runs the live part of a search on this node's replica of `partition` (another node
    /// asked: [`crate::actors::query::remote_jobs`]).
    pub(crate) async fn search_partition(
        &self,
        partition: PartitionId,
        request: &SearchRequest,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        let store = self.live.local_store(partition).ok_or_else(|| QueryError::Unavailable {
            reason: format!("no replica of {partition} on this node"),
        })?;
        self.run_with_timeout(request, None, Reach::Partition(store)).await
    }

    /// Runs a search like [`Searcher::search`] and, while it runs, sends `interims` what it
    /// found since the last interim with the metrics so far, at most every
    /// [`INTERIM_PERIOD`] (a fast search sends none). Returns the complete answer. Never
    /// waits for `interims`: while it is full, interims are skipped (their traces come with a
    /// later one or the answer); once it is closed, none are sent. Dropping the future stops
    /// the search.
    #[tracing::instrument(name = "search_streaming", skip_all, fields(query = %request.query, limit = request.limit))]
    pub async fn search_streaming(
        &self,
        request: &SearchRequest,
        interims: mpsc::Sender<tempopb::SearchResponse>,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        self.run_with_timeout(request, Some(interims), Reach::Everything).await
    }

    async fn run_with_timeout(
        &self,
        request: &SearchRequest,
        interims: Option<mpsc::Sender<tempopb::SearchResponse>>,
        reach: Reach,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        match tokio::time::timeout(request.timeout, self.run(request, interims, reach)).await {
            Ok(answer) => answer,
            Err(_) => Err(QueryError::Timeout { after: request.timeout }),
        }
    }

    /// The one search implementation: plan, cut into jobs, run them, combine.
    async fn run(
        &self,
        request: &SearchRequest,
        mut interims: Option<mpsc::Sender<tempopb::SearchResponse>>,
        reach: Reach,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        let mut last_interim = Instant::now();
        let plan = Arc::new(
            SearchPlan::new(&request.query)
                .map_err(|error| QueryError::Query { reason: error.to_string() })?,
        );
        if plan.is_noop() {
            return Ok(SearchCombiner::new(request.limit, 0).finish());
        }
        // Blocks only for a search from the API, and only with a window (as Tempo).
        let blocks = match (&reach, request.window) {
            (Reach::Everything, Some(window)) => {
                blocks_newest_first(self.blocks.as_ref(), &request.tenants, window)
            }
            _ => Vec::new(),
        };
        let sources = self.live.sources(reach);
        let mut jobs: Vec<Job> = sources
            .remote
            .into_iter()
            .map(|(partition, nodes)| Job::Remote { partition, nodes })
            .collect();
        // Newest first: the traces kept once `limit` is reached are the newest that match.
        let candidates = self.live_candidates(&sources.local, request).await?;
        jobs.extend(candidates.chunks(JOB_TRACES).map(|chunk| Job::Live(chunk.to_vec())));
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let block_count = blocks.len();
        let block_bytes: u64 = blocks.iter().map(|meta| meta.data_bytes).sum();
        for meta in blocks {
            let groups: Vec<usize> = (0..meta.row_groups as usize).collect();
            for chunk in groups.chunks(JOB_ROW_GROUPS) {
                jobs.push(Job::Block(BlockJob {
                    meta: meta.clone(),
                    row_groups: chunk.to_vec(),
                    window: request.window,
                    cancel: cancel.0.clone(),
                    limit: request.limit,
                }));
            }
        }
        let mut combiner = SearchCombiner::new(request.limit, jobs.len());
        combiner.set_blocks(block_count, block_bytes);
        let spss = request.spans_per_spanset;
        let remote_request = RemoteSearch::of(request).encode();
        let mut answers = futures::stream::iter(jobs)
            .map(|job| {
                let plan = plan.clone();
                let remote_request = remote_request.clone();
                async move {
                    match job {
                        Job::Live(traces) => self
                            .shards
                            .search_live(plan, traces, spss)
                            .await
                            .map_err(QueryError::from_shard),
                        Job::Block(job) => self
                            .shards
                            .search_block(plan, job, spss)
                            .await
                            .map_err(QueryError::from_shard),
                        Job::Remote { partition, nodes } => {
                            self.search_remote(partition, &nodes, remote_request, request.timeout)
                                .await
                        }
                    }
                }
            })
            .buffered(JOBS_IN_FLIGHT);
        while let Some(answer) = answers.next().await {
            let mut answer = answer?;
            if !request.spansets {
                answer.drop_spansets();
            }
            combiner.add(answer);
            if combiner.has_enough() {
                break;
            }
            if let Some(sender) = &interims
                && last_interim.elapsed() >= INTERIM_PERIOD
            {
                // Never wait for the listener: one that is behind skips this interim, and
                // the changes go out with the next one or the final answer.
                let listener_gone = match sender.try_reserve() {
                    Ok(slot) => {
                        last_interim = Instant::now();
                        slot.send(combiner.take_changes());
                        false
                    }
                    Err(TrySendError::Full(())) => false,
                    Err(TrySendError::Closed(())) => true,
                };
                if listener_gone {
                    // Nobody listens any more; the answer may still be wanted.
                    interims = None;
                }
            }
        }
        Ok(combiner.finish())
    }

    /// Runs the live part of the search on a replica of `partition` on another node.
    async fn search_remote(
        &self,
        partition: PartitionId,
        nodes: &[u64],
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<SearchAnswer, QueryError> {
        let reply = self
            .live
            .call_replicas(partition, nodes, SEARCH_METHOD, body, timeout)
            .await
            .map_err(|reason| QueryError::Unavailable { reason })?;
        decode_search_answer(reply).map_err(|reason| QueryError::Unavailable { reason })
    }

    /// Shared views of every live trace of the tenants in `stores` in the window and
    /// duration bounds, newest first.
    async fn live_candidates(
        &self,
        stores: &[LiveStoreHandle],
        request: &SearchRequest,
    ) -> Result<Vec<LiveTraceRef>, QueryError> {
        let mut traces =
            live_traces_newest_first(stores, &request.tenants, request.window, SnapshotUse::Search)
                .await?;
        traces.retain(|trace| {
            let duration = trace.end_unix_nano.saturating_sub(trace.start_unix_nano);
            request.min_duration_nanos.is_none_or(|min| duration >= min)
                && request.max_duration_nanos.is_none_or(|max| duration <= max)
        });
        Ok(traces)
    }
}
