//! Partition supervisor: owns one partition's live-store and partition log, restarts either
//! with backoff, and escalates to the node when restarts come too fast.
//!
//! ```text
//!  PartitionSupervisor (p3)
//!   ├── LiveStore     restarted empty, then the log replays into it
//!   ├── PartitionLog  this node's Raft replica of the partition; restarted: re-opens
//!   │                 (recovers) the WAL, openraft re-applies what the store lacks
//!   └── BlockBuilder  builds while its replica leads; restarted: plans from the meta group
//! ```
//!
//! Children are published through [`ActorSlot`]s owned by the node, so the distributor's and
//! readers' handles keep working across restarts of the children and of this supervisor.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tracing::{error, warn};

use crate::actors::call::ActorSlot;
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::NodeMetrics;
use crate::actors::partition::block_builder::{
    BlockBuilder, BlockBuilderArgs, BlockBuilderHandle, BlockBuilderMsg,
};
use crate::actors::partition::flush_planner::FlushPolicy;
use crate::actors::partition::live_store::{
    LiveStore, LiveStoreArgs, LiveStoreHandle, LiveStoreMsg,
};
use crate::actors::partition::log::{
    PartitionCluster, PartitionLog, PartitionLogArgs, PartitionLogHandle, PartitionLogMsg, WalSlot,
};
use crate::actors::partition::usage::LiveUsageBoard;
use crate::actors::supervision::{
    ChildDecision, RestartCounts, RestartPolicy, SupervisedChildren, record_restart,
};
use crate::cluster::partition_group::FlushedIndex;
use crate::model::ids::PartitionId;
use crate::storage::block::BlockBuildOptions;
use crate::storage::object_store::RetryPolicy;
use crate::storage::wal::WalOptions;

/// How long a stopping supervisor waits for its children.
const STOP_CHILDREN_TIMEOUT: Duration = Duration::from_secs(10);

/// The children of a partition supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PartitionChild {
    /// The in-memory store of recent traces.
    LiveStore,
    /// The write-ahead log.
    PartitionLog,
    /// Cuts the log into blocks.
    BlockBuilder,
}

impl PartitionChild {
    fn role(self) -> &'static str {
        match self {
            PartitionChild::LiveStore => "live_store",
            PartitionChild::PartitionLog => "partition_log",
            PartitionChild::BlockBuilder => "block_builder",
        }
    }
}

/// The partition supervisor actor (behaviour only).
pub(crate) struct PartitionSupervisor;

/// Messages a partition supervisor sends itself.
pub(crate) enum PartitionSupervisorMsg {
    /// Starts a child again (after its backoff).
    Restart(PartitionChild),
}

/// Everything one partition needs, shared by successive incarnations of its supervisor.
#[derive(Clone)]
pub(crate) struct PartitionArgs {
    pub partition: PartitionId,
    pub wal_dir: PathBuf,
    pub wal_options: WalOptions,
    pub wal: WalSlot,
    /// How long flushed traces stay in the live-store.
    pub recent_window: Duration,
    pub log_slot: ActorSlot<PartitionLogMsg>,
    pub live_store_slot: ActorSlot<LiveStoreMsg>,
    pub block_builder_slot: ActorSlot<BlockBuilderMsg>,
    pub store: Arc<dyn ObjectStore>,
    pub cluster: PartitionCluster,
    /// The meta group's flushed index of the partition (kept by the node's partition manager).
    pub flushed: FlushedIndex,
    /// The last index this replica applied.
    pub applied: Arc<AtomicU64>,
    /// The term while this replica leads, 0 otherwise.
    pub leader_term: Arc<AtomicU64>,
    /// The leader this replica knows, 0 when none (node ids start at 1).
    pub known_leader: Arc<AtomicU64>,
    pub flush_policy: FlushPolicy,
    pub build_options: BlockBuildOptions,
    pub retry: RetryPolicy,
    pub flush_check_period: Duration,
    pub build_permits: Arc<tokio::sync::Semaphore>,
    pub usage: LiveUsageBoard,
    pub faults: FaultPoints,
    pub metrics: Arc<NodeMetrics>,
    pub restart_policy: RestartPolicy,
    pub restarts: RestartCounts,
}

/// A running partition supervisor.
pub(crate) struct PartitionSupervisorState {
    args: PartitionArgs,
    children: SupervisedChildren<PartitionChild>,
}

