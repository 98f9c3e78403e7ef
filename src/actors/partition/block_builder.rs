//! Block-builder actor: turns a partition's committed log into Parquet blocks in object
//! storage, then lets the log be purged. It runs on every replica but builds only while its
//! replica leads the partition. Decisions live in [`FlushPlanner`].
//!
//! ```text
//!  state machine ── Committed(sizes) ──► BlockBuilder ── Tick (leading) ──► planner: FlushRange?
//!     meta group: SetFlushIntent {first, last}            (before anything is uploaded)
//!     read records first..=last from the WAL (blocking, in chunks; Raft control entries skipped)
//!     per tenant: build_block (blocking) ── upload data, index, blooms, tags.json, then
//!                                           meta.json last
//!     meta group: RegisterBlocks {blocks, flushed: last}  (atomically)
//!     partition log: Flushed(last) → snapshot → openraft purges; live-store evicts later
//! ```
//!
//! Crash and failover safety: the range is recorded in the meta group (the flush intent)
//! before anything is uploaded; a block's id comes from (partition, first, last); `meta.json`
//! goes last; blocks and the flushed index are registered in one meta command. A builder that
//! starts leading (after a restart or a leadership change, on any node) starts at the meta
//! group's flushed index and first redoes an intent left there: the same blocks are rebuilt,
//! overwritten and registered once, never a second block overlapping them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{info, warn};

use crate::actors::call::ActorSlot;
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::{NodeMetrics, PartitionLabels};
use crate::actors::partition::flush_planner::{FlushPlanner, FlushPolicy, FlushRange};
use crate::actors::partition::live_store::LiveStoreHandle;
use crate::actors::partition::log::{PartitionLogHandle, WalSlot};
use crate::cluster::log_store::is_control;
use crate::cluster::meta::{MetaCommand, MetaResponse};
use crate::cluster::meta_group::MetaGroup;
use crate::model::batch::TraceBatch;
use crate::model::ids::{LogIndex, PartitionId, TenantId, TraceId};
use crate::storage::block::{
    BlockBuildOptions, BlockId, BlockInputTrace, BuiltBlock, bloom_path, build_block, data_path,
    index_path, meta_path, tags_path,
};
use crate::storage::object_store::{RetryPolicy, with_retries};
use crate::storage::wal::Wal;

/// Records read from the log per lock of the WAL, so appends are never held up for long.
const READ_CHUNK_RECORDS: u64 = 256;

/// The block-builder actor (behaviour only).
pub(crate) struct BlockBuilder;

/// Everything a block-builder can be told.
pub(crate) enum BlockBuilderMsg {
    /// Records became durable: (index, bytes on disk) each.
    Committed(Vec<(LogIndex, u64)>),
    /// Checks whether this replica leads and a block is due (sent by a timer).
    Tick,
}

/// What a block-builder starts from.
pub(crate) struct BlockBuilderArgs {
    pub partition: PartitionId,
    pub wal: WalSlot,
    pub store: Arc<dyn ObjectStore>,
    pub meta: MetaGroup,
    pub live_store: LiveStoreHandle,
    pub log: PartitionLogHandle,
    /// The term while this replica leads the partition, 0 otherwise (kept by the log).
    pub leader_term: Arc<AtomicU64>,
    /// The last index applied by this replica.
    pub applied: Arc<AtomicU64>,
    pub policy: FlushPolicy,
    pub build_options: BlockBuildOptions,
    pub retry: RetryPolicy,
    pub check_period: Duration,
    /// Shared by every builder of the node: one block build at a time, so the memory a
    /// build needs (its decoded range) is not multiplied by the partition count.
    pub build_permits: Arc<tokio::sync::Semaphore>,
    pub faults: FaultPoints,
    pub metrics: Arc<NodeMetrics>,
}

/// A running block-builder.
pub(crate) struct BlockBuilderState {
    /// The plan while leading, with the term it was made in.
    planner: Option<(u64, FlushPlanner)>,
    labels: PartitionLabels,
    args: BlockBuilderArgs,
}

