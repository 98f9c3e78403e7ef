//! How a Raft log entry becomes a WAL record and back: the one place that knows the encoding.
//!
//! ```text
//!  entry                 record (term, index) = the entry's log id
//!  Normal(data)     ──►  payload = data.to_wal()            never empty, never starts with 0x00
//!  Blank            ──►  payload = 0x00 0x01
//!  Membership(m)    ──►  payload = 0x00 0x02 | JSON(m)
//! ```
//!
//! A leading zero byte marks a control entry: neither JSON nor a protobuf message can start
//! with one, and a normal payload that does is refused when it is written, so a record is never
//! read back as a different kind of entry.

use bytes::{BufMut, Bytes, BytesMut};
use openraft::vote::leader_id_std::CommittedLeaderId;
use openraft::{AppData, EntryPayload, Membership, Node};
use thiserror::Error;

use crate::cluster::types::{NodeId, PayloadError, WalPayload};
use crate::model::ids::{LogId, LogIndex, Term};
use crate::storage::wal::Record;

/// A log entry of a group whose log is the WAL: openraft's entry with a standard leader id.
pub(crate) type WalEntry<D, N> =
    openraft::Entry<CommittedLeaderId<u64>, EntryPayload<D, NodeId, N>>;

/// openraft's log id of such an entry: `(term, index)`.
pub(crate) type RaftLogId = openraft::LogId<CommittedLeaderId<u64>>;

/// First byte of every control entry's payload.
const CONTROL_MARKER: u8 = 0x00;
/// Second byte of a blank entry's payload (nothing follows).
const CONTROL_BLANK: u8 = 0x01;
/// Second byte of a membership entry's payload (the membership's JSON follows).
const CONTROL_MEMBERSHIP: u8 = 0x02;