impl PartitionSupervisorState {
    async fn spawn_child(
        &mut self,
        myself: &ActorRef<PartitionSupervisorMsg>,
        child: PartitionChild,
    ) -> Result<(), ActorProcessingErr> {
        let args = &self.args;
        let supervisor: ActorCell = myself.get_cell();
        let actor_id = match child {
            PartitionChild::LiveStore => {
                let live_store_args = LiveStoreArgs {
                    partition: args.partition,
                    log: args.log_slot.clone(),
                    usage: args.usage.clone(),
                    faults: args.faults.clone(),
                    metrics: args.metrics.clone(),
                    recent_window: args.recent_window,
                };
                let (actor, _) =
                    Actor::spawn_linked(None, LiveStore, live_store_args, supervisor).await?;
                args.live_store_slot.fill(actor.clone());
                actor.get_id()
            }
            PartitionChild::PartitionLog => {
                let log_args = PartitionLogArgs {
                    partition: args.partition,
                    wal_dir: args.wal_dir.clone(),
                    wal_options: args.wal_options.clone(),
                    wal: args.wal.clone(),
                    live_store: LiveStoreHandle::new(args.live_store_slot.clone()),
                    block_builder: BlockBuilderHandle::new(args.block_builder_slot.clone()),
                    cluster: args.cluster.clone(),
                    flushed: args.flushed.clone(),
                    applied: args.applied.clone(),
                    leader_term: args.leader_term.clone(),
                    known_leader: args.known_leader.clone(),
                    faults: args.faults.clone(),
                    metrics: args.metrics.clone(),
                };
                let (actor, _) =
                    Actor::spawn_linked(None, PartitionLog, log_args, supervisor).await?;
                args.log_slot.fill(actor.clone());
                actor.get_id()
            }
            PartitionChild::BlockBuilder => {
                let builder_args = BlockBuilderArgs {
                    partition: args.partition,
                    wal: args.wal.clone(),
                    store: args.store.clone(),
                    meta: args.cluster.meta.clone(),
                    live_store: LiveStoreHandle::new(args.live_store_slot.clone()),
                    log: PartitionLogHandle::new(args.log_slot.clone()),
                    leader_term: args.leader_term.clone(),
                    applied: args.applied.clone(),
                    policy: args.flush_policy,
                    build_options: args.build_options.clone(),
                    retry: args.retry.clone(),
                    check_period: args.flush_check_period,
                    build_permits: args.build_permits.clone(),
                    faults: args.faults.clone(),
                    metrics: args.metrics.clone(),
                };
                let (actor, _) =
                    Actor::spawn_linked(None, BlockBuilder, builder_args, supervisor).await?;
                args.block_builder_slot.fill(actor.clone());
                actor.get_id()
            }
        };
        self.children.started(actor_id, child);
        Ok(())
    }

    /// Empties the slot of a dead child so callers wait for its successor.
    fn clear_slot(&self, child: PartitionChild, actor_id: ActorId) {
        match child {
            PartitionChild::LiveStore => self.args.live_store_slot.clear_if(actor_id),
            PartitionChild::PartitionLog => self.args.log_slot.clear_if(actor_id),
            PartitionChild::BlockBuilder => self.args.block_builder_slot.clear_if(actor_id),
        }
    }
}

impl Actor for PartitionSupervisor {
    type Msg = PartitionSupervisorMsg;
    type State = PartitionSupervisorState;
    type Arguments = PartitionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<PartitionSupervisorMsg>,
        args: PartitionArgs,
    ) -> Result<PartitionSupervisorState, ActorProcessingErr> {
        let children = SupervisedChildren::new(args.restart_policy);
        let mut state = PartitionSupervisorState { args, children };
        // The store first: the log replays into it as soon as it has opened; the builder
        // last: it reads the opened log's purge point.
        state.spawn_child(&myself, PartitionChild::LiveStore).await?;
        state.spawn_child(&myself, PartitionChild::PartitionLog).await?;
        state.spawn_child(&myself, PartitionChild::BlockBuilder).await?;
        Ok(state)
    }

    async fn post_stop(
        &self,
        myself: ActorRef<PartitionSupervisorMsg>,
        _state: &mut PartitionSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        myself.stop_children_and_wait(None, Some(STOP_CHILDREN_TIMEOUT)).await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<PartitionSupervisorMsg>,
        message: PartitionSupervisorMsg,
        state: &mut PartitionSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PartitionSupervisorMsg::Restart(child) => {
                state.spawn_child(&myself, child).await?;
                record_restart(&state.args.restarts, &state.args.metrics, child.role());
                if child == PartitionChild::LiveStore {
                    // The new store is empty: have the log replay everything committed.
                    let _ = state.args.log_slot.cast(PartitionLogMsg::ReplayToLiveStore);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<PartitionSupervisorMsg>,
        event: SupervisionEvent,
        state: &mut PartitionSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let Some((actor_id, decision)) = state.children.on_event(&event, Instant::now()) else {
            return Ok(());
        };
        let partition = state.args.partition;
        match decision {
            ChildDecision::Restart { child, backoff, reason } => {
                state.clear_slot(child, actor_id);
                warn!(%partition, child = child.role(), %reason, ?backoff, "child died, restarting");
                myself.send_after(backoff, move || PartitionSupervisorMsg::Restart(child));
                Ok(())
            }
            ChildDecision::Escalate { child, reason } => {
                state.clear_slot(child, actor_id);
                error!(%partition, child = child.role(), %reason, "restart budget spent, escalating");
                // The log must be closed before anyone re-opens it.
                myself.stop_children_and_wait(None, Some(STOP_CHILDREN_TIMEOUT)).await;
                Err(format!("partition {partition}: {} failed too often: {reason}", child.role())
                    .into())
            }
        }
    }
}
