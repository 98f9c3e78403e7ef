//! Write-ahead log: the durable, segmented record log behind each partition's Raft group.
//!
//! Synchronous and single-owner: the partition-log actor drives it from `spawn_blocking`, and
//! the openraft `RaftLogStorage` adapter maps `append`/`truncate`/`purge`/`save_vote` onto it.
//! Group commit is the caller's: many requests go into one `Wal::append` (one `write` call per
//! touched segment), then one `Wal::sync` (one fdatasync) makes them all durable.
//!
//! # On-disk layout
//!
//! ```text
//! dir/
//! ├── 00000000000000000001.wal   records 1..=411     sealed: fsynced before the next one
//! ├── 00000000000000000412.wal   records 412..=976   was created
//! ├── 00000000000000000977.wal   records 977..       active: only it may end in a torn tail
//! ├── purged                     last purged LogId (term, index), replaced atomically
//! ├── vote                       last saved Raft vote (opaque bytes), replaced atomically
//! └── committed                  last committed LogId, a hint: renamed into place, no fsync
//!
//! segment = header | frame | frame | …        (named by its first index, 20 digits)
//!   header (20 B) = "SLWAL001" | version u32 LE (1) | first index u64 LE
//!   frame         = len u32 LE | crc32c u32 LE | body
//!   body (len B)  = term u64 LE | index u64 LE | payload     (16 <= len <= 1 GiB)
//! purged, vote, committed = len u32 LE | crc32c u32 LE | body
//! ```
//!
//! # Rules
//! - Indices are consecutive and terms never decrease, across segments too.
//! - A segment is created at the first record that does not fit (`segment_bytes`), so every
//!   segment holds at least one record; the previous one (file and directory entry) is fsynced
//!   first.
//! - On open, a bad frame (cut short or failing its CRC) in the last segment is a torn tail: the
//!   file is cut there. In any other segment it is `WalError::Corrupt`.
//! - A purge persists the purge point first, then removes the segments below it; a segment that
//!   straddles the point stays, its early records unreadable.
//! - After an I/O failure in a mutating call the log is poisoned: reopening it learns what is
//!   on disk.

mod error;
mod meta;
#[cfg(test)]
mod model_tests;
mod record;
mod recovery;
mod segment;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::model::ids::{LogId, LogIndex, Term};
pub(crate) use error::WalError;
pub(crate) use meta::{read_checked, write_atomic};
use segment::Segment;

/// One log record: a Raft entry's identity and its opaque payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// Term the record was written in.
    pub term: Term,
    /// Position in the log.
    pub index: LogIndex,
    /// The entry itself, encoded by the caller.
    pub payload: Bytes,
}

/// Tuning of a [`Wal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalOptions {
    /// A new segment starts once the active one has reached this many bytes.
    pub segment_bytes: u64,
}

impl Default for WalOptions {
    /// Rolls segments at 64 MiB.
    fn default() -> Self {
        WalOptions { segment_bytes: 64 * 1024 * 1024 }
    }
}

/// What [`Wal::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RecoveryReport {
    /// Readable records (those not purged).
    pub records: u64,
    /// Segment files kept.
    pub segments: usize,
    /// Bytes cut from a torn tail of the last segment.
    pub truncated_bytes: u64,
    /// First readable index.
    pub first_index: Option<LogIndex>,
    /// Last record, or the purge point when no record is left.
    pub last: Option<LogId>,
}

/// A partition's write-ahead log in one directory.
#[derive(Debug)]
pub(crate) struct Wal {
    /// The log directory.
    dir: PathBuf,
    options: WalOptions,
    /// Segments in index order, each with at least one record; the last is the active one.
    segments: Vec<Segment>,
    /// The last record on disk (possibly purged), `None` when there are no segments.
    last: Option<LogId>,
    last_purged: Option<LogId>,
    vote: Option<Vec<u8>>,
    /// A segment file was created since the directory was last fsynced.
    dir_unsynced: bool,
    /// Set by an I/O failure in a mutating call.
    poisoned: bool,
}

