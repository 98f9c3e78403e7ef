//! [`MetaState`]: everything the meta group agrees on, and the questions the rest of
//! spanlake asks of it.
//!
//! The state changes only through [`MetaState::apply`] (see `apply.rs`), so its fields are
//! private and read through the methods here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::types::NodeId;
#[cfg(test)]
use crate::model::ids::LogIndex;
use crate::model::ids::PartitionId;
use crate::model::ids::TenantId;
use crate::storage::block::{BlockId, BlockMeta};

/// Whether a member takes new replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    /// Hosts replicas and takes new ones.
    Active,
    /// Its replicas are being moved away; it takes no new one.
    Draining,
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The node's id.
    pub id: NodeId,
    /// `host:port` of its internal gRPC service.
    pub cluster_addr: String,
    /// `host:port` of its HTTP API.
    pub http_addr: String,
    /// Its availability zone, when given.
    pub zone: Option<String>,
    /// Active or draining.
    pub state: MemberState,
    /// When it first joined, Unix milliseconds.
    pub joined_at_ms: u64,
}

/// Where a partition is in its life: pending → active → inactive → deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionState {
    /// Created; its replicas are starting and it takes no traffic yet.
    Pending,
    /// Written and read.
    Active,
    /// Read-only until its log is in blocks.
    Inactive,
}

impl fmt::Display for PartitionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PartitionState::Pending => "pending",
            PartitionState::Active => "active",
            PartitionState::Inactive => "inactive",
        })
    }
}

/// The log range a partition's block-builder is cutting into blocks now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushIntent {
    /// First log index.
    pub first: u64,
    /// Last log index (inclusive).
    pub last: u64,
}

/// One row of the partition table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// The partition.
    pub id: PartitionId,
    /// Pending, active or inactive.
    pub state: PartitionState,
    /// The desired replica set, distinct members, in order of preference.
    pub replicas: Vec<NodeId>,
    /// The last leader that reported, if any (a hint: it may have lost leadership since).
    pub leader_hint: Option<NodeId>,
    /// The term of that report; older reports are refused.
    pub leader_term: u64,
    /// The last committed log index its leader reported.
    pub committed: u64,
    /// Every log index up to this one is in registered blocks (0 = none). Never lowered.
    pub flushed: u64,
    /// The range its block-builder is cutting now, if any.
    pub flush_intent: Option<FlushIntent>,
    /// When it was created, Unix milliseconds.
    pub created_at_ms: u64,
    /// When it became inactive, Unix milliseconds.
    pub deactivated_at_ms: Option<u64>,
}

/// The answer to a recent `AddPartitions` that carried a request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RecentRequest {
    pub(super) request_id: String,
    pub(super) ids: Vec<PartitionId>,
}

/// The cluster's metadata: members, partition table, block list, tenant overrides.
///
/// It is also its own snapshot (`snapshot.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaState {
    /// The node that bootstrapped the cluster; `None` until then.
    pub(super) bootstrapped_by: Option<NodeId>,
    /// Desired replicas per partition.
    pub(super) replication_factor: u32,
    /// Desired voters of the meta group.
    pub(super) voters: u32,
    pub(super) members: BTreeMap<NodeId, Member>,
    /// Ids removed through the admin API; they never join again.
    pub(super) removed: BTreeSet<NodeId>,
    pub(super) partitions: BTreeMap<PartitionId, PartitionEntry>,
    /// The next partition id; ids are never reused (block ids derive from them).
    pub(super) next_partition: u32,
    /// Tenant → block id → block.
    pub(super) blocks: BTreeMap<String, BTreeMap<BlockId, BlockMeta>>,
    /// Tenant → overrides document.
    pub(super) overrides: BTreeMap<String, serde_json::Value>,
    /// Answers of the last `AddPartitions` requests with an id, oldest first.
    pub(super) recent_requests: VecDeque<RecentRequest>,
}

impl Default for MetaState {
    /// An empty, not yet bootstrapped cluster (replication factor 1, 3 voters).
    fn default() -> MetaState {
        MetaState {
            bootstrapped_by: None,
            replication_factor: 1,
            voters: 3,
            members: BTreeMap::new(),
            removed: BTreeSet::new(),
            partitions: BTreeMap::new(),
            next_partition: 0,
            blocks: BTreeMap::new(),
            overrides: BTreeMap::new(),
            recent_requests: VecDeque::new(),
        }
    }
}

