//! Partition-log actor: this node's replica of one partition's Raft group (openraft), its log
//! the partition's WAL.
//!
//! ```text
//!  distributor ── Append(batch) ──► PartitionLog ── raft.client_write ──► committed on a quorum
//!                                        │                 (group commit: openraft batches the
//!                                        │                  writes queued meanwhile into one fsync)
//!   state machine ── CommitSink ─────────┼──► live-store  Apply(records)      every replica
//!                                        └──► block-builder Committed(sizes)  (it acts as leader)
//!  Tick: the duties leader_duties.rs finds due (create a new group; as leader: membership →
//!        the meta group's replica set, pending → active, leader and progress reported)
//!  Flushed(index): a snapshot at the index, after which openraft purges the log
//! ```
//!
//! A write is acknowledged only once committed (fsynced on a quorum) and applied here, so a
//! read after the acknowledgement finds it. The Raft instance lives and dies with the actor:
//! a restart re-opens (recovers) the WAL and openraft re-applies what the live-store lacks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, RaftError};
use openraft::impls::BasicNode;
use openraft::{ChangeMembers, ServerState};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use thiserror::Error;
use tracing::{debug, info, warn};

use crate::actors::call::{ActorSlot, CallError};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::{NodeMetrics, PartitionLabels};
use crate::actors::partition::block_builder::BlockBuilderHandle;
use crate::actors::partition::leader_duties::{self, Duty, GroupFacts, Reported};
use crate::actors::partition::live_store::LiveStoreHandle;
use crate::actors::partition::live_traces::CommittedRecord;
use crate::api::error_code::ErrorCode;
use crate::cluster::log_store::WalLogStore;
use crate::cluster::meta::{MetaCommand, preferred_leaders};
use crate::cluster::meta_group::MetaGroup;
use crate::cluster::partition_group::{
    CommitSink, CommittedEntry, FlushedIndex, PartitionRaft, PartitionStateMachine,
};
use crate::cluster::transport::{GroupId, RaftRegistry, RaftRouter};
use crate::cluster::types::{BatchPayload, NodeId, PartitionRaftConfig};
use crate::model::ids::{LogIndex, PartitionId};
use crate::storage::wal::{Wal, WalOptions};

/// Bytes a record takes in the WAL beyond its payload (length, CRC, term, index).
const FRAME_OVERHEAD_BYTES: u64 = 24;
/// Records sent to the live-store per message during a replay.
const REPLAY_CHUNK_RECORDS: u64 = 512;
/// How often the leader converges membership and reports progress.
const TICK: Duration = Duration::from_millis(500);

/// The partition's WAL once its log actor has opened it (the block-builder reads from it).
pub(crate) type WalSlot = Arc<RwLock<Option<Arc<Mutex<Wal>>>>>;

/// Why an append was not acknowledged. Unless it says otherwise the record may still have
/// become durable: callers treat the write as unknown, never as absent.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum AppendError {
    /// The partition's Raft group could not commit the write.
    #[error("partition {partition} could not make the write durable: {reason}")]
    NotDurable {
        /// The partition.
        partition: PartitionId,
        /// What failed.
        reason: String,
    },
    /// This replica does not lead the partition: nothing was written here.
    #[error("this node does not lead partition {partition}")]
    NotLeader {
        /// The partition.
        partition: PartitionId,
        /// The leader, when known.
        leader: Option<NodeId>,
    },
    /// The partition log did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl AppendError {
    /// API status: a server-side, retryable failure.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            AppendError::NotDurable { .. } | AppendError::NotLeader { .. } => {
                ErrorCode::Unavailable
            }
            AppendError::Call(call) => call.error_code(),
        }
    }
}

/// Where the reply of one append goes.
type AppendReply = RpcReplyPort<Result<LogIndex, AppendError>>;

/// What a partition replica needs from the cluster.
#[derive(Clone)]
pub(crate) struct PartitionCluster {
    /// This node.
    pub me: NodeId,
    /// The meta group (replica sets, progress reports, activation).
    pub meta: MetaGroup,
    /// Sends this group's Raft RPCs.
    pub router: RaftRouter,
    /// Serves this group's Raft RPCs.
    pub registry: RaftRegistry,
    /// openraft's settings for partition groups.
    pub raft_config: Arc<openraft::Config>,
}