impl Wal {
    /// Opens or creates the log in `dir`; scans every segment, truncates a torn tail of the last
    /// segment (cut at the first bad frame and fsync), and builds the in-memory index.
    pub(crate) fn open(dir: &Path, options: WalOptions) -> Result<(Wal, RecoveryReport), WalError> {
        let recovered = recovery::recover(dir)?;
        let last = recovered.segments.last().and_then(Segment::last_log_id);
        let wal = Wal {
            dir: dir.to_path_buf(),
            options,
            segments: recovered.segments,
            last,
            last_purged: recovered.last_purged,
            vote: recovered.vote,
            dir_unsynced: false,
            poisoned: false,
        };
        let first_index = wal.first_index();
        let report = RecoveryReport {
            records: match (first_index, wal.last) {
                (Some(first), Some(last)) => last.index.0 - first.0 + 1,
                _ => 0,
            },
            segments: wal.segments.len(),
            truncated_bytes: recovered.truncated_bytes,
            first_index,
            last: wal.last_log_id(),
        };
        tracing::info!(
            dir = %dir.display(),
            records = report.records,
            segments = report.segments,
            truncated_bytes = report.truncated_bytes,
            "opened wal"
        );
        Ok((wal, report))
    }

    /// Appends records (handed to the OS, not fsynced: call [`Wal::sync`]). The first must be
    /// `last_log_id().index + 1`, or anything when the log is empty and was never purged; terms
    /// never decrease. Rolls to a new segment when the active one reaches `segment_bytes`.
    /// Nothing is written when a record is refused.
    pub(crate) fn append(&mut self, records: &[Record]) -> Result<(), WalError> {
        self.refuse_if_poisoned()?;
        self.check_append(records)?;
        let result = self.write_records(records);
        self.poison_on_error(result)
    }

    /// Makes every appended record durable: fdatasync of the active segment, and of the
    /// directory when a segment was created since the last sync.
    pub(crate) fn sync(&mut self) -> Result<(), WalError> {
        self.refuse_if_poisoned()?;
        let result = self.sync_files();
        self.poison_on_error(result)
    }

    /// Sizes on disk of the readable records `from..=to` (clamped to what exists), from the
    /// in-memory index: what the block-builder needs to plan cuts after a restart.
    pub(crate) fn frame_sizes(
        &self,
        from: LogIndex,
        to_inclusive: LogIndex,
    ) -> Vec<(LogIndex, u64)> {
        let mut sizes = Vec::new();
        let (Some(first), Some(last)) = (self.first_index(), self.last) else { return sizes };
        let from = from.max(first);
        let to = to_inclusive.min(last.index);
        for segment in &self.segments {
            let Some(segment_last) = segment.last_index() else { continue };
            if segment_last < from || segment.first_index() > to {
                continue;
            }
            segment.frame_sizes(from.max(segment.first_index()), to.min(segment_last), &mut sizes);
        }
        sizes
    }

    /// Returns the records with `from <= index <= to_inclusive`, clamped to what exists, in
    /// order; `Purged` when `from` is at or below the purge point. The whole range is read into
    /// memory, so callers ask for bounded ranges.
    pub(crate) fn read_range(
        &self,
        from: LogIndex,
        to_inclusive: LogIndex,
    ) -> Result<Vec<Record>, WalError> {
        if from > to_inclusive {
            return Ok(Vec::new());
        }
        if let Some(purged) = self.last_purged
            && from <= purged.index
        {
            return Err(WalError::Purged { index: from });
        }
        let (Some(first), Some(last)) = (self.first_index(), self.last) else {
            return Ok(Vec::new());
        };
        let from = from.max(first);
        let to = to_inclusive.min(last.index);
        let mut records = Vec::new();
        if from > to {
            return Ok(records);
        }
        records.reserve((to.0 - from.0 + 1) as usize);
        let start = self
            .segments
            .partition_point(|segment| segment.first_index() <= from)
            .saturating_sub(1);
        for segment in &self.segments[start..] {
            let Some(segment_last) = segment.last_index() else { continue };
            if segment.first_index() > to {
                break;
            }
            segment.read_into(
                from.max(segment.first_index()),
                to.min(segment_last),
                &mut records,
            )?;
        }
        Ok(records)
    }

    /// Deletes the records with index >= `from` (openraft's `truncate` after a conflict) and
    /// fsyncs; the next append continues at `from`. `Purged` when `from` is at or below the
    /// purge point; nothing happens when `from` is past the last record.
    pub(crate) fn truncate_from(&mut self, from: LogIndex) -> Result<(), WalError> {
        self.refuse_if_poisoned()?;
        if let Some(purged) = self.last_purged
            && from <= purged.index
        {
            return Err(WalError::Purged { index: from });
        }
        if self.last.is_none_or(|last| from > last.index) {
            return Ok(());
        }
        let result = self.truncate_files(from);
        self.poison_on_error(result)
    }

