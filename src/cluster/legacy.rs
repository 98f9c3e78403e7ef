//! Partition logs written before clustering: found at startup, before any Raft group opens.
//!
//! ```text
//!  <wal>/p{n} with log records or a purge point but no Raft vote   (written by a single-node
//!                                                                    spanlake before clustering)
//!    every record already in blocks (log purged through its end)  ──► moved aside to
//!                                                                     p{n}.pre-cluster; the new
//!                                                                     group starts empty
//!    records not yet in blocks                                    ──► refuse to start, saying
//!                                                                     which and what to do
//! ```
//!
//! Such a log has no vote and no membership entry, so openraft can neither elect a leader over
//! it nor create a group on it: left in place, the partition would never serve. Its records
//! are term 1 and carry the same batches a new log does, but turning it into a Raft log in
//! place (inventing a vote, a membership and a snapshot at its purge point) would put
//! fabricated consensus state under real data; instead the previous version finishes its
//! flush, which it does by itself within `max_block_duration`.

use std::path::{Path, PathBuf};

use thiserror::Error;
use tracing::info;

use crate::cluster::log_store::is_control;
use crate::storage::wal::{Wal, WalError, WalOptions};

/// Suffix of a pre-cluster log moved aside.
pub(crate) const MOVED_SUFFIX: &str = ".pre-cluster";

/// Why the node cannot start on this data directory.
#[derive(Debug, Error)]
pub(crate) enum LegacyLogError {
    /// A pre-cluster log still holds records that are in no block.
    #[error(
        "{dir} was written by spanlake before clustering and holds log records {first}..={last} that are not in blocks yet; start the previous version on this data directory until it has flushed them (its log is empty after the next flush, within max_block_duration), or move {dir} away to discard them"
    )]
    Unflushed {
        /// The partition's log directory.
        dir: PathBuf,
        /// First unflushed index.
        first: u64,
        /// Last unflushed index.
        last: u64,
    },
    /// A log could not be read or moved.
    #[error("cannot check {dir} for a pre-cluster log: {reason}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// Checks every partition log under `wal_root`: moves aside pre-cluster logs whose records are
/// all in blocks and refuses those that still hold unflushed records. Returns the directories
/// moved.
pub(crate) fn check_partition_logs(
    wal_root: &Path,
    options: &WalOptions,
) -> Result<Vec<PathBuf>, LegacyLogError> {
    let io = |dir: &Path, reason: String| LegacyLogError::Io { dir: dir.to_path_buf(), reason };
    let entries = match std::fs::read_dir(wal_root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(wal_root, error.to_string())),
    };
    let mut moved = Vec::new();
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && is_partition_dir(path))
        .collect();
    dirs.sort();
    for dir in dirs {
        if Wal::has_vote_file(&dir) {
            // A Raft log (the common case): not opened twice at startup.
            continue;
        }
        let unflushed = {
            let (wal, _) =
                Wal::open(&dir, options.clone()).map_err(|error| io(&dir, error.to_string()))?;
            match pre_cluster_unflushed(&wal).map_err(|error| io(&dir, error.to_string()))? {
                None => continue,
                Some(unflushed) => unflushed,
            }
        };
        if let Some((first, last)) = unflushed {
            return Err(LegacyLogError::Unflushed { dir, first, last });
        }
        let aside = dir.with_file_name(format!(
            "{}{MOVED_SUFFIX}",
            dir.file_name().and_then(|name| name.to_str()).unwrap_or_default()
        ));
        std::fs::rename(&dir, &aside).map_err(|error| io(&dir, error.to_string()))?;
        std::fs::File::open(wal_root)
            .and_then(|handle| handle.sync_all())
            .map_err(|error| io(wal_root, error.to_string()))?;
        info!(from = %dir.display(), to = %aside.display(), "pre-cluster partition log is fully in blocks; moved aside");
        moved.push(aside);
    }
    Ok(moved)
}

