//! Bootstrap, join, drain and remove.

use super::test_support::*;
use super::*;

fn bootstrap_command(id: u64, partitions: u32) -> MetaCommand {
    MetaCommand::Bootstrap {
        node: node(id),
        partitions,
        replication_factor: 3,
        voters: 3,
        at_ms: 1_000,
    }
}

/// Bootstrap creates the first member and active partitions 0..n on it.
#[test]
fn bootstrap_creates_member_and_active_partitions() {
    let mut state = MetaState::new();
    assert_eq!(apply_twice(&mut state, &bootstrap_command(7, 4)), MetaResponse::Done);
    assert_eq!(state.bootstrapped_by(), Some(7));
    assert_eq!(state.replication_factor(), 3);
    assert_eq!(state.effective_replication_factor(), 1);
    let member = state.member(7).unwrap();
    assert_eq!((member.state, member.joined_at_ms), (MemberState::Active, 1_000));
    assert_eq!(member.cluster_addr, "n7:9095");
    assert_eq!(state.active_partitions(), vec![p(0), p(1), p(2), p(3)]);
    assert_eq!(state.next_partition(), p(4));
    for entry in state.partitions().values() {
        assert_eq!(entry.replicas, vec![7]);
        assert_eq!((entry.flushed, entry.committed, entry.created_at_ms), (0, 0, 1_000));
    }
    state.check_invariants().unwrap();
}

/// The same node bootstrapping again is a no-op; another node is refused.
#[test]
fn a_second_bootstrap_is_a_no_op_for_the_same_node_and_refused_for_another() {
    let mut state = bootstrapped(2, 1);
    let before = state.clone();
    assert_eq!(state.apply(&bootstrap_command(1, 9)), MetaResponse::Done);
    assert_eq!(state, before);
    let reason = must_refuse(&mut state, &bootstrap_command(2, 2), RefusalKind::Conflict);
    assert_eq!(reason, "the cluster was already bootstrapped by node 1");

    // The bootstrapping node, once removed, is refused like any removed node.
    join_all(&mut state, &[2]);
    must_apply(&mut state, &MetaCommand::DrainNode { id: 1 });
    apply_reconcile(&mut state);
    must_apply(&mut state, &MetaCommand::RemoveNode { id: 1 });
    let reason = must_refuse(&mut state, &bootstrap_command(1, 2), RefusalKind::Conflict);
    assert!(reason.starts_with("node 1 was removed from the cluster"), "{reason}");
}

/// Zero partitions, replicas or voters, too many partitions and a missing address are refused.
#[test]
fn bootstrap_refuses_bad_arguments() {
    let mut state = MetaState::new();
    let reason = must_refuse(&mut state, &bootstrap_command(1, 0), RefusalKind::Invalid);
    assert_eq!(reason, "the number of partitions must be at least 1");
    let too_many = bootstrap_command(1, MAX_PARTITIONS_PER_REQUEST + 1);
    let reason = must_refuse(&mut state, &too_many, RefusalKind::Invalid);
    assert_eq!(reason, "cannot create 1025 partitions in one request (at most 1024)");
    let no_replicas = MetaCommand::Bootstrap {
        node: node(1),
        partitions: 1,
        replication_factor: 0,
        voters: 3,
        at_ms: 0,
    };
    let reason = must_refuse(&mut state, &no_replicas, RefusalKind::Invalid);
    assert_eq!(reason, "the replication factor must be at least 1");
    let no_voters = MetaCommand::Bootstrap {
        node: node(1),
        partitions: 1,
        replication_factor: 1,
        voters: 0,
        at_ms: 0,
    };
    let reason = must_refuse(&mut state, &no_voters, RefusalKind::Invalid);
    assert_eq!(reason, "the number of meta voters must be at least 1");
    let no_address = MetaCommand::Bootstrap {
        node: NodeInfo { cluster_addr: " ".into(), ..node(1) },
        partitions: 1,
        replication_factor: 1,
        voters: 1,
        at_ms: 0,
    };
    let reason = must_refuse(&mut state, &no_address, RefusalKind::Invalid);
    assert_eq!(reason, "node 1 has no cluster address");
    assert!(!state.is_bootstrapped());
}

/// Before the bootstrap only `Noop` applies.
#[test]
fn commands_before_the_bootstrap_are_refused() {
    let mut state = MetaState::new();
    assert_eq!(state.apply(&MetaCommand::Noop), MetaResponse::Done);
    let join = MetaCommand::Join { node: node(2), at_ms: 0 };
    let reason = must_refuse(&mut state, &join, RefusalKind::Conflict);
    assert_eq!(reason, "the cluster is not bootstrapped yet");
    let add = MetaCommand::AddPartitions { count: 1, at_ms: 0, request_id: None };
    must_refuse(&mut state, &add, RefusalKind::Conflict);
}