    /// Forgets every record with index < `index`: persists the purge point (the `LogId` of
    /// record `index - 1`), then deletes the segments holding only such records. A segment that
    /// straddles the point stays (its early records become unreadable). An `index` past the
    /// last record purges through the last record; a point at or below the current one does
    /// nothing.
    #[cfg(test)]
    pub(crate) fn purge_before(&mut self, index: LogIndex) -> Result<(), WalError> {
        self.refuse_if_poisoned()?;
        let (Some(last), Some(first_segment)) = (self.last, self.segments.first()) else {
            return Ok(());
        };
        let Some(target) = index.0.checked_sub(1).map(|target| LogIndex(target.min(last.index.0)))
        else {
            return Ok(());
        };
        if target < first_segment.first_index()
            || self.last_purged.is_some_and(|purged| purged.index >= target)
        {
            return Ok(());
        }
        let term = self.term_at(target)?;
        self.purge_upto(LogId { term, index: target })
    }

    /// Forgets every record with index <= `upto.index` and records `upto` as the purge point
    /// (openraft's `purge`). Unlike [`Wal::purge_before`], the point may lie past the last
    /// record (after a snapshot was installed): the log is then empty and the next append must
    /// be `upto.index + 1`. A point at or below the current one does nothing; one that would
    /// leave a hole before the first record is refused (`PurgeGap`).
    pub(crate) fn purge_upto(&mut self, upto: LogId) -> Result<(), WalError> {
        self.refuse_if_poisoned()?;
        if self.last_purged.is_some_and(|purged| purged.index >= upto.index) {
            return Ok(());
        }
        if let Some(first) = self.segments.first().map(Segment::first_index)
            && upto.index.0.saturating_add(1) < first.0
        {
            return Err(WalError::PurgeGap { upto: upto.index, first });
        }
        let result = self.purge_files(upto);
        self.poison_on_error(result)
    }

    /// Returns the first readable index, `None` when no record is readable.
    pub(crate) fn first_index(&self) -> Option<LogIndex> {
        let first_on_disk = self.segments.first()?.first_index();
        let first = match self.last_purged {
            Some(purged) => first_on_disk.max(purged.index.next()),
            None => first_on_disk,
        };
        self.last.filter(|last| last.index >= first).map(|_| first)
    }

    /// Returns the last appended record's id (synced or not), or the purge point when every
    /// record is purged; `None` for a log that never held anything.
    pub(crate) fn last_log_id(&self) -> Option<LogId> {
        match (self.last, self.last_purged) {
            (Some(last), Some(purged)) if purged.index > last.index => Some(purged),
            (Some(last), _) => Some(last),
            (None, purged) => purged,
        }
    }

    /// Returns the purge point: the last forgotten record.
    pub(crate) fn last_purged(&self) -> Option<LogId> {
        self.last_purged
    }

    /// Saves the Raft vote durably (write a temporary file, fsync, rename, fsync the directory).
    pub(crate) fn save_vote(&mut self, vote: &[u8]) -> Result<(), WalError> {
        meta::write_atomic(&self.dir, meta::VOTE_FILE, vote)?;
        self.vote = Some(vote.to_vec());
        Ok(())
    }

    /// Whether a vote was ever saved in `dir`, without opening (and scanning) the log.
    pub(crate) fn has_vote_file(dir: &Path) -> bool {
        dir.join(meta::VOTE_FILE).is_file()
    }

    /// Returns the last saved vote.
    pub(crate) fn read_vote(&self) -> Result<Option<Vec<u8>>, WalError> {
        Ok(self.vote.clone())
    }

