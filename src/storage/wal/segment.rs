//! One segment file: its header, batched appends, positional reads and truncation.
//!
//! A segment holds consecutive records starting at the index in its name. It keeps the offset of
//! every record in memory (8 bytes a record), so a read goes straight to the bytes it needs.
//! Reads and writes are positional (`pread`/`pwrite`), so reads take `&self` and never disturb
//! the write position.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::record::{self, FrameError};
use super::{Record, WalError};
use crate::model::ids::{LogId, LogIndex, Term};

/// The first bytes of every segment file.
pub(super) const SEGMENT_MAGIC: &[u8; 8] = b"SLWAL001";

/// The segment format version written after the magic.
pub(super) const SEGMENT_VERSION: u32 = 1;

/// Header length: magic, version (u32 LE), first index (u64 LE).
pub(super) const HEADER_LEN: u64 = 20;

/// Suffix of segment file names.
const SEGMENT_SUFFIX: &str = ".wal";

/// Returns the file name of the segment whose first record is `first_index`.
pub(super) fn segment_file_name(first_index: LogIndex) -> String {
    format!("{:020}{SEGMENT_SUFFIX}", first_index.0)
}

/// Returns the first index encoded in a segment file name, or `None` for any other file.
pub(super) fn parse_segment_file_name(name: &str) -> Option<LogIndex> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(LogIndex)
}

/// Returns the header of a segment starting at `first_index`.
pub(super) fn encode_header(first_index: LogIndex) -> [u8; HEADER_LEN as usize] {
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[12..20].copy_from_slice(&first_index.0.to_le_bytes());
    header
}

