//! The cluster: today a node is a one-node cluster and this module is empty by design.
//!
//! The Cluster issue brings the meta Raft group (members, partition table, block list), one
//! Raft group per partition whose log storage is `storage::wal` (records already carry
//! `(term, index)`, and the WAL offers truncate, purge and a durable vote for openraft),
//! seed-list join, and the internal transport on `server.grpc_listen_port`.
