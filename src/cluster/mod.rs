//! The cluster: the meta Raft group (members, partition table, block list), one Raft group per
//! partition whose log storage is `storage::wal`, seed-list join, and the internal transport on
//! `server.grpc_listen_port`. openraft stays behind this module, so a bump of its alpha
//! touches one place.

pub(crate) mod error;
pub(crate) mod legacy;
pub(crate) mod log_store;
pub mod meta;
pub(crate) mod meta_group;
pub(crate) mod partition_group;
pub(crate) mod reconciler;
pub(crate) mod runtime;
pub(crate) mod snapshot_file;
pub mod transport;
pub mod types;
