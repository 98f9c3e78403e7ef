//! Query shards: a bounded pool of actors that do the per-block work of a query.
//!
//! ```text
//!  TraceByIdQuerier ── FindInBlock(meta, id) ──► QueryShard k (round robin over the pool)
//!                                                 bloom shard (cached) ─ no ─► empty
//!                                                 trace-id index (cached) ─► row ranges
//!                                                 read those rows of data.parquet ─► spans
//! ```
//!
//! Each shard handles one request at a time, so the pool size bounds the concurrent object
//! reads of the node. Search and tag queries send their live-trace jobs here too, and tag
//! queries their block dictionary reads. Bloom shards, indexes, readers and tag dictionaries
//! are immutable (a block never changes once registered), so they are cached across shards
//! (`block_cache`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use object_store::ObjectStore;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use thiserror::Error;

use crate::actors::call::{ActorSlot, CallError};
use crate::actors::faults::FaultPoints;
use crate::actors::partition::live_traces::LiveTraceRef;
pub(crate) use crate::actors::query::block_cache::BlockObjectCache;
use crate::actors::query::block_cache::LoadedTags;
use crate::actors::query::search_hits::{
    BlockJob, SearchAnswer, SearchJobError, search_block, search_live_traces,
};
use crate::actors::query::tag_sources::{TagJob, TagJobAnswer, collect_from_dictionary};
use crate::actors::query::tags_live::collect_live_tags;
use crate::model::ids::{TenantId, TraceId};
use crate::storage::block::bloom::shard_for;
use crate::storage::block::{
    BlockDataReader, BlockError, BlockMeta, data_path, load_bloom_for, load_index,
    load_tag_dictionary,
};
use crate::traceql::SearchPlan;

