//! One partition of the trace-id space, as replicated on this node: its supervisor, its Raft
//! replica and live-store, and the manager that starts and stops replicas (manager.rs).
//!
//! ```text
//!  PartitionSupervisor ─┬─ PartitionLog (log.rs: openraft replica) ── WAL (storage::wal)
//!                       ├─ LiveStore    (live_store.rs; core: live_traces.rs, tag summaries:
//!                       │                live_tags.rs) ── usage.rs board
//!                       └─ BlockBuilder (block_builder.rs; core: flush_planner.rs) ── blocks
//! ```

pub(crate) mod block_builder;
pub(crate) mod flush_planner;
pub(crate) mod leader_duties;
pub(crate) mod live_store;
pub(crate) mod live_tags;
pub(crate) mod live_traces;
pub(crate) mod log;
pub(crate) mod manager;
pub(crate) mod supervisor;
pub(crate) mod usage;
