//! Leader balance: which replica of each partition should lead, so that partition leaders (and
//! what a leader does: accept writes, replicate them, build blocks) spread over the nodes.
//!
//! ```text
//!  partitions in id order; for each:
//!    candidates = its replicas on active members (a draining node leads nothing new)
//!    choose     = the candidate leading the fewest partitions chosen so far,
//!                 ties broken by rotating through the replica list with the partition id
//! ```
//!
//! Pure and deterministic, and it depends only on replica sets and member states, never on who
//! leads now: every leader computes the same answer, hands leadership to it once, and the
//! choice stays put until the replica sets change.

use std::collections::BTreeMap;

use super::state::{MemberState, MetaState};
use crate::cluster::types::NodeId;
use crate::model::ids::PartitionId;

/// The replica that should lead each partition; a partition without a replica on an active
/// member has no preference.
pub fn preferred_leaders(state: &MetaState) -> BTreeMap<PartitionId, NodeId> {
    let mut led: BTreeMap<NodeId, usize> = BTreeMap::new();
    let mut preferred = BTreeMap::new();
    for (id, entry) in state.partitions() {
        let count = entry.replicas.len();
        let choice = entry
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, node)| {
                state.member(**node).is_some_and(|member| member.state == MemberState::Active)
            })
            .min_by_key(|(position, node)| {
                let rotation = (position + count - id.0 as usize % count) % count;
                (led.get(*node).copied().unwrap_or(0), rotation)
            })
            .map(|(_, node)| *node);
        if let Some(node) = choice {
            *led.entry(node).or_insert(0) += 1;
            preferred.insert(*id, node);
        }
    }
    preferred
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::meta::test_support::*;
    use crate::cluster::meta::{MetaCommand, reconcile};

    /// `nodes` nodes (ids 1..) holding `partitions` partitions at RF `rf`, replicas placed.
    fn cluster_with(nodes: u64, rf: u32, partitions: u32) -> MetaState {
        let mut state = bootstrapped(partitions, rf);
        join_all(&mut state, &(2..=nodes).collect::<Vec<_>>());
        for _ in 0..10 {
            let commands = reconcile(&state);
            if commands.is_empty() {
                break;
            }
            commands.iter().for_each(|command| must_apply(&mut state, command));
        }
        state
    }

    fn drain(state: &mut MetaState, id: NodeId) {
        must_apply(state, &MetaCommand::DrainNode { id });
    }

    fn led_counts(preferred: &BTreeMap<PartitionId, NodeId>) -> BTreeMap<NodeId, usize> {
        let mut counts = BTreeMap::new();
        for node in preferred.values() {
            *counts.entry(*node).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn leaders_spread_evenly_over_nodes_holding_every_partition() {
        let state = cluster_with(3, 3, 8);
        let preferred = preferred_leaders(&state);
        assert_eq!(preferred.len(), 8);
        let counts = led_counts(&preferred);
        assert_eq!(counts.len(), 3, "{counts:?}");
        assert!(counts.values().all(|n| (2..=3).contains(n)), "{counts:?}");
        for (id, node) in &preferred {
            assert!(state.partition(*id).unwrap().replicas.contains(node));
        }
        assert_eq!(preferred_leaders(&state), preferred, "the same state, the same answer");
    }

    #[test]
    fn a_draining_node_is_not_preferred() {
        let mut state = cluster_with(3, 3, 6);
        drain(&mut state, 2);
        let preferred = preferred_leaders(&state);
        assert_eq!(preferred.len(), 6);
        assert!(preferred.values().all(|node| *node != 2), "{preferred:?}");
        let counts = led_counts(&preferred);
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![3, 3], "{counts:?}");
    }

    #[test]
    fn one_replica_per_partition_leads_where_it_lives() {
        let state = cluster_with(3, 1, 6);
        for (id, node) in preferred_leaders(&state) {
            assert_eq!(state.partition(id).unwrap().replicas, vec![node]);
        }
    }
}
