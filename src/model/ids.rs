//! Identifier newtypes: trace and span ids, tenants, partitions, log positions.
//!
//! Ids are never bare integers or strings elsewhere in spanlake; the newtypes carry the
//! parsing and printing rules of Tempo's API (`tempo-api.md` §0.6, §8).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a trace id given as text in a request path was refused (texts as Tempo words them).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TraceIdParseError {
    /// The id is empty.
    #[error("trace IDs can't be empty")]
    Empty,
    /// A character outside `[0-9a-fA-F]`.
    #[error(
        "trace IDs can only contain hex characters: invalid character '{character}' at position {position}"
    )]
    NotHex {
        /// The offending character.
        character: char,
        /// Its position (1-based, as Tempo reports it).
        position: usize,
    },
    /// More than 32 hex digits.
    #[error("trace IDs can't be larger than 128 bits")]
    TooLong,
}

/// A 128-bit trace id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

impl TraceId {
    /// Takes the id from wire bytes; `None` unless exactly 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<TraceId> {
        <[u8; 16]>::try_from(bytes).ok().map(TraceId)
    }

    /// Parses a path id: 1–32 hex digits of any case, an odd count gets a leading `0`, and a
    /// short id is left-padded with zero bytes to 16 (so a 64-bit Jaeger id finds its trace).
    pub fn parse_hex(text: &str) -> Result<TraceId, TraceIdParseError> {
        if text.is_empty() {
            return Err(TraceIdParseError::Empty);
        }
        if let Some((position, character)) =
            text.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(TraceIdParseError::NotHex { character, position: position + 1 });
        }
        if text.len() > 32 {
            return Err(TraceIdParseError::TooLong);
        }
        let mut nibbles = [0u8; 32];
        let offset = 32 - text.len();
        for (i, byte) in text.bytes().enumerate() {
            nibbles[offset + i] = hex_value(byte);
        }
        let mut id = [0u8; 16];
        for (i, pair) in nibbles.chunks_exact(2).enumerate() {
            id[i] = (pair[0] << 4) | pair[1];
        }
        Ok(TraceId(id))
    }

    /// Lower-case hex, always 32 characters.
    pub fn to_hex(&self) -> String {
        hex_lower(&self.0)
    }

    /// Lower-case hex with leading zeros stripped, as Tempo prints ids in search results.
    pub fn to_trimmed_hex(&self) -> String {
        let full = self.to_hex();
        let trimmed = full.trim_start_matches('0');
        if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }
    }

    /// A stable 64-bit hash used to choose the owning partition.
    pub fn routing_hash(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.0)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}

/// A 64-bit span id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

impl SpanId {
    /// Takes the id from wire bytes; `None` unless exactly 8 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<SpanId> {
        <[u8; 8]>::try_from(bytes).ok().map(SpanId)
    }

    /// True when every byte is zero (an invalid span id).
    pub fn is_zero(&self) -> bool {
        self.0 == [0u8; 8]
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_lower(&self.0))
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", hex_lower(&self.0))
    }
}

/// A tenant (Tempo's org id). Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

/// The tenant of every request when multi-tenancy is off (Tempo's `single-tenant`).
pub const SINGLE_TENANT: &str = "single-tenant";

impl TenantId {
    /// Wraps a tenant name that the caller has already validated.
    pub fn new(name: &str) -> TenantId {
        TenantId(Arc::from(name))
    }

    /// The tenant used when multi-tenancy is off.
    pub fn single_tenant() -> TenantId {
        TenantId::new(SINGLE_TENANT)
    }

    /// The tenant name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", &self.0)
    }
}

/// A partition of the trace-id space: one durable log and one live-store.
///
/// Serialised as its bare number (the meta group's log and snapshots are JSON).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartitionId(pub u32);

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// The position of a record in a partition log (1-based; 0 means "before the first").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct LogIndex(pub u64);

impl LogIndex {
    /// The index after this one.
    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }
}

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Raft term: the leadership epoch a log record was written in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Term(pub u64);

/// A record's identity in a log: (term, index), as openraft's `LogId`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct LogId {
    /// Term the record was written in.
    pub term: Term,
    /// Position in the log.
    pub index: LogIndex,
}

/// Lower-case hex of any byte string.
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// Decodes hex of any case; `None` on an odd length or a non-hex character.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(bytes.chunks_exact(2).map(|pair| (hex_value(pair[0]) << 4) | hex_value(pair[1])).collect())
}

/// The value of one hex digit; the caller has checked `is_ascii_hexdigit`.
fn hex_value(digit: u8) -> u8 {
    debug_assert!(digit.is_ascii_hexdigit());
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_trace_ids_are_left_padded() {
        let id = TraceId::parse_hex("d6e9329d67b6146a").unwrap();
        assert_eq!(id.to_hex(), "0000000000000000d6e9329d67b6146a");
        let odd = TraceId::parse_hex("abc").unwrap();
        assert_eq!(odd.to_hex(), "00000000000000000000000000000abc");
        let upper = TraceId::parse_hex("5B8EFFF798038103D269B633813FC700").unwrap();
        assert_eq!(upper.to_hex(), "5b8efff798038103d269b633813fc700");
    }

    #[test]
    fn bad_trace_ids_are_refused_with_tempo_texts() {
        assert_eq!(
            TraceId::parse_hex("12x4").unwrap_err().to_string(),
            "trace IDs can only contain hex characters: invalid character 'x' at position 3"
        );
        assert_eq!(
            TraceId::parse_hex(&"a".repeat(33)).unwrap_err().to_string(),
            "trace IDs can't be larger than 128 bits"
        );
        assert!(TraceId::parse_hex("").is_err());
    }

    #[test]
    fn trimmed_hex_drops_leading_zeros() {
        let id = TraceId::parse_hex("0f".repeat(16).as_str()).unwrap();
        assert_eq!(id.to_trimmed_hex().len(), 31);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex_decode(&hex_lower(&[0, 1, 0xab, 0xff])).unwrap(), vec![0, 1, 0xab, 0xff]);
        assert_eq!(hex_decode("ABcd").unwrap(), vec![0xab, 0xcd]);
        assert!(hex_decode("abc").is_none());
        assert!(hex_decode("zz").is_none());
    }
}
