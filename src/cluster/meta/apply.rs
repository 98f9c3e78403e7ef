//! [`MetaState::apply`]: the one way the meta state changes, and the membership commands.
//!
//! Each handler checks everything first and changes the state only once nothing can refuse,
//! so a refused command leaves the state exactly as it was.

use super::command::{MetaCommand, MetaResponse, NodeInfo};
use super::refusal::Refusal;
use super::state::{Member, MemberState, MetaState, PartitionEntry, PartitionState};
use crate::cluster::types::NodeId;
use crate::model::ids::PartitionId;

/// The most partitions one `Bootstrap` or `AddPartitions` creates.
pub const MAX_PARTITIONS_PER_REQUEST: u32 = 1024;

/// What a handler returns: an answer, or why nothing changed.
pub(super) type Applied = Result<MetaResponse, Refusal>;

impl MetaState {
    /// Applies one committed command and answers it. Deterministic: it reads nothing but the
    /// state and the command, so every replica of the log reaches the same state.
    pub fn apply(&mut self, command: &MetaCommand) -> MetaResponse {
        let applied = match command {
            MetaCommand::Noop => Ok(MetaResponse::Done),
            MetaCommand::Bootstrap { node, partitions, replication_factor, voters, at_ms } => {
                self.bootstrap(node, *partitions, *replication_factor, *voters, *at_ms)
            }
            _ if !self.is_bootstrapped() => Err(Refusal::NotBootstrapped),
            MetaCommand::Join { node, at_ms } => self.join(node, *at_ms),
            MetaCommand::DrainNode { id } => self.drain_node(*id),
            MetaCommand::RemoveNode { id } => self.remove_node(*id),
            MetaCommand::AddPartitions { count, at_ms, request_id } => {
                self.add_partitions(*count, *at_ms, request_id.as_deref())
            }
            MetaCommand::ActivatePartition { id } => self.activate_partition(*id),
            MetaCommand::DeactivatePartition { id, at_ms } => {
                self.deactivate_partition(*id, *at_ms)
            }
            MetaCommand::DeletePartition { id } => self.delete_partition(*id),
            MetaCommand::SetReplicas { id, replicas } => self.set_replicas(*id, replicas),
            MetaCommand::ReportPartition { id, leader, term, committed } => {
                self.report_partition(*id, *leader, *term, *committed)
            }
            MetaCommand::SetFlushIntent { partition, first, last } => {
                self.set_flush_intent(*partition, *first, *last)
            }
            MetaCommand::RegisterBlocks { partition, blocks, flushed } => {
                self.register_blocks(*partition, blocks, *flushed)
            }
            MetaCommand::RegisterBlock { meta } => self.register_block(meta),
            MetaCommand::SetOverride { tenant, value } => self.set_override(tenant, value.as_ref()),
        };
        applied.unwrap_or_else(MetaResponse::from)
    }

    /// Creates the cluster. Bootstrapping again from the same node is a no-op (whatever its
    /// arguments: the cluster exists), from another node (or a removed one) a refusal.
    fn bootstrap(
        &mut self,
        node: &NodeInfo,
        partitions: u32,
        replication_factor: u32,
        voters: u32,
        at_ms: u64,
    ) -> Applied {
        if let Some(by) = self.bootstrapped_by {
            return if by != node.id {
                Err(Refusal::AlreadyBootstrapped { by })
            } else if self.removed.contains(&by) {
                Err(Refusal::NodeRemoved { node: by })
            } else {
                Ok(MetaResponse::Done)
            };
        }
        check_node_info(node)?;
        check_partition_count(partitions)?;
        if replication_factor == 0 {
            return Err(Refusal::Zero { what: "the replication factor" });
        }
        if voters == 0 {
            return Err(Refusal::Zero { what: "the number of meta voters" });
        }
        self.members.insert(node.id, new_member(node, at_ms));
        for number in 0..partitions {
            let id = PartitionId(number);
            self.partitions
                .insert(id, new_partition(id, PartitionState::Active, vec![node.id], at_ms));
        }
        self.next_partition = partitions;
        self.replication_factor = replication_factor;
        self.voters = voters;
        self.bootstrapped_by = Some(node.id);
        Ok(MetaResponse::Done)
    }

