//! The internal transport: one gRPC service per node (`proto/spanlake/cluster.proto`) on
//! `server.grpc_listen_port`, carrying Raft RPCs for every group, writes forwarded to partition
//! leaders, and calls to actors on other nodes.
//!
//! ```text
//!  node A                                                       node B
//!  Raft groups ─┐                                          ┌─► RaftRegistry ─► meta / p0 / p3 …
//!  distributor ─┼─► Peers ══ one HTTP/2 connection ══► ClusterService
//!  query fan-out┘  (secret + faults)                       └─► ClusterHandler ─► join, forward, call
//! ```
//!
//! Every request carries the cluster's shared secret (`cluster.secret`); the service refuses
//! any other with UNAUTHENTICATED before looking at it. Faults armed in [`NetFaults`] apply on
//! both sides, which is what the in-process test cluster uses to isolate a node.

mod client;
mod faults;
mod raft_wire;
mod server;
#[cfg(test)]
mod tests;
mod tls;

use std::time::Duration;

use thiserror::Error;

pub use client::Peers;
pub use faults::NetFaults;
pub use raft_wire::{GroupId, RaftRegistry, RaftRouter};
pub use server::{ClusterHandler, ClusterService};
pub use tls::ClusterTls;

use crate::cluster::types::NodeId;

/// Metadata entry carrying the shared secret.
pub const SECRET_HEADER: &str = "x-spanlake-cluster-secret";
/// Metadata entry naming the calling node (lets the receiving side apply link faults).
pub const FROM_HEADER: &str = "x-spanlake-from-node";
/// Metadata entry naming the leader when a request went to a node that does not lead.
pub const LEADER_HEADER: &str = "x-spanlake-leader";

/// Why a call to another node failed. Only `Refused` says the peer decided anything; every
/// other variant leaves the outcome unknown.
#[derive(Debug, Clone, Error)]
pub enum TransportError {
    /// The TLS material could not be loaded or used.
    #[error("cluster TLS: {reason}")]
    Tls {
        /// What failed.
        reason: String,
    },
    /// The configured secret cannot be sent as a header.
    #[error("cluster.secret must be printable ASCII to travel as a gRPC header")]
    BadSecret,
    /// A peer address does not parse.
    #[error("bad cluster address {addr}: {reason}")]
    BadAddress {
        /// The address.
        addr: String,
        /// Why it was refused.
        reason: String,
    },
    /// No address is known for the node.
    #[error("no address is known for node {0}")]
    UnknownPeer(NodeId),
    /// No connection to the peer could be made: the request was certainly not sent.
    #[error("cannot connect to node {peer}: {reason}")]
    NotConnected {
        /// The peer (0 for a seed address).
        peer: NodeId,
        /// What failed.
        reason: String,
    },
    /// The peer could not be reached.
    #[error("node {peer} is unreachable: {reason}")]
    Unreachable {
        /// The peer (0 for a seed address).
        peer: NodeId,
        /// What failed.
        reason: String,
    },
    /// The peer did not answer in time.
    #[error("node {peer} did not answer within {after:?}")]
    Timeout {
        /// The peer (0 for a seed address).
        peer: NodeId,
        /// The deadline.
        after: Duration,
    },
    /// The peer answered with an error.
    #[error("node {peer} answered {code:?}: {message}")]
    Refused {
        /// The peer (0 for a seed address).
        peer: NodeId,
        /// The gRPC status code.
        code: tonic::Code,
        /// The peer's message.
        message: String,
        /// The leader the peer named, when it does not lead what was asked.
        leader: Option<NodeId>,
    },
}

impl TransportError {
    /// Classifies a gRPC status from `peer`.
    pub fn from_status(peer: NodeId, status: tonic::Status) -> TransportError {
        match status.code() {
            // tonic's words for a connection that could not be made (nothing was sent).
            tonic::Code::Unavailable
                if status.message().contains("tcp connect error")
                    || status.message().contains("error trying to connect") =>
            {
                TransportError::NotConnected { peer, reason: status.message().to_string() }
            }
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled => {
                TransportError::Unreachable { peer, reason: status.message().to_string() }
            }
            tonic::Code::DeadlineExceeded => {
                TransportError::Unreachable { peer, reason: "deadline exceeded".to_string() }
            }
            code => TransportError::Refused {
                peer,
                code,
                message: status.message().to_string(),
                leader: status
                    .metadata()
                    .get(LEADER_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|text| text.parse().ok()),
            },
        }
    }

    /// Whether the peer certainly did not act on the request (safe to retry elsewhere without
    /// risking a duplicate).
    pub fn certainly_not_applied(&self) -> bool {
        matches!(
            self,
            TransportError::BadSecret
                | TransportError::Tls { .. }
                | TransportError::BadAddress { .. }
                | TransportError::UnknownPeer(_)
                | TransportError::NotConnected { .. }
        ) || matches!(
            self,
            TransportError::Refused {
                code: tonic::Code::FailedPrecondition
                    | tonic::Code::Unauthenticated
                    | tonic::Code::InvalidArgument
                    | tonic::Code::NotFound
                    | tonic::Code::ResourceExhausted,
                ..
            }
        )
    }
}

/// A status saying this node does not lead what was asked, naming the leader when known.
pub fn not_leader(what: &str, leader: Option<NodeId>) -> tonic::Status {
    let mut status = tonic::Status::failed_precondition(match leader {
        Some(leader) => format!("this node does not lead {what}; node {leader} does"),
        None => format!("{what} has no leader right now"),
    });
    if let Some(leader) = leader {
        status.metadata_mut().insert(LEADER_HEADER, tonic::metadata::MetadataValue::from(leader));
    }
    status
}

/// Compares secrets in time independent of where they differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given.iter().zip(expected).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}
