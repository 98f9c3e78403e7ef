//! The partition table: add, activate, deactivate, delete, replicas, leader reports.

use super::test_support::*;
use super::*;

fn add(count: u32, request_id: Option<&str>) -> MetaCommand {
    MetaCommand::AddPartitions { count, at_ms: 7_000, request_id: request_id.map(str::to_string) }
}

fn report(id: u32, leader: u64, term: u64, committed: u64) -> MetaCommand {
    MetaCommand::ReportPartition { id: p(id), leader, term, committed }
}

/// New partitions get fresh ids, start pending, and their replicas spread by load.
#[test]
fn add_partitions_creates_pending_partitions_placed_on_the_least_loaded_nodes() {
    let mut state = bootstrapped(2, 2);
    join_all(&mut state, &[2, 3]);
    // Node 1 holds p0 and p1; nodes 2 and 3 hold nothing.
    let answer = state.apply(&add(3, None));
    assert_eq!(answer, MetaResponse::PartitionsAdded { ids: vec![p(2), p(3), p(4)] });
    let replicas: Vec<_> =
        (2..5).map(|id| state.partition(p(id)).unwrap().replicas.clone()).collect();
    assert_eq!(replicas, vec![vec![2, 3], vec![2, 3], vec![1, 2]]);
    for id in 2..5 {
        let entry = state.partition(p(id)).unwrap();
        assert_eq!((entry.state, entry.created_at_ms), (PartitionState::Pending, 7_000));
    }
    assert_eq!(state.next_partition(), p(5));
    assert_eq!(state.active_partitions(), vec![p(0), p(1)]);
    assert_eq!(state.readable_partitions(), vec![p(0), p(1)]);
}

/// A retried request id answers the first ids and adds nothing; without an id each
/// application adds.
#[test]
fn a_retried_request_id_returns_the_same_partitions() {
    let mut state = bootstrapped(1, 1);
    let first = apply_twice(&mut state, &add(2, Some("r-1")));
    assert_eq!(first, MetaResponse::PartitionsAdded { ids: vec![p(1), p(2)] });
    assert_eq!(
        state.apply(&add(2, Some("r-2"))),
        MetaResponse::PartitionsAdded { ids: vec![p(3), p(4)] }
    );
    assert_eq!(state.apply(&add(1, None)), MetaResponse::PartitionsAdded { ids: vec![p(5)] });
    assert_eq!(state.apply(&add(1, None)), MetaResponse::PartitionsAdded { ids: vec![p(6)] });
    // A retry still answers after its partitions were deleted: they were created once.
    must_apply(&mut state, &MetaCommand::DeactivatePartition { id: p(1), at_ms: 0 });
    must_apply(&mut state, &MetaCommand::DeletePartition { id: p(1) });
    assert_eq!(state.apply(&add(2, Some("r-1"))), first);
}

/// Only the last `RECENT_REQUESTS` request ids are remembered.
#[test]
fn request_ids_are_remembered_up_to_a_bound() {
    let mut state = bootstrapped(1, 1);
    for request in 0..=RECENT_REQUESTS {
        state.apply(&add(1, Some(&format!("r{request}"))));
    }
    assert_eq!(state.recent_requests.len(), RECENT_REQUESTS);
    // r0 was forgotten: its retry adds a new partition; r1 is still known.
    let next = state.next_partition();
    assert_eq!(state.apply(&add(1, Some("r0"))), MetaResponse::PartitionsAdded { ids: vec![next] });
    assert_eq!(state.apply(&add(1, Some("r2"))), MetaResponse::PartitionsAdded { ids: vec![p(3)] });
}

/// A zero or too large count, and exhausted ids, are refused.
#[test]
fn add_partitions_refuses_bad_counts_and_exhausted_ids() {
    let mut state = bootstrapped(1, 1);
    let reason = must_refuse(&mut state, &add(0, None), RefusalKind::Invalid);
    assert_eq!(reason, "the number of partitions must be at least 1");
    must_refuse(&mut state, &add(MAX_PARTITIONS_PER_REQUEST + 1, None), RefusalKind::Invalid);
    state.next_partition = u32::MAX - 1;
    assert_eq!(
        state.apply(&add(1, None)),
        MetaResponse::PartitionsAdded { ids: vec![p(u32::MAX - 1)] }
    );
    let reason = must_refuse(&mut state, &add(1, None), RefusalKind::Conflict);
    assert_eq!(reason, "partition ids are exhausted");
}

