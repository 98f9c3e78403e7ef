//! Tag autocomplete: tag names per scope and the values of one tag, over live data and block
//! tag dictionaries, answered in Tempo's message shapes.
//!
//! ```text
//!  query ─► virtual answer? (intrinsic names, status / kind keywords, durations) ─► done
//!        ─► partitions held only by other nodes: one Remote job each, run on a replica there
//!           (remote_jobs) and answered with what it collected
//!        ─► every local live-store: snapshot of the tenants' traces in the window (or all recent)
//!           newest first, cut into jobs of JOB_TRACES ──► QueryShardPool: TagsLive
//!        ─► window given and no filter: blocks overlapping it, newest first ──► TagsInBlock
//!           (the block's tags.json, cached; a block without one is skipped)
//!        ◄─ jobs in order, JOBS_IN_FLIGHT at a time, absorbed into one TagCollector;
//!           stop as soon as it is done (limit, maxStaleValues, byte budget)
//!           (streaming: after a job, at most every INTERIM_PERIOD, what is new ─► interims)
//! ```
//!
//! Each query takes an optional listener for interims (`tag_interims`; the gRPC
//! `StreamingQuerier` passes one, HTTP none) and returns the complete answer.
//!
//! Blocks and `q`: a block's dictionary lists every value of the block and cannot tell which
//! spans carried it, so it cannot be filtered. A query with a filter (`q` that is not
//! trivially true) reads live traces only, where the filter runs on every span; returning a
//! block's unfiltered values would suggest values the filter excludes.
//!
//! An unreadable dictionary is logged, counted (`query_block_errors`) and skipped: tag
//! answers are suggestions and have no partial status. A live-store that does not answer
//! fails the query, as for search.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;
use tracing::error;

use crate::actors::metrics::{NodeMetrics, TenantLabels};
use crate::actors::partition::live_store::SnapshotUse;
use crate::actors::partition::live_traces::LiveTraceRef;
use crate::actors::query::QueryError;
use crate::actors::query::remote::{LiveReplicas, Reach};
use crate::actors::query::remote_jobs::{RemoteTags, TAGS_METHOD, decode_tag_answer};
use crate::actors::query::shard::QueryShardPool;
use crate::actors::query::sources::{blocks_newest_first, live_traces_newest_first};
use crate::actors::query::tag_collect::{TagCollector, TypedValue};
use crate::actors::query::tag_interims::{TagInterims, TagProgress};
use crate::actors::query::tag_request::{ScopeChoice, TagName, TagValuesQuery, TagsQuery};
use crate::actors::query::tag_sources::{
    INTRINSIC_TAGS, TagJob, TagJobAnswer, ValueSource, virtual_values_v1, virtual_values_v2,
};
use crate::model::ids::{PartitionId, TenantId};
use crate::proto::tempopb;
use crate::storage::block::{BlockMeta, TagScope};
use crate::storage::block_list::BlockList;

/// Live traces per shard job.
const JOB_TRACES: usize = 256;
/// Jobs running at once per query.
const JOBS_IN_FLIGHT: usize = 4;

/// Answers tag queries over every readable partition (here or through other nodes) and the
/// blocks.
#[derive(Clone)]
pub(crate) struct TagSearcher {
    live: LiveReplicas,
    blocks: Arc<dyn BlockList>,
    shards: QueryShardPool,
    metrics: Arc<NodeMetrics>,
}

/// One unit of work.
enum Job {
    Live(Vec<LiveTraceRef>),
    Block(Arc<BlockMeta>),
    Remote { partition: PartitionId, nodes: Vec<u64> },
}

/// Progress nobody listens to.
struct Unobserved;

impl TagProgress for Unobserved {
    fn found_more(&mut self, _: &TagCollector, _: &tempopb::MetadataMetrics) {}
}

impl TagSearcher {
    /// A searcher over these live-stores and blocks.
    pub(crate) fn new(
        live: LiveReplicas,
        blocks: Arc<dyn BlockList>,
        shards: QueryShardPool,
        metrics: Arc<NodeMetrics>,
    ) -> TagSearcher {
        TagSearcher { live, blocks, shards, metrics }
    }

