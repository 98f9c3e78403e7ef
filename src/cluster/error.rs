//! Why a cluster operation failed.

use thiserror::Error;

use crate::cluster::meta::RefusalKind;
use crate::cluster::transport::TransportError;

/// Why a cluster operation failed.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// A group's log or state could not be opened.
    #[error("cannot open {what}: {reason}")]
    Open {
        /// What was being opened.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// openraft failed (shut down, storage error, …).
    #[error("raft: {0}")]
    Raft(String),
    /// Another node could not be reached, or refused.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No leader is known for the group right now (an election is running).
    #[error("{0} has no leader right now; retry shortly")]
    NoLeader(String),
    /// The meta group refused the command; nothing changed.
    #[error("{reason}")]
    Refused {
        /// Invalid, unknown target or conflicting state.
        kind: RefusalKind,
        /// Why, in words an operator can act on.
        reason: String,
    },
    /// No seed admitted this node.
    #[error("could not join the cluster through seeds {seeds}: {reason}")]
    Join {
        /// The seeds tried.
        seeds: String,
        /// The last failure.
        reason: String,
    },
    /// A wait ran past its deadline.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

impl ClusterError {
    /// API status: refusals by their kind, everything else a retryable unavailability.
    pub fn error_code(&self) -> crate::api::error_code::ErrorCode {
        use crate::api::error_code::ErrorCode;
        match self {
            ClusterError::Refused { kind: RefusalKind::Invalid, .. } => ErrorCode::BadRequest,
            ClusterError::Refused { kind: RefusalKind::NotFound, .. } => ErrorCode::NotFound,
            ClusterError::Refused { kind: RefusalKind::Conflict, .. } => ErrorCode::Conflict,
            ClusterError::Timeout(_) => ErrorCode::Timeout,
            _ => ErrorCode::Unavailable,
        }
    }
}