/// Why a block could not be searched.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ShardError {
    /// An object of the block is missing or unreadable.
    #[error("block {block} of tenant {tenant}: {reason}")]
    Block {
        /// The tenant.
        tenant: String,
        /// The block.
        block: String,
        /// What failed.
        reason: String,
    },
    /// A search job failed.
    #[error(transparent)]
    Search(#[from] SearchJobError),
    /// The shard did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// One query-shard actor (behaviour only).
pub(crate) struct QueryShard;

/// Work a query shard does.
pub(crate) enum QueryShardMsg {
    /// The spans of `trace_id` in one block (empty when the bloom or index rules it out).
    FindInBlock {
        meta: Arc<BlockMeta>,
        trace_id: TraceId,
        reply: RpcReplyPort<Result<Vec<ResourceSpans>, ShardError>>,
    },
    /// Runs a search plan on some row groups of a block.
    SearchBlock {
        plan: Arc<SearchPlan>,
        job: BlockJob,
        spans_per_spanset: usize,
        reply: RpcReplyPort<Result<SearchAnswer, ShardError>>,
    },
    /// Runs a search plan on live traces.
    SearchLive {
        plan: Arc<SearchPlan>,
        traces: Vec<LiveTraceRef>,
        spans_per_spanset: usize,
        reply: RpcReplyPort<Result<SearchAnswer, ShardError>>,
    },
    /// Collects tag names or values from live traces.
    TagsLive {
        job: Arc<TagJob>,
        traces: Vec<LiveTraceRef>,
        reply: RpcReplyPort<Result<TagJobAnswer, ShardError>>,
    },
    /// Collects tag names or values from one block's tag dictionary; `None` when the block
    /// has none.
    TagsInBlock {
        meta: Arc<BlockMeta>,
        job: Arc<TagJob>,
        reply: RpcReplyPort<Result<Option<TagJobAnswer>, ShardError>>,
    },
}

/// What every shard shares.
#[derive(Clone)]
pub(crate) struct QueryShardArgs {
    pub store: Arc<dyn ObjectStore>,
    pub cache: Arc<BlockObjectCache>,
    pub faults: FaultPoints,
}

impl Actor for QueryShard {
    type Msg = QueryShardMsg;
    type State = QueryShardArgs;
    type Arguments = QueryShardArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<QueryShardMsg>,
        args: QueryShardArgs,
    ) -> Result<QueryShardArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<QueryShardMsg>,
        message: QueryShardMsg,
        state: &mut QueryShardArgs,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            QueryShardMsg::FindInBlock { meta, trace_id, reply } => {
                state.faults.check("query_shard.before_read").await?;
                let found = find_in_block(state, &meta, trace_id).await.map_err(|error| {
                    ShardError::Block {
                        tenant: meta.tenant.clone(),
                        block: meta.block_id.to_string(),
                        reason: error.to_string(),
                    }
                });
                let _ = reply.send(found);
            }
            QueryShardMsg::SearchBlock { plan, job, spans_per_spanset, reply } => {
                state.faults.check("query_shard.before_search").await?;
                let meta = job.meta.clone();
                let block_error = |reason: String| ShardError::Block {
                    tenant: meta.tenant.clone(),
                    block: meta.block_id.to_string(),
                    reason,
                };
                let reader = match open_reader(state, &meta).await {
                    Ok(reader) => reader,
                    Err(error) => {
                        let _ = reply.send(Err(block_error(error.to_string())));
                        return Ok(());
                    }
                };
                // Reads are async, evaluation is CPU: both on a blocking thread.
                let runtime = tokio::runtime::Handle::current();
                let answer = tokio::task::spawn_blocking(move || {
                    runtime.block_on(search_block(&reader, &plan, &job, spans_per_spanset))
                })
                .await?;
                let _ = reply.send(answer.map_err(|error| match error {
                    SearchJobError::Block(reason) => block_error(reason),
                    other => ShardError::Search(other),
                }));
            }
            QueryShardMsg::SearchLive { plan, traces, spans_per_spanset, reply } => {
                state.faults.check("query_shard.before_search").await?;
                // Decoding and evaluating is CPU work: off the async workers.
                let answer = tokio::task::spawn_blocking(move || {
                    search_live_traces(&plan, traces, spans_per_spanset)
                })
                .await;
                let answer = match answer {
                    Ok(result) => result.map_err(ShardError::from),
                    // The job panicked: fail this shard (its supervisor restarts it).
                    Err(join_error) => return Err(join_error.into()),
                };
                let _ = reply.send(answer);
            }
            QueryShardMsg::TagsLive { job, traces, reply } => {
                state.faults.check("query_shard.before_search").await?;
                let answer =
                    tokio::task::spawn_blocking(move || collect_live_tags(&job, traces)).await;
                let answer = match answer {
                    Ok(result) => result.map_err(ShardError::from),
                    Err(join_error) => return Err(join_error.into()),
                };
                let _ = reply.send(answer);
            }
            QueryShardMsg::TagsInBlock { meta, job, reply } => {
                state.faults.check("query_shard.before_read").await?;
                let block_error = |error: BlockError| ShardError::Block {
                    tenant: meta.tenant.clone(),
                    block: meta.block_id.to_string(),
                    reason: error.to_string(),
                };
                let answer = match load_tags(state, &meta).await {
                    Ok(Some((dictionary, size))) => {
                        // Walking a dictionary of up to 1 MB is CPU work.
                        let found = tokio::task::spawn_blocking(move || {
                            collect_from_dictionary(&job, &dictionary)
                        })
                        .await?;
                        Ok(Some(TagJobAnswer { found, inspected_bytes: size }))
                    }
                    Ok(None) => Ok(None),
                    Err(error) => Err(block_error(error)),
                };
                let _ = reply.send(answer);
            }
        }
        Ok(())
    }
}

/// A block's tag dictionary, through the cache (a block without one is cached as such).
async fn load_tags(state: &QueryShardArgs, meta: &BlockMeta) -> Result<LoadedTags, BlockError> {
    let key = format!("{}/{}", meta.tenant, meta.block_id);
    let loaded = state
        .cache
        .tags
        .get_or_load_weighted(
            key,
            |loaded: &LoadedTags| loaded.as_ref().map_or(0, |(_, size)| *size as usize),
            || async {
                let loaded = load_tag_dictionary(state.store.as_ref(), meta).await?;
                Ok(loaded.map(|(dictionary, size)| (Arc::new(dictionary), size)))
            },
        )
        .await?;
    Ok((*loaded).clone())
}

