//! Placement and reconciliation.

use super::test_support::*;
use super::*;

fn join(state: &mut MetaState, info: NodeInfo) {
    must_apply(state, &MetaCommand::Join { node: info, at_ms: 3_000 });
}

fn replicas(state: &MetaState) -> Vec<Vec<u64>> {
    state.partitions().values().map(|entry| entry.replicas.clone()).collect()
}

/// Without zones: least loaded first, ties broken by node id, draining and excluded nodes
/// never picked, never more than the active nodes.
#[test]
fn placement_prefers_the_least_loaded_then_the_lowest_id() {
    let mut state = bootstrapped(2, 3);
    join_all(&mut state, &[4, 3, 2]);
    // Node 1 holds p0 and p1; 2, 3 and 4 hold nothing.
    assert_eq!(place(&state, 3, &[]), vec![2, 3, 4]);
    assert_eq!(place(&state, 4, &[]), vec![2, 3, 4, 1]);
    assert_eq!(place(&state, 9, &[]), vec![2, 3, 4, 1]);
    assert_eq!(place(&state, 2, &[2]), vec![3, 4]);
    assert_eq!(place(&state, 0, &[]), Vec::<u64>::new());
    must_apply(&mut state, &MetaCommand::DrainNode { id: 3 });
    assert_eq!(place(&state, 3, &[]), vec![2, 4, 1]);
}

/// With zones: one replica per zone first, then the least loaded of the rest; the zones of
/// excluded (kept) replicas count as taken.
#[test]
fn placement_spreads_over_zones_first() {
    let mut state = MetaState::new();
    let bootstrap = MetaCommand::Bootstrap {
        node: zoned(1, "a"),
        partitions: 1,
        replication_factor: 3,
        voters: 3,
        at_ms: 0,
    };
    must_apply(&mut state, &bootstrap);
    join(&mut state, zoned(2, "a"));
    join(&mut state, zoned(3, "a"));
    join(&mut state, zoned(4, "b"));
    join(&mut state, zoned(5, "c"));
    join(&mut state, node(6));
    // Node 1 (zone a) holds p0; the zoneless node 6 fits in the first pass.
    assert_eq!(place(&state, 3, &[]), vec![2, 4, 5]);
    assert_eq!(place(&state, 4, &[]), vec![2, 4, 5, 6]);
    assert_eq!(place(&state, 5, &[]), vec![2, 4, 5, 6, 3]);
    assert_eq!(place(&state, 2, &[4]), vec![2, 5]);
    assert_eq!(place(&state, 2, &[4, 5]), vec![2, 6]);
}

/// Partitions created on one node gain replicas up to RF 3 once two more nodes join, with
/// the first node kept first, and the new replicas spread evenly.
#[test]
fn reconcile_raises_every_partition_to_the_replication_factor_after_joins() {
    let mut state = bootstrapped(4, 3);
    assert!(reconcile(&state).is_empty());
    join_all(&mut state, &[2]);
    assert_eq!(
        reconcile(&state),
        (0..4)
            .map(|id| MetaCommand::SetReplicas { id: p(id), replicas: vec![1, 2] })
            .collect::<Vec<_>>()
    );
    join_all(&mut state, &[3]);
    assert_eq!(apply_reconcile(&mut state), 4);
    assert_eq!(replicas(&state), vec![vec![1, 2, 3]; 4]);
    assert!(reconcile(&state).is_empty());
    state.check_invariants().unwrap();
}

/// New replicas of many partitions spread over the nodes instead of piling onto one.
#[test]
fn reconcile_spreads_new_replicas_by_load() {
    let mut state = bootstrapped(6, 2);
    join_all(&mut state, &[2, 3, 4]);
    assert_eq!(apply_reconcile(&mut state), 6);
    let on = |node| state.partitions_on(node).len();
    assert_eq!((on(1), on(2), on(3), on(4)), (6, 2, 2, 2));
    assert!(reconcile(&state).is_empty());
}

/// A drained node's replicas move to the other nodes, keeping the healthy replicas in their
/// order; no node ever holds two replicas of a partition; then the node can be removed.
#[test]
fn reconcile_moves_replicas_off_a_draining_node() {
    let mut state = bootstrapped(4, 3);
    join_all(&mut state, &[2, 3]);
    apply_reconcile(&mut state);
    join_all(&mut state, &[4]);
    assert!(reconcile(&state).is_empty(), "a fourth node changes nothing by itself");

    must_apply(&mut state, &MetaCommand::DrainNode { id: 2 });
    assert_eq!(apply_reconcile(&mut state), 4);
    assert_eq!(replicas(&state), vec![vec![1, 3, 4]; 4]);
    assert!(state.partitions_on(2).is_empty());
    assert!(reconcile(&state).is_empty());
    must_apply(&mut state, &MetaCommand::RemoveNode { id: 2 });

    // Draining node 1 leaves two active nodes: every partition shrinks to two replicas.
    must_apply(&mut state, &MetaCommand::DrainNode { id: 1 });
    assert_eq!(apply_reconcile(&mut state), 4);
    assert_eq!(replicas(&state), vec![vec![3, 4]; 4]);
    assert!(reconcile(&state).is_empty());
    state.check_invariants().unwrap();
}

/// Reconciliation replaces a replica in another zone when it can.
#[test]
fn reconcile_keeps_replicas_in_distinct_zones() {
    let mut state = MetaState::new();
    let bootstrap = MetaCommand::Bootstrap {
        node: zoned(1, "a"),
        partitions: 2,
        replication_factor: 2,
        voters: 3,
        at_ms: 0,
    };
    must_apply(&mut state, &bootstrap);
    join(&mut state, zoned(2, "a"));
    join(&mut state, zoned(3, "b"));
    apply_reconcile(&mut state);
    assert_eq!(replicas(&state), vec![vec![1, 3]; 2]);
    join(&mut state, zoned(4, "c"));
    must_apply(&mut state, &MetaCommand::DrainNode { id: 3 });
    apply_reconcile(&mut state);
    assert_eq!(replicas(&state), vec![vec![1, 4]; 2]);
}

/// A replica set above the replication factor (set by hand) shrinks to it, keeping the
/// preferred replicas.
#[test]
fn reconcile_trims_replicas_above_the_replication_factor() {
    let mut state = bootstrapped(1, 2);
    join_all(&mut state, &[2, 3]);
    must_apply(&mut state, &MetaCommand::SetReplicas { id: p(0), replicas: vec![3, 1, 2] });
    assert_eq!(
        reconcile(&state),
        vec![MetaCommand::SetReplicas { id: p(0), replicas: vec![3, 1] }]
    );
}

/// With no active node to move to (state forced by hand; the commands never reach it), a
/// partition keeps its replicas on the draining members rather than losing them.
#[test]
fn reconcile_never_leaves_a_partition_without_replicas() {
    let mut state = bootstrapped(1, 1);
    state.members.get_mut(&1).unwrap().state = MemberState::Draining;
    assert!(reconcile(&state).is_empty());
    join_all(&mut state, &[2]);
    assert_eq!(reconcile(&state), vec![MetaCommand::SetReplicas { id: p(0), replicas: vec![2] }]);
}
