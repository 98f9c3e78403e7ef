//! Fixtures for the meta state machine's tests.

use super::*;
use crate::cluster::types::NodeId;
use crate::model::ids::{LogIndex, PartitionId};
use crate::storage::block::{BlockId, BlockMeta, FORMAT_VERSION};

/// Node `id` at `n{id}:9095`, no zone.
pub(super) fn node(id: NodeId) -> NodeInfo {
    NodeInfo {
        id,
        cluster_addr: format!("n{id}:9095"),
        http_addr: format!("n{id}:3200"),
        zone: None,
    }
}

/// Node `id` in `zone`.
pub(super) fn zoned(id: NodeId, zone: &str) -> NodeInfo {
    NodeInfo { zone: Some(zone.to_string()), ..node(id) }
}

/// `p{n}`.
pub(super) fn p(number: u32) -> PartitionId {
    PartitionId(number)
}

/// A cluster bootstrapped by node 1 with `partitions` partitions and RF `rf`.
pub(super) fn bootstrapped(partitions: u32, rf: u32) -> MetaState {
    let mut state = MetaState::new();
    let bootstrap = MetaCommand::Bootstrap {
        node: node(1),
        partitions,
        replication_factor: rf,
        voters: 3,
        at_ms: 1_000,
    };
    assert_eq!(state.apply(&bootstrap), MetaResponse::Done);
    state
}

/// Joins nodes `ids` (no zone).
pub(super) fn join_all(state: &mut MetaState, ids: &[NodeId]) {
    for id in ids {
        must_apply(state, &MetaCommand::Join { node: node(*id), at_ms: 2_000 });
    }
}

/// Applies `command`, which must answer `Done`.
pub(super) fn must_apply(state: &mut MetaState, command: &MetaCommand) {
    let answer = state.apply(command);
    assert_eq!(answer, MetaResponse::Done, "{command}");
}

/// Applies `command` twice; asserts the second application changes nothing and answers the
/// same as the first; returns the answer.
pub(super) fn apply_twice(state: &mut MetaState, command: &MetaCommand) -> MetaResponse {
    let first = state.apply(command);
    let after_first = state.clone();
    let second = state.apply(command);
    assert_eq!(second, first, "second answer of {command}");
    assert_eq!(*state, after_first, "second application of {command} changed the state");
    first
}

/// Applies `command`, which must be refused of `kind` without changing the state; returns
/// the reason.
pub(super) fn must_refuse(
    state: &mut MetaState,
    command: &MetaCommand,
    kind: RefusalKind,
) -> String {
    let before = state.clone();
    match state.apply(command) {
        MetaResponse::Refused { kind: refused_kind, reason } => {
            assert_eq!(refused_kind, kind, "{reason}");
            assert_eq!(*state, before, "refused {command} changed the state");
            reason
        }
        other => panic!("{command} was not refused: {other:?}"),
    }
}

/// Applies every command of `reconcile` (each must be accepted); returns how many there were.
pub(super) fn apply_reconcile(state: &mut MetaState) -> usize {
    let commands = reconcile(state);
    for command in &commands {
        must_apply(state, command);
    }
    commands.len()
}

/// A level-0 block of `tenant` cut from `partition`'s log range `first..=last`.
pub(super) fn block(tenant: &str, partition: u32, first: u64, last: u64) -> BlockMeta {
    BlockMeta {
        format_version: FORMAT_VERSION,
        block_id: BlockId::for_log_range(PartitionId(partition), LogIndex(first), LogIndex(last)),
        tenant: tenant.to_string(),
        partition,
        first_index: first,
        last_index: last,
        start_unix_nano: 1,
        end_unix_nano: 2,
        span_count: 3,
        trace_count: 1,
        data_bytes: 100,
        row_groups: 1,
        bloom_shards: 1,
        compaction_level: 0,
        created_at_unix_nano: 5,
    }
}
