//! Durable storage: the write-ahead log of each partition (`wal/`). Parquet blocks in object
//! storage, bloom filters and indexes arrive with the Blocks issue.

// Truncation, the durable vote and purging exist for openraft's log storage (Cluster issue)
// and the block-builder's purge (Blocks issue); until those land only tests call them.
#[allow(dead_code)]
pub(crate) mod wal;
