//! Small durable files beside the segments: the Raft vote and the purge point.
//!
//! Each is replaced atomically (write `NAME.tmp`, fsync, rename over `NAME`, fsync the directory)
//! and framed like a record (`len u32 LE | crc32c u32 LE | body`), so a reader sees either the
//! old or the new contents, and bit rot is reported instead of believed.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::WalError;
use super::segment::io_error;
use crate::model::ids::{LogId, LogIndex, Term};

/// File holding the last saved vote.
pub(super) const VOTE_FILE: &str = "vote";

/// File holding the last purged log id.
pub(super) const PURGED_FILE: &str = "purged";

/// The log range the block-builder is turning into blocks (two little-endian u64s).
pub(super) const FLUSH_INTENT_FILE: &str = "flush-intent";

/// Suffix of the temporary file written before a rename.
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// Fsyncs a directory, making file creations, renames and removals in it durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|handle| handle.sync_all()).map_err(io_error("fsync directory", dir))
}

/// Replaces `dir/name` with `body`, atomically and durably.
pub(super) fn write_atomic(dir: &Path, name: &str, body: &[u8]) -> Result<(), WalError> {
    let path = dir.join(name);
    let tmp_path = dir.join(format!("{name}{TMP_SUFFIX}"));
    debug_assert!(u32::try_from(body.len()).is_ok(), "small files stay far below 4 GiB");
    let mut framed = Vec::with_capacity(8 + body.len());
    framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
    framed.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    framed.extend_from_slice(body);
    let mut file = File::create(&tmp_path).map_err(io_error("create", &tmp_path))?;
    file.write_all(&framed).map_err(io_error("write", &tmp_path))?;
    file.sync_all().map_err(io_error("fsync", &tmp_path))?;
    drop(file);
    fs::rename(&tmp_path, &path).map_err(io_error("rename", &tmp_path))?;
    sync_dir(dir)
}

/// Reads `dir/name` as written by [`write_atomic`]; `None` when the file does not exist.
pub(super) fn read_checked(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, WalError> {
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
    let mut body = [0u8; 16];
    body[..8].copy_from_slice(&upto.term.0.to_le_bytes());
    body[8..].copy_from_slice(&upto.index.0.to_le_bytes());
    write_atomic(dir, PURGED_FILE, &body)
}

/// Reads the last purged log id, `None` when nothing was ever purged.
pub(super) fn read_purge_point(dir: &Path) -> Result<Option<LogId>, WalError> {
    let Some(body) = read_checked(dir, PURGED_FILE)? else {
        return Ok(None);
    };
    let Ok(body) = <[u8; 16]>::try_from(body.as_slice()) else {
        return Err(WalError::Corrupt {
            segment: dir.join(PURGED_FILE),
            offset: 0,
            reason: format!("purge point of {} bytes, expected 16", body.len()),
        });
    };
    let [t0, t1, t2, t3, t4, t5, t6, t7, i0, i1, i2, i3, i4, i5, i6, i7] = body;
    Ok(Some(LogId {
        term: Term(u64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, t7])),
        index: LogIndex(u64::from_le_bytes([i0, i1, i2, i3, i4, i5, i6, i7])),
    }))
}
