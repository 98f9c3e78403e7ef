//! One partition of the trace-id space: its supervisor, durable log and live-store.
//!
//! ```text
//!  PartitionSupervisor ─┬─ PartitionLog (log.rs; core: group_commit.rs) ── WAL (storage::wal)
//!                       ├─ LiveStore    (live_store.rs; core: live_traces.rs, tag summaries:
//!                       │                live_tags.rs) ── usage.rs board
//!                       └─ BlockBuilder (block_builder.rs; core: flush_planner.rs) ── blocks
//! ```

pub(crate) mod block_builder;
pub(crate) mod flush_planner;
pub(crate) mod group_commit;
pub(crate) mod live_store;
pub(crate) mod live_tags;
pub(crate) mod live_traces;
pub(crate) mod log;
pub(crate) mod supervisor;
pub(crate) mod usage;
