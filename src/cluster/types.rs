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

use crate::cluster::meta::{MetaCommand, MetaResponse};
use crate::proto::cluster::WireEntry;

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

/// A log entry of either group, as openraft hands it over.
pub type EntryOf<D> = openraft::Entry<
    openraft::vote::leader_id_std::CommittedLeaderId<u64>,
    openraft::EntryPayload<D, NodeId, openraft::impls::BasicNode>,
>;

/// First byte of a control entry's stored payload.
const CONTROL: u8 = 0x00;
/// Second byte of a blank entry (a new leader's first entry).
const CONTROL_BLANK: u8 = 0x01;
/// Second byte of a membership entry; JSON of the membership follows.
const CONTROL_MEMBERSHIP: u8 = 0x02;

/// The bytes a WAL record (and a wire entry) holds for an entry's payload.
pub fn encode_payload<D: WalPayload + openraft::AppData>(
    payload: &openraft::EntryPayload<D, NodeId, openraft::impls::BasicNode>,
) -> Result<Bytes, PayloadError> {
    match payload {
        openraft::EntryPayload::Normal(data) => {
            let bytes = data.to_wal()?;
            if bytes.first().is_none_or(|first| *first == CONTROL) {
                return Err(PayloadError::Decode(
                    "a normal entry's payload must not be empty nor start with a zero byte"
                        .to_string(),
                ));
            }
            Ok(bytes)
        }
        openraft::EntryPayload::Blank => Ok(Bytes::from_static(&[CONTROL, CONTROL_BLANK])),
        openraft::EntryPayload::Membership(membership) => {
            let mut bytes = vec![CONTROL, CONTROL_MEMBERSHIP];
            serde_json::to_writer(&mut bytes, membership)
                .map_err(|error| PayloadError::Decode(error.to_string()))?;
            Ok(Bytes::from(bytes))
        }
    }
}

/// Reads what [`encode_payload`] wrote.
pub fn decode_payload<D: WalPayload + openraft::AppData>(
    bytes: Bytes,
) -> Result<openraft::EntryPayload<D, NodeId, openraft::impls::BasicNode>, PayloadError> {
    match (bytes.first(), bytes.get(1)) {
        (Some(&CONTROL), Some(&CONTROL_BLANK)) => Ok(openraft::EntryPayload::Blank),
        (Some(&CONTROL), Some(&CONTROL_MEMBERSHIP)) => serde_json::from_slice(&bytes[2..])
            .map(openraft::EntryPayload::Membership)
            .map_err(|error| PayloadError::Decode(format!("membership entry: {error}"))),
        (Some(&CONTROL), kind) => Err(PayloadError::UnknownControl(kind.copied().unwrap_or(0))),
        _ => D::from_wal(bytes).map(openraft::EntryPayload::Normal),
    }
}

/// How a group's entries travel between nodes: exactly as the WAL stores them.
pub trait EntryWire: openraft::RaftTypeConfig {
    /// The wire form of an entry.
    fn to_wire(entry: &Self::Entry) -> Result<WireEntry, PayloadError>;
    /// An entry back from the wire.
    fn from_wire(wire: WireEntry) -> Result<Self::Entry, PayloadError>;
}

macro_rules! entry_wire {
    ($config:ty) => {
        impl EntryWire for $config {
            fn to_wire(entry: &Self::Entry) -> Result<WireEntry, PayloadError> {
                Ok(WireEntry {
                    term: entry.log_id.leader_id.term,
                    index: entry.log_id.index,
                    payload: encode_payload(&entry.payload)?,
                })
            }

            fn from_wire(wire: WireEntry) -> Result<Self::Entry, PayloadError> {
                Ok(openraft::Entry {
                    log_id: openraft::LogId::new(
                        openraft::vote::leader_id_std::CommittedLeaderId::new(wire.term),
                        wire.index,
                    ),
                    payload: decode_payload(wire.payload)?,
                })
            }
        }
    };
}

entry_wire!(MetaRaftConfig);
entry_wire!(PartitionRaftConfig);
