//! Root supervisor of a node: the distributor and one supervisor per partition.
//!
//! ```text
//!  NodeSupervisor
//!   ├── Distributor
//!   ├── PartitionSupervisor × partitions.count   (each: live-store, partition log, block-builder)
//!   └── QueryShard × query.shards                (the bounded pool of per-block query work)
//! ```
//!
//! A partition supervisor that escalates is restarted whole (its children rebuild from the
//! log). When the node's own budget is spent it stops and reports the failure, so the process
//! exits and its own supervisor (systemd, Kubernetes) restarts it on the same data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::watch;
use tracing::{error, warn};

use crate::actors::call::ActorSlot;
use crate::actors::distributor::{Distributor, DistributorArgs, DistributorLimits, DistributorMsg};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::NodeMetrics;
use crate::actors::partition::log::PartitionLogHandle;
use crate::actors::partition::supervisor::{PartitionArgs, PartitionSupervisor};
use crate::actors::partition::usage::LiveUsageBoard;
use crate::actors::query::shard::{QueryShard, QueryShardArgs, QueryShardMsg};
use crate::actors::supervision::{
    ChildDecision, RestartCounts, RestartPolicy, SupervisedChildren, record_restart,
};

/// How long a stopping node waits for its children.
const STOP_CHILDREN_TIMEOUT: Duration = Duration::from_secs(15);

/// A child of the node supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NodeChild {
    /// The distributor.
    Distributor,
    /// The supervisor of the partition at this position.
    Partition(usize),
    /// The query shard at this position of the pool.
    QueryShard(usize),
}

/// The root supervisor (behaviour only).
pub(crate) struct NodeSupervisor;

/// Messages the root supervisor sends itself.
pub(crate) enum NodeSupervisorMsg {
    /// Starts a child again after its backoff.
    Restart(NodeChild),
}

/// What the node's tree is built from.
pub(crate) struct NodeSupervisorArgs {
    pub partitions: Vec<PartitionArgs>,
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
}

impl NodeSupervisorState {
    async fn spawn_child(
        &mut self,
        myself: &ActorRef<NodeSupervisorMsg>,
        child: NodeChild,
    ) -> Result<(), ActorProcessingErr> {
        let actor_id = match child {
            NodeChild::Distributor => {
                let partitions = self
                    .args
                    .partitions
                    .iter()
                    .map(|partition| PartitionLogHandle::new(partition.log_slot.clone()))
                    .collect();
                let distributor_args = DistributorArgs {
                    partitions,
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
            NodeChild::Partition(position) => {
                let partition_args = self
                    .args
                    .partitions
                    .get(position)
                    .cloned()
                    .ok_or_else(|| format!("no partition at position {position}"))?;
                let (actor, _) = Actor::spawn_linked(
                    None,
                    PartitionSupervisor,
                    partition_args,
                    myself.get_cell(),
                )
                .await?;
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
        let partition_count = args.partitions.len();
        let children = SupervisedChildren::new(args.restart_policy);
        let mut state = NodeSupervisorState { args, children };
        for position in 0..partition_count {
            state.spawn_child(&myself, NodeChild::Partition(position)).await?;
        }
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
                state.spawn_child(&myself, child).await?;
                record_restart(&state.args.restarts, &state.args.metrics, role(child));
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
                    NodeChild::Partition(_) => {}
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
