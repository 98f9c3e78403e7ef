//! Durable storage: the write-ahead log of each partition (`wal/`), the Parquet block format
//! with its bloom filters and trace-id index (`block/`, documented in `docs/block-format.md`),
//! the block list, and the object store that holds blocks ([`object_store`]: backends, error
//! kinds, retries).
//!
//! Public only for the integration tests of `tests/storage/`: the object store's opening,
//! errors and retries. The WAL stays internal.

// Whole-block readers (read_all, load_meta, upload_block) serve compaction and the Search
// issue's scans; until those land only tests call them.
#[allow(dead_code)]
pub(crate) mod block;
pub(crate) mod block_list;
pub mod object_store;
pub(crate) mod wal;