    /// Returns the bytes of every segment file.
    #[cfg(test)]
    pub(crate) fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::len).sum()
    }

    fn refuse_if_poisoned(&self) -> Result<(), WalError> {
        if self.poisoned { Err(WalError::Poisoned) } else { Ok(()) }
    }

    fn poison_on_error<T>(&mut self, result: Result<T, WalError>) -> Result<T, WalError> {
        if let Err(error) = &result {
            tracing::error!(dir = %self.dir.display(), %error, "wal poisoned");
            self.poisoned = true;
        }
        result
    }

    fn check_append(&self, records: &[Record]) -> Result<(), WalError> {
        let mut previous = self.last_log_id();
        for record in records {
            if let Some(previous) = previous {
                let expected = previous.index.next();
                if record.index != expected {
                    return Err(WalError::NonContiguous { expected, got: record.index });
                }
                if record.term < previous.term {
                    return Err(WalError::TermRegression {
                        index: record.index,
                        term: record.term,
                        previous: previous.term,
                    });
                }
            }
            if record.payload.len() > record::MAX_PAYLOAD_LEN {
                return Err(WalError::RecordTooLarge {
                    index: record.index,
                    len: record.payload.len(),
                });
            }
            previous = Some(LogId { term: record.term, index: record.index });
        }
        Ok(())
    }

    fn write_records(&mut self, records: &[Record]) -> Result<(), WalError> {
        let segment_bytes = self.options.segment_bytes;
        let mut remaining = records;
        while let Some(next) = remaining.first() {
            if self.segments.last().is_none_or(|active| active.len() >= segment_bytes) {
                if let Some(full) = self.segments.last_mut() {
                    // Sealed segments are whole and listed on disk before a successor exists,
                    // so only the last segment can be torn and no segment can go missing.
                    full.sync()?;
                    if self.dir_unsynced {
                        meta::sync_dir(&self.dir)?;
                        self.dir_unsynced = false;
                    }
                }
                self.segments.push(Segment::create(&self.dir, next.index)?);
                self.dir_unsynced = true;
            }
            let active = self.segments.last_mut().expect("a segment exists after rolling");
            let mut size = active.len();
            let mut count = 0;
            for record in remaining {
                if count > 0 && size >= segment_bytes {
                    break;
                }
                size += record::frame_len(record.payload.len());
                count += 1;
            }
            let (chunk, rest) = remaining.split_at(count);
            active.append(chunk)?;
            self.last = active.last_log_id();
            remaining = rest;
        }
        Ok(())
    }

    fn sync_files(&mut self) -> Result<(), WalError> {
        if let Some(active) = self.segments.last_mut() {
            active.sync()?;
        }
        if self.dir_unsynced {
            meta::sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        Ok(())
    }

    fn truncate_files(&mut self, from: LogIndex) -> Result<(), WalError> {
        // Newest first, one directory fsync each, so a crash leaves a prefix of the log.
        while self.segments.last().is_some_and(|segment| segment.first_index() >= from) {
            let Some(segment) = self.segments.pop() else { break };
            segment.remove()?;
            meta::sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        if let Some(active) = self.segments.last_mut()
            && active.last_index().is_some_and(|last| last >= from)
        {
            active.truncate_from(from)?;
        }
        self.last = self.segments.last().and_then(Segment::last_log_id);
        tracing::debug!(dir = %self.dir.display(), %from, "truncated wal");
        Ok(())
    }

    fn purge_files(&mut self, upto: LogId) -> Result<(), WalError> {
        meta::write_purge_point(&self.dir, upto)?;
        self.last_purged = Some(upto);
        let whole = self
            .segments
            .iter()
            .take_while(|segment| segment.last_index().is_some_and(|last| last <= upto.index))
            .count();
        if whole > 0 {
            for segment in self.segments.drain(..whole) {
                segment.remove()?;
            }
            meta::sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        if self.segments.is_empty() {
            self.last = None;
        }
        tracing::debug!(
            dir = %self.dir.display(),
            index = %upto.index,
            removed_segments = whole,
            "purged wal"
        );
        Ok(())
    }

    #[cfg(test)]
    fn term_at(&self, index: LogIndex) -> Result<Term, WalError> {
        let position = self
            .segments
            .partition_point(|segment| segment.first_index() <= index)
            .saturating_sub(1);
        let mut found = Vec::with_capacity(1);
        if let Some(segment) = self.segments.get(position)
            && segment.last_index().is_some_and(|last| last >= index)
            && segment.first_index() <= index
        {
            segment.read_into(index, index, &mut found)?;
        }
        match found.first() {
            Some(record) => Ok(record.term),
            None => Err(WalError::Corrupt {
                segment: self.dir.clone(),
                offset: 0,
                reason: format!("record {index} is missing from the in-memory index"),
            }),
        }
    }
}
