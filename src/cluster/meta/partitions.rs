//! The partition table's commands: add, activate, deactivate, delete, set replicas, and
//! the leaders' progress reports.
//!
//! ```text
//!  AddPartitions ──► pending ──Activate──► active ──Deactivate──► inactive ──Delete──► gone
//!                       └──────────────Deactivate─────────────────┘  (only when its log
//!                                                                      is all in blocks)
//! ```
//!
//! A pending partition may be deactivated directly (it never took writes): that is how an
//! operator takes back an `AddPartitions`. An inactive partition is never activated again.

use super::RECENT_REQUESTS;
use super::apply::{Applied, check_partition_count, new_partition};
use super::command::MetaResponse;
use super::placement::{Loads, choose};
use super::refusal::Refusal;
use super::state::{MetaState, PartitionEntry, PartitionState, RecentRequest};
use crate::cluster::types::NodeId;
use crate::model::ids::PartitionId;

impl MetaState {
    /// Creates `count` pending partitions with fresh ids and placed replicas; a retried
    /// request id gets its first answer again.
    pub(super) fn add_partitions(
        &mut self,
        count: u32,
        at_ms: u64,
        request_id: Option<&str>,
    ) -> Applied {
        if let Some(request_id) = request_id
            && let Some(recent) =
                self.recent_requests.iter().find(|recent| recent.request_id == request_id)
        {
            return Ok(MetaResponse::PartitionsAdded { ids: recent.ids.clone() });
        }
        check_partition_count(count)?;
        let first = self.next_partition;
        let end = first.checked_add(count).ok_or(Refusal::PartitionIdsExhausted)?;
        let replication_factor = self.effective_replication_factor();
        let mut loads = Loads::of(self);
        let mut created = Vec::new();
        for number in first..end {
            let replicas = choose(self, &loads, replication_factor, &[]);
            if replicas.is_empty() {
                return Err(Refusal::NoActiveNode);
            }
            for node in &replicas {
                loads.add(*node);
            }
            created.push(new_partition(
                PartitionId(number),
                PartitionState::Pending,
                replicas,
                at_ms,
            ));
        }

        let ids: Vec<PartitionId> = created.iter().map(|entry| entry.id).collect();
        self.partitions.extend(created.into_iter().map(|entry| (entry.id, entry)));
        self.next_partition = end;
        if let Some(request_id) = request_id {
            self.recent_requests
                .push_back(RecentRequest { request_id: request_id.to_string(), ids: ids.clone() });
            while self.recent_requests.len() > RECENT_REQUESTS {
                self.recent_requests.pop_front();
            }
        }
        Ok(MetaResponse::PartitionsAdded { ids })
    }

    /// Pending → active.
    pub(super) fn activate_partition(&mut self, id: PartitionId) -> Applied {
        let entry = self.entry_mut(id)?;
        match entry.state {
            PartitionState::Pending => entry.state = PartitionState::Active,
            PartitionState::Active => {}
            PartitionState::Inactive => return Err(Refusal::ReactivateInactive { partition: id }),
        }
        Ok(MetaResponse::Done)
    }

    /// Active or pending → inactive; never the last active partition.
    pub(super) fn deactivate_partition(&mut self, id: PartitionId, at_ms: u64) -> Applied {
        let active_count = self.active_partitions().len();
        let entry = self.entry_mut(id)?;
        match entry.state {
            PartitionState::Inactive => return Ok(MetaResponse::Done),
            PartitionState::Active if active_count <= 1 => {
                return Err(Refusal::LastActivePartition { partition: id });
            }
            PartitionState::Active | PartitionState::Pending => {}
        }
        entry.state = PartitionState::Inactive;
        entry.deactivated_at_ms = Some(at_ms);
        Ok(MetaResponse::Done)
    }

    /// Forgets an inactive partition whose log is all in blocks. Its id stays used.
    pub(super) fn delete_partition(&mut self, id: PartitionId) -> Applied {
        let Some(entry) = self.partitions.get(&id) else {
            return if id.0 < self.next_partition {
                Ok(MetaResponse::Done)
            } else {
                Err(Refusal::UnknownPartition { partition: id })
            };
        };
        if entry.state != PartitionState::Inactive {
            return Err(Refusal::DeleteNotInactive { partition: id, state: entry.state });
        }
        // A builder cutting a range declares those entries exist even if no report said so.
        let log_end = entry.committed.max(entry.flush_intent.map_or(0, |intent| intent.last));
        if entry.flushed < log_end {
            return Err(Refusal::NotFlushed {
                partition: id,
                first: entry.flushed.saturating_add(1),
                last: log_end,
            });
        }
        self.partitions.remove(&id);
        Ok(MetaResponse::Done)
    }

    /// Sets the desired replica set: distinct members (draining ones allowed, so the last
    /// copy of a partition can stay where it is when no active node can take it).
    pub(super) fn set_replicas(&mut self, id: PartitionId, replicas: &[NodeId]) -> Applied {
        if !self.partitions.contains_key(&id) {
            return Err(Refusal::UnknownPartition { partition: id });
        }
        if replicas.is_empty() {
            return Err(Refusal::NoReplicas { partition: id });
        }
        for (position, node) in replicas.iter().enumerate() {
            if replicas[..position].contains(node) {
                return Err(Refusal::DuplicateReplica { partition: id, node: *node });
            }
            if !self.members.contains_key(node) {
                return Err(Refusal::UnknownNode { node: *node });
            }
        }
        let entry = self.entry_mut(id)?;
        if entry.replicas != replicas {
            entry.replicas = replicas.to_vec();
        }
        Ok(MetaResponse::Done)
    }

    /// Takes a partition leader's report: its term and committed index (never lowered).
    pub(super) fn report_partition(
        &mut self,
        id: PartitionId,
        leader: NodeId,
        term: u64,
        committed: u64,
    ) -> Applied {
        let leader_is_member = self.members.contains_key(&leader);
        let entry = self.entry_mut(id)?;
        if !leader_is_member {
            return Err(Refusal::UnknownNode { node: leader });
        }
        if term < entry.leader_term {
            return Err(Refusal::StaleReport { partition: id, term, current: entry.leader_term });
        }
        if term == entry.leader_term
            && let Some(known) = entry.leader_hint
            && known != leader
        {
            return Err(Refusal::ConflictingLeader { partition: id, term, leader, known });
        }
        entry.leader_hint = Some(leader);
        entry.leader_term = term;
        entry.committed = entry.committed.max(committed);
        Ok(MetaResponse::Done)
    }

    /// The row of `id`, or the refusal that names it.
    pub(super) fn entry_mut(&mut self, id: PartitionId) -> Result<&mut PartitionEntry, Refusal> {
        self.partitions.get_mut(&id).ok_or(Refusal::UnknownPartition { partition: id })
    }
}
