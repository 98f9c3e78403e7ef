//! Why the meta state machine refused a command, worded for the operator who sent it.
//!
//! A refusal is an answer, not a failure: it is committed in the log like any entry, leaves
//! the state as it was, and every node answers it the same way.

use thiserror::Error;

use super::command::{MetaResponse, RefusalKind};
use super::state::PartitionState;
use crate::cluster::types::NodeId;
use crate::model::ids::PartitionId;
use crate::storage::block::BlockId;

/// Why a command was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// Only `Bootstrap` and `Noop` apply to a cluster that does not exist yet.
    #[error("the cluster is not bootstrapped yet")]
    NotBootstrapped,
    /// A second bootstrap, from another node.
    #[error("the cluster was already bootstrapped by node {by}")]
    AlreadyBootstrapped {
        /// The node that bootstrapped it.
        by: NodeId,
    },
    /// A count that must be positive is zero.
    #[error("{what} must be at least 1")]
    Zero {
        /// What was zero.
        what: &'static str,
    },
    /// More partitions in one command than a reasonable cluster holds.
    #[error("cannot create {count} partitions in one request (at most {max})")]
    TooManyPartitions {
        /// Requested.
        count: u32,
        /// The limit.
        max: u32,
    },
    /// Every partition id has been used (they are never reused).
    #[error("partition ids are exhausted")]
    PartitionIdsExhausted,
    /// A node announced itself without an address.
    #[error("node {node} has no cluster address")]
    NoClusterAddress {
        /// The node.
        node: NodeId,
    },
    /// A removed node tried to come back.
    #[error(
        "node {node} was removed from the cluster; start it with an empty data directory to \
         join as a new node"
    )]
    NodeRemoved {
        /// The node.
        node: NodeId,
    },
    /// The node is not a member.
    #[error("node {node} is not a member of the cluster")]
    UnknownNode {
        /// The node.
        node: NodeId,
    },
    /// Draining the last active node would leave nowhere to put replicas.
    #[error("cannot drain the only active node")]
    DrainLastActiveNode,
    /// Removing the last active node would leave nowhere to put replicas.
    #[error("cannot remove the only active node")]
    RemoveLastActiveNode,
    /// The node still hosts replicas.
    #[error("node {node} still holds replicas of {}: drain it first", list(partitions))]
    NodeHoldsReplicas {
        /// The node.
        node: NodeId,
        /// The partitions it holds.
        partitions: Vec<PartitionId>,
    },
    /// No active node can take a replica.
    #[error("no active node to place replicas on")]
    NoActiveNode,
    /// The partition is not in the table.
    #[error("{partition} does not exist")]
    UnknownPartition {
        /// The partition.
        partition: PartitionId,
    },
    /// Inactive partitions stay read-only until deleted.
    #[error("{partition} is inactive and is never written again; add a new partition instead")]
    ReactivateInactive {
        /// The partition.
        partition: PartitionId,
    },
    /// Deactivating it would leave no partition to write to.
    #[error("{partition} is the last active partition")]
    LastActivePartition {
        /// The partition.
        partition: PartitionId,
    },
    /// Only inactive partitions are deleted.
    #[error("{partition} is {state}: deactivate it first")]
    DeleteNotInactive {
        /// The partition.
        partition: PartitionId,
        /// Its state.
        state: PartitionState,
    },
    /// The partition's log is not all in blocks yet.
    #[error("{partition} still has log entries {first}..={last} not in blocks")]
    NotFlushed {
        /// The partition.
        partition: PartitionId,
        /// First log index not in blocks.
        first: u64,
        /// Last committed log index.
        last: u64,
    },
    /// A partition without replicas would have no log.
    #[error("{partition} needs at least one replica")]
    NoReplicas {
        /// The partition.
        partition: PartitionId,
    },
    /// One node twice in a replica set.
    #[error("node {node} is listed twice in the replicas of {partition}")]
    DuplicateReplica {
        /// The partition.
        partition: PartitionId,
        /// The node.
        node: NodeId,
    },
    /// A report from a leader of an older term.
    #[error("a report of term {term} for {partition} is older than its term {current}")]
    StaleReport {
        /// The partition.
        partition: PartitionId,
        /// The report's term.
        term: u64,
        /// The term already known.
        current: u64,
    },
    /// Two leaders claimed the same term (Raft allows one).
    #[error("{partition} already has leader node {known} in term {term}, not node {leader}")]
    ConflictingLeader {
        /// The partition.
        partition: PartitionId,
        /// The term.
        term: u64,
        /// The reporting node.
        leader: NodeId,
        /// The leader already known for that term.
        known: NodeId,
    },
    /// A flush range whose first index is past its last.
    #[error("flush range {first}..={last} of {partition} is empty")]
    EmptyFlushRange {
        /// The partition.
        partition: PartitionId,
        /// First index.
        first: u64,
        /// Last index.
        last: u64,
    },
    /// A flush must continue right after the flushed index: no gap, no overlap.
    #[error("a flush of {partition} must start at log index {expected}, not {first}")]
    FlushNotNext {
        /// The partition.
        partition: PartitionId,
        /// The range's first index.
        first: u64,
        /// The flushed index + 1.
        expected: u64,
    },
    /// A block registered under the wrong partition.
    #[error("block {block} belongs to p{block_partition}, not {partition}")]
    BlockOfOtherPartition {
        /// The block.
        block: BlockId,
        /// The partition its meta names.
        block_partition: u32,
        /// The partition of the command.
        partition: PartitionId,
    },
    /// A block whose log range is backwards or goes past the flushed index it comes with.
    #[error("block {block} covers log entries {first}..={last}, not within 1..={flushed}")]
    BlockOutsideFlushed {
        /// The block.
        block: BlockId,
        /// Its first index.
        first: u64,
        /// Its last index.
        last: u64,
        /// The command's flushed index.
        flushed: u64,
    },
    /// A tenant with an empty name.
    #[error("the tenant name is empty")]
    EmptyTenant,
}

