//! Partition-log actor: the durable write-ahead log of one partition, with group commit.
//!
//! ```text
//!  distributor ── Append(batch) ──► PartitionLog ── FlushBatch ──► spawn_blocking: wal.append + fsync
//!                                        ▲                                  │
//!                                        └──────── FlushDone ◄──────────────┘
//!                                        │ Apply(records) ──► live-store   (before the acks, so a
//!                                        │ ack(index) ──► each request      read after an ack sees it)
//! ```
//!
//! A write is acknowledged only after its fsync. The WAL lives in a [`WalCell`] owned by the
//! partition supervisor: a new incarnation locks it, so it waits for a flush that a crashed
//! predecessor left running before it re-opens (and recovers) the log. On start the actor
//! replays every committed record the live-store has not applied yet.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use thiserror::Error;
use tracing::{error, info};

use crate::actors::call::{ActorSlot, CallError};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::{NodeMetrics, PartitionLabels};
use crate::actors::partition::block_builder::BlockBuilderHandle;
use crate::actors::partition::group_commit::{FlushBatch, GroupCommit};
use crate::actors::partition::live_store::LiveStoreHandle;
use crate::actors::partition::live_traces::CommittedRecord;
use crate::api::error_code::ErrorCode;
use crate::model::ids::{LogIndex, PartitionId, Term};
use crate::storage::wal::{Wal, WalError, WalOptions};

/// Bytes a record takes in the WAL beyond its payload (length, CRC, term, index).
const FRAME_OVERHEAD_BYTES: usize = 24;

/// Records sent to the live-store per message during a replay.
const REPLAY_CHUNK_RECORDS: u64 = 512;

/// The partition's log, shared by successive incarnations of the actor.
pub(crate) type WalCell = Arc<Mutex<Option<Wal>>>;

/// Why an append was not acknowledged. The record may still have become durable: callers
/// must treat the write as unknown, never as absent.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum AppendError {
    /// The write-ahead log failed to write or fsync.
    #[error("partition {partition} could not make the write durable: {reason}")]
    NotDurable {
        /// The partition.
        partition: PartitionId,
        /// What failed.
        reason: String,
    },
    /// The partition log did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl AppendError {
    /// API status: a server-side, retryable failure.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            AppendError::NotDurable { .. } => ErrorCode::Unavailable,
            AppendError::Call(call) => call.error_code(),
        }
    }
}

/// Where the reply of one append goes.
type AppendReply = RpcReplyPort<Result<LogIndex, AppendError>>;

/// The partition-log actor (behaviour only).
pub(crate) struct PartitionLog;

/// Everything a partition log can be asked to do.
pub(crate) enum PartitionLogMsg {
    /// Makes one encoded `TraceBatch` durable and replies with its index.
    Append { payload: Bytes, reply: AppendReply },
    /// Starts a flush of what is queued (after `group_commit_max_wait`).
    FlushQueued,
    /// A flush finished (sent by the blocking task to the actor itself).
    FlushDone { batch: FlushBatch<AppendReply>, outcome: Result<Duration, String> },
    /// Resends every committed record the live-store has not applied.
    ReplayToLiveStore,
    /// The last durable index.
    GetCommitted { reply: RpcReplyPort<LogIndex> },
}

/// What a partition log starts from.
pub(crate) struct PartitionLogArgs {
    pub partition: PartitionId,
    pub wal_dir: PathBuf,
    pub wal_options: WalOptions,
    pub wal: WalCell,
    pub max_wait: Duration,
    pub max_batch_bytes: usize,
    pub live_store: LiveStoreHandle,
    pub block_builder: BlockBuilderHandle,
    pub faults: FaultPoints,
    pub metrics: Arc<NodeMetrics>,
}

/// State of a running partition log.
pub(crate) struct PartitionLogState {
    core: GroupCommit<AppendReply>,
    flush_scheduled: bool,
    labels: PartitionLabels,
    args: PartitionLogArgs,
}

