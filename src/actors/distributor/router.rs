//! Where the distributor sends a partition's writes: the partition's Raft leader, on this
//! node or another.
//!
//! ```text
//!  trace id ──hash──► active partitions of the meta group (sorted) ──► partition p
//!  p's leader: this node's replica knows it, else the meta group's hint
//!    here  ──► PartitionLog::append (raft.client_write)
//!    there ──► Forward RPC ──► that node's replica ──► raft.client_write
//!  "not the leader" (nothing written) ──► follow the named leader, until the deadline
//! ```
//!
//! A failure that may have written something (a timeout, a lost connection after sending) is
//! returned as it is: the write is unknown, and only the client may retry it.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::actors::partition::log::AppendError;
use crate::actors::partition::manager::LocalPartitions;
use crate::cluster::meta_group::MetaGroup;
use crate::cluster::transport::{Peers, TransportError};
use crate::cluster::types::NodeId;
use crate::model::ids::{LogIndex, PartitionId, TraceId};
use crate::proto::cluster::ForwardRequest;

/// Pause before asking again while a partition has no known leader (an election runs).
const NO_LEADER_PAUSE: Duration = Duration::from_millis(50);

/// Routes writes to partition leaders; cheap to clone.
#[derive(Clone)]
pub(crate) struct PartitionRouter {
    meta: MetaGroup,
    local: LocalPartitions,
    peers: Peers,
}

impl PartitionRouter {
    /// A router for this node.
    pub fn new(meta: MetaGroup, local: LocalPartitions, peers: Peers) -> PartitionRouter {
        PartitionRouter { meta, local, peers }
    }

    /// The active partitions, in id order (what trace ids are hashed over).
    pub fn active(&self) -> Vec<PartitionId> {
        self.meta.view().state.active_partitions()
    }

    /// The partition owning `trace_id` among `active`.
    pub fn owner(active: &[PartitionId], trace_id: &TraceId) -> Option<PartitionId> {
        if active.is_empty() {
            return None;
        }
        let position = (trace_id.routing_hash() % active.len() as u64) as usize;
        active.get(position).copied()
    }

    /// Commits one batch in `partition`, at its leader; `Ok` once committed.
    pub async fn append(
        &self,
        partition: PartitionId,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<LogIndex, AppendError> {
        let deadline = Instant::now() + timeout;
        let me = self.meta.me().id;
        let mut leader = self.leader_guess(partition);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(AppendError::NotDurable {
                    partition,
                    reason: format!("no leader accepted the write within {timeout:?}"),
                });
            }
            let next = match leader {
                Some(node) if node == me => match self.local.get(partition) {
                    Some(local) => match local.log.append(payload.clone(), remaining).await {
                        Ok(index) => return Ok(index),
                        Err(AppendError::NotLeader { leader, .. }) => {
                            tracing::debug!(%partition, ?leader, "local replica does not lead");
                            leader.filter(|l| *l != me)
                        }
                        Err(error) => return Err(error),
                    },
                    None => None,
                },
                Some(node) => {
                    let request = ForwardRequest { partition: partition.0, batch: payload.clone() };
                    match self.peers.forward(node, request, remaining).await {
                        Ok(reply) => return Ok(LogIndex(reply.index)),
                        Err(TransportError::Refused {
                            leader,
                            code: tonic::Code::FailedPrecondition,
                            message,
                            ..
                        }) => {
                            tracing::debug!(%partition, node, %message, "not the leader");
                            leader
                        }
                        Err(error) if error.certainly_not_applied() => {
                            tracing::debug!(%partition, node, %error, "forward refused");
                            None
                        }
                        Err(error) => {
                            return Err(AppendError::NotDurable {
                                partition,
                                reason: error.to_string(),
                            });
                        }
                    }
                }
                None => None,
            };
            leader = match next {
                Some(next) => Some(next),
                None => {
                    tokio::time::sleep(NO_LEADER_PAUSE.min(remaining)).await;
                    self.leader_guess(partition)
                }
            };
        }
    }

    /// The leader as this node's replica knows it (no call: the replica publishes it), else
    /// the meta group's hint.
    fn leader_guess(&self, partition: PartitionId) -> Option<NodeId> {
        let known = self
            .local
            .get(partition)
            .map_or(0, |local| local.known_leader.load(std::sync::atomic::Ordering::Acquire));
        if known != 0 {
            return Some(known);
        }
        self.meta.view().state.partition(partition).and_then(|entry| entry.leader_hint)
    }
}
