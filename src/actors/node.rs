//! Root supervisor of a node: the distributor, one supervisor per partition replica hosted
//! here, and the query shards.
//!
//! ```text
//!  NodeSupervisor
//!   ├── Distributor
//!   ├── PartitionSupervisor × replicas hosted   (each: live-store, partition log, block-builder;
//!   │                                             started and stopped by the partition manager)
//!   └── QueryShard × query.shards                (the bounded pool of per-block query work)
//! ```
//!
//! A partition supervisor that escalates is restarted whole (its children rebuild from the
//! log). When the node's own budget is spent it stops and reports the failure, so the process
//! exits and its own supervisor (systemd, Kubernetes) restarts it on the same data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::watch;
use tracing::{error, warn};

use crate::actors::call::ActorSlot;
use crate::actors::distributor::{
    Distributor, DistributorArgs, DistributorLimits, DistributorMsg, PartitionRouter,
};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::NodeMetrics;
use crate::actors::partition::supervisor::{PartitionArgs, PartitionSupervisor};
use crate::actors::partition::usage::LiveUsageBoard;
use crate::actors::query::shard::{QueryShard, QueryShardArgs, QueryShardMsg};
use crate::actors::supervision::{
    ChildDecision, RestartCounts, RestartPolicy, SupervisedChildren, record_restart,
};
use crate::model::ids::PartitionId;

/// How long a stopping node waits for its children.
const STOP_CHILDREN_TIMEOUT: Duration = Duration::from_secs(15);

/// A child of the node supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NodeChild {
    /// The distributor.
    Distributor,
    /// The supervisor of a partition replica.
    Partition(PartitionId),
    /// The query shard at this position of the pool.
    QueryShard(usize),
}

/// The root supervisor (behaviour only).
pub(crate) struct NodeSupervisor;

/// Messages the root supervisor sends itself.
pub(crate) enum NodeSupervisorMsg {
    /// Starts a child again after its backoff.
    Restart(NodeChild),
    /// Starts hosting a partition replica.
    StartPartition(Box<PartitionArgs>),
    /// Stops hosting a partition replica; replies with its WAL directory (`None` if unknown).
    StopPartition { partition: PartitionId, reply: RpcReplyPort<Option<PathBuf>> },
}

/// What the node's tree is built from.
pub(crate) struct NodeSupervisorArgs {
    /// How the distributor reaches each partition's leader.
    pub router: PartitionRouter,
    /// One slot per query shard of the pool.
    pub query_shards: Vec<ActorSlot<QueryShardMsg>>,
    pub query_shard_args: QueryShardArgs,
    pub distributor_slot: ActorSlot<DistributorMsg>,
    pub distributor_limits: DistributorLimits,
    pub usage: LiveUsageBoard,
    pub metrics: Arc<NodeMetrics>,
    pub faults: FaultPoints,
    pub restart_policy: RestartPolicy,
    pub restarts: RestartCounts,
    /// Set to the reason when the node gives up.
    pub failure: watch::Sender<Option<String>>,
}

/// The running root supervisor.
pub(crate) struct NodeSupervisorState {
    args: NodeSupervisorArgs,
    children: SupervisedChildren<NodeChild>,
    /// Replicas hosted, with their running supervisor.
    partitions: BTreeMap<PartitionId, (PartitionArgs, Option<ActorCell>)>,
}

impl NodeSupervisorState {
    async fn spawn_child(
        &mut self,
        myself: &ActorRef<NodeSupervisorMsg>,
        child: NodeChild,
    ) -> Result<(), ActorProcessingErr> {
        let actor_id = match child {
            NodeChild::Distributor => {
                let distributor_args = DistributorArgs {
                    router: self.args.router.clone(),
                    faults: self.args.faults.clone(),
                    usage: self.args.usage.clone(),
                    limits: self.args.distributor_limits,
                };
                let (actor, _) =
                    Actor::spawn_linked(None, Distributor, distributor_args, myself.get_cell())
                        .await?;
                self.args.distributor_slot.fill(actor.clone());
                actor.get_id()
            }
            NodeChild::Partition(partition) => {
                let Some((partition_args, running)) = self.partitions.get_mut(&partition) else {
                    // Stopped on purpose while its restart was pending.
                    return Ok(());
                };
                let (actor, _) = Actor::spawn_linked(
                    None,
                    PartitionSupervisor,
                    partition_args.clone(),
                    myself.get_cell(),
                )
                .await?;
                *running = Some(actor.get_cell());
                actor.get_id()
            }
            NodeChild::QueryShard(position) => {
                let slot = self
                    .args
                    .query_shards
                    .get(position)
                    .ok_or_else(|| format!("no query shard at position {position}"))?;
                let (actor, _) = Actor::spawn_linked(
                    None,
                    QueryShard,
                    self.args.query_shard_args.clone(),
                    myself.get_cell(),
                )
                .await?;
                slot.fill(actor.clone());
                actor.get_id()
            }
        };
        self.children.started(actor_id, child);
        Ok(())
    }
}