/// The partition-log actor (behaviour only).
pub(crate) struct PartitionLog;

/// Everything a partition log can be asked to do.
pub(crate) enum PartitionLogMsg {
    /// Commits one encoded `TraceBatch` and replies with its index (leader only).
    Append { payload: Bytes, reply: AppendReply },
    /// Resends every applied record the live-store has not applied.
    ReplayToLiveStore,
    /// The last index known committed here (at least the last applied one).
    GetCommitted { reply: RpcReplyPort<LogIndex> },
    /// While leading: how many entries each replica is behind (`None` on a follower).
    GetLag { reply: RpcReplyPort<Option<BTreeMap<NodeId, u64>>> },
    /// Everything up to the index is in registered blocks: snapshot there, purge the log.
    Flushed(LogIndex),
    /// Leader duties (sent by a timer).
    Tick,
}

/// What a partition log starts from.
pub(crate) struct PartitionLogArgs {
    pub partition: PartitionId,
    pub wal_dir: PathBuf,
    pub wal_options: WalOptions,
    pub wal: WalSlot,
    pub live_store: LiveStoreHandle,
    pub block_builder: BlockBuilderHandle,
    pub cluster: PartitionCluster,
    pub flushed: FlushedIndex,
    pub applied: Arc<AtomicU64>,
    /// Set to the term while this replica leads, 0 otherwise (the block-builder reads it).
    pub leader_term: Arc<AtomicU64>,
    /// Set to the leader this replica knows as soon as openraft learns it, 0 when none (the
    /// distributor reads it on every write).
    pub known_leader: Arc<AtomicU64>,
    pub faults: FaultPoints,
    pub metrics: Arc<NodeMetrics>,
}

/// State of a running partition log.
pub(crate) struct PartitionLogState {
    raft: PartitionRaft,
    /// Copies openraft's current leader into `args.known_leader` on every change.
    leader_watch: tokio::task::JoinHandle<()>,
    wal: Arc<Mutex<Wal>>,
    last_report: Option<Reported>,
    /// When leadership was last handed to the preferred replica.
    transfer_tried: Option<Instant>,
    args: PartitionLogArgs,
}

/// Delivers committed entries to the partition's actors.
struct ActorSink {
    live_store: LiveStoreHandle,
    block_builder: BlockBuilderHandle,
}

impl CommitSink for ActorSink {
    fn committed(&self, entries: Vec<CommittedEntry>) {
        let sizes = entries
            .iter()
            .map(|entry| (entry.index, entry.payload.len() as u64 + FRAME_OVERHEAD_BYTES))
            .collect();
        let records = entries
            .into_iter()
            .map(|entry| CommittedRecord { index: entry.index, payload: entry.payload })
            .collect();
        self.live_store.apply(records);
        self.block_builder.committed(sizes);
    }

    fn skip_to(&self, index: LogIndex) {
        self.live_store.set_base(index);
    }
}