impl Actor for BlockBuilder {
    type Msg = BlockBuilderMsg;
    type State = BlockBuilderState;
    type Arguments = BlockBuilderArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<BlockBuilderMsg>,
        args: BlockBuilderArgs,
    ) -> Result<BlockBuilderState, ActorProcessingErr> {
        myself.send_interval(args.check_period, || BlockBuilderMsg::Tick);
        let labels = PartitionLabels { partition: args.partition.to_string() };
        Ok(BlockBuilderState { planner: None, labels, args })
    }

    async fn handle(
        &self,
        _myself: ActorRef<BlockBuilderMsg>,
        message: BlockBuilderMsg,
        state: &mut BlockBuilderState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BlockBuilderMsg::Committed(records) => {
                if let Some((_, planner)) = state.planner.as_mut() {
                    let now = Instant::now();
                    for (index, bytes) in records {
                        planner.committed(index, bytes, now);
                    }
                }
            }
            BlockBuilderMsg::Tick => {
                let term = state.args.leader_term.load(Ordering::Acquire);
                if term == 0 {
                    state.planner = None;
                    return Ok(());
                }
                if state.planner.as_ref().is_none_or(|(planned, _)| *planned != term) {
                    state.planner = Some((term, plan_from_meta(&state.args).await?));
                }
                let Some((_, planner)) = state.planner.as_mut() else { return Ok(()) };
                let Some(range) = planner.next_flush(Instant::now()) else { return Ok(()) };
                let started = Instant::now();
                match async {
                    // Nothing is uploaded unless the intent is recorded.
                    save_intent(&state.args, range).await?;
                    flush(state, range).await
                }
                .await
                {
                    Ok(summary) => {
                        if let Some((_, planner)) = state.planner.as_mut() {
                            planner.flush_done(range);
                        }
                        info!(
                            partition = %state.args.partition,
                            first = %range.first,
                            last = %range.last,
                            blocks = summary.blocks,
                            spans = summary.spans,
                            bytes = summary.bytes,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "flushed log range into blocks"
                        );
                        let metrics = &state.args.metrics;
                        metrics.blocks_flushed.get_or_create(&state.labels).inc_by(summary.blocks);
                        metrics.spans_flushed.get_or_create(&state.labels).inc_by(summary.spans);
                        metrics
                            .flush_seconds
                            .get_or_create(&state.labels)
                            .observe(started.elapsed().as_secs_f64());
                    }
                    Err(FlushError::Retry(reason)) => {
                        warn!(partition = %state.args.partition, first = %range.first, last = %range.last, %reason, "flush failed, will retry the same range");
                        state.args.metrics.block_flush_failures.get_or_create(&state.labels).inc();
                        if let Some((_, planner)) = state.planner.as_mut() {
                            planner.flush_failed(range);
                        }
                    }
                    Err(FlushError::Replan(reason)) => {
                        info!(partition = %state.args.partition, %reason, "flush plan is stale, planning again from the meta group");
                        state.planner = None;
                    }
                    Err(FlushError::Fatal(reason)) => {
                        return Err(format!(
                            "partition {} flush failed: {reason}",
                            state.args.partition
                        )
                        .into());
                    }
                }
            }
        }
        Ok(())
    }
}

/// What one flush wrote.
#[derive(Debug, Default)]
struct FlushSummary {
    blocks: u64,
    spans: u64,
    bytes: u64,
}

/// How a flush failed: retried on the next tick, planned again (another leader moved the
/// flushed index), or fatal for this incarnation.
#[derive(Debug)]
enum FlushError {
    Retry(String),
    Replan(String),
    Fatal(String),
}