    /// Runs a tag job another node sent on this node's replica of `partition` (live data
    /// only: [`crate::actors::query::remote_jobs`]).
    pub(crate) async fn collect_in_partition(
        &self,
        partition: PartitionId,
        request: RemoteTags,
    ) -> Result<TagJobAnswer, QueryError> {
        let store = self.live.local_store(partition).ok_or_else(|| QueryError::Unavailable {
            reason: format!("no replica of {partition} on this node"),
        })?;
        let job = TagJob::from_spec(request.job).map_err(|reason| QueryError::Query { reason })?;
        let tenants: Vec<TenantId> =
            request.tenants.iter().map(|tenant| TenantId::new(tenant)).collect();
        let timeout = std::time::Duration::from_millis(request.timeout_ms);
        let reach = Reach::Partition(store);
        let (found, metrics) = self
            .run(&tenants, request.window, job, Vec::new(), timeout, &mut Unobserved, reach)
            .await?;
        Ok(TagJobAnswer { found, inspected_bytes: metrics.inspected_bytes })
    }

    /// Tag names per scope (`/api/v2/search/tags`); the intrinsic scope is added for no scope,
    /// `none` and `intrinsic` (to the complete answer; interims carry found names only).
    #[tracing::instrument(name = "search_tags", skip_all, fields(scope = ?query.scope))]
    pub(crate) async fn search_tags_v2(
        &self,
        query: &TagsQuery,
        interims: Option<mpsc::Sender<tempopb::SearchTagsV2Response>>,
    ) -> Result<tempopb::SearchTagsV2Response, QueryError> {
        let mut progress = TagInterims::new(interims, tags_v2_message);
        let (found, metrics) = self.collect_names(query, false, &mut progress).await?;
        let mut answer = tags_v2_message(&found, metrics);
        if matches!(query.scope, ScopeChoice::All | ScopeChoice::Intrinsic) {
            answer.scopes.push(tempopb::SearchTagsV2Scope {
                name: TagScope::Intrinsic.as_str().to_string(),
                tags: INTRINSIC_TAGS.iter().map(|tag| tag.to_string()).collect(),
            });
        }
        Ok(answer)
    }

    /// Tag names, unscoped and de-duplicated (`/api/search/tags`); the intrinsics only for
    /// `scope=intrinsic`.
    #[tracing::instrument(name = "search_tags_v1", skip_all, fields(scope = ?query.scope))]
    pub(crate) async fn search_tags_v1(
        &self,
        query: &TagsQuery,
        interims: Option<mpsc::Sender<tempopb::SearchTagsResponse>>,
    ) -> Result<tempopb::SearchTagsResponse, QueryError> {
        if query.scope == ScopeChoice::Intrinsic {
            return Ok(tempopb::SearchTagsResponse {
                tag_names: INTRINSIC_TAGS.iter().map(|tag| tag.to_string()).collect(),
                metrics: Some(tempopb::MetadataMetrics::default()),
            });
        }
        let mut progress = TagInterims::new(interims, tags_v1_message);
        let (found, metrics) = self.collect_names(query, true, &mut progress).await?;
        Ok(tags_v1_message(&found, metrics))
    }

    /// Typed values of one tag (`/api/v2/search/tag/<tag>/values`).
    #[tracing::instrument(name = "search_tag_values", skip_all, fields(tag = ?query.tag))]
    pub(crate) async fn search_tag_values_v2(
        &self,
        query: &TagValuesQuery,
        interims: Option<mpsc::Sender<tempopb::SearchTagValuesV2Response>>,
    ) -> Result<tempopb::SearchTagValuesV2Response, QueryError> {
        let source = match &query.tag {
            TagName::Field(field) => {
                if let Some(fixed) = virtual_values_v2(field) {
                    return Ok(tempopb::SearchTagValuesV2Response {
                        tag_values: fixed.into_iter().map(tag_value).collect(),
                        metrics: Some(tempopb::MetadataMetrics::default()),
                    });
                }
                ValueSource::for_field(field)
            }
            TagName::Plain(name) => ValueSource::for_v1_name(name),
        };
        let mut progress = TagInterims::new(interims, values_v2_message);
        let (found, metrics) =
            self.collect_values(query, source, false, Vec::new(), &mut progress).await?;
        Ok(values_v2_message(&found, metrics))
    }

