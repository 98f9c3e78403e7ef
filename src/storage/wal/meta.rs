//! Small files beside the segments: the Raft vote, the purge point and the commit hint (the
//! cluster's snapshot files use the same atomic replace).
//!
//! Each is replaced atomically (write `NAME.tmp`, fsync, rename over `NAME`, fsync the directory)
//! and framed like a record (`len u32 LE | crc32c u32 LE | body`), so a reader sees either the
//! old or the new contents, and bit rot is reported instead of believed. The commit hint alone
//! skips both fsyncs (see [`Wal::save_commit_hint`]).

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::segment::io_error;
use super::{Wal, WalError};
use crate::model::ids::{LogId, LogIndex, Term};

/// File holding the last saved vote.
pub(super) const VOTE_FILE: &str = "vote";

/// File holding the last purged log id.
pub(super) const PURGED_FILE: &str = "purged";

/// File holding the last committed log id Raft reported: a hint, never fsynced.
pub(super) const COMMIT_HINT_FILE: &str = "committed";

/// Suffix of the temporary file written before a rename.
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// Fsyncs a directory, making file creations, renames and removals in it durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|handle| handle.sync_all()).map_err(io_error("fsync directory", dir))
}

/// Replaces `dir/name` with `body`, atomically and durably.
pub(crate) fn write_atomic(dir: &Path, name: &str, body: &[u8]) -> Result<(), WalError> {
    replace_framed(dir, name, body, Durability::Fsync)
}

/// Whether a replaced file must survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Fsync the file before the rename and the directory after it.
    Fsync,
    /// No fsync: after a crash the file may hold the old body, the new one, or nothing readable.
    Hint,
}

/// Writes `body` framed to `dir/name.tmp` and renames it over `dir/name`.
fn replace_framed(
    dir: &Path,
    name: &str,
    body: &[u8],
    durability: Durability,
) -> Result<(), WalError> {
    let path = dir.join(name);
    let tmp_path = dir.join(format!("{name}{TMP_SUFFIX}"));
    debug_assert!(u32::try_from(body.len()).is_ok(), "small files stay far below 4 GiB");
    let mut framed = Vec::with_capacity(8 + body.len());
    framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
    framed.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    framed.extend_from_slice(body);
    let mut file = File::create(&tmp_path).map_err(io_error("create", &tmp_path))?;
    file.write_all(&framed).map_err(io_error("write", &tmp_path))?;
    if durability == Durability::Fsync {
        file.sync_all().map_err(io_error("fsync", &tmp_path))?;
    }
    drop(file);
    fs::rename(&tmp_path, &path).map_err(io_error("rename", &tmp_path))?;
    match durability {
        Durability::Fsync => sync_dir(dir),
        Durability::Hint => Ok(()),
    }
}

/// Reads `dir/name` as written by [`write_atomic`]; `None` when the file does not exist.
pub(crate) fn read_checked(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, WalError> {
    let path = dir.join(name);
    let contents = match fs::read(&path) {
        Ok(contents) => contents,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error("read", &path)(error)),
    };
    let corrupt = |reason: &str| WalError::Corrupt {
        segment: path.clone(),
        offset: 0,
        reason: reason.to_string(),
    };
    let Some((header, body)) = contents.split_first_chunk::<8>() else {
        return Err(corrupt("file shorter than its header"));
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len != body.len() {
        return Err(corrupt("length does not match the file"));
    }
    if crc32c::crc32c(body) != crc {
        return Err(corrupt("crc mismatch"));
    }
    Ok(Some(body.to_vec()))
}

/// Durably records `upto` as the last purged log id.
pub(super) fn write_purge_point(dir: &Path, upto: LogId) -> Result<(), WalError> {
    write_atomic(dir, PURGED_FILE, &encode_log_id(upto))
}

/// Reads the last purged log id, `None` when nothing was ever purged.
pub(super) fn read_purge_point(dir: &Path) -> Result<Option<LogId>, WalError> {
    let Some(body) = read_checked(dir, PURGED_FILE)? else {
        return Ok(None);
    };
    match decode_log_id(&body) {
        Some(log_id) => Ok(Some(log_id)),
        None => Err(WalError::Corrupt {
            segment: dir.join(PURGED_FILE),
            offset: 0,
            reason: format!("purge point of {} bytes, expected 16", body.len()),
        }),
    }
}

/// A log id as 16 bytes: term u64 LE | index u64 LE.
fn encode_log_id(log_id: LogId) -> [u8; 16] {
    let mut body = [0u8; 16];
    body[..8].copy_from_slice(&log_id.term.0.to_le_bytes());
    body[8..].copy_from_slice(&log_id.index.0.to_le_bytes());
    body
}

/// Reads what [`encode_log_id`] wrote; `None` when `body` is not 16 bytes.
fn decode_log_id(body: &[u8]) -> Option<LogId> {
    let [t0, t1, t2, t3, t4, t5, t6, t7, i0, i1, i2, i3, i4, i5, i6, i7] =
        <[u8; 16]>::try_from(body).ok()?;
    Some(LogId {
        term: Term(u64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, t7])),
        index: LogIndex(u64::from_le_bytes([i0, i1, i2, i3, i4, i5, i6, i7])),
    })
}