impl Actor for PartitionLog {
    type Msg = PartitionLogMsg;
    type State = PartitionLogState;
    type Arguments = PartitionLogArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<PartitionLogMsg>,
        args: PartitionLogArgs,
    ) -> Result<PartitionLogState, ActorProcessingErr> {
        args.faults.check_in(&args.partition.to_string(), "partition_log.before_open").await?;
        let cell = args.wal.clone();
        let dir = args.wal_dir.clone();
        let options = args.wal_options.clone();
        let report = tokio::task::spawn_blocking(move || -> Result<_, WalError> {
            let mut guard = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Close the previous incarnation's files before recovering from disk.
            guard.take();
            let (wal, report) = Wal::open(&dir, options)?;
            *guard = Some(wal);
            Ok(report)
        })
        .await??;
        let last = report.last.unwrap_or_default();
        info!(
            partition = %args.partition,
            records = report.records,
            segments = report.segments,
            truncated_bytes = report.truncated_bytes,
            last_index = %last.index,
            "partition log opened"
        );
        let term = if last.term == Term(0) { Term(1) } else { last.term };
        let core = GroupCommit::new(term, last.index, args.max_batch_bytes);
        let labels = PartitionLabels { partition: args.partition.to_string() };
        Ok(PartitionLogState { core, flush_scheduled: false, labels, args })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<PartitionLogMsg>,
        state: &mut PartitionLogState,
    ) -> Result<(), ActorProcessingErr> {
        replay_to_live_store(state).await
    }

    async fn handle(
        &self,
        myself: ActorRef<PartitionLogMsg>,
        message: PartitionLogMsg,
        state: &mut PartitionLogState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PartitionLogMsg::Append { payload, reply } => {
                state
                    .args
                    .faults
                    .check_in(&state.labels.partition, "partition_log.before_enqueue")
                    .await?;
                state.core.enqueue(payload, reply);
                if state.args.max_wait.is_zero() {
                    start_flush(&myself, state);
                } else if !state.flush_scheduled {
                    state.flush_scheduled = true;
                    myself.send_after(state.args.max_wait, || PartitionLogMsg::FlushQueued);
                }
            }
            PartitionLogMsg::FlushQueued => {
                state.flush_scheduled = false;
                start_flush(&myself, state);
            }
            PartitionLogMsg::FlushDone { batch, outcome } => {
                finish_flush(state, batch, outcome).await?;
                start_flush(&myself, state);
            }
            PartitionLogMsg::ReplayToLiveStore => replay_to_live_store(state).await?,
            PartitionLogMsg::GetCommitted { reply } => {
                let _ = reply.send(state.core.committed());
            }
        }
        Ok(())
    }
}

/// Hands the next batch to a blocking task that appends and fsyncs it.
fn start_flush(myself: &ActorRef<PartitionLogMsg>, state: &mut PartitionLogState) {
    let Some(batch) = state.core.next_flush() else { return };
    let wal = state.args.wal.clone();
    let faults = state.args.faults.clone();
    let scope = state.labels.partition.clone();
    let myself = myself.clone();
    tokio::task::spawn_blocking(move || {
        // A panic here (an armed fault, a bug) must still reach the actor, or it would wait
        // for this flush forever: it becomes a failed flush, which restarts the log.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            append_and_sync(&wal, &faults, &scope, &batch)
        }))
        .unwrap_or_else(|_| Err("write-ahead log flush panicked".to_string()));
        // If the actor died meanwhile, the replies drop and callers see the write as unknown.
        let _ = myself.send_message(PartitionLogMsg::FlushDone { batch, outcome });
    });
}

/// Appends and fsyncs one batch; returns how long that took.
fn append_and_sync(
    wal: &WalCell,
    faults: &FaultPoints,
    scope: &str,
    batch: &FlushBatch<AppendReply>,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut guard = wal.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let wal = guard.as_mut().ok_or_else(|| "write-ahead log is not open".to_string())?;
    faults
        .check_blocking_in(scope, "partition_log.before_append")
        .map_err(|fault| fault.to_string())?;
    wal.append(&batch.records).map_err(|error| error.to_string())?;
    faults
        .check_blocking_in(scope, "partition_log.before_sync")
        .map_err(|fault| fault.to_string())?;
    wal.sync().map_err(|error| error.to_string())?;
    Ok(started.elapsed())
}