fn role(child: NodeChild) -> &'static str {
    match child {
        NodeChild::Distributor => "distributor",
        NodeChild::Partition(_) => "partition_supervisor",
        NodeChild::QueryShard(_) => "query_shard",
    }
}

impl Actor for NodeSupervisor {
    type Msg = NodeSupervisorMsg;
    type State = NodeSupervisorState;
    type Arguments = NodeSupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<NodeSupervisorMsg>,
        args: NodeSupervisorArgs,
    ) -> Result<NodeSupervisorState, ActorProcessingErr> {
        let children = SupervisedChildren::new(args.restart_policy);
        let mut state = NodeSupervisorState { args, children, partitions: BTreeMap::new() };
        state.spawn_child(&myself, NodeChild::Distributor).await?;
        for position in 0..state.args.query_shards.len() {
            state.spawn_child(&myself, NodeChild::QueryShard(position)).await?;
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        myself: ActorRef<NodeSupervisorMsg>,
        _state: &mut NodeSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        myself.stop_children_and_wait(None, Some(STOP_CHILDREN_TIMEOUT)).await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<NodeSupervisorMsg>,
        message: NodeSupervisorMsg,
        state: &mut NodeSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            NodeSupervisorMsg::Restart(child) => {
                if let NodeChild::Partition(partition) = child
                    && !state.partitions.contains_key(&partition)
                {
                    return Ok(());
                }
                state.spawn_child(&myself, child).await?;
                record_restart(&state.args.restarts, &state.args.metrics, role(child));
            }
            NodeSupervisorMsg::StartPartition(args) => {
                let partition = args.partition;
                if state.partitions.contains_key(&partition) {
                    return Ok(());
                }
                state.partitions.insert(partition, (*args, None));
                state.spawn_child(&myself, NodeChild::Partition(partition)).await?;
            }
            NodeSupervisorMsg::StopPartition { partition, reply } => {
                let Some((args, running)) = state.partitions.remove(&partition) else {
                    let _ = reply.send(None);
                    return Ok(());
                };
                if let Some(cell) = running {
                    state.children.forget(cell.get_id());
                    // Its post_stop stops its children (and the Raft replica) first.
                    let _ = cell.stop_and_wait(None, Some(STOP_CHILDREN_TIMEOUT)).await;
                }
                let _ = reply.send(Some(args.wal_dir));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<NodeSupervisorMsg>,
        event: SupervisionEvent,
        state: &mut NodeSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let Some((actor_id, decision)) = state.children.on_event(&event, Instant::now()) else {
            return Ok(());
        };
        match decision {
            ChildDecision::Restart { child, backoff, reason } => {
                match child {
                    NodeChild::Distributor => state.args.distributor_slot.clear_if(actor_id),
                    NodeChild::QueryShard(position) => {
                        if let Some(slot) = state.args.query_shards.get(position) {
                            slot.clear_if(actor_id);
                        }
                    }
                    NodeChild::Partition(partition) => {
                        if let Some((_, running)) = state.partitions.get_mut(&partition) {
                            *running = None;
                        }
                    }
                }
                warn!(child = role(child), %reason, ?backoff, "node child died, restarting");
                myself.send_after(backoff, move || NodeSupervisorMsg::Restart(child));
                Ok(())
            }
            ChildDecision::Escalate { child, reason } => {
                let failure = format!("{} failed too often: {reason}", role(child));
                error!(%failure, "node restart budget spent, stopping the node");
                myself.stop_children_and_wait(None, Some(STOP_CHILDREN_TIMEOUT)).await;
                state.args.failure.send_replace(Some(failure.clone()));
                Err(failure.into())
            }
        }
    }
}
