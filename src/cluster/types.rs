//! The Raft type configurations of spanlake's two kinds of group, and how their log entries
//! are stored in the write-ahead log.
//!
//! ```text
//!  MetaRaft       D = MetaCommand (JSON)       one group per cluster: members, partitions, blocks
//!  PartitionRaft  D = BatchPayload (protobuf)  one group per partition: the durable span log
//! ```
//!
//! Both use openraft's standard leader id (one leader per term), so a log id is exactly the
//! WAL's `(term, index)`. A WAL record's payload is the entry's application data as is when
//! the entry is normal (a `TraceBatch` is written once, never re-encoded), and a control entry
//! (blank, membership) starts with a zero byte, which neither JSON nor a protobuf message
//! can start with (field number 0 does not exist).

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cluster::log_store::EntryCodecError;
use crate::cluster::log_store::entry_codec::{decode_entry, encode_entry};
use crate::cluster::meta::{MetaCommand, MetaResponse};
use crate::model::ids::{LogIndex, Term};
use crate::proto::cluster::WireEntry;
use crate::storage::wal::Record;

/// A node of the cluster: a random id chosen at its first start and kept in its data dir.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The meta group: cluster membership and every piece of cluster metadata.
    pub MetaRaftConfig:
        D = MetaCommand,
        R = MetaResponse,
        NodeId = NodeId,
        Node = openraft::impls::BasicNode,
        Term = u64,
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, NodeId>,
);

openraft::declare_raft_types!(
    /// A partition group: the replicated log of one partition's span batches.
    pub PartitionRaftConfig:
        D = BatchPayload,
        R = (),
        NodeId = NodeId,
        Node = openraft::impls::BasicNode,
        Term = u64,
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, NodeId>,
);

/// One encoded `TraceBatch`, the normal entry of a partition log (kept encoded end to end:
/// the distributor encodes it once, the WAL stores it, the live-store decodes it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPayload(pub Bytes);

impl fmt::Debug for BatchPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchPayload({} bytes)", self.0.len())
    }
}

impl fmt::Display for BatchPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch of {} bytes", self.0.len())
    }
}

/// Why a WAL payload could not be turned back into an entry.
#[derive(Debug, Error)]
pub enum PayloadError {
    /// The application data did not decode.
    #[error("log entry does not decode: {0}")]
    Decode(String),
    /// A control entry of a kind this version does not know.
    #[error("log entry has unknown control kind {0}")]
    UnknownControl(u8),
}

/// How a group's application data is written into a WAL record's payload.
pub trait WalPayload: Sized {
    /// The bytes stored; must not be empty nor start with a zero byte.
    fn to_wal(&self) -> Result<Bytes, PayloadError>;
    /// Reads what [`WalPayload::to_wal`] wrote.
    fn from_wal(bytes: Bytes) -> Result<Self, PayloadError>;
}

impl WalPayload for BatchPayload {
    fn to_wal(&self) -> Result<Bytes, PayloadError> {
        Ok(self.0.clone())
    }

    fn from_wal(bytes: Bytes) -> Result<Self, PayloadError> {
        Ok(BatchPayload(bytes))
    }
}

impl WalPayload for MetaCommand {
    fn to_wal(&self) -> Result<Bytes, PayloadError> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(|error| PayloadError::Decode(error.to_string()))
    }

    fn from_wal(bytes: Bytes) -> Result<Self, PayloadError> {
        serde_json::from_slice(&bytes).map_err(|error| PayloadError::Decode(error.to_string()))
    }
}

/// How a group's entries travel between nodes: exactly as the WAL stores them.
pub trait EntryWire: openraft::RaftTypeConfig {
    /// The wire form of an entry.
    fn to_wire(entry: &Self::Entry) -> Result<WireEntry, EntryCodecError>;
    /// An entry back from the wire.
    fn from_wire(wire: WireEntry) -> Result<Self::Entry, EntryCodecError>;
}

macro_rules! entry_wire {
    ($config:ty) => {
        impl EntryWire for $config {
            fn to_wire(entry: &Self::Entry) -> Result<WireEntry, EntryCodecError> {
                let record = encode_entry(entry)?;
                Ok(WireEntry {
                    term: record.term.0,
                    index: record.index.0,
                    payload: record.payload,
                })
            }

            fn from_wire(wire: WireEntry) -> Result<Self::Entry, EntryCodecError> {
                decode_entry(Record {
                    term: Term(wire.term),
                    index: LogIndex(wire.index),
                    payload: wire.payload,
                })
            }
        }
    };
}

entry_wire!(MetaRaftConfig);
entry_wire!(PartitionRaftConfig);