    /// Values of one tag as strings (`/api/search/tag/<tag>/values`), with the virtual
    /// values of `status.code` and `error` first.
    #[tracing::instrument(name = "search_tag_values_v1", skip_all, fields(tag = ?query.tag))]
    pub(crate) async fn search_tag_values_v1(
        &self,
        query: &TagValuesQuery,
        interims: Option<mpsc::Sender<tempopb::SearchTagValuesResponse>>,
    ) -> Result<tempopb::SearchTagValuesResponse, QueryError> {
        let (source, seed) = match &query.tag {
            TagName::Plain(name) => (ValueSource::for_v1_name(name), virtual_values_v1(name)),
            TagName::Field(field) => (ValueSource::for_field(field), Vec::new()),
        };
        let mut progress = TagInterims::new(interims, values_v1_message);
        let (found, metrics) =
            self.collect_values(query, source, true, seed, &mut progress).await?;
        Ok(values_v1_message(&found, metrics))
    }

    async fn collect_names(
        &self,
        query: &TagsQuery,
        merged: bool,
        progress: &mut dyn TagProgress,
    ) -> Result<(TagCollector, tempopb::MetadataMetrics), QueryError> {
        let scopes: Vec<TagScope> = match query.scope {
            ScopeChoice::All => TagScope::ATTRIBUTES.to_vec(),
            ScopeChoice::Attribute(scope) => vec![scope],
            ScopeChoice::Intrinsic | ScopeChoice::Trace => Vec::new(),
        };
        let template = TagCollector::for_names(&scopes, merged, query.limits);
        if scopes.is_empty() {
            return Ok((template, tempopb::MetadataMetrics::default()));
        }
        let job = TagJob::new(query.filter.as_ref(), None, false, template);
        let reach = Reach::Everything;
        self.run(&query.tenants, query.window, job, Vec::new(), query.timeout, progress, reach)
            .await
    }

    async fn collect_values(
        &self,
        query: &TagValuesQuery,
        source: ValueSource,
        untyped: bool,
        seed: Vec<TypedValue>,
        progress: &mut dyn TagProgress,
    ) -> Result<(TagCollector, tempopb::MetadataMetrics), QueryError> {
        let template = TagCollector::for_values(query.limits);
        if source == ValueSource::Nothing {
            let mut found = template;
            seed.into_iter().for_each(|value| found.add_value(value));
            return Ok((found, tempopb::MetadataMetrics::default()));
        }
        let job = TagJob::new(query.filter.as_ref(), Some(source), untyped, template);
        self.run(
            &query.tenants,
            query.window,
            job,
            seed,
            query.timeout,
            progress,
            Reach::Everything,
        )
        .await
    }

