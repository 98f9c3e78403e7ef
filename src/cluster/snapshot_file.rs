//! The file a Raft group keeps its last snapshot in (`<dir>/snapshot`), replaced atomically
//! and read back CRC-checked (the WAL's small-file format), off the async runtime.

use std::io;
use std::path::{Path, PathBuf};

use crate::storage::wal::{read_checked, write_atomic};

/// The snapshot file's name in a group's directory.
const SNAPSHOT_FILE: &str = "snapshot";

/// The stored snapshot bytes, `None` before the first snapshot.
pub(crate) async fn read(dir: &Path) -> io::Result<Option<Vec<u8>>> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || read_checked(&dir, SNAPSHOT_FILE))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)
}

/// Replaces the stored snapshot durably (write, fsync, rename, fsync the directory).
pub(crate) async fn write(dir: PathBuf, bytes: Vec<u8>) -> io::Result<()> {
    tokio::task::spawn_blocking(move || write_atomic(&dir, SNAPSHOT_FILE, &bytes))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)
}