async fn find_in_block(
    state: &QueryShardArgs,
    meta: &BlockMeta,
    trace_id: TraceId,
) -> Result<Vec<ResourceSpans>, BlockError> {
    let block_key = format!("{}/{}", meta.tenant, meta.block_id);
    let shard = shard_for(trace_id, meta.bloom_shards);
    let bloom = state
        .cache
        .blooms
        .get_or_load(format!("{block_key}/bloom-{shard}"), || {
            load_bloom_for(state.store.as_ref(), meta, trace_id)
        })
        .await?;
    if !bloom.may_contain(trace_id) {
        return Ok(Vec::new());
    }
    let index = state
        .cache
        .indexes
        .get_or_load(block_key.clone(), || load_index(state.store.as_ref(), meta))
        .await?;
    if index.lookup(trace_id).is_empty() {
        return Ok(Vec::new());
    }
    let reader = open_reader(state, meta).await?;
    reader.read_trace(&index, trace_id).await
}

/// The opened data object of a block, cached.
async fn open_reader(
    state: &QueryShardArgs,
    meta: &BlockMeta,
) -> Result<Arc<BlockDataReader>, BlockError> {
    let tenant = TenantId::new(&meta.tenant);
    let block_key = format!("{}/{}", meta.tenant, meta.block_id);
    let data_object = data_path(&tenant, &meta.block_id);
    state
        .cache
        .readers
        .get_or_load(block_key, || BlockDataReader::open(state.store.clone(), &data_object, meta))
        .await
}

/// The pool of query shards; survives restarts of individual shards.
#[derive(Clone)]
pub(crate) struct QueryShardPool {
    shards: Arc<Vec<ActorSlot<QueryShardMsg>>>,
    next: Arc<AtomicUsize>,
    timeout: Duration,
}

impl QueryShardPool {
    /// A pool over `shards` slots (filled by their supervisor).
    pub fn new(shards: Vec<ActorSlot<QueryShardMsg>>, timeout: Duration) -> QueryShardPool {
        QueryShardPool { shards: Arc::new(shards), next: Arc::new(AtomicUsize::new(0)), timeout }
    }

    /// Runs a search plan on a job of live traces.
    pub(crate) async fn search_live(
        &self,
        plan: Arc<SearchPlan>,
        traces: Vec<LiveTraceRef>,
        spans_per_spanset: usize,
    ) -> Result<SearchAnswer, ShardError> {
        let shard = self.pick()?;
        shard
            .call(
                |reply| QueryShardMsg::SearchLive { plan, traces, spans_per_spanset, reply },
                self.timeout,
            )
            .await?
    }

    /// Runs a search plan on some row groups of a block.
    pub(crate) async fn search_block(
        &self,
        plan: Arc<SearchPlan>,
        job: BlockJob,
        spans_per_spanset: usize,
    ) -> Result<SearchAnswer, ShardError> {
        let shard = self.pick()?;
        shard
            .call(
                |reply| QueryShardMsg::SearchBlock { plan, job, spans_per_spanset, reply },
                self.timeout,
            )
            .await?
    }

    fn pick(&self) -> Result<&ActorSlot<QueryShardMsg>, ShardError> {
        let position = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len().max(1);
        self.shards.get(position).ok_or_else(|| {
            ShardError::Call(CallError::ActorGone { actor: "query shard".to_string() })
        })
    }

    /// Collects tag names or values from a job of live traces.
    pub(crate) async fn tags_live(
        &self,
        job: Arc<TagJob>,
        traces: Vec<LiveTraceRef>,
    ) -> Result<TagJobAnswer, ShardError> {
        let shard = self.pick()?;
        shard.call(|reply| QueryShardMsg::TagsLive { job, traces, reply }, self.timeout).await?
    }

    /// Collects tag names or values from one block's dictionary; `None` when it has none.
    pub(crate) async fn tags_in_block(
        &self,
        meta: Arc<BlockMeta>,
        job: Arc<TagJob>,
    ) -> Result<Option<TagJobAnswer>, ShardError> {
        let shard = self.pick()?;
        shard.call(|reply| QueryShardMsg::TagsInBlock { meta, job, reply }, self.timeout).await?
    }

    /// The spans of `trace_id` in one block.
    pub async fn find_in_block(
        &self,
        meta: Arc<BlockMeta>,
        trace_id: TraceId,
    ) -> Result<Vec<ResourceSpans>, ShardError> {
        let shard = self.pick()?;
        shard
            .call(|reply| QueryShardMsg::FindInBlock { meta, trace_id, reply }, self.timeout)
            .await?
    }
}