    /// Runs a job over live data and (when allowed) blocks, to completion or the timeout.
    #[allow(clippy::too_many_arguments)] // one private entry point for every kind of query
    async fn run(
        &self,
        tenants: &[TenantId],
        window: Option<(u64, u64)>,
        job: TagJob,
        seed: Vec<TypedValue>,
        timeout: std::time::Duration,
        progress: &mut dyn TagProgress,
        reach: Reach,
    ) -> Result<(TagCollector, tempopb::MetadataMetrics), QueryError> {
        let remote = RemoteTags {
            tenants: tenants.iter().map(|tenant| tenant.as_str().to_string()).collect(),
            window,
            job: job.spec(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        };
        let remote = (remote.encode(), timeout);
        let jobs = self.run_jobs(tenants, window, job, seed, progress, reach, remote);
        match tokio::time::timeout(timeout, jobs).await {
            Ok(answer) => answer,
            Err(_) => Err(QueryError::Timeout { after: timeout }),
        }
    }

    #[allow(clippy::too_many_arguments)] // the private half of `run`
    async fn run_jobs(
        &self,
        tenants: &[TenantId],
        window: Option<(u64, u64)>,
        job: TagJob,
        seed: Vec<TypedValue>,
        progress: &mut dyn TagProgress,
        reach: Reach,
        remote_request: (bytes::Bytes, std::time::Duration),
    ) -> Result<(TagCollector, tempopb::MetadataMetrics), QueryError> {
        let mut found = job.template.empty_like();
        seed.into_iter().for_each(|value| found.add_value(value));
        // A dictionary cannot be filtered (module doc): with a filter, live data only.
        let reads_blocks = job.filter.is_none() && matches!(reach, Reach::Everything);
        let job = Arc::new(job);
        let sources = self.live.sources(reach);
        let mut jobs: Vec<Job> = sources
            .remote
            .into_iter()
            .map(|(partition, nodes)| Job::Remote { partition, nodes })
            .collect();
        let live =
            live_traces_newest_first(&sources.local, tenants, window, SnapshotUse::Tags).await?;
        jobs.extend(live.chunks(JOB_TRACES).map(|chunk| Job::Live(chunk.to_vec())));
        if let (Some((start, end)), true) = (window, reads_blocks) {
            let blocks = blocks_newest_first(self.blocks.as_ref(), tenants, (start, end));
            jobs.extend(blocks.into_iter().map(Job::Block));
        }
        let mut metrics = tempopb::MetadataMetrics {
            total_jobs: u32::try_from(jobs.len()).unwrap_or(u32::MAX),
            ..Default::default()
        };
        let mut answers = futures::stream::iter(jobs)
            .map(|unit| self.run_one(job.clone(), unit, remote_request.clone()))
            .buffered(JOBS_IN_FLIGHT);
        while !found.is_done()
            && let Some(answer) = answers.next().await
        {
            metrics.completed_jobs += 1;
            if let Some(answer) = answer? {
                metrics.inspected_bytes += answer.inspected_bytes;
                found.absorb(&answer.found);
            }
            progress.found_more(&found, &metrics);
        }
        Ok((found, metrics))
    }

    /// Runs one job; a block that cannot be read is logged and answers nothing.
    async fn run_one(
        &self,
        job: Arc<TagJob>,
        unit: Job,
        (remote_request, timeout): (bytes::Bytes, std::time::Duration),
    ) -> Result<Option<TagJobAnswer>, QueryError> {
        match unit {
            Job::Remote { partition, nodes } => {
                let reply = self
                    .live
                    .call_replicas(partition, &nodes, TAGS_METHOD, remote_request, timeout)
                    .await
                    .map_err(|reason| QueryError::Unavailable { reason })?;
                decode_tag_answer(&reply, &job.template)
                    .map(Some)
                    .map_err(|reason| QueryError::Unavailable { reason })
            }
            Job::Live(traces) => {
                self.shards.tags_live(job, traces).await.map(Some).map_err(QueryError::from_shard)
            }
            Job::Block(meta) => match self.shards.tags_in_block(meta.clone(), job).await {
                Ok(answer) => Ok(answer),
                Err(failure) => {
                    error!(tenant = %meta.tenant, block = %meta.block_id, error = %failure, "tag dictionary unreadable, answering without it");
                    let labels = TenantLabels { tenant: meta.tenant.clone() };
                    self.metrics.query_block_errors.get_or_create(&labels).inc();
                    Ok(None)
                }
            },
        }
    }
}

/// Names per scope (an interim's: without the intrinsic scope).
fn tags_v2_message(
    found: &TagCollector,
    metrics: tempopb::MetadataMetrics,
) -> tempopb::SearchTagsV2Response {
    let scopes = found
        .sorted_names()
        .into_iter()
        .map(|(scope, tags)| tempopb::SearchTagsV2Scope { name: scope.as_str().into(), tags })
        .collect();
    tempopb::SearchTagsV2Response { scopes, metrics: Some(metrics) }
}

fn tags_v1_message(
    found: &TagCollector,
    metrics: tempopb::MetadataMetrics,
) -> tempopb::SearchTagsResponse {
    let tag_names = found.sorted_names().into_iter().flat_map(|(_, names)| names).collect();
    tempopb::SearchTagsResponse { tag_names, metrics: Some(metrics) }
}

fn values_v2_message(
    found: &TagCollector,
    metrics: tempopb::MetadataMetrics,
) -> tempopb::SearchTagValuesV2Response {
    tempopb::SearchTagValuesV2Response {
        tag_values: found.sorted_values().into_iter().map(tag_value).collect(),
        metrics: Some(metrics),
    }
}

fn values_v1_message(
    found: &TagCollector,
    metrics: tempopb::MetadataMetrics,
) -> tempopb::SearchTagValuesResponse {
    let mut tag_values: Vec<String> =
        found.sorted_values().into_iter().map(|value| value.text).collect();
    tag_values.sort();
    tempopb::SearchTagValuesResponse { tag_values, metrics: Some(metrics) }
}

fn tag_value(value: TypedValue) -> tempopb::TagValue {
    tempopb::TagValue { r#type: value.kind.as_str().to_string(), value: value.text }
}