impl Actor for PartitionLog {
    type Msg = PartitionLogMsg;
    type State = PartitionLogState;
    type Arguments = PartitionLogArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<PartitionLogMsg>,
        args: PartitionLogArgs,
    ) -> Result<PartitionLogState, ActorProcessingErr> {
        args.faults.check_in(&args.partition.to_string(), "partition_log.before_open").await?;
        let (store, report) = WalLogStore::<PartitionRaftConfig>::open(
            args.wal_dir.clone(),
            args.wal_options.clone(),
        )
        .await?;
        let metrics = args.metrics.clone();
        let labels = PartitionLabels { partition: args.partition.to_string() };
        let faults = args.faults.clone();
        let scope = args.partition.to_string();
        let store = store
            .observe(Arc::new(move |elapsed: Duration, entries: usize| {
                metrics.wal_fsync_seconds.get_or_create(&labels).observe(elapsed.as_secs_f64());
                metrics.wal_requests_per_fsync.get_or_create(&labels).observe(entries as f64);
            }))
            .hook(Arc::new(move |step: &'static str| {
                let point = match step {
                    "before_append" => "partition_log.before_append",
                    "before_sync" => "partition_log.before_sync",
                    _ => "partition_log.after_sync",
                };
                faults.check_blocking_in(&scope, point).map_err(|fault| fault.to_string())
            }));
        info!(
            partition = %args.partition,
            records = report.records,
            segments = report.segments,
            truncated_bytes = report.truncated_bytes,
            last = ?report.last,
            "partition log opened"
        );
        let wal = store.wal();
        *args.wal.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(wal.clone());
        let sink = Arc::new(ActorSink {
            live_store: args.live_store.clone(),
            block_builder: args.block_builder.clone(),
        });
        let state_machine = PartitionStateMachine::open(
            args.wal_dir.clone(),
            wal.clone(),
            sink,
            args.flushed.clone(),
            args.applied.clone(),
        )
        .await?;
        let group = GroupId::Partition(args.partition.0);
        let raft = PartitionRaft::new(
            args.cluster.me,
            args.cluster.raft_config.clone(),
            args.cluster.router.network(group),
            store,
            state_machine,
        )
        .await?;
        args.cluster.registry.register(group, Arc::new(raft.clone()));
        let leader_watch = tokio::spawn(publish_leader(raft.clone(), args.known_leader.clone()));
        myself.send_interval(TICK, || PartitionLogMsg::Tick);
        Ok(PartitionLogState {
            raft,
            leader_watch,
            wal,
            last_report: None,
            transfer_tried: None,
            args,
        })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<PartitionLogMsg>,
        state: &mut PartitionLogState,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(error) = leader_duties(state).await {
            debug!(partition = %state.args.partition, %error, "leader duties postponed");
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<PartitionLogMsg>,
        state: &mut PartitionLogState,
    ) -> Result<(), ActorProcessingErr> {
        state.args.leader_term.store(0, Ordering::Release);
        state.leader_watch.abort();
        state.args.known_leader.store(0, Ordering::Release);
        // A retired replica's progress must not linger in /metrics.
        let labels = PartitionLabels { partition: state.args.partition.to_string() };
        state.args.metrics.partition_applied.remove(&labels);
        state.args.metrics.partition_committed.remove(&labels);
        state.args.metrics.partition_leader.remove(&labels);
        state.args.cluster.registry.unregister(GroupId::Partition(state.args.partition.0));
        if let Err(error) = state.raft.shutdown().await {
            warn!(partition = %state.args.partition, %error, "partition raft did not stop cleanly");
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<PartitionLogMsg>,
        message: PartitionLogMsg,
        state: &mut PartitionLogState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PartitionLogMsg::Append { payload, reply } => {
                let scope = state.args.partition.to_string();
                state.args.faults.check_in(&scope, "partition_log.before_enqueue").await?;
                let raft = state.raft.clone();
                let partition = state.args.partition;
                // openraft queues the write; the actor goes on with the next message.
                tokio::spawn(async move {
                    let _ = reply.send(commit(&raft, partition, payload).await);
                });
            }
            PartitionLogMsg::ReplayToLiveStore => replay_to_live_store(state).await?,
            PartitionLogMsg::GetCommitted { reply } => {
                // After a restart the commit hint says how far the log was committed before
                // openraft has re-applied it: readiness waits for the live-store to get there.
                let committed = state
                    .raft
                    .metrics()
                    .borrow_watched()
                    .local_committed
                    .map_or(0, |log_id| log_id.index);
                let applied = state.args.applied.load(Ordering::Acquire);
                let _ = reply.send(LogIndex(committed.max(applied)));
            }
            PartitionLogMsg::GetLag { reply } => {
                let metrics = state.raft.metrics().borrow_watched().clone();
                let last = metrics.last_log_index.unwrap_or(0);
                let lag = metrics.replication.as_ref().map(|replication| {
                    replication
                        .iter()
                        .map(|(node, matched)| {
                            let matched = matched.as_ref().map_or(0, |log_id| log_id.index);
                            (*node, last.saturating_sub(matched))
                        })
                        .collect()
                });
                let _ = reply.send(lag);
            }
            PartitionLogMsg::Flushed(index) => {
                if index.0 > state.args.flushed.load(Ordering::Acquire) {
                    state.args.flushed.store(index.0, Ordering::Release);
                }
                state.raft.trigger().snapshot().await?;
            }
            PartitionLogMsg::Tick => {
                let (running, leading) = {
                    let metrics = state.raft.metrics().borrow_watched().clone();
                    let leading =
                        if metrics.state == ServerState::Leader { metrics.current_term } else { 0 };
                    let labels = PartitionLabels { partition: state.args.partition.to_string() };
                    let node_metrics = &state.args.metrics;
                    let applied = state.args.applied.load(Ordering::Acquire);
                    let committed = metrics.local_committed.map_or(0, |log_id| log_id.index);
                    node_metrics.partition_applied.get_or_create(&labels).set(gauge(applied));
                    node_metrics.partition_committed.get_or_create(&labels).set(gauge(committed));
                    node_metrics
                        .partition_leader
                        .get_or_create(&labels)
                        .set(i64::from(leading != 0));
                    (metrics.running_state, leading)
                };
                state.args.leader_term.store(leading, Ordering::Release);
                if let Err(fatal) = running {
                    return Err(format!(
                        "partition {} raft stopped: {fatal}",
                        state.args.partition
                    )
                    .into());
                }
                if let Err(error) = leader_duties(state).await {
                    debug!(partition = %state.args.partition, %error, "leader duties postponed");
                }
            }
        }
        Ok(())
    }
}

