//! Property test: random command sequences keep the meta state consistent.
//!
//! After every step: the invariants hold (no node twice in a partition, replicas only of
//! members, never of removed nodes, …), `flushed` and `committed` never go back, partition
//! ids are never reused, the snapshot reads back equal, applying the step's command again
//! changes nothing and answers the same, a refused command changed nothing, and
//! reconciliation's output is accepted and converges.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::test_support::*;
use super::*;
use crate::model::ids::PartitionId;

/// One step of a run: a command, a flush computed from the state, or a reconciliation.
#[derive(Debug, Clone)]
enum Step {
    Command(MetaCommand),
    /// The builder of `partition` flushes the next `length` entries into one block.
    Flush {
        partition: u32,
        length: u64,
        tenant: &'static str,
    },
    /// The meta leader applies `reconcile`'s output.
    Reconcile,
}

fn node_info() -> impl Strategy<Value = NodeInfo> {
    (1u64..=6, prop::sample::select(vec![None, Some("a"), Some("b")]))
        .prop_map(|(id, zone)| NodeInfo { zone: zone.map(str::to_string), ..node(id) })
}

/// `(first, last, of the command's partition)` of a block.
fn block_range() -> impl Strategy<Value = (u64, u64, bool)> {
    (0u64..80, 0u64..80, prop::bool::weighted(0.9))
        .prop_map(|(a, b, own)| (a.min(b), a.max(b), own))
}