/// Pending → active; active stays active; inactive is never reactivated.
#[test]
fn activate_moves_pending_to_active_only() {
    let mut state = bootstrapped(2, 1);
    state.apply(&add(1, None));
    let activate = MetaCommand::ActivatePartition { id: p(2) };
    assert_eq!(apply_twice(&mut state, &activate), MetaResponse::Done);
    assert_eq!(state.active_partitions(), vec![p(0), p(1), p(2)]);
    must_apply(&mut state, &MetaCommand::DeactivatePartition { id: p(0), at_ms: 8_000 });
    let reason = must_refuse(
        &mut state,
        &MetaCommand::ActivatePartition { id: p(0) },
        RefusalKind::Conflict,
    );
    assert_eq!(reason, "p0 is inactive and is never written again; add a new partition instead");
    let reason = must_refuse(
        &mut state,
        &MetaCommand::ActivatePartition { id: p(9) },
        RefusalKind::NotFound,
    );
    assert_eq!(reason, "p9 does not exist");
}

/// Deactivation keeps the partition readable, records the time, and never takes the last
/// active partition; a pending partition may be deactivated directly.
#[test]
fn deactivate_keeps_one_active_partition() {
    let mut state = bootstrapped(2, 1);
    let deactivate = MetaCommand::DeactivatePartition { id: p(1), at_ms: 8_000 };
    assert_eq!(apply_twice(&mut state, &deactivate), MetaResponse::Done);
    let entry = state.partition(p(1)).unwrap();
    assert_eq!((entry.state, entry.deactivated_at_ms), (PartitionState::Inactive, Some(8_000)));
    assert_eq!(state.active_partitions(), vec![p(0)]);
    assert_eq!(state.readable_partitions(), vec![p(0), p(1)]);
    let last = MetaCommand::DeactivatePartition { id: p(0), at_ms: 9_000 };
    let reason = must_refuse(&mut state, &last, RefusalKind::Conflict);
    assert_eq!(reason, "p0 is the last active partition");

    state.apply(&add(1, None));
    let pending = MetaCommand::DeactivatePartition { id: p(2), at_ms: 9_000 };
    assert_eq!(apply_twice(&mut state, &pending), MetaResponse::Done);
    assert_eq!(state.partition(p(2)).unwrap().state, PartitionState::Inactive);
}

/// Delete needs an inactive partition whose log is all in blocks; its id is never reused.
#[test]
fn delete_needs_an_inactive_flushed_partition() {
    let mut state = bootstrapped(6, 1);
    let delete = MetaCommand::DeletePartition { id: p(5) };
    let reason = must_refuse(&mut state, &delete, RefusalKind::Conflict);
    assert_eq!(reason, "p5 is active: deactivate it first");
    must_apply(&mut state, &report(5, 1, 1, 431));
    must_apply(&mut state, &MetaCommand::DeactivatePartition { id: p(5), at_ms: 8_000 });
    let flushed = MetaCommand::RegisterBlocks {
        partition: p(5),
        blocks: vec![block("a", 5, 1, 119)],
        flushed: 119,
    };
    must_apply(&mut state, &flushed);
    let reason = must_refuse(&mut state, &delete, RefusalKind::Conflict);
    assert_eq!(reason, "p5 still has log entries 120..=431 not in blocks");
    // A flush intent beyond the reported commit index also holds the delete back.
    must_apply(&mut state, &MetaCommand::SetFlushIntent { partition: p(5), first: 120, last: 440 });
    let rest = MetaCommand::RegisterBlocks { partition: p(5), blocks: vec![], flushed: 431 };
    must_apply(&mut state, &rest);
    let reason = must_refuse(&mut state, &delete, RefusalKind::Conflict);
    assert_eq!(reason, "p5 still has log entries 432..=440 not in blocks");
    let all = MetaCommand::RegisterBlocks {
        partition: p(5),
        blocks: vec![block("a", 5, 120, 440)],
        flushed: 440,
    };
    must_apply(&mut state, &all);

    assert_eq!(apply_twice(&mut state, &delete), MetaResponse::Done);
    assert!(state.partition(p(5)).is_none());
    // Its blocks stay listed: they hold the partition's spans.
    assert_eq!(state.blocks_for(&crate::model::ids::TenantId::new("a")).len(), 2);
    let reason =
        must_refuse(&mut state, &MetaCommand::DeletePartition { id: p(6) }, RefusalKind::NotFound);
    assert_eq!(reason, "p6 does not exist");
    assert_eq!(state.apply(&add(1, None)), MetaResponse::PartitionsAdded { ids: vec![p(6)] });
}