impl Refusal {
    /// The kind the API edge maps to a status.
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::Zero { .. }
            | Refusal::TooManyPartitions { .. }
            | Refusal::NoClusterAddress { .. }
            | Refusal::NoReplicas { .. }
            | Refusal::DuplicateReplica { .. }
            | Refusal::EmptyFlushRange { .. }
            | Refusal::BlockOfOtherPartition { .. }
            | Refusal::BlockOutsideFlushed { .. }
            | Refusal::EmptyTenant => RefusalKind::Invalid,
            Refusal::UnknownNode { .. } | Refusal::UnknownPartition { .. } => RefusalKind::NotFound,
            Refusal::NotBootstrapped
            | Refusal::AlreadyBootstrapped { .. }
            | Refusal::PartitionIdsExhausted
            | Refusal::NodeRemoved { .. }
            | Refusal::DrainLastActiveNode
            | Refusal::RemoveLastActiveNode
            | Refusal::NodeHoldsReplicas { .. }
            | Refusal::NoActiveNode
            | Refusal::ReactivateInactive { .. }
            | Refusal::LastActivePartition { .. }
            | Refusal::DeleteNotInactive { .. }
            | Refusal::NotFlushed { .. }
            | Refusal::StaleReport { .. }
            | Refusal::ConflictingLeader { .. }
            | Refusal::FlushNotNext { .. } => RefusalKind::Conflict,
        }
    }
}

impl From<Refusal> for MetaResponse {
    fn from(refusal: Refusal) -> MetaResponse {
        MetaResponse::Refused { kind: refusal.kind(), reason: refusal.to_string() }
    }
}

/// `p1, p3`.
fn list(partitions: &[PartitionId]) -> String {
    partitions.iter().map(PartitionId::to_string).collect::<Vec<_>>().join(", ")
}
