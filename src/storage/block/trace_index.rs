//! The trace-id index object: which rows of the data object may hold a trace id.
//!
//! Rows are cut into chunks of at most `page_rows` rows that never split a trace unless the
//! trace alone is larger than a chunk, and never cross a row group. One entry per chunk gives
//! its first and last trace id and its rows, so a trace of normal size is in exactly one chunk,
//! and a lookup is a binary search.
//!
//! ```text
//! index  = header | entry × count | crc32c u32 LE (of everything before it)
//! header = "SLTIDX\0\0" | version u32 LE (1) | count u32 LE
//! entry  = first trace id [16] | last trace id [16] | row group u32 LE |
//!          first row in the row group u32 LE | rows u32 LE              (44 bytes)
//! ```
//!
//! Entries are in row order, hence in trace-id order: `entry[i].last <= entry[i + 1].first`.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::BlockError;
use crate::model::ids::TraceId;

const MAGIC: &[u8; 8] = b"SLTIDX\0\0";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 16;
const ENTRY_BYTES: usize = 44;
const CRC_BYTES: usize = 4;

/// One chunk of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// Trace id of the chunk's first row.
    pub first: TraceId,
    /// Trace id of the chunk's last row.
    pub last: TraceId,
    /// Row group holding the chunk.
    pub row_group: u32,
    /// The chunk's first row, counted from the start of its row group.
    pub first_row: u32,
    /// Rows in the chunk (at least 1).
    pub rows: u32,
}

/// Rows of one row group to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowGroupRows {
    /// The row group.
    pub row_group: usize,
    /// Row ranges within it, ascending and disjoint.
    pub ranges: Vec<Range<usize>>,
}

/// The decoded index of one block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TraceIndex {
    entries: Vec<IndexEntry>,
}

impl TraceIndex {
    /// Chunks the rows: `traces` are (trace id, rows) in row order, `row_group_rows` the rows of
    /// each row group as written. Both must count the same rows.
    pub(crate) fn build(
        traces: &[(TraceId, u64)],
        row_group_rows: &[u64],
        chunk_rows: usize,
    ) -> Result<TraceIndex, BlockError> {
        let total_traced: u64 = traces.iter().map(|(_, rows)| rows).sum();
        let total_written: u64 = row_group_rows.iter().sum();
        if total_traced != total_written {
            return Err(BlockError::Encode {
                reason: format!("index covers {total_traced} rows, data has {total_written}"),
            });
        }
        let chunk_rows = chunk_rows.max(1) as u64;
        let mut chunker = Chunker { entries: Vec::new(), open: None, chunk_rows };
        let mut row_group = 0usize;
        let mut row_in_group = 0u64;
        for &(trace_id, rows) in traces {
            let mut remaining = rows;
            while remaining > 0 {
                while row_in_group == row_group_rows[row_group] {
                    row_group += 1;
                    row_in_group = 0;
                    chunker.close();
                }
                let piece = remaining.min(row_group_rows[row_group] - row_in_group);
                chunker.add(trace_id, row_group as u32, row_in_group, piece);
                row_in_group += piece;
                remaining -= piece;
            }
        }
        chunker.close();
        Ok(TraceIndex { entries: chunker.entries })
    }

