//! The meta group's state machine: members, the partition table, the block list and tenant
//! overrides, as a pure, deterministic core (no I/O, no clock, no openraft call).
//!
//! ```text
//!  admin API / join / partition leaders / block-builders
//!        │ MetaCommand (JSON in the meta log)
//!        ▼
//!  openraft RaftStateMachine (wrapper) ──► MetaState::apply(&cmd) ──► MetaResponse
//!                                              │                       Done | Refused | PartitionsAdded
//!        meta leader ◄── reconcile(&state) ────┘  SetReplicas for partitions to move or grow
//!  snapshot = MetaState::to_snapshot() / from_snapshot()
//! ```
//!
//! # Layout
//! - `command.rs`: [`MetaCommand`], [`MetaResponse`], [`NodeInfo`].
//! - `state.rs`: [`MetaState`] and its rows ([`Member`], [`PartitionEntry`]) and queries.
//! - `apply.rs`: [`MetaState::apply`] and the membership commands; `partitions.rs` the
//!   partition table's; `blocks.rs` the block list's and overrides.
//! - `refusal.rs`: [`Refusal`], why a command was not applied.
//! - `placement.rs` ([`place`]) and `reconcile.rs` ([`reconcile()`]): where replicas go.
//! - `snapshot.rs`: the snapshot format and [`MetaError`]; `invariants.rs`: what every
//!   reachable state satisfies.

mod apply;
mod blocks;
mod command;
mod invariants;
mod leadership;
mod partitions;
mod placement;
mod reconcile;
mod refusal;
mod snapshot;
mod state;

#[cfg(test)]
pub use self::{apply::MAX_PARTITIONS_PER_REQUEST, state::FlushIntent};
pub use self::{
    command::{MetaCommand, MetaResponse, NodeInfo, RefusalKind},
    leadership::preferred_leaders,
    reconcile::reconcile,
    state::{Member, MemberState, MetaState, PartitionEntry, PartitionState},
};

/// How many `AddPartitions` request ids the state remembers for retries.
pub const RECENT_REQUESTS: usize = 1000;

#[cfg(test)]
pub use self::placement::place;
#[cfg(test)]
mod test_support;

#[cfg(test)]
mod membership_tests;

#[cfg(test)]
mod partition_tests;

#[cfg(test)]
mod block_tests;

#[cfg(test)]
mod placement_tests;

#[cfg(test)]
mod invariant_tests;
