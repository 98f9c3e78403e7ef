//! Reconciliation: the replica changes the meta leader should propose next.
//!
//! ```text
//!  for each partition, by id:
//!    keep    = its replicas on active members, in order, at most the effective RF
//!    add     = place(effective RF − keep) away from keep's nodes and zones
//!    desired = keep ++ add
//!    if desired is empty (no active node at all): keep the replicas still on members,
//!      so a partition never drops to no replica
//!    desired ≠ replicas  ⇒  SetReplicas { id, desired }
//! ```
//!
//! It covers a node that drains or leaves (its replicas move), a cluster that grows (the
//! partitions made on the first node gain replicas up to the desired RF), and a replication
//! factor above what the active nodes allow (it shrinks to what they allow). Loads are
//! updated as it goes, so the new replicas of many partitions spread over the nodes.
//!
//! Converges: applying its output and calling it again gives nothing, because every kept
//! node is active and `place` always finds enough nodes (effective RF ≤ active members).

use super::command::MetaCommand;
use super::placement::{Loads, choose};
use super::state::{MemberState, MetaState, PartitionEntry};
use crate::cluster::types::NodeId;

/// The `SetReplicas` commands that bring every partition to its desired replica set, in
/// partition order. Empty when nothing needs to move.
pub fn reconcile(state: &MetaState) -> Vec<MetaCommand> {
    let target = state.effective_replication_factor();
    let mut loads = Loads::of(state);
    let mut commands = Vec::new();
    for entry in state.partitions().values() {
        let desired = desired_replicas(state, entry, target, &loads);
        if desired.is_empty() || desired == entry.replicas {
            continue;
        }
        for dropped in entry.replicas.iter().filter(|node| !desired.contains(node)) {
            loads.remove(*dropped);
        }
        for added in desired.iter().filter(|node| !entry.replicas.contains(node)) {
            loads.add(*added);
        }
        commands.push(MetaCommand::SetReplicas { id: entry.id, replicas: desired });
    }
    commands
}

/// The replica set `entry` should have, given `target` replicas per partition.
fn desired_replicas(
    state: &MetaState,
    entry: &PartitionEntry,
    target: usize,
    loads: &Loads,
) -> Vec<NodeId> {
    let mut keep: Vec<NodeId> = Vec::with_capacity(target);
    for node in &entry.replicas {
        let active = state.member(*node).is_some_and(|member| member.state == MemberState::Active);
        if active && !keep.contains(node) && keep.len() < target {
            keep.push(*node);
        }
    }
    let missing = target.saturating_sub(keep.len());
    let added = choose(state, loads, missing, &keep);
    keep.extend(added);
    if keep.is_empty() {
        // No active node can take the partition: its copies stay on the (draining) members
        // that still hold them rather than disappear.
        entry.replicas.iter().copied().filter(|node| state.member(*node).is_some()).collect()
    } else {
        keep
    }
}
