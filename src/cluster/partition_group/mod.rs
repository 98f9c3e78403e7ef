//! Partition groups: one openraft group per partition, its log the partition's WAL, its state
//! machine a pipe to the partition's actors (see [`state_machine`]).

pub(crate) mod state_machine;

use crate::cluster::types::PartitionRaftConfig;

pub(crate) use state_machine::{CommitSink, CommittedEntry, FlushedIndex, PartitionStateMachine};

/// A partition group's Raft handle.
pub(crate) type PartitionRaft = openraft::Raft<PartitionRaftConfig, PartitionStateMachine>;