impl Wal {
    /// Records the last committed log id Raft reported (openraft's `save_committed`), replacing
    /// the previous one atomically but without fsync: it only tells a restart how far the state
    /// machine may be re-applied from the log at once. Losing it, or reading an older one, is
    /// safe (the node then re-applies less and catches up once it hears the leader's commit
    /// index), and it is written on every commit, where two fsyncs would double the cost of a
    /// write. `None` clears it.
    pub(crate) fn save_commit_hint(&mut self, committed: Option<LogId>) -> Result<(), WalError> {
        let body = committed.map(encode_log_id);
        let body: &[u8] = body.as_ref().map_or(&[], |bytes| bytes.as_slice());
        replace_framed(&self.dir, COMMIT_HINT_FILE, body, Durability::Hint)
    }

    /// Returns the last commit hint. A crash may leave the never-fsynced file empty or partly
    /// written: such a hint reads as none (with a warning), never as an error. So does a hint
    /// past the last record, from which nothing could be re-applied (committed entries are
    /// durable before Raft reports them, so only a damaged directory leaves one).
    pub(crate) fn read_commit_hint(&self) -> Result<Option<LogId>, WalError> {
        let body = match read_checked(&self.dir, COMMIT_HINT_FILE) {
            Ok(None) => return Ok(None),
            Ok(Some(body)) => body,
            Err(WalError::Corrupt { reason, .. }) => {
                tracing::warn!(dir = %self.dir.display(), %reason, "commit hint unreadable, ignored");
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        if body.is_empty() {
            return Ok(None);
        }
        let Some(hint) = decode_log_id(&body) else {
            tracing::warn!(dir = %self.dir.display(), len = body.len(), "commit hint of a wrong size, ignored");
            return Ok(None);
        };
        if self.last_log_id().is_none_or(|last| hint.index > last.index) {
            tracing::warn!(dir = %self.dir.display(), hint = %hint.index, "commit hint past the log, ignored");
            return Ok(None);
        }
        Ok(Some(hint))
    }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;
    use crate::storage::wal::WalOptions;
    use crate::storage::wal::tests::{open, records};

    fn log_id(term: u64, index: u64) -> LogId {
        LogId { term: Term(term), index: LogIndex(index) }
    }

    /// The commit hint survives a clean reopen, is replaced whole, and can be cleared.
    #[test]
    fn commit_hint_round_trip() {
        let dir = TempDir::new().unwrap();
        {
            let (mut wal, _) = open(dir.path(), WalOptions::default());
            assert_eq!(wal.read_commit_hint().unwrap(), None);
            wal.append(&records(2, 1..=9)).unwrap();
            wal.sync().unwrap();
            wal.save_commit_hint(Some(log_id(2, 4))).unwrap();
            wal.save_commit_hint(Some(log_id(2, 7))).unwrap();
            assert_eq!(wal.read_commit_hint().unwrap(), Some(log_id(2, 7)));
        }
        let (mut wal, _) = open(dir.path(), WalOptions::default());
        assert_eq!(wal.read_commit_hint().unwrap(), Some(log_id(2, 7)));
        wal.save_commit_hint(None).unwrap();
        assert_eq!(wal.read_commit_hint().unwrap(), None);
    }

    /// What a crash can leave of a never-fsynced hint (nothing, a torn or damaged file, a
    /// leftover temporary file) reads as no hint, and a leftover is removed on open.
    #[test]
    fn damaged_commit_hint_reads_as_none() {
        let dir = TempDir::new().unwrap();
        let (mut wal, _) = open(dir.path(), WalOptions::default());
        wal.append(&records(1, 1..=3)).unwrap();
        wal.sync().unwrap();
        wal.save_commit_hint(Some(log_id(1, 3))).unwrap();
        let path = dir.path().join(COMMIT_HINT_FILE);
        let whole = fs::read(&path).unwrap();

        for cut in 0..whole.len() {
            fs::write(&path, &whole[..cut]).unwrap();
            assert_eq!(wal.read_commit_hint().unwrap(), None, "hint cut at {cut} bytes");
        }
        let mut flipped = whole.clone();
        flipped[10] ^= 0x01;
        fs::write(&path, &flipped).unwrap();
        assert_eq!(wal.read_commit_hint().unwrap(), None);

        fs::write(&path, &whole).unwrap();
        fs::write(dir.path().join("committed.tmp"), b"never renamed").unwrap();
        drop(wal);
        let (wal, _) = open(dir.path(), WalOptions::default());
        assert_eq!(wal.read_commit_hint().unwrap(), Some(log_id(1, 3)));
        assert!(!dir.path().join("committed.tmp").exists());
    }

    /// A hint past the last record cannot be re-applied from, so it is ignored; one at the purge
    /// point of an otherwise empty log is kept.
    #[test]
    fn commit_hint_past_the_log_is_ignored() {
        let dir = TempDir::new().unwrap();
        let (mut wal, _) = open(dir.path(), WalOptions::default());
        wal.save_commit_hint(Some(log_id(1, 1))).unwrap();
        assert_eq!(wal.read_commit_hint().unwrap(), None);
        wal.append(&records(1, 1..=2)).unwrap();
        wal.save_commit_hint(Some(log_id(1, 3))).unwrap();
        assert_eq!(wal.read_commit_hint().unwrap(), None);
        wal.purge_upto(log_id(3, 10)).unwrap();
        wal.save_commit_hint(Some(log_id(3, 10))).unwrap();
        assert_eq!(wal.read_commit_hint().unwrap(), Some(log_id(3, 10)));
    }
}
