//! `meta.json`: what a block holds, written last so its presence marks a complete block.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::BlockError;
use crate::model::ids::{LogIndex, PartitionId};

/// The block format this build writes and the only one it reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// A block's name: `p{partition}-{first:020}-{last:020}` for a block cut from a log range.
///
/// Derived from the log range, so rebuilding the same range after a crash overwrites the same
/// objects instead of leaving a second copy.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct BlockId(String);

impl BlockId {
    /// The id of the block holding log records `first..=last` of `partition`.
    pub(crate) fn for_log_range(
        partition: PartitionId,
        first: LogIndex,
        last: LogIndex,
    ) -> BlockId {
        BlockId(format!("p{}-{:020}-{:020}", partition.0, first.0, last.0))
    }

    /// The id as text (one path segment).
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({})", self.0)
    }
}

/// The contents of `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockMeta {
    /// Block format version; [`FORMAT_VERSION`] for blocks this build writes.
    pub format_version: u32,
    /// The block's id.
    pub block_id: BlockId,
    /// The tenant every span belongs to.
    pub tenant: String,
    /// The partition whose log the spans came from.
    pub partition: u32,
    /// First log index the block covers.
    pub first_index: u64,
    /// Last log index the block covers (inclusive).
    pub last_index: u64,
    /// Earliest span start, Unix nanoseconds (0 for an empty block).
    pub start_unix_nano: u64,
    /// Latest span end, Unix nanoseconds (0 for an empty block).
    pub end_unix_nano: u64,
    /// Spans (rows) in the data object.
    pub span_count: u64,
    /// Distinct trace ids in the data object.
    pub trace_count: u64,
    /// Size of `data.parquet` in bytes; readers use it instead of a HEAD request.
    pub data_bytes: u64,
    /// Parquet row groups in the data object.
    pub row_groups: u32,
    /// Bloom shards: objects `bloom-0` to `bloom-{n-1}`.
    pub bloom_shards: u32,
    /// 0 for a block cut from the log; compaction raises it.
    pub compaction_level: u32,
    /// When the block was built, Unix nanoseconds (informational; not part of the content).
    pub created_at_unix_nano: u64,
}

impl BlockMeta {
    /// The JSON bytes stored as `meta.json`.
    pub(crate) fn encode(&self) -> Bytes {
        // Serialising plain integers and strings cannot fail.
        Bytes::from(serde_json::to_vec_pretty(self).unwrap_or_default())
    }

    /// Parses `meta.json`; refuses a format version this build does not read.
    pub(crate) fn decode(bytes: &[u8], object: &str) -> Result<BlockMeta, BlockError> {
        let meta: BlockMeta = serde_json::from_slice(bytes).map_err(|error| {
            BlockError::Corrupt { object: object.to_string(), reason: error.to_string() }
        })?;
        if meta.format_version != FORMAT_VERSION {
            return Err(BlockError::Decode {
                object: object.to_string(),
                reason: format!(
                    "unsupported block format version {} (this build reads {FORMAT_VERSION})",
                    meta.format_version
                ),
            });
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlockMeta {
        BlockMeta {
            format_version: FORMAT_VERSION,
            block_id: BlockId::for_log_range(PartitionId(2), LogIndex(10), LogIndex(20)),
            tenant: "single-tenant".to_string(),
            partition: 2,
            first_index: 10,
            last_index: 20,
            start_unix_nano: 1,
            end_unix_nano: 2,
            span_count: 3,
            trace_count: 1,
            data_bytes: 4096,
            row_groups: 1,
            bloom_shards: 1,
            compaction_level: 0,
            created_at_unix_nano: 5,
        }
    }

    #[test]
    fn meta_round_trips_through_json_with_snake_case_keys() {
        let meta = sample();
        let bytes = meta.encode();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains("\"block_id\": \"p2-00000000000000000010-00000000000000000020\""));
        assert!(text.contains("\"format_version\": 1"));
        assert_eq!(BlockMeta::decode(&bytes, "meta.json").unwrap(), meta);
    }

    #[test]
    fn another_format_version_is_refused() {
        let meta = BlockMeta { format_version: 2, ..sample() };
        let error = BlockMeta::decode(&meta.encode(), "meta.json").unwrap_err();
        assert!(error.to_string().contains("unsupported block format version 2"), "{error}");
    }

    #[test]
    fn garbage_is_corrupt() {
        assert!(BlockMeta::decode(b"{not json", "meta.json").unwrap_err().is_corrupt());
    }
}