impl MetaState {
    /// An empty, not yet bootstrapped cluster.
    #[cfg(test)]
    pub fn new() -> MetaState {
        MetaState::default()
    }

    /// True once a `Bootstrap` applied.
    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped_by.is_some()
    }

    /// The node that bootstrapped the cluster.
    pub fn bootstrapped_by(&self) -> Option<NodeId> {
        self.bootstrapped_by
    }

    /// Desired replicas per partition.
    pub fn replication_factor(&self) -> u32 {
        self.replication_factor
    }

    /// Replicas a partition should have now: the desired count, capped by active members.
    pub fn effective_replication_factor(&self) -> usize {
        let desired = usize::try_from(self.replication_factor).unwrap_or(usize::MAX);
        desired.min(self.active_members().count())
    }

    /// Desired voters of the meta group.
    pub fn voters(&self) -> u32 {
        self.voters
    }

    /// Every member, by id.
    pub fn members(&self) -> &BTreeMap<NodeId, Member> {
        &self.members
    }

    /// One member.
    pub fn member(&self, id: NodeId) -> Option<&Member> {
        self.members.get(&id)
    }

    /// Active members, by id.
    pub fn active_members(&self) -> impl Iterator<Item = &Member> {
        self.members.values().filter(|member| member.state == MemberState::Active)
    }

    /// Ids removed from the cluster.
    pub fn removed(&self) -> &BTreeSet<NodeId> {
        &self.removed
    }

    /// The partition table.
    pub fn partitions(&self) -> &BTreeMap<PartitionId, PartitionEntry> {
        &self.partitions
    }

    /// One partition.
    pub fn partition(&self, id: PartitionId) -> Option<&PartitionEntry> {
        self.partitions.get(&id)
    }

    #[cfg(test)]
    /// The id the next new partition gets.
    pub fn next_partition(&self) -> PartitionId {
        PartitionId(self.next_partition)
    }

    /// Partitions that take writes, sorted.
    pub fn active_partitions(&self) -> Vec<PartitionId> {
        self.partitions_where(|entry| entry.state == PartitionState::Active)
    }

    /// Partitions a read must ask (active and inactive), sorted.
    pub fn readable_partitions(&self) -> Vec<PartitionId> {
        self.partitions_where(|entry| entry.state != PartitionState::Pending)
    }

    /// Partitions with a replica on `node`, sorted.
    pub fn partitions_on(&self, node: NodeId) -> Vec<PartitionId> {
        self.partitions_where(|entry| entry.replicas.contains(&node))
    }

    fn partitions_where(&self, keep: impl Fn(&PartitionEntry) -> bool) -> Vec<PartitionId> {
        self.partitions.values().filter(|entry| keep(entry)).map(|entry| entry.id).collect()
    }

    /// Every block of `tenant`, by block id.
    pub fn blocks_for(&self, tenant: &TenantId) -> Vec<&BlockMeta> {
        self.blocks.get(tenant.as_str()).map(|blocks| blocks.values().collect()).unwrap_or_default()
    }

    #[cfg(test)]
    /// Tenants with at least one block.
    pub fn tenants_with_blocks(&self) -> impl Iterator<Item = &str> {
        self.blocks.keys().map(String::as_str)
    }

    #[cfg(test)]
    /// The last log index of a block cut from `partition`'s log (compaction level 0) whose
    /// range starts at `first_index`, over every tenant: after a crash the builder redoes
    /// exactly that range (the `BlockList` contract).
    pub fn registered_range_end(
        &self,
        partition: PartitionId,
        first_index: LogIndex,
    ) -> Option<LogIndex> {
        self.blocks
            .values()
            .flat_map(BTreeMap::values)
            .filter(|meta| {
                meta.partition == partition.0
                    && meta.compaction_level == 0
                    && meta.first_index == first_index.0
            })
            .map(|meta| LogIndex(meta.last_index))
            .max()
    }

    #[cfg(test)]
    /// A tenant's overrides document.
    pub fn overrides_of(&self, tenant: &str) -> Option<&serde_json::Value> {
        self.overrides.get(tenant)
    }
}