/// `p` followed by digits: a partition's log directory.
fn is_partition_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix('p'))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// `None` when the log is not a pre-cluster one (it has a vote, or holds nothing at all);
/// otherwise `Some(unflushed range)`, `Some(None)` when every record was purged into blocks.
fn pre_cluster_unflushed(wal: &Wal) -> Result<Option<Option<(u64, u64)>>, WalError> {
    if wal.read_vote()?.is_some() {
        return Ok(None);
    }
    // A new group's log starts with its membership (a control entry), and openraft may write
    // that before the first vote; a pre-cluster log holds only span batches.
    if let Some(first) = wal.first_index()
        && wal.read_range(first, first)?.first().is_some_and(|record| is_control(&record.payload))
    {
        return Ok(None);
    }
    let purged = wal.last_purged().map_or(0, |id| id.index.0);
    let last = wal.last_log_id().map(|id| id.index.0);
    Ok(match last {
        None if purged == 0 => None,
        Some(last) if last > purged => Some(Some((purged + 1, last))),
        _ => Some(None),
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::model::ids::{LogId, LogIndex, Term};
    use crate::storage::wal::Record;

    fn options() -> WalOptions {
        WalOptions { segment_bytes: 4096 }
    }

    /// A log as the single-node version left it: term-1 records, maybe purged, no vote.
    fn old_log(dir: &Path, records: u64, purged_through: u64) {
        let (mut wal, _) = Wal::open(dir, options()).unwrap();
        let batch: Vec<Record> = (1..=records)
            .map(|index| Record {
                term: Term(1),
                index: LogIndex(index),
                payload: Bytes::from_static(b"\x0a\x02batch"),
            })
            .collect();
        wal.append(&batch).unwrap();
        wal.sync().unwrap();
        if purged_through > 0 {
            wal.purge_upto(LogId { term: Term(1), index: LogIndex(purged_through) }).unwrap();
        }
    }

    #[test]
    fn a_pre_cluster_log_with_unflushed_records_stops_the_node() {
        let root = tempfile::tempdir().unwrap();
        old_log(&root.path().join("p1"), 10, 4);
        let error = check_partition_logs(root.path(), &options()).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, LegacyLogError::Unflushed { first: 5, last: 10, .. }), "{message}");
        assert!(message.contains("p1") && message.contains("previous version"), "{message}");
        assert!(root.path().join("p1").is_dir(), "nothing is moved");
    }

    #[test]
    fn a_fully_flushed_pre_cluster_log_is_moved_aside() {
        let root = tempfile::tempdir().unwrap();
        old_log(&root.path().join("p0"), 6, 6);
        let moved = check_partition_logs(root.path(), &options()).unwrap();
        assert_eq!(moved, vec![root.path().join("p0.pre-cluster")]);
        assert!(!root.path().join("p0").exists());
        assert!(check_partition_logs(root.path(), &options()).unwrap().is_empty(), "done once");
    }

    #[test]
    fn raft_logs_and_other_directories_are_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let raft_dir = root.path().join("p2");
        old_log(&raft_dir, 3, 0);
        {
            let (mut wal, _) = Wal::open(&raft_dir, options()).unwrap();
            wal.save_vote(b"{\"term\":1}").unwrap();
        }
        Wal::open(&root.path().join("p3"), options()).unwrap();
        // A group created (its membership written) but not yet voted in.
        let (mut created, _) = Wal::open(&root.path().join("p4"), options()).unwrap();
        let membership = Record {
            term: Term(0),
            index: LogIndex(1),
            payload: Bytes::from_static(b"\x00\x02{}"),
        };
        created.append(&[membership]).unwrap();
        drop(created);
        old_log(&root.path().join("meta"), 3, 0);
        assert!(check_partition_logs(root.path(), &options()).unwrap().is_empty());
        assert!(raft_dir.is_dir() && root.path().join("p3").is_dir());
        assert!(root.path().join("p4").is_dir());
        assert!(check_partition_logs(&root.path().join("absent"), &options()).unwrap().is_empty());
    }
}