/// Why an entry could not be written as a record, or a record read back as an entry.
#[derive(Debug, Error)]
pub(crate) enum EntryCodecError {
    /// A normal entry's data encoded to nothing, which no record may hold.
    #[error("normal entry {index} encodes to an empty payload")]
    EmptyPayload {
        /// The entry's index.
        index: u64,
    },
    /// A normal entry's data starts with the zero byte that marks control entries.
    #[error(
        "normal entry {index} encodes to a payload starting with 0x00, kept for control entries"
    )]
    ZeroLeadingPayload {
        /// The entry's index.
        index: u64,
    },
    /// The application data did not encode or decode.
    #[error("entry {index}: {source}")]
    Payload {
        /// The entry's index.
        index: u64,
        /// What the application codec said.
        #[source]
        source: PayloadError,
    },
    /// A membership did not encode or decode as JSON.
    #[error("membership entry {index} does not round-trip as json: {source}")]
    Membership {
        /// The entry's index.
        index: u64,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A control payload this version cannot read (cut short, or with trailing bytes).
    #[error("control entry {index} is malformed: {reason}")]
    MalformedControl {
        /// The entry's index.
        index: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Converts openraft's log id into the WAL's.
pub(crate) fn wal_log_id(log_id: &RaftLogId) -> LogId {
    LogId { term: Term(log_id.leader_id.term), index: LogIndex(log_id.index) }
}

/// Converts the WAL's log id into openraft's.
pub(crate) fn raft_log_id(log_id: LogId) -> RaftLogId {
    openraft::LogId::new(CommittedLeaderId::new(log_id.term.0), log_id.index.0)
}

/// Writes an entry as a record; refuses a normal payload that would read back as a control one.
pub(crate) fn encode_entry<D, N>(entry: &WalEntry<D, N>) -> Result<Record, EntryCodecError>
where
    D: AppData + WalPayload,
    N: Node,
{
    let index = entry.log_id.index;
    let payload = match &entry.payload {
        EntryPayload::Normal(data) => {
            let payload =
                data.to_wal().map_err(|source| EntryCodecError::Payload { index, source })?;
            match payload.first() {
                None => return Err(EntryCodecError::EmptyPayload { index }),
                Some(&CONTROL_MARKER) => {
                    return Err(EntryCodecError::ZeroLeadingPayload { index });
                }
                Some(_) => payload,
            }
        }
        EntryPayload::Blank => Bytes::from_static(&[CONTROL_MARKER, CONTROL_BLANK]),
        EntryPayload::Membership(membership) => {
            let mut payload = BytesMut::with_capacity(64).writer();
            payload.get_mut().put_slice(&[CONTROL_MARKER, CONTROL_MEMBERSHIP]);
            serde_json::to_writer(&mut payload, membership)
                .map_err(|source| EntryCodecError::Membership { index, source })?;
            payload.into_inner().freeze()
        }
    };
    let log_id = wal_log_id(&entry.log_id);
    Ok(Record { term: log_id.term, index: log_id.index, payload })
}

/// Reads back what [`encode_entry`] wrote.
pub(crate) fn decode_entry<D, N>(record: Record) -> Result<WalEntry<D, N>, EntryCodecError>
where
    D: AppData + WalPayload,
    N: Node,
{
    let index = record.index.0;
    let log_id = raft_log_id(LogId { term: record.term, index: record.index });
    let payload = match record.payload.first() {
        Some(&CONTROL_MARKER) => decode_control(index, &record.payload)?,
        Some(_) => EntryPayload::Normal(
            D::from_wal(record.payload)
                .map_err(|source| EntryCodecError::Payload { index, source })?,
        ),
        None => return Err(EntryCodecError::EmptyPayload { index }),
    };
    Ok(openraft::Entry { log_id, payload })
}

/// Decodes a payload that starts with [`CONTROL_MARKER`].
fn decode_control<D, N>(
    index: u64,
    payload: &[u8],
) -> Result<EntryPayload<D, NodeId, N>, EntryCodecError>
where
    D: AppData,
    N: Node,
{
    let malformed = |reason| EntryCodecError::MalformedControl { index, reason };
    match payload.get(1..) {
        Some([CONTROL_BLANK]) => Ok(EntryPayload::Blank),
        Some([CONTROL_BLANK, ..]) => Err(malformed("blank entry with trailing bytes")),
        Some([CONTROL_MEMBERSHIP, json @ ..]) => {
            let membership: Membership<NodeId, N> = serde_json::from_slice(json)
                .map_err(|source| EntryCodecError::Membership { index, source })?;
            Ok(EntryPayload::Membership(membership))
        }
        Some([kind, ..]) => {
            Err(EntryCodecError::Payload { index, source: PayloadError::UnknownControl(*kind) })
        }
        Some([]) | None => Err(malformed("no control kind after the marker")),
    }
}

/// Whether a stored payload is a Raft control entry (blank, membership) rather than data:
/// readers of the raw log (replays, the block-builder) skip those.
pub(crate) fn is_control(payload: &[u8]) -> bool {
    payload.first() == Some(&CONTROL_MARKER)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::impls::BasicNode;

    use super::*;
    use crate::cluster::meta::MetaCommand;
    use crate::cluster::types::BatchPayload;

    type PartitionEntry = WalEntry<BatchPayload, BasicNode>;
    type MetaEntry = WalEntry<MetaCommand, BasicNode>;

    fn log_id(term: u64, index: u64) -> RaftLogId {
        raft_log_id(LogId { term: Term(term), index: LogIndex(index) })
    }

    fn membership() -> Membership<NodeId, BasicNode> {
        let voters = BTreeSet::from([1, 2, 3]);
        let nodes = BTreeMap::from([
            (1, BasicNode::new("10.0.0.1:4317")),
            (2, BasicNode::new("10.0.0.2:4317")),
            (3, BasicNode::new("10.0.0.3:4317")),
            (4, BasicNode::new("10.0.0.4:4317")),
        ]);
        Membership::new(vec![voters], nodes).unwrap()
    }

    fn round_trip<D: AppData + WalPayload + PartialEq>(entry: &WalEntry<D, BasicNode>) -> Record {
        let record = encode_entry(entry).unwrap();
        assert_eq!(record.term, Term(entry.log_id.leader_id.term));
        assert_eq!(record.index, LogIndex(entry.log_id.index));
        let decoded: WalEntry<D, BasicNode> = decode_entry(record.clone()).unwrap();
        assert_eq!(&decoded, entry);
        record
    }

    /// Blank, membership (with a learner) and normal entries of both groups read back equal, and
    /// a partition batch is stored as is.
    #[test]
    fn every_kind_of_entry_round_trips() {
        let blank = PartitionEntry { log_id: log_id(3, 0), payload: EntryPayload::Blank };
        assert_eq!(round_trip(&blank).payload.as_ref(), &[0x00, 0x01]);

        let change =
            MetaEntry { log_id: log_id(4, 17), payload: EntryPayload::Membership(membership()) };
        assert_eq!(&round_trip(&change).payload[..2], &[0x00, 0x02]);

        let batch = Bytes::from_static(b"\x0a\x03abc");
        let normal = PartitionEntry {
            log_id: log_id(5, u64::MAX),
            payload: EntryPayload::Normal(BatchPayload(batch.clone())),
        };
        assert_eq!(round_trip(&normal).payload, batch);

        let command =
            MetaEntry { log_id: log_id(6, 2), payload: EntryPayload::Normal(MetaCommand::Noop) };
        assert_eq!(round_trip(&command).payload.as_ref(), b"\"Noop\"");
    }

    /// A normal payload that would read back as a control entry (or as nothing) is refused when
    /// written, naming the entry.
    #[test]
    fn normal_payload_starting_with_zero_is_refused_at_encode() {
        let zero_leading = PartitionEntry {
            log_id: log_id(1, 9),
            payload: EntryPayload::Normal(BatchPayload(Bytes::from_static(&[0x00, 0x01]))),
        };
        let error = encode_entry(&zero_leading).unwrap_err();
        assert!(matches!(error, EntryCodecError::ZeroLeadingPayload { index: 9 }), "{error}");
        assert!(error.to_string().contains("entry 9"));

        let empty = PartitionEntry {
            log_id: log_id(1, 10),
            payload: EntryPayload::Normal(BatchPayload(Bytes::new())),
        };
        assert!(matches!(encode_entry(&empty), Err(EntryCodecError::EmptyPayload { index: 10 })));
    }

    /// Records no version wrote are errors, never a guess: unknown control kinds, a cut marker,
    /// a blank with trailing bytes, broken membership JSON, an empty payload, bad meta JSON.
    #[test]
    fn unreadable_records_are_errors() {
        let record = |payload: &'static [u8]| Record {
            term: Term(1),
            index: LogIndex(7),
            payload: Bytes::from_static(payload),
        };
        let partition = |payload| decode_entry::<BatchPayload, BasicNode>(record(payload));
        assert!(matches!(
            partition(&[0x00, 0x09]),
            Err(EntryCodecError::Payload { index: 7, source: PayloadError::UnknownControl(9) })
        ));
        assert!(matches!(partition(&[0x00]), Err(EntryCodecError::MalformedControl { .. })));
        assert!(matches!(
            partition(&[0x00, 0x01, 0x00]),
            Err(EntryCodecError::MalformedControl { .. })
        ));
        assert!(matches!(
            partition(b"\x00\x02{\"configs\""),
            Err(EntryCodecError::Membership { .. })
        ));
        assert!(matches!(partition(b""), Err(EntryCodecError::EmptyPayload { index: 7 })));
        assert!(matches!(
            decode_entry::<MetaCommand, BasicNode>(record(b"{not json")),
            Err(EntryCodecError::Payload { index: 7, .. })
        ));
    }
}