    /// The entries, in row order.
    pub(crate) fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// The rows that may hold `trace_id`, grouped by row group in ascending order; empty when
    /// no chunk's id range covers it.
    pub(crate) fn lookup(&self, trace_id: TraceId) -> Vec<RowGroupRows> {
        let start = self.entries.partition_point(|entry| entry.last < trace_id);
        let mut result: Vec<RowGroupRows> = Vec::new();
        for entry in self.entries[start..].iter().take_while(|entry| entry.first <= trace_id) {
            let row_group = entry.row_group as usize;
            let range = entry.first_row as usize..(entry.first_row + entry.rows) as usize;
            match result.last_mut() {
                Some(rows) if rows.row_group == row_group => match rows.ranges.last_mut() {
                    Some(last) if last.end == range.start => last.end = range.end,
                    _ => rows.ranges.push(range),
                },
                _ => result.push(RowGroupRows { row_group, ranges: vec![range] }),
            }
        }
        result
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> Bytes {
        let mut out =
            BytesMut::with_capacity(HEADER_BYTES + self.entries.len() * ENTRY_BYTES + CRC_BYTES);
        out.put_slice(MAGIC);
        out.put_u32_le(VERSION);
        out.put_u32_le(self.entries.len() as u32);
        for entry in &self.entries {
            out.put_slice(&entry.first.0);
            out.put_slice(&entry.last.0);
            out.put_u32_le(entry.row_group);
            out.put_u32_le(entry.first_row);
            out.put_u32_le(entry.rows);
        }
        let crc = crc32c::crc32c(&out);
        out.put_u32_le(crc);
        out.freeze()
    }

    /// Parses the stored form, checking its checksum and ordering.
    pub(crate) fn decode(bytes: &[u8], object: &str) -> Result<TraceIndex, BlockError> {
        let corrupt = |reason: String| BlockError::Corrupt { object: object.to_string(), reason };
        if bytes.len() < HEADER_BYTES + CRC_BYTES || &bytes[..8] != MAGIC {
            return Err(corrupt("not a trace-id index".to_string()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - CRC_BYTES);
        if crc32c::crc32c(body).to_le_bytes() != crc {
            return Err(corrupt("checksum mismatch".to_string()));
        }
        let version = read_u32(body, 8);
        if version != VERSION {
            return Err(BlockError::Decode {
                object: object.to_string(),
                reason: format!("unsupported index version {version}"),
            });
        }
        let count = read_u32(body, 12) as usize;
        if body.len() != HEADER_BYTES + count * ENTRY_BYTES {
            return Err(corrupt(format!("{count} entries do not fit {} bytes", body.len())));
        }
        let entries: Vec<IndexEntry> = body[HEADER_BYTES..]
            .chunks_exact(ENTRY_BYTES)
            .map(|entry| IndexEntry {
                first: TraceId::from_slice(&entry[..16]).unwrap_or_default(),
                last: TraceId::from_slice(&entry[16..32]).unwrap_or_default(),
                row_group: read_u32(entry, 32),
                first_row: read_u32(entry, 36),
                rows: read_u32(entry, 40),
            })
            .collect();
        for (position, entry) in entries.iter().enumerate() {
            if entry.rows == 0 || entry.first > entry.last {
                return Err(corrupt(format!("entry {position} is empty or inverted")));
            }
            if let Some(next) = entries.get(position + 1) {
                let in_order = entry.last <= next.first
                    && (entry.row_group, entry.first_row + entry.rows)
                        <= (next.row_group, next.first_row);
                if !in_order {
                    return Err(corrupt(format!(
                        "entries {position} and {} are out of order",
                        position + 1
                    )));
                }
            }
        }
        Ok(TraceIndex { entries })
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Packs trace pieces into chunks.
struct Chunker {
    entries: Vec<IndexEntry>,
    open: Option<IndexEntry>,
    chunk_rows: u64,
}

impl Chunker {
    /// Adds `rows` rows of `trace_id` starting at `first_row` of `row_group`; the caller never
    /// lets a piece cross a row group.
    fn add(&mut self, trace_id: TraceId, row_group: u32, mut first_row: u64, mut rows: u64) {
        if let Some(open) = &self.open {
            let contiguous =
                open.row_group == row_group && u64::from(open.first_row + open.rows) == first_row;
            if !contiguous || u64::from(open.rows) + rows > self.chunk_rows {
                self.close();
            }
        }
        // A trace larger than a chunk gets chunks of its own.
        while rows > self.chunk_rows {
            self.close();
            self.open = Some(IndexEntry {
                first: trace_id,
                last: trace_id,
                row_group,
                first_row: first_row as u32,
                rows: self.chunk_rows as u32,
            });
            self.close();
            first_row += self.chunk_rows;
            rows -= self.chunk_rows;
        }
        if rows == 0 {
            return;
        }
        match &mut self.open {
            Some(open) => {
                open.last = trace_id;
                open.rows += rows as u32;
            }
            None => {
                self.open = Some(IndexEntry {
                    first: trace_id,
                    last: trace_id,
                    row_group,
                    first_row: first_row as u32,
                    rows: rows as u32,
                })
            }
        }
    }

    fn close(&mut self) {
        if let Some(entry) = self.open.take() {
            self.entries.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> TraceId {
        TraceId([n; 16])
    }

    /// (row group, [(start, end)]) per row group the lookup names.
    fn ranges(index: &TraceIndex, trace: TraceId) -> Vec<(usize, Vec<(usize, usize)>)> {
        let bounds = |ranges: Vec<Range<usize>>| ranges.iter().map(|r| (r.start, r.end)).collect();
        index.lookup(trace).into_iter().map(|rows| (rows.row_group, bounds(rows.ranges))).collect()
    }

    #[test]
    fn small_traces_share_chunks_and_each_is_found_in_one() {
        let traces = [(id(1), 3), (id(2), 3), (id(3), 3), (id(4), 1)];
        let index = TraceIndex::build(&traces, &[10], 6).unwrap();
        assert_eq!(index.entries().len(), 2);
        assert_eq!(ranges(&index, id(2)), [(0, vec![(0, 6)])]);
        assert_eq!(ranges(&index, id(3)), [(0, vec![(6, 10)])]);
        assert!(index.lookup(id(0)).is_empty());
        assert!(index.lookup(id(9)).is_empty());
    }

    #[test]
    fn a_large_trace_spans_chunks_and_row_groups() {
        let traces = [(id(1), 2), (id(2), 13), (id(3), 1)];
        let index = TraceIndex::build(&traces, &[10, 6], 4).unwrap();
        // id(2): rows 2..10 of group 0 and 0..5 of group 1; its last chunk also holds id(3).
        assert_eq!(ranges(&index, id(2)), [(0, vec![(2, 10)]), (1, vec![(0, 6)])]);
        assert_eq!(ranges(&index, id(3)), [(1, vec![(4, 6)])]);
        for entry in index.entries() {
            assert!(entry.rows <= 4);
        }
    }

    #[test]
    fn mismatched_row_counts_are_refused() {
        assert!(TraceIndex::build(&[(id(1), 3)], &[4], 4).is_err());
    }

    #[test]
    fn the_index_round_trips_and_detects_damage() {
        let traces: Vec<_> = (0..50u8).map(|n| (id(n), u64::from(n % 7) + 1)).collect();
        let rows: u64 = traces.iter().map(|(_, rows)| rows).sum();
        let index = TraceIndex::build(&traces, &[rows / 2, rows - rows / 2], 8).unwrap();
        let encoded = index.encode();
        assert_eq!(TraceIndex::decode(&encoded, "index").unwrap(), index);
        for position in [0, 10, 20, encoded.len() - 1] {
            let mut damaged = encoded.to_vec();
            damaged[position] ^= 0x40;
            assert!(TraceIndex::decode(&damaged, "index").unwrap_err().is_corrupt());
        }
        assert!(TraceIndex::decode(&encoded[..encoded.len() - 1], "index").is_err());
        assert!(TraceIndex::decode(b"", "index").unwrap_err().is_corrupt());
    }

    #[test]
    fn an_empty_block_has_an_empty_index() {
        let index = TraceIndex::build(&[], &[], 8).unwrap();
        assert!(TraceIndex::decode(&index.encode(), "index").unwrap().entries().is_empty());
    }
}