/// A new node joins active; a known node rejoining updates its addresses and keeps its state.
#[test]
fn join_adds_a_member_and_a_rejoin_updates_addresses_only() {
    let mut state = bootstrapped(1, 3);
    let join = MetaCommand::Join { node: zoned(2, "a"), at_ms: 5_000 };
    assert_eq!(apply_twice(&mut state, &join), MetaResponse::Done);
    let member = state.member(2).unwrap().clone();
    assert_eq!((member.state, member.joined_at_ms), (MemberState::Active, 5_000));
    assert_eq!(member.zone.as_deref(), Some("a"));

    must_apply(&mut state, &MetaCommand::DrainNode { id: 2 });
    let moved =
        NodeInfo { cluster_addr: "10.0.0.9:9095".into(), zone: Some("b".into()), ..node(2) };
    let rejoin = MetaCommand::Join { node: moved, at_ms: 9_000 };
    assert_eq!(apply_twice(&mut state, &rejoin), MetaResponse::Done);
    let member = state.member(2).unwrap();
    assert_eq!(member.cluster_addr, "10.0.0.9:9095");
    assert_eq!(member.zone.as_deref(), Some("b"));
    assert_eq!((member.state, member.joined_at_ms), (MemberState::Draining, 5_000));
}

/// A removed id can never join again.
#[test]
fn a_removed_node_cannot_rejoin() {
    let mut state = bootstrapped(1, 1);
    join_all(&mut state, &[2]);
    assert_eq!(apply_twice(&mut state, &MetaCommand::RemoveNode { id: 2 }), MetaResponse::Done);
    assert!(state.member(2).is_none());
    assert!(state.removed().contains(&2));
    let rejoin = MetaCommand::Join { node: node(2), at_ms: 0 };
    let reason = must_refuse(&mut state, &rejoin, RefusalKind::Conflict);
    assert_eq!(
        reason,
        "node 2 was removed from the cluster; start it with an empty data directory to join as \
         a new node"
    );
}

/// Drain marks the node draining; the only active node and unknown ids are refused.
#[test]
fn drain_marks_draining_but_never_the_only_active_node() {
    let mut state = bootstrapped(1, 1);
    let reason = must_refuse(&mut state, &MetaCommand::DrainNode { id: 1 }, RefusalKind::Conflict);
    assert_eq!(reason, "cannot drain the only active node");
    let reason = must_refuse(&mut state, &MetaCommand::DrainNode { id: 9 }, RefusalKind::NotFound);
    assert_eq!(reason, "node 9 is not a member of the cluster");

    join_all(&mut state, &[2]);
    assert_eq!(apply_twice(&mut state, &MetaCommand::DrainNode { id: 1 }), MetaResponse::Done);
    assert_eq!(state.member(1).unwrap().state, MemberState::Draining);
    // Node 2 is now the only active one.
    must_refuse(&mut state, &MetaCommand::DrainNode { id: 2 }, RefusalKind::Conflict);
}

/// Remove is refused while the node holds replicas (naming them), for unknown ids, and for
/// the only active node; after a drain and reconciliation it succeeds and clears leader hints.
#[test]
fn remove_needs_a_drained_node() {
    let mut state = bootstrapped(4, 1);
    join_all(&mut state, &[2]);
    let remove = MetaCommand::RemoveNode { id: 1 };
    let reason = must_refuse(&mut state, &remove, RefusalKind::Conflict);
    assert_eq!(reason, "node 1 still holds replicas of p0, p1, p2, p3: drain it first");
    let reason = must_refuse(&mut state, &MetaCommand::RemoveNode { id: 5 }, RefusalKind::NotFound);
    assert_eq!(reason, "node 5 is not a member of the cluster");

    let report = MetaCommand::ReportPartition { id: p(0), leader: 1, term: 1, committed: 5 };
    must_apply(&mut state, &report);
    must_apply(&mut state, &MetaCommand::DrainNode { id: 1 });
    assert_eq!(apply_reconcile(&mut state), 4);
    let remove_last = MetaCommand::RemoveNode { id: 2 };
    let reason = must_refuse(&mut state, &remove_last, RefusalKind::Conflict);
    assert_eq!(reason, "cannot remove the only active node");
    assert_eq!(apply_twice(&mut state, &remove), MetaResponse::Done);
    assert_eq!(state.partition(p(0)).unwrap().leader_hint, None);
    assert_eq!(state.partitions_on(2), vec![p(0), p(1), p(2), p(3)]);
    state.check_invariants().unwrap();
}

/// A node with no replica may be removed while active (other active nodes remain).
#[test]
fn an_active_node_without_replicas_may_be_removed() {
    let mut state = bootstrapped(1, 1);
    join_all(&mut state, &[2]);
    assert_eq!(apply_twice(&mut state, &MetaCommand::RemoveNode { id: 2 }), MetaResponse::Done);
    assert_eq!(state.members().keys().copied().collect::<Vec<_>>(), vec![1]);
}
