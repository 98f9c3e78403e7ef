//! The meta group's log entries ([`MetaCommand`]) and what applying one answers
//! ([`MetaResponse`]).
//!
//! Every command is idempotent: applying it a second time changes nothing and answers the
//! same. `AddPartitions` is idempotent through its `request_id`; without one, a retry adds
//! more partitions. Commands carry every value the state machine needs (times included), so
//! applying the same log on every node gives the same state.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::types::NodeId;
use crate::model::ids::PartitionId;
use crate::storage::block::BlockMeta;

/// Who a node is and where it listens: what a node says of itself when it bootstraps or joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id (random, chosen at its first start, kept in its data dir).
    pub id: NodeId,
    /// `host:port` of its internal gRPC service (Raft, forwarding, remote actors).
    pub cluster_addr: String,
    /// `host:port` of its HTTP API.
    pub http_addr: String,
    /// Its availability zone, when the operator gives one.
    pub zone: Option<String>,
}

/// A change to the cluster's metadata, proposed to the meta group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetaCommand {
    /// Changes nothing (a write that only orders the log).
    Noop,
    /// Creates the cluster on its first node: the member, and partitions `0..partitions`,
    /// active, each with that node as its only replica.
    Bootstrap {
        /// The first node.
        node: NodeInfo,
        /// How many partitions to create.
        partitions: u32,
        /// Desired replicas per partition (the effective count is capped by active nodes).
        replication_factor: u32,
        /// Desired voters of the meta group.
        voters: u32,
        /// Wall-clock time of the proposal, Unix milliseconds.
        at_ms: u64,
    },
    /// Adds a node, or updates the addresses and zone of a known one (a restart).
    Join {
        /// The joining node.
        node: NodeInfo,
        /// Wall-clock time of the proposal, Unix milliseconds.
        at_ms: u64,
    },
    /// Marks a node draining: the reconciler moves its replicas to other nodes.
    DrainNode {
        /// The node.
        id: NodeId,
    },
    /// Forgets a node that holds no replica; its id can never join again.
    RemoveNode {
        /// The node.
        id: NodeId,
    },
    /// Creates `count` pending partitions with fresh ids, their replicas placed.
    AddPartitions {
        /// How many.
        count: u32,
        /// Wall-clock time of the proposal, Unix milliseconds.
        at_ms: u64,
        /// The client's id for this request: a retry with the same id answers the same ids
        /// instead of adding more (the last [`super::RECENT_REQUESTS`] ids are remembered).
        request_id: Option<String>,
    },
    /// Pending → active: the partition takes writes.
    ActivatePartition {
        /// The partition.
        id: PartitionId,
    },
    /// Active or pending → inactive: read-only until its log is in blocks.
    DeactivatePartition {
        /// The partition.
        id: PartitionId,
        /// Wall-clock time of the proposal, Unix milliseconds.
        at_ms: u64,
    },
    /// Forgets an inactive partition whose whole log is in blocks.
    DeletePartition {
        /// The partition.
        id: PartitionId,
    },
    /// Sets a partition's desired replica set (first = preferred leader).
    SetReplicas {
        /// The partition.
        id: PartitionId,
        /// The nodes, distinct members of the cluster.
        replicas: Vec<NodeId>,
    },
    /// A partition leader's progress: its term and last committed log index.
    ReportPartition {
        /// The partition.
        id: PartitionId,
        /// The reporting leader.
        leader: NodeId,
        /// Its Raft term.
        term: u64,
        /// Its last committed log index.
        committed: u64,
    },
    /// The partition's block-builder starts cutting log entries `first..=last`.
    SetFlushIntent {
        /// The partition.
        partition: PartitionId,
        /// First log index of the range.
        first: u64,
        /// Last log index of the range (inclusive).
        last: u64,
    },
    /// Registers the blocks cut from a partition's log and raises its flushed index, at once.
    /// `blocks` may be empty: a range of control entries holds no span.
    RegisterBlocks {
        /// The partition.
        partition: PartitionId,
        /// The complete blocks (their `meta.json` is uploaded).
        blocks: Vec<BlockMeta>,
        /// Every log index up to this one is now in blocks.
        flushed: u64,
    },
    /// Registers one complete block with no log position (compaction output).
    RegisterBlock {
        /// The block.
        meta: BlockMeta,
    },
    /// Sets (`Some`) or clears (`None`) a tenant's overrides.
    SetOverride {
        /// The tenant.
        tenant: String,
        /// The overrides document.
        value: Option<serde_json::Value>,
    },
}

impl fmt::Display for MetaCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaCommand::Noop => write!(f, "noop"),
            MetaCommand::Bootstrap { node, partitions, replication_factor, voters, .. } => write!(
                f,
                "bootstrap on node {} with {partitions} partitions, rf {replication_factor}, \
                 {voters} voters",
                node.id
            ),
            MetaCommand::Join { node, .. } => {
                write!(f, "join node {} at {}", node.id, node.cluster_addr)
            }
            MetaCommand::DrainNode { id } => write!(f, "drain node {id}"),
            MetaCommand::RemoveNode { id } => write!(f, "remove node {id}"),
            MetaCommand::AddPartitions { count, request_id, .. } => match request_id {
                Some(request) => write!(f, "add {count} partitions (request {request})"),
                None => write!(f, "add {count} partitions"),
            },
            MetaCommand::ActivatePartition { id } => write!(f, "activate {id}"),
            MetaCommand::DeactivatePartition { id, .. } => write!(f, "deactivate {id}"),
            MetaCommand::DeletePartition { id } => write!(f, "delete {id}"),
            MetaCommand::SetReplicas { id, replicas } => {
                write!(f, "set replicas of {id} to {replicas:?}")
            }
            MetaCommand::ReportPartition { id, leader, term, committed } => {
                write!(f, "report {id}: leader node {leader}, term {term}, committed {committed}")
            }
            MetaCommand::SetFlushIntent { partition, first, last } => {
                write!(f, "flush intent {partition} {first}..={last}")
            }
            MetaCommand::RegisterBlocks { partition, blocks, flushed } => {
                write!(f, "register {} blocks of {partition}, flushed to {flushed}", blocks.len())
            }
            MetaCommand::RegisterBlock { meta } => {
                write!(f, "register block {} of tenant {}", meta.block_id, meta.tenant)
            }
            MetaCommand::SetOverride { tenant, value } => match value {
                Some(_) => write!(f, "set overrides of tenant {tenant}"),
                None => write!(f, "clear overrides of tenant {tenant}"),
            },
        }
    }
}

/// What kind of refusal an answer is, so the API edge can pick a status without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The command itself is malformed (HTTP 400, gRPC InvalidArgument).
    Invalid,
    /// It names a node or partition the cluster does not know (HTTP 404, gRPC NotFound).
    NotFound,
    /// The cluster's current state forbids it (HTTP 409, gRPC FailedPrecondition).
    Conflict,
}

/// What applying a command answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetaResponse {
    /// Applied (or already in effect).
    Done,
    /// Not applied; nothing changed.
    Refused {
        /// What kind of refusal.
        kind: RefusalKind,
        /// Why, in words an operator can act on.
        reason: String,
    },
    /// `AddPartitions` applied: the new partitions, in id order.
    PartitionsAdded {
        /// Their ids.
        ids: Vec<PartitionId>,
    },
}

impl MetaResponse {
    /// True when the command was not applied.
    pub fn is_refused(&self) -> bool {
        matches!(self, MetaResponse::Refused { .. })
    }
}
