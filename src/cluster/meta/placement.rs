//! Replica placement: which active nodes get a partition's new replicas.
//!
//! ```text
//!  candidates = active members − already chosen
//!  order      = (replicas held, node id)            least loaded first, ties by id
//!  pass 1     = take candidates whose zone is not used yet (a node without zone always fits)
//!  pass 2     = fill up from the rest, same order
//! ```
//!
//! Pure and deterministic: the same state gives the same choice on every node.

use std::collections::{BTreeMap, BTreeSet};

use super::state::MetaState;
use crate::cluster::types::NodeId;

/// Replicas held per node over the whole partition table (pending, active and inactive
/// partitions all cost a replica).
#[derive(Debug, Clone, Default)]
pub(super) struct Loads(BTreeMap<NodeId, usize>);

impl Loads {
    /// Counts the replicas of every partition of `state`.
    pub(super) fn of(state: &MetaState) -> Loads {
        let mut loads = Loads::default();
        for entry in state.partitions().values() {
            for node in &entry.replicas {
                loads.add(*node);
            }
        }
        loads
    }

    /// Replicas on `node`.
    pub(super) fn get(&self, node: NodeId) -> usize {
        self.0.get(&node).copied().unwrap_or(0)
    }

    /// Counts one more replica on `node`.
    pub(super) fn add(&mut self, node: NodeId) {
        *self.0.entry(node).or_insert(0) += 1;
    }

    /// Counts one replica less on `node`.
    pub(super) fn remove(&mut self, node: NodeId) {
        if let Some(count) = self.0.get_mut(&node) {
            *count = count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
/// Picks up to `count` distinct active members for a partition, never one in `exclude`;
/// the zones of `exclude` count as taken (pass the replicas a partition keeps). Fewer than
/// `count` when not enough active members remain. The order is the preference: nodes that
/// add a zone first, then the rest, each least loaded first.
pub fn place(state: &MetaState, count: usize, exclude: &[NodeId]) -> Vec<NodeId> {
    choose(state, &Loads::of(state), count, exclude)
}

/// [`place`] with loads the caller keeps up to date across several partitions.
pub(super) fn choose(
    state: &MetaState,
    loads: &Loads,
    count: usize,
    exclude: &[NodeId],
) -> Vec<NodeId> {
    let mut candidates: Vec<_> =
        state.active_members().filter(|member| !exclude.contains(&member.id)).collect();
    candidates.sort_by_key(|member| (loads.get(member.id), member.id));

    let mut zones_taken: BTreeSet<&str> = exclude
        .iter()
        .filter_map(|node| state.member(*node))
        .filter_map(|member| member.zone.as_deref())
        .collect();
    let mut chosen: Vec<NodeId> = Vec::with_capacity(count.min(candidates.len()));
    for member in &candidates {
        if chosen.len() >= count {
            break;
        }
        let new_zone = match member.zone.as_deref() {
            Some(zone) => zones_taken.insert(zone),
            None => true,
        };
        if new_zone {
            chosen.push(member.id);
        }
    }
    for member in &candidates {
        if chosen.len() >= count {
            break;
        }
        if !chosen.contains(&member.id) {
            chosen.push(member.id);
        }
    }
    chosen
}