/// The plan of a builder that starts leading: from the meta group's flushed index, redoing
/// an intent left there, with the sizes of the records this replica holds after it.
async fn plan_from_meta(args: &BlockBuilderArgs) -> Result<FlushPlanner, ActorProcessingErr> {
    let view = args.meta.view();
    let entry = view.state.partition(args.partition).cloned();
    let flushed = LogIndex(entry.as_ref().map_or(0, |entry| entry.flushed));
    let intent = entry.and_then(|entry| entry.flush_intent);
    let applied = LogIndex(args.applied.load(Ordering::Acquire));
    let wal = current_wal(&args.wal).map_err(|error| format!("{error:?}"))?;
    let pending = tokio::task::spawn_blocking(move || {
        let guard = wal.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.frame_sizes(flushed.next(), applied)
    })
    .await?;
    let resume_to = intent
        .filter(|intent| intent.first == flushed.0 + 1 && intent.last <= applied.0)
        .map(|intent| LogIndex(intent.last));
    if let Some(resume_to) = resume_to {
        info!(partition = %args.partition, from = %flushed.next(), to = %resume_to, "redoing a flush another leader started");
    }
    Ok(FlushPlanner::new(args.policy, flushed, &pending, resume_to, Instant::now()))
}

/// The partition's WAL, once its log has opened it.
fn current_wal(slot: &WalSlot) -> Result<Arc<Mutex<Wal>>, FlushError> {
    slot.read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
        .ok_or_else(|| FlushError::Retry("write-ahead log is not open".to_string()))
}

/// Builds, uploads and registers every tenant's block of `range`, then purges the log.
async fn flush(state: &BlockBuilderState, range: FlushRange) -> Result<FlushSummary, FlushError> {
    let args = &state.args;
    let _permit = args
        .build_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|error| FlushError::Fatal(format!("build permits closed: {error}")))?;
    let scope = state.labels.partition.as_str();
    let by_tenant = read_range(&current_wal(&args.wal)?, range).await?;
    let mut summary = FlushSummary::default();
    let mut registered = Vec::new();
    for (tenant, traces) in by_tenant {
        let block_id = BlockId::for_log_range(args.partition, range.first, range.last);
        let options = args.build_options.clone();
        let partition = args.partition;
        let tenant_for_build = tenant.clone();
        let id_for_build = block_id.clone();
        let built: BuiltBlock = tokio::task::spawn_blocking(move || {
            build_block(
                id_for_build,
                &tenant_for_build,
                partition,
                range.first,
                range.last,
                traces,
                &options,
            )
        })
        .await
        .map_err(|error| FlushError::Fatal(error.to_string()))?
        .map_err(|error| FlushError::Fatal(format!("block encoding failed: {error}")))?;

        upload(args, &data_path(&tenant, &block_id), built.data.clone()).await?;
        check(&args.faults, scope, "block_builder.after_data_upload").await?;
        upload(args, &index_path(&tenant, &block_id), built.index.clone()).await?;
        for (shard, bloom) in built.blooms.iter().enumerate() {
            let shard =
                u32::try_from(shard).map_err(|error| FlushError::Fatal(error.to_string()))?;
            upload(args, &bloom_path(&tenant, &block_id, shard), bloom.clone()).await?;
        }
        // Before the meta: a registered block always has its tag dictionary.
        upload(args, &tags_path(&tenant, &block_id), built.tags.clone()).await?;
        check(&args.faults, scope, "block_builder.after_index_upload").await?;
        upload(args, &meta_path(&tenant, &block_id), built.meta.encode()).await?;
        check(&args.faults, scope, "block_builder.after_meta_upload").await?;
        summary.blocks += 1;
        summary.spans += built.meta.span_count;
        summary.bytes += built.meta.data_bytes;
        registered.push(built.meta);
    }
    let command = MetaCommand::RegisterBlocks {
        partition: args.partition,
        blocks: registered,
        flushed: range.last.0,
    };
    match args.meta.propose(command).await {
        Ok(MetaResponse::Refused { reason, .. }) => return Err(FlushError::Replan(reason)),
        Ok(_) => {}
        Err(error) => return Err(FlushError::Retry(error.to_string())),
    }
    check(&args.faults, scope, "block_builder.before_log_purge").await?;
    args.log.flushed(range.last);
    args.live_store.flushed(range.last);
    Ok(summary)
}