/// Builds the io variant of [`WalError`] for an operation on `path`.
pub(super) fn io_error(
    operation: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> WalError {
    let path = path.to_path_buf();
    move |source| WalError::Io { operation, path, source }
}

/// One open segment file and the offsets of its records.
#[derive(Debug)]
pub(super) struct Segment {
    /// Where the file lives.
    path: PathBuf,
    /// Opened for reading and writing.
    file: File,
    /// Index of the first record (`offsets[0]`), also the file's name.
    first_index: LogIndex,
    /// Byte offset of each record's frame; record `first_index + k` starts at `offsets[k]`.
    offsets: Vec<u64>,
    /// Length of the file: header plus every frame.
    len: u64,
    /// Term of the last record (meaningless while `offsets` is empty).
    last_term: Term,
    /// True when bytes were written since the last fsync.
    unsynced: bool,
}

impl Segment {
    /// Creates a new segment file for records starting at `first_index` and writes its header.
    /// The caller fsyncs the directory before the segment's records are durable.
    pub(super) fn create(dir: &Path, first_index: LogIndex) -> Result<Segment, WalError> {
        let path = dir.join(segment_file_name(first_index));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error("create segment", &path))?;
        file.write_all_at(&encode_header(first_index), 0)
            .map_err(io_error("write segment header", &path))?;
        tracing::debug!(segment = %path.display(), "created wal segment");
        Ok(Segment {
            path,
            file,
            first_index,
            offsets: Vec::new(),
            len: HEADER_LEN,
            last_term: Term(0),
            unsynced: true,
        })
    }

    /// Wraps a segment file that recovery has scanned and checked.
    pub(super) fn from_scan(
        path: PathBuf,
        file: File,
        first_index: LogIndex,
        offsets: Vec<u64>,
        len: u64,
        last_term: Term,
    ) -> Segment {
        Segment { path, file, first_index, offsets, len, last_term, unsynced: false }
    }

    /// Index of the first record.
    pub(super) fn first_index(&self) -> LogIndex {
        self.first_index
    }

    /// Index of the last record, `None` while the segment holds none.
    pub(super) fn last_index(&self) -> Option<LogIndex> {
        let count = self.offsets.len() as u64;
        (count > 0).then(|| LogIndex(self.first_index.0 + count - 1))
    }

    /// Identity of the last record, `None` while the segment holds none.
    pub(super) fn last_log_id(&self) -> Option<LogId> {
        self.last_index().map(|index| LogId { term: self.last_term, index })
    }

    /// Offset of the last record's frame.
    #[cfg(test)]
    pub(super) fn last_offset(&self) -> Option<u64> {
        self.offsets.last().copied()
    }

    /// Frame sizes (header included) of the records `from..=to`, which this segment holds,
    /// taken from the in-memory offsets: no disk read.
    pub(super) fn frame_sizes(
        &self,
        from: LogIndex,
        to: LogIndex,
        sizes: &mut Vec<(LogIndex, u64)>,
    ) {
        for index in from.0..=to.0 {
            let position = (index - self.first_index.0) as usize;
            let Some(start) = self.offsets.get(position) else { break };
            let end = self.offsets.get(position + 1).copied().unwrap_or(self.len);
            sizes.push((LogIndex(index), end.saturating_sub(*start)));
        }
    }

    /// Length of the file in bytes.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Writes `records` (which continue this segment) after the last frame, with one write call.
    /// Nothing is fsynced.
    pub(super) fn append(&mut self, records: &[Record]) -> Result<(), WalError> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        debug_assert_eq!(records[0].index.0, self.first_index.0 + self.offsets.len() as u64);
        let size: u64 = records.iter().map(|record| record::frame_len(record.payload.len())).sum();
        let mut buffer = Vec::with_capacity(size as usize);
        let mut new_offsets = Vec::with_capacity(records.len());
        for record in records {
            new_offsets.push(self.len + buffer.len() as u64);
            record::encode(record, &mut buffer);
        }
        self.unsynced = true;
        self.file
            .write_all_at(&buffer, self.len)
            .map_err(io_error("append to segment", &self.path))?;
        self.offsets.extend_from_slice(&new_offsets);
        self.len += buffer.len() as u64;
        self.last_term = last.term;
        Ok(())
    }

    /// Makes every written byte durable (fdatasync), if any were written since the last call.
    pub(super) fn sync(&mut self) -> Result<(), WalError> {
        if self.unsynced {
            self.file.sync_data().map_err(io_error("fsync segment", &self.path))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Reads records `from..=to`, which must all lie in this segment, into `out`.
    pub(super) fn read_into(
        &self,
        from: LogIndex,
        to: LogIndex,
        out: &mut Vec<Record>,
    ) -> Result<(), WalError> {
        debug_assert!(from >= self.first_index && Some(to) <= self.last_index() && from <= to);
        let first_slot = (from.0 - self.first_index.0) as usize;
        let last_slot = (to.0 - self.first_index.0) as usize;
        let start = self.offsets[first_slot];
        let end = self.offsets.get(last_slot + 1).copied().unwrap_or(self.len);
        let mut buffer = vec![0u8; (end - start) as usize];
        self.file
            .read_exact_at(&mut buffer, start)
            .map_err(io_error("read segment", &self.path))?;
        let buffer = Bytes::from(buffer);
        let mut at = 0;
        for expected in from.0..=to.0 {
            let (record, frame_len) = record::decode(&buffer, at).map_err(|error| {
                let reason = match error {
                    FrameError::Incomplete => "record cut short",
                    FrameError::Invalid(reason) => reason,
                };
                self.corrupt(start + at as u64, reason.to_string())
            })?;
            if record.index.0 != expected {
                let reason = format!("expected index {expected}, found {}", record.index);
                return Err(self.corrupt(start + at as u64, reason));
            }
            out.push(record);
            at += frame_len;
        }
        Ok(())
    }

    /// Removes every record with index >= `from` (at least one record stays) and fsyncs.
    pub(super) fn truncate_from(&mut self, from: LogIndex) -> Result<(), WalError> {
        debug_assert!(from > self.first_index && Some(from) <= self.last_index());
        let keep = (from.0 - self.first_index.0) as usize;
        let new_len = self.offsets[keep];
        let mut last_kept = Vec::with_capacity(1);
        self.read_into(LogIndex(from.0 - 1), LogIndex(from.0 - 1), &mut last_kept)?;
        self.file.set_len(new_len).map_err(io_error("truncate segment", &self.path))?;
        self.file.sync_all().map_err(io_error("fsync segment", &self.path))?;
        self.offsets.truncate(keep);
        self.len = new_len;
        self.unsynced = false;
        if let Some(record) = last_kept.first() {
            self.last_term = record.term;
        }
        Ok(())
    }

    /// Deletes the segment file (the caller fsyncs the directory).
    pub(super) fn remove(self) -> Result<(), WalError> {
        let Segment { path, file, .. } = self;
        drop(file);
        fs::remove_file(&path).map_err(io_error("remove segment", &path))?;
        tracing::debug!(segment = %path.display(), "removed wal segment");
        Ok(())
    }

    fn corrupt(&self, offset: u64, reason: String) -> WalError {
        WalError::Corrupt { segment: self.path.clone(), offset, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_other_files_are_ignored() {
        let name = segment_file_name(LogIndex(412));
        assert_eq!(name, "00000000000000000412.wal");
        assert_eq!(parse_segment_file_name(&name), Some(LogIndex(412)));
        assert_eq!(
            parse_segment_file_name(&segment_file_name(LogIndex(u64::MAX))),
            Some(LogIndex(u64::MAX))
        );
        for other in [
            "412.wal",
            "vote",
            "purged.tmp",
            "0000000000000000041x.wal",
            "99999999999999999999.wal",
        ] {
            assert_eq!(parse_segment_file_name(other), None, "{other}");
        }
    }
}