/// Applies a durable batch to the live-store, then acknowledges it; a failed flush fails every
/// request in it and the actor, whose restart re-opens and recovers the log.
async fn finish_flush(
    state: &mut PartitionLogState,
    batch: FlushBatch<AppendReply>,
    outcome: Result<Duration, String>,
) -> Result<(), ActorProcessingErr> {
    let partition = state.args.partition;
    let elapsed = match outcome {
        Ok(elapsed) => elapsed,
        Err(reason) => {
            error!(%partition, %reason, "write-ahead log flush failed, restarting the log");
            for (_, reply) in batch.replies {
                let _ =
                    reply.send(Err(AppendError::NotDurable { partition, reason: reason.clone() }));
            }
            return Err(format!("partition {partition} flush failed: {reason}").into());
        }
    };
    let metrics = &state.args.metrics;
    metrics.wal_fsync_seconds.get_or_create(&state.labels).observe(elapsed.as_secs_f64());
    metrics.wal_requests_per_fsync.get_or_create(&state.labels).observe(batch.replies.len() as f64);
    if let Some(last) = batch.last_index() {
        state.core.flush_succeeded(last);
    }
    // Durable but not yet acknowledged: a crash here must not lose or duplicate anything.
    state.args.faults.check_in(&state.labels.partition, "partition_log.after_sync").await?;
    let sizes = batch
        .records
        .iter()
        .map(|record| (record.index, (record.payload.len() + FRAME_OVERHEAD_BYTES) as u64))
        .collect();
    let committed = batch
        .records
        .into_iter()
        .map(|record| CommittedRecord { index: record.index, payload: record.payload })
        .collect();
    state.args.live_store.apply(committed);
    state.args.block_builder.committed(sizes);
    for (index, reply) in batch.replies {
        let _ = reply.send(Ok(index));
    }
    Ok(())
}

/// Sends the live-store every committed record it has not applied, from the first record
/// the log still holds (older ones are in blocks): sets the store's base first when needed.
async fn replay_to_live_store(state: &mut PartitionLogState) -> Result<(), ActorProcessingErr> {
    let applied = match state.args.live_store.applied().await {
        Ok(applied) => applied,
        // It is restarting: its supervisor asks for a replay once it is back.
        Err(_) => return Ok(()),
    };
    let wal = state.args.wal.clone();
    let first_held = tokio::task::spawn_blocking(move || {
        let guard = wal.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().and_then(Wal::last_purged).map_or(LogIndex(1), |purged| purged.index.next())
    })
    .await?;
    let mut from = match applied {
        Some(applied) if applied.next() >= first_held => applied.next(),
        _ => {
            state.args.live_store.set_base(LogIndex(first_held.0.saturating_sub(1)));
            first_held
        }
    };
    let committed = state.core.committed();
    let replay_from = from;
    while from <= committed {
        let to = LogIndex((from.0 + REPLAY_CHUNK_RECORDS - 1).min(committed.0));
        let wal = state.args.wal.clone();
        let records = tokio::task::spawn_blocking(move || -> Result<_, WalError> {
            let guard = wal.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match guard.as_ref() {
                Some(wal) => wal.read_range(from, to),
                None => Ok(Vec::new()),
            }
        })
        .await??;
        if records.is_empty() {
            break;
        }
        let committed_records = records
            .into_iter()
            .map(|record| CommittedRecord { index: record.index, payload: record.payload })
            .collect();
        state.args.live_store.apply(committed_records);
        from = to.next();
    }
    if committed >= replay_from {
        info!(partition = %state.args.partition, from = %replay_from, to = %committed, "replayed log into live-store");
    }
    Ok(())
}

/// How the distributor talks to a partition log; survives its restarts.
#[derive(Clone)]
pub(crate) struct PartitionLogHandle {
    slot: ActorSlot<PartitionLogMsg>,
}

impl PartitionLogHandle {
    /// Wraps the slot the partition supervisor fills.
    pub fn new(slot: ActorSlot<PartitionLogMsg>) -> PartitionLogHandle {
        PartitionLogHandle { slot }
    }

    /// The last durable index.
    pub async fn committed(&self, timeout: Duration) -> Result<LogIndex, CallError> {
        self.slot.call(|reply| PartitionLogMsg::GetCommitted { reply }, timeout).await
    }

    /// Makes one encoded `TraceBatch` durable; `Ok` only after its fsync.
    pub async fn append(&self, payload: Bytes, timeout: Duration) -> Result<LogIndex, AppendError> {
        self.slot.call(|reply| PartitionLogMsg::Append { payload, reply }, timeout).await?
    }
}