/// Replicas are set as given; duplicates, non-members and an empty set are refused.
#[test]
fn set_replicas_takes_distinct_members_only() {
    let mut state = bootstrapped(1, 1);
    join_all(&mut state, &[2, 3]);
    let set = MetaCommand::SetReplicas { id: p(0), replicas: vec![3, 1] };
    assert_eq!(apply_twice(&mut state, &set), MetaResponse::Done);
    assert_eq!(state.partition(p(0)).unwrap().replicas, vec![3, 1]);

    let twice = MetaCommand::SetReplicas { id: p(0), replicas: vec![2, 3, 2] };
    let reason = must_refuse(&mut state, &twice, RefusalKind::Invalid);
    assert_eq!(reason, "node 2 is listed twice in the replicas of p0");
    let stranger = MetaCommand::SetReplicas { id: p(0), replicas: vec![2, 8] };
    let reason = must_refuse(&mut state, &stranger, RefusalKind::NotFound);
    assert_eq!(reason, "node 8 is not a member of the cluster");
    let empty = MetaCommand::SetReplicas { id: p(0), replicas: vec![] };
    let reason = must_refuse(&mut state, &empty, RefusalKind::Invalid);
    assert_eq!(reason, "p0 needs at least one replica");
    must_apply(&mut state, &MetaCommand::RemoveNode { id: 2 });
    let removed = MetaCommand::SetReplicas { id: p(0), replicas: vec![2] };
    must_refuse(&mut state, &removed, RefusalKind::NotFound);
    let unknown = MetaCommand::SetReplicas { id: p(4), replicas: vec![1] };
    must_refuse(&mut state, &unknown, RefusalKind::NotFound);
}

/// Reports move the leader hint forward with the term; older terms are refused, the
/// committed index never goes back, and two leaders in one term are refused.
#[test]
fn reports_follow_the_newest_term() {
    let mut state = bootstrapped(1, 1);
    join_all(&mut state, &[2]);
    assert_eq!(apply_twice(&mut state, &report(0, 1, 3, 50)), MetaResponse::Done);
    let entry = state.partition(p(0)).unwrap();
    assert_eq!((entry.leader_hint, entry.leader_term, entry.committed), (Some(1), 3, 50));

    must_apply(&mut state, &report(0, 1, 3, 40));
    assert_eq!(state.partition(p(0)).unwrap().committed, 50);
    let reason = must_refuse(&mut state, &report(0, 2, 2, 90), RefusalKind::Conflict);
    assert_eq!(reason, "a report of term 2 for p0 is older than its term 3");
    let reason = must_refuse(&mut state, &report(0, 2, 3, 90), RefusalKind::Conflict);
    assert_eq!(reason, "p0 already has leader node 1 in term 3, not node 2");

    must_apply(&mut state, &report(0, 2, 4, 60));
    let entry = state.partition(p(0)).unwrap();
    assert_eq!((entry.leader_hint, entry.leader_term, entry.committed), (Some(2), 4, 60));
    must_refuse(&mut state, &report(0, 9, 5, 60), RefusalKind::NotFound);
    must_refuse(&mut state, &report(3, 1, 5, 60), RefusalKind::NotFound);
}