    /// Adds a node, or takes the new addresses and zone of a known one (keeping its state).
    fn join(&mut self, node: &NodeInfo, at_ms: u64) -> Applied {
        check_node_info(node)?;
        if self.removed.contains(&node.id) {
            return Err(Refusal::NodeRemoved { node: node.id });
        }
        match self.members.get_mut(&node.id) {
            Some(member) => {
                member.cluster_addr.clone_from(&node.cluster_addr);
                member.http_addr.clone_from(&node.http_addr);
                member.zone.clone_from(&node.zone);
            }
            None => {
                self.members.insert(node.id, new_member(node, at_ms));
            }
        }
        Ok(MetaResponse::Done)
    }

    /// Marks a node draining; the reconciler then moves its replicas away.
    fn drain_node(&mut self, id: NodeId) -> Applied {
        let only_active = self.is_only_active_member(id);
        let member = self.members.get_mut(&id).ok_or(Refusal::UnknownNode { node: id })?;
        if member.state == MemberState::Draining {
            return Ok(MetaResponse::Done);
        }
        if only_active {
            return Err(Refusal::DrainLastActiveNode);
        }
        member.state = MemberState::Draining;
        Ok(MetaResponse::Done)
    }

    /// Forgets a node that holds no replica and bars its id from joining again.
    fn remove_node(&mut self, id: NodeId) -> Applied {
        if self.removed.contains(&id) {
            return Ok(MetaResponse::Done);
        }
        if !self.members.contains_key(&id) {
            return Err(Refusal::UnknownNode { node: id });
        }
        if self.is_only_active_member(id) {
            return Err(Refusal::RemoveLastActiveNode);
        }
        let held = self.partitions_on(id);
        if !held.is_empty() {
            return Err(Refusal::NodeHoldsReplicas { node: id, partitions: held });
        }
        self.members.remove(&id);
        self.removed.insert(id);
        for entry in self.partitions.values_mut() {
            if entry.leader_hint == Some(id) {
                entry.leader_hint = None;
            }
        }
        Ok(MetaResponse::Done)
    }

    /// True when `id` is active and no other member is.
    fn is_only_active_member(&self, id: NodeId) -> bool {
        let mut active = self.active_members();
        matches!((active.next(), active.next()), (Some(member), None) if member.id == id)
    }
}

/// Refuses a node that gives no address to reach it at.
fn check_node_info(node: &NodeInfo) -> Result<(), Refusal> {
    if node.cluster_addr.trim().is_empty() {
        return Err(Refusal::NoClusterAddress { node: node.id });
    }
    Ok(())
}

/// Refuses a partition count of zero or above [`MAX_PARTITIONS_PER_REQUEST`].
pub(super) fn check_partition_count(count: u32) -> Result<(), Refusal> {
    if count == 0 {
        return Err(Refusal::Zero { what: "the number of partitions" });
    }
    if count > MAX_PARTITIONS_PER_REQUEST {
        return Err(Refusal::TooManyPartitions { count, max: MAX_PARTITIONS_PER_REQUEST });
    }
    Ok(())
}

fn new_member(node: &NodeInfo, at_ms: u64) -> Member {
    Member {
        id: node.id,
        cluster_addr: node.cluster_addr.clone(),
        http_addr: node.http_addr.clone(),
        zone: node.zone.clone(),
        state: MemberState::Active,
        joined_at_ms: at_ms,
    }
}

/// A partition row with no leader and nothing committed or flushed yet.
pub(super) fn new_partition(
    id: PartitionId,
    state: PartitionState,
    replicas: Vec<NodeId>,
    at_ms: u64,
) -> PartitionEntry {
    PartitionEntry {
        id,
        state,
        replicas,
        leader_hint: None,
        leader_term: 0,
        committed: 0,
        flushed: 0,
        flush_intent: None,
        created_at_ms: at_ms,
        deactivated_at_ms: None,
    }
}