/// Keeps `known` equal to the leader openraft knows (0 for none) until the group stops.
async fn publish_leader(raft: PartitionRaft, known: Arc<AtomicU64>) {
    let mut metrics = raft.metrics();
    loop {
        let leader = metrics.borrow_watched().current_leader.unwrap_or(0);
        known.store(leader, Ordering::Release);
        if metrics.changed().await.is_err() {
            known.store(0, Ordering::Release);
            return;
        }
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Commits one batch through Raft.
async fn commit(
    raft: &PartitionRaft,
    partition: PartitionId,
    payload: Bytes,
) -> Result<LogIndex, AppendError> {
    match raft.client_write(BatchPayload(payload)).await {
        Ok(written) => Ok(LogIndex(written.log_id.index)),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
            Err(AppendError::NotLeader { partition, leader: forward.leader_id })
        }
        Err(error) => Err(AppendError::NotDurable { partition, reason: error.to_string() }),
    }
}

/// Carries out the duties [`leader_duties::due`] finds for this replica.
async fn leader_duties(state: &mut PartitionLogState) -> Result<(), String> {
    let partition = state.args.partition;
    let view = state.args.cluster.meta.view();
    let Some(entry) = view.state.partition(partition).cloned() else { return Ok(()) };
    let initialized = state.raft.is_initialized().await.map_err(|error| error.to_string())?;
    let facts = group_facts(state.args.cluster.me, initialized, &state.raft);
    let address = |node: NodeId| view.state.member(node).map(|member| member.cluster_addr.clone());
    let raft = &state.raft;
    let now = Instant::now();
    let preferred = preferred_leaders(&view.state).get(&partition).copied();
    let transfer =
        leader_duties::transfer_due(&entry, preferred, &facts, state.transfer_tried, now);
    for duty in leader_duties::due(&entry, address, &facts, state.last_report, now) {
        match duty {
            Duty::Create(members) => {
                info!(%partition, replicas = ?entry.replicas, "creating the partition group");
                let members: BTreeMap<NodeId, BasicNode> =
                    members.into_iter().map(|(node, addr)| (node, BasicNode { addr })).collect();
                raft.initialize(members).await.map_err(|error| error.to_string())?;
                // No need to wait an election timeout for the first leader.
                raft.trigger().elect(false).await.map_err(|error| error.to_string())?;
            }
            Duty::AddLearner(node, addr) => {
                info!(%partition, node, "adding a replica as learner");
                raft.add_learner(node, BasicNode { addr }, false)
                    .await
                    .map_err(|error| error.to_string())?;
            }
            Duty::ReplaceVoters(voters) => {
                info!(%partition, ?voters, "replica set changes");
                raft.change_membership(ChangeMembers::ReplaceAllVoters(voters), false)
                    .await
                    .map_err(|error| error.to_string())?;
            }
            Duty::Activate => {
                let command = MetaCommand::ActivatePartition { id: partition };
                state
                    .args
                    .cluster
                    .meta
                    .propose(command)
                    .await
                    .map_err(|error| error.to_string())?;
                info!(%partition, "partition active");
            }
            Duty::Report { term, committed } => {
                let me = state.args.cluster.me;
                let command =
                    MetaCommand::ReportPartition { id: partition, leader: me, term, committed };
                state
                    .args
                    .cluster
                    .meta
                    .propose(command)
                    .await
                    .map_err(|error| error.to_string())?;
                state.last_report = Some(Reported { term, committed, at: Instant::now() });
            }
        }
    }
    if let Some(to) = transfer {
        info!(%partition, to, "handing leadership to the preferred replica");
        state.transfer_tried = Some(now);
        state.raft.trigger().transfer_leader(to).await.map_err(|error| error.to_string())?;
    }
    Ok(())
}

/// What the duties need to know of this replica's Raft group.
fn group_facts(me: NodeId, initialized: bool, raft: &PartitionRaft) -> GroupFacts {
    let metrics = raft.metrics().borrow_watched().clone();
    let membership = metrics.membership_config.membership();
    GroupFacts {
        me,
        initialized,
        leading: metrics.state == ServerState::Leader,
        changing: membership.get_joint_config().len() > 1,
        voters: membership.voter_ids().collect(),
        members: membership.nodes().map(|(id, _)| *id).collect(),
        matched: metrics
            .replication
            .iter()
            .flatten()
            .map(|(node, matched)| (*node, matched.as_ref().map_or(0, |log_id| log_id.index)))
            .collect(),
        last_index: metrics.last_log_index.unwrap_or(0),
        committed: metrics.local_committed.map_or(0, |log_id| log_id.index),
        term: metrics.current_term,
    }
}

/// Sends the live-store every applied record it has not applied, from the first record the
/// log still holds (older ones are in blocks): sets the store's base first when needed.
async fn replay_to_live_store(state: &mut PartitionLogState) -> Result<(), ActorProcessingErr> {
    let applied = match state.args.live_store.applied().await {
        Ok(applied) => applied,
        // It is restarting: its supervisor asks for a replay once it is back.
        Err(_) => return Ok(()),
    };
    let wal = state.wal.clone();
    let first_held = tokio::task::spawn_blocking(move || {
        let guard = wal.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.last_purged().map_or(LogIndex(1), |purged| purged.index.next())
    })
    .await?;
    let mut from = match applied {
        Some(applied) if applied.next() >= first_held => applied.next(),
        _ => {
            state.args.live_store.set_base(LogIndex(first_held.0.saturating_sub(1)));
            first_held
        }
    };
    let committed = LogIndex(state.args.applied.load(Ordering::Acquire));
    let replay_from = from;
    while from <= committed {
        let to = LogIndex((from.0 + REPLAY_CHUNK_RECORDS - 1).min(committed.0));
        let wal = state.wal.clone();
        let records = tokio::task::spawn_blocking(move || {
            let guard = wal.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.read_range(from, to)
        })
        .await??;
        if records.is_empty() {
            break;
        }
        let committed_records = records
            .into_iter()
            .map(|record| CommittedRecord {
                index: record.index,
                payload: if crate::cluster::log_store::is_control(&record.payload) {
                    Bytes::new()
                } else {
                    record.payload
                },
            })
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

    /// The last index known committed on this replica (at least the last applied one).
    pub async fn committed(&self, timeout: Duration) -> Result<LogIndex, CallError> {
        self.slot.call(|reply| PartitionLogMsg::GetCommitted { reply }, timeout).await
    }

    /// While this replica leads: entries each replica is behind.
    pub async fn lag(&self, timeout: Duration) -> Result<Option<BTreeMap<NodeId, u64>>, CallError> {
        self.slot.call(|reply| PartitionLogMsg::GetLag { reply }, timeout).await
    }

    /// Commits one encoded `TraceBatch` through this replica (it must lead).
    pub async fn append(&self, payload: Bytes, timeout: Duration) -> Result<LogIndex, AppendError> {
        self.slot.call(|reply| PartitionLogMsg::Append { payload, reply }, timeout).await?
    }

    /// Everything up to `index` is in registered blocks.
    pub fn flushed(&self, index: LogIndex) {
        let _ = self.slot.cast(PartitionLogMsg::Flushed(index));
    }
}