/// Records the range in the meta group before any of its blocks is uploaded (see the module
/// doc); a refusal means another leader moved the flushed index: plan again.
async fn save_intent(args: &BlockBuilderArgs, range: FlushRange) -> Result<(), FlushError> {
    let command = MetaCommand::SetFlushIntent {
        partition: args.partition,
        first: range.first.0,
        last: range.last.0,
    };
    match args.meta.propose(command).await {
        Ok(MetaResponse::Refused { reason, .. }) => Err(FlushError::Replan(reason)),
        Ok(_) => Ok(()),
        Err(error) => Err(FlushError::Retry(error.to_string())),
    }
}

/// Reaches a fault point; an injected error fails the flush (a panic crashes the actor).
async fn check(faults: &FaultPoints, scope: &str, point: &str) -> Result<(), FlushError> {
    faults.check_in(scope, point).await.map_err(|fault| FlushError::Fatal(fault.to_string()))
}

/// Uploads one object with retries; a permanent failure is retried on a later tick.
async fn upload(
    args: &BlockBuilderArgs,
    path: &object_store::path::Path,
    bytes: Bytes,
) -> Result<(), FlushError> {
    let store = args.store.clone();
    with_retries(&args.retry, Some(args.metrics.as_ref()), "put", path, || {
        let store = store.clone();
        let payload = PutPayload::from(bytes.clone());
        let path = path.clone();
        async move { store.put(&path, payload).await.map(|_| ()) }
    })
    .await
    .map_err(|error| FlushError::Retry(error.to_string()))
}

/// Reads `range` from the log and groups its spans by tenant and trace.
async fn read_range(
    wal: &Arc<Mutex<Wal>>,
    range: FlushRange,
) -> Result<BTreeMap<TenantId, Vec<BlockInputTrace>>, FlushError> {
    let mut fragments: BTreeMap<TenantId, BTreeMap<TraceId, Vec<u8>>> = BTreeMap::new();
    let mut from = range.first;
    while from <= range.last {
        let to = LogIndex((from.0 + READ_CHUNK_RECORDS - 1).min(range.last.0));
        let wal = wal.clone();
        let records = tokio::task::spawn_blocking(move || {
            let guard = wal.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.read_range(from, to)
        })
        .await
        .map_err(|error| FlushError::Fatal(error.to_string()))?
        .map_err(|error| {
            FlushError::Fatal(format!("cannot read log records {from}..={to}: {error}"))
        })?;
        let expected = to.0 - from.0 + 1;
        if records.len() as u64 != expected {
            return Err(FlushError::Fatal(format!(
                "log records {from}..={to} are missing: read {} of {expected}",
                records.len()
            )));
        }
        for record in records.into_iter().filter(|record| !is_control(&record.payload)) {
            let batch = TraceBatch::decode(record.payload).map_err(|error| {
                FlushError::Fatal(format!("log record {} does not decode: {error}", record.index))
            })?;
            let traces = fragments.entry(batch.tenant_id()).or_default();
            for fragment in batch.traces {
                let Some(trace_id) = fragment.trace_id() else { continue };
                traces.entry(trace_id).or_default().extend_from_slice(&fragment.traces_data);
            }
        }
        from = to.next();
    }
    fragments
        .into_iter()
        .map(|(tenant, traces)| {
            let inputs = traces
                .into_iter()
                .map(|(trace_id, data)| {
                    TracesData::decode(data.as_slice())
                        .map(|decoded| BlockInputTrace {
                            trace_id,
                            resource_spans: decoded.resource_spans,
                        })
                        .map_err(|error| {
                            FlushError::Fatal(format!("trace {trace_id} does not decode: {error}"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((tenant, inputs))
        })
        .collect()
}

/// How the partition log reports commits to the block-builder; survives its restarts.
#[derive(Clone)]
pub(crate) struct BlockBuilderHandle {
    slot: ActorSlot<BlockBuilderMsg>,
}

impl BlockBuilderHandle {
    /// Wraps the slot the partition supervisor fills.
    pub fn new(slot: ActorSlot<BlockBuilderMsg>) -> BlockBuilderHandle {
        BlockBuilderHandle { slot }
    }

    /// Reports durable records; a builder that is down re-reads their sizes when it starts.
    pub fn committed(&self, records: Vec<(LogIndex, u64)>) {
        let _ = self.slot.cast(BlockBuilderMsg::Committed(records));
    }
}
