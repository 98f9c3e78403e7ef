//! What holds of every meta state the commands can reach; checked on every snapshot read
//! (a snapshot that breaks them is corrupt) and after every step of the property test.

use std::collections::BTreeSet;

use super::RECENT_REQUESTS;
use super::state::{MetaState, PartitionState};

impl MetaState {
    /// The first broken invariant, in words; `Ok` when the state is consistent.
    pub fn check_invariants(&self) -> Result<(), String> {
        if !self.is_bootstrapped() {
            if !self.members.is_empty() || !self.partitions.is_empty() {
                return Err("a cluster that is not bootstrapped has members or partitions".into());
            }
            return Ok(());
        }
        if self.active_members().next().is_none() {
            return Err("no member is active".into());
        }
        if !self.partitions.values().any(|entry| entry.state == PartitionState::Active) {
            return Err("no partition is active".into());
        }
        for (id, member) in &self.members {
            if member.id != *id {
                return Err(format!("member {id} is stored as node {}", member.id));
            }
            if self.removed.contains(id) {
                return Err(format!("node {id} is both a member and removed"));
            }
        }
        for (id, entry) in &self.partitions {
            if entry.id != *id {
                return Err(format!("{id} is stored as {}", entry.id));
            }
            if id.0 >= self.next_partition {
                return Err(format!(
                    "{id} is not below the next partition id {}",
                    self.next_partition
                ));
            }
            if entry.replicas.is_empty() {
                return Err(format!("{id} has no replica"));
            }
            let mut seen = BTreeSet::new();
            for node in &entry.replicas {
                if !seen.insert(*node) {
                    return Err(format!("{id} lists node {node} twice"));
                }
                if !self.members.contains_key(node) {
                    return Err(format!("{id} lists node {node}, which is not a member"));
                }
            }
            if entry.state == PartitionState::Inactive && entry.deactivated_at_ms.is_none() {
                return Err(format!("{id} is inactive without a deactivation time"));
            }
        }
        for (tenant, blocks) in &self.blocks {
            for (block_id, meta) in blocks {
                if meta.tenant != *tenant || meta.block_id != *block_id {
                    return Err(format!(
                        "block {block_id} of tenant {tenant} is stored under {} of {}",
                        meta.block_id, meta.tenant
                    ));
                }
            }
        }
        if self.recent_requests.len() > RECENT_REQUESTS {
            return Err(format!("{} request ids remembered", self.recent_requests.len()));
        }
        Ok(())
    }
}
