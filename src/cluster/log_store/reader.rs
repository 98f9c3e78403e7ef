//! Reading a group's log back as openraft entries: whole ranges for openraft's own look-ups,
//! bounded chunks for replication and for applying to the state machine.

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use futures::{Stream, StreamExt, stream};
use openraft::storage::RaftLogReader;
use openraft::{AppData, Node, OptionalSend};

use super::entry_codec::{self, WalEntry};
use super::{LogStoreError, SharedWal, WalRaftConfig};
use crate::cluster::types::WalPayload;
use crate::model::ids::LogIndex;
use crate::storage::wal::Wal;

/// At most this many payload bytes (in frames) are read by one bounded read, unless a single
/// entry is larger: replication sends at most this much per call, and applying holds at most
/// this much in memory.
pub(crate) const READ_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// At most this many entries are read by one bounded read (it also bounds the size index walk).
pub(crate) const READ_CHUNK_ENTRIES: u64 = 4096;

/// A reader of one group's log, cheap to clone; it sees every entry appended before a read.
pub(crate) struct WalLogReader<C> {
    wal: SharedWal,
    _config: PhantomData<fn() -> C>,
}

impl<C> WalLogReader<C> {
    /// Reads from the given shared log.
    pub(super) fn new(wal: SharedWal) -> WalLogReader<C> {
        WalLogReader { wal, _config: PhantomData }
    }
}

impl<C: WalRaftConfig> RaftLogReader<C> for WalLogReader<C> {
    async fn try_get_log_entries<RB>(&mut self, range: RB) -> Result<Vec<C::Entry>, io::Error>
    where
        RB: RangeBounds<u64> + Clone + Debug + OptionalSend,
    {
        let Some((first, last)) = inclusive_bounds(&range) else {
            return Ok(Vec::new());
        };
        // One lock for the whole range: the read sees no write that starts after it.
        Ok(self.wal.run(move |wal| read_entries(wal, first, last, ReadLimit::WholeRange)).await?)
    }

    async fn read_vote(&mut self) -> Result<Option<C::Vote>, io::Error> {
        let body = self.wal.run(|wal| Ok(wal.read_vote()?)).await?;
        let vote = body
            .map(|body| serde_json::from_slice(&body))
            .transpose()
            .map_err(LogStoreError::Vote)?;
        Ok(vote)
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<C::Entry>, io::Error> {
        let Some((first, last)) = inclusive_bounds(&(start..end)) else {
            return Ok(Vec::new());
        };
        Ok(self.wal.run(move |wal| read_entries(wal, first, last, ReadLimit::Chunk)).await?)
    }

    async fn entries_stream<RB>(
        &mut self,
        range: RB,
    ) -> impl Stream<Item = Result<C::Entry, io::Error>> + OptionalSend
    where
        RB: RangeBounds<u64> + Clone + Debug + OptionalSend,
    {
        // Committed entries, read a bounded chunk at a time as the state machine consumes them.
        let wal = self.wal.clone();
        stream::unfold(inclusive_bounds(&range), move |remaining| {
            let wal = wal.clone();
            async move {
                let (first, last) = remaining?;
                let chunk =
                    wal.run(move |wal| read_entries(wal, first, last, ReadLimit::Chunk)).await;
                match chunk {
                    Ok(entries) => {
                        let next = entries
                            .last()
                            .map(|entry| LogIndex(entry.log_id.index))
                            .filter(|index| *index < last)
                            .map(|index| (index.next(), last));
                        Some((entries.into_iter().map(Ok).collect::<Vec<_>>(), next))
                    }
                    Err(error) => Some((vec![Err(io::Error::from(error))], None)),
                }
            }
        })
        .flat_map(stream::iter)
    }
}

/// How much of a range one read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadLimit {
    /// Every readable entry (openraft's `try_get_log_entries` must not stop early).
    WholeRange,
    /// A prefix within [`READ_CHUNK_BYTES`] and [`READ_CHUNK_ENTRIES`], at least one entry.
    Chunk,
}

/// Turns a range into `(first, last)` inclusive; `None` when it holds no index.
fn inclusive_bounds(range: &impl RangeBounds<u64>) -> Option<(LogIndex, LogIndex)> {
    let first = match range.start_bound() {
        Bound::Included(first) => *first,
        Bound::Excluded(before) => before.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let last = match range.end_bound() {
        Bound::Included(last) => *last,
        Bound::Excluded(after) => after.checked_sub(1)?,
        Bound::Unbounded => u64::MAX,
    };
    (first <= last).then_some((LogIndex(first), LogIndex(last)))
}

/// Reads and decodes the readable entries in `first..=last` (those purged or not yet appended
/// are absent), all of them or a bounded chunk.
fn read_entries<D, N>(
    wal: &Wal,
    first: LogIndex,
    last: LogIndex,
    limit: ReadLimit,
) -> Result<Vec<WalEntry<D, N>>, LogStoreError>
where
    D: AppData + WalPayload,
    N: Node,
{
    let first = match wal.last_purged() {
        Some(purged) if purged.index >= first => match purged.index.0.checked_add(1) {
            Some(first_readable) => LogIndex(first_readable),
            None => return Ok(Vec::new()),
        },
        _ => first,
    };
    if first > last {
        return Ok(Vec::new());
    }
    let last = match limit {
        ReadLimit::WholeRange => last,
        ReadLimit::Chunk => chunk_last(wal, first, last),
    };
    let records = wal.read_range(first, last)?;
    records
        .into_iter()
        .map(|record| entry_codec::decode_entry(record).map_err(LogStoreError::from))
        .collect()
}

/// The last index of a chunk starting at `first` (it holds at least `first`): within
/// [`READ_CHUNK_BYTES`] and [`READ_CHUNK_ENTRIES`], from the WAL's in-memory frame sizes.
fn chunk_last(wal: &Wal, first: LogIndex, last: LogIndex) -> LogIndex {
    let last_by_count = last.min(LogIndex(first.0.saturating_add(READ_CHUNK_ENTRIES - 1)));
    let mut chunk_last = first;
    let mut chunk_bytes = 0u64;
    for (index, size) in wal.frame_sizes(first, last_by_count) {
        if chunk_bytes > 0 && chunk_bytes.saturating_add(size) > READ_CHUNK_BYTES {
            break;
        }
        chunk_bytes = chunk_bytes.saturating_add(size);
        chunk_last = index;
    }
    chunk_last
}
