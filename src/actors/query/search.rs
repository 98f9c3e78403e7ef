//! TraceQL search: plan, fan out, combine.
//!
//! ```text
//!  search(request) ─► every live-store: SearchSnapshot (shared fragments, cheap)
//!                     newest traces first, cut into jobs of JOB_TRACES traces
//!                  ─► QueryShardPool: SearchLive(plan, job)   (JOBS_IN_FLIGHT at a time)
//!                     decode → EvalTrace → plan.run → hits
//!                  ◄─ SearchCombiner: merge fragments of a trace, stop once `limit` traces
//!                     matched, newest start first
//!                     (streaming: every INTERIM_PERIOD at most, what changed ─► interims)
//! ```
//!
//! Jobs are taken newest first and results kept in job order, so the traces returned are the
//! newest that match. Dropping the future (client gone, timeout) drops the jobs not yet run.
//! Blocks join this plan in the next step of the Search issue.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use crate::actors::partition::live_store::LiveStoreHandle;
use crate::actors::partition::live_traces::LiveTraceRef;
use crate::actors::query::QueryError;
use crate::actors::query::search_combiner::SearchCombiner;
use crate::actors::query::shard::QueryShardPool;
use crate::model::ids::TenantId;
use crate::proto::tempopb;
use crate::traceql::{Query, SearchPlan};

/// Traces per shard job.
const JOB_TRACES: usize = 256;
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
    /// Give up after this long.
    pub timeout: Duration,
}

/// Searches the node's partitions.
#[derive(Clone)]
pub struct Searcher {
    live_stores: Vec<LiveStoreHandle>,
    shards: QueryShardPool,
}

impl Searcher {
    pub(crate) fn new(live_stores: Vec<LiveStoreHandle>, shards: QueryShardPool) -> Searcher {
        Searcher { live_stores, shards }
    }

    /// Runs a search to completion (or its timeout).
    #[tracing::instrument(name = "search", skip_all, fields(query = %request.query, limit = request.limit))]
    pub async fn search(
        &self,
        request: &SearchRequest,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        self.run_with_timeout(request, None).await
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
        self.run_with_timeout(request, Some(interims)).await
    }

    async fn run_with_timeout(
        &self,
        request: &SearchRequest,
        interims: Option<mpsc::Sender<tempopb::SearchResponse>>,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        match tokio::time::timeout(request.timeout, self.run(request, interims)).await {
            Ok(answer) => answer,
            Err(_) => Err(QueryError::Timeout { after: request.timeout }),
        }
    }

    /// The one search implementation: plan, cut into jobs, run them, combine.
    async fn run(
        &self,
        request: &SearchRequest,
        mut interims: Option<mpsc::Sender<tempopb::SearchResponse>>,
    ) -> Result<tempopb::SearchResponse, QueryError> {
        let mut last_interim = Instant::now();
        let plan = Arc::new(
            SearchPlan::new(&request.query)
                .map_err(|error| QueryError::Query { reason: error.to_string() })?,
        );
        if plan.is_noop() {
            return Ok(SearchCombiner::new(request.limit, 0).finish());
        }
        let mut candidates = self.live_candidates(request).await?;
        // Newest first: the traces kept once `limit` is reached are the newest that match.
        candidates.sort_by_key(|trace| std::cmp::Reverse(trace.start_unix_nano));
        let jobs: Vec<Vec<LiveTraceRef>> =
            candidates.chunks(JOB_TRACES).map(<[LiveTraceRef]>::to_vec).collect();
        let mut combiner = SearchCombiner::new(request.limit, jobs.len());
        let spss = request.spans_per_spanset;
        let mut answers = futures::stream::iter(jobs)
            .map(|job| self.shards.search_live(plan.clone(), job, spss))
            .buffered(JOBS_IN_FLIGHT);
        while let Some(answer) = answers.next().await {
            combiner.add(answer.map_err(QueryError::from_shard)?);
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