fn command() -> impl Strategy<Value = MetaCommand> {
    let id = || (0u32..10).prop_map(p);
    let node_id = || 0u64..=7;
    let index = || 0u64..80;
    prop_oneof![
        1 => Just(MetaCommand::Noop),
        2 => (node_info(), 1u32..4, 0u32..4, 0u32..4).prop_map(|(node, partitions, rf, voters)| {
            MetaCommand::Bootstrap { node, partitions, replication_factor: rf, voters, at_ms: 1 }
        }),
        4 => (node_info(), 0u64..100).prop_map(|(node, at_ms)| MetaCommand::Join { node, at_ms }),
        2 => node_id().prop_map(|id| MetaCommand::DrainNode { id }),
        2 => node_id().prop_map(|id| MetaCommand::RemoveNode { id }),
        3 => (0u32..4, prop::option::of(prop::sample::select(vec!["r1", "r2", "r3"])))
            .prop_map(|(count, request)| MetaCommand::AddPartitions {
                count,
                at_ms: 5,
                request_id: request.map(str::to_string),
            }),
        2 => id().prop_map(|id| MetaCommand::ActivatePartition { id }),
        2 => (id(), 0u64..100).prop_map(|(id, at_ms)| MetaCommand::DeactivatePartition { id, at_ms }),
        2 => id().prop_map(|id| MetaCommand::DeletePartition { id }),
        2 => (id(), prop::collection::vec(node_id(), 0..4))
            .prop_map(|(id, replicas)| MetaCommand::SetReplicas { id, replicas }),
        3 => (id(), node_id(), 0u64..5, index()).prop_map(|(id, leader, term, committed)| {
            MetaCommand::ReportPartition { id, leader, term, committed }
        }),
        1 => (id(), index(), index())
            .prop_map(|(partition, first, last)| MetaCommand::SetFlushIntent { partition, first, last }),
        // Mostly blocks of the command's own partition, half of them within `flushed`.
        2 => (0u32..10, prop::collection::vec(block_range(), 0..3), index()).prop_map(
            |(partition, ranges, flushed)| MetaCommand::RegisterBlocks {
                partition: p(partition),
                blocks: ranges
                    .into_iter()
                    .map(|(first, last, own)| {
                        let block_partition = if own { partition } else { partition + 1 };
                        block("a", block_partition, first, last)
                    })
                    .collect(),
                flushed,
            }
        ),
        1 => (0u32..10, 1u64..40).prop_map(|(partition, last)| MetaCommand::RegisterBlock {
            meta: block("b", partition, 1, last),
        }),
        1 => (prop::sample::select(vec!["", "t"]), any::<bool>()).prop_map(|(tenant, set)| {
            MetaCommand::SetOverride {
                tenant: tenant.to_string(),
                value: set.then(|| serde_json::json!({"limit": 1})),
            }
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => command().prop_map(Step::Command),
        2 => (0u32..10, 0u64..20, prop::sample::select(vec!["a", "b"]))
            .prop_map(|(partition, length, tenant)| Step::Flush { partition, length, tenant }),
        2 => Just(Step::Reconcile),
    ]
}

/// The commands a step stands for in `state`.
fn commands_of(step: &Step, state: &MetaState) -> Vec<MetaCommand> {
    match step {
        Step::Command(command) => vec![command.clone()],
        Step::Flush { partition, length, tenant } => {
            let flushed = state.partition(p(*partition)).map_or(0, |entry| entry.flushed);
            let (first, last) = (flushed + 1, flushed + length);
            let blocks =
                if *length == 0 { vec![] } else { vec![block(tenant, *partition, first, last)] };
            vec![
                MetaCommand::SetFlushIntent {
                    partition: p(*partition),
                    first,
                    last: last.max(first),
                },
                MetaCommand::RegisterBlocks { partition: p(*partition), blocks, flushed: last },
            ]
        }
        Step::Reconcile => reconcile(state),
    }
}

/// Applies one command and checks what must hold of that single application.
fn apply_checked(state: &mut MetaState, command: &MetaCommand) -> Result<(), TestCaseError> {
    let before = state.clone();
    let answer = state.apply(command);
    if answer.is_refused() {
        prop_assert_eq!(&*state, &before, "refused {} changed the state", command);
    }
    let retry_adds = matches!(command, MetaCommand::AddPartitions { request_id: None, .. });
    if !retry_adds {
        let mut again = state.clone();
        let second = again.apply(command);
        prop_assert_eq!(&second, &answer, "second answer of {}", command);
        prop_assert_eq!(&again, &*state, "second application of {} changed the state", command);
    }
    Ok(())
}

/// What must hold between two consecutive states.
fn check_step(
    before: &MetaState,
    after: &MetaState,
    deleted: &mut BTreeSet<PartitionId>,
) -> Result<(), TestCaseError> {
    if let Err(broken) = after.check_invariants() {
        return Err(TestCaseError::fail(broken));
    }
    prop_assert!(after.next_partition() >= before.next_partition());
    prop_assert!(after.removed().is_superset(before.removed()));
    for (id, entry) in after.partitions() {
        prop_assert!(!deleted.contains(id), "{} was deleted and came back", id);
        match before.partition(*id) {
            Some(old) => {
                prop_assert!(entry.flushed >= old.flushed, "{} flushed went back", id);
                prop_assert!(entry.committed >= old.committed, "{} committed went back", id);
                prop_assert!(entry.leader_term >= old.leader_term, "{} term went back", id);
            }
            None => prop_assert!(*id >= before.next_partition(), "{} reused an id", id),
        }
    }
    deleted.extend(before.partitions().keys().filter(|id| after.partition(**id).is_none()));

    let snapshot = after.to_snapshot().map_err(|error| TestCaseError::fail(error.to_string()))?;
    let read = MetaState::from_snapshot(&snapshot)
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(&read, after);

    let mut reconciled = after.clone();
    for command in reconcile(after) {
        let answer = reconciled.apply(&command);
        prop_assert_eq!(answer, MetaResponse::Done, "reconcile proposed {}", command);
    }
    prop_assert!(reconcile(&reconciled).is_empty(), "reconcile does not converge");
    if let Err(broken) = reconciled.check_invariants() {
        return Err(TestCaseError::fail(format!("after reconcile: {broken}")));
    }
    let target = reconciled.effective_replication_factor();
    for entry in reconciled.partitions().values() {
        prop_assert_eq!(entry.replicas.len(), target, "replicas of {}", entry.id);
        let all_active = entry.replicas.iter().all(|node| {
            reconciled.member(*node).is_some_and(|member| member.state == MemberState::Active)
        });
        prop_assert!(all_active, "{} keeps a replica on a draining node", entry.id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_the_state_consistent(
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let mut state = MetaState::new();
        let mut deleted = BTreeSet::new();
        for step in &steps {
            for command in commands_of(step, &state) {
                let before = state.clone();
                apply_checked(&mut state, &command)?;
                check_step(&before, &state, &mut deleted)?;
            }
        }
    }

    /// From a bootstrapped cluster, so more of the commands apply rather than being refused.
    #[test]
    fn random_commands_on_a_bootstrapped_cluster_keep_the_state_consistent(
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let mut state = bootstrapped(3, 3);
        let mut deleted = BTreeSet::new();
        for step in &steps {
            for command in commands_of(step, &state) {
                let before = state.clone();
                apply_checked(&mut state, &command)?;
                check_step(&before, &state, &mut deleted)?;
            }
        }
    }
}
