//! Flush hand-over, the block list, overrides, snapshots and the commands' texts.

use super::test_support::*;
use super::*;
use crate::model::ids::{LogIndex, TenantId};

fn intent(first: u64, last: u64) -> MetaCommand {
    MetaCommand::SetFlushIntent { partition: p(0), first, last }
}

fn register(blocks: Vec<crate::storage::block::BlockMeta>, flushed: u64) -> MetaCommand {
    MetaCommand::RegisterBlocks { partition: p(0), blocks, flushed }
}

/// An intent must start right after `flushed`; registering the range adds its blocks,
/// raises `flushed` and clears the intent, all in one command.
#[test]
fn a_flush_is_announced_then_registered_at_once() {
    let mut state = bootstrapped(1, 1);
    assert_eq!(apply_twice(&mut state, &intent(1, 10)), MetaResponse::Done);
    assert_eq!(
        state.partition(p(0)).unwrap().flush_intent,
        Some(FlushIntent { first: 1, last: 10 })
    );
    let blocks = vec![block("a", 0, 1, 10), block("b", 0, 1, 10)];
    assert_eq!(apply_twice(&mut state, &register(blocks, 10)), MetaResponse::Done);
    let entry = state.partition(p(0)).unwrap();
    assert_eq!((entry.flushed, entry.flush_intent), (10, None));
    assert_eq!(state.blocks_for(&TenantId::new("a")), vec![&block("a", 0, 1, 10)]);
    assert_eq!(state.tenants_with_blocks().collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(state.registered_range_end(p(0), LogIndex(1)), Some(LogIndex(10)));
    assert_eq!(state.registered_range_end(p(0), LogIndex(2)), None);
    assert_eq!(state.registered_range_end(p(1), LogIndex(1)), None);

    let reason = must_refuse(&mut state, &intent(5, 20), RefusalKind::Conflict);
    assert_eq!(reason, "a flush of p0 must start at log index 11, not 5");
    let reason = must_refuse(&mut state, &intent(11, 10), RefusalKind::Invalid);
    assert_eq!(reason, "flush range 11..=10 of p0 is empty");
    must_refuse(
        &mut state,
        &MetaCommand::SetFlushIntent { partition: p(3), first: 1, last: 2 },
        RefusalKind::NotFound,
    );
}

/// A block registered again replaces itself; `flushed` is never lowered; an intent that is
/// not yet covered stays.
#[test]
fn registering_is_idempotent_and_never_lowers_flushed() {
    let mut state = bootstrapped(1, 1);
    must_apply(&mut state, &register(vec![block("a", 0, 1, 20)], 20));
    must_apply(&mut state, &intent(21, 30));
    let rebuilt = crate::storage::block::BlockMeta { span_count: 99, ..block("a", 0, 1, 20) };
    must_apply(&mut state, &register(vec![rebuilt.clone()], 20));
    must_apply(&mut state, &register(vec![], 5));
    let entry = state.partition(p(0)).unwrap();
    assert_eq!(entry.flushed, 20);
    assert_eq!(entry.flush_intent, Some(FlushIntent { first: 21, last: 30 }));
    assert_eq!(state.blocks_for(&TenantId::new("a")), vec![&rebuilt]);
    // An empty range of control entries moves `flushed` with no block.
    must_apply(&mut state, &register(vec![], 30));
    assert_eq!(state.partition(p(0)).unwrap().flush_intent, None);
    assert_eq!(state.blocks_for(&TenantId::new("a")).len(), 1);
}

/// Blocks of another partition, outside the flushed range, or without tenant are refused,
/// and nothing of the command applies.
#[test]
fn register_blocks_refuses_blocks_that_do_not_fit() {
    let mut state = bootstrapped(2, 1);
    let other = register(vec![block("a", 0, 1, 5), block("a", 1, 1, 5)], 5);
    let reason = must_refuse(&mut state, &other, RefusalKind::Invalid);
    assert_eq!(reason, "block p1-00000000000000000001-00000000000000000005 belongs to p1, not p0");
    let beyond = register(vec![block("a", 0, 1, 9)], 5);
    let reason = must_refuse(&mut state, &beyond, RefusalKind::Invalid);
    assert_eq!(
        reason,
        "block p0-00000000000000000001-00000000000000000009 covers log entries 1..=9, not within \
         1..=5"
    );
    must_refuse(&mut state, &register(vec![block("a", 0, 0, 3)], 5), RefusalKind::Invalid);
    must_refuse(&mut state, &register(vec![block("", 0, 1, 3)], 5), RefusalKind::Invalid);
    let unknown = MetaCommand::RegisterBlocks { partition: p(7), blocks: vec![], flushed: 1 };
    must_refuse(&mut state, &unknown, RefusalKind::NotFound);
}

/// A block without a log pointer (compaction output) is listed; it does not count as a
/// registered log range.
#[test]
fn register_block_lists_a_compacted_block() {
    let mut state = bootstrapped(1, 1);
    let compacted =
        crate::storage::block::BlockMeta { compaction_level: 1, ..block("a", 0, 1, 50) };
    let command = MetaCommand::RegisterBlock { meta: compacted.clone() };
    assert_eq!(apply_twice(&mut state, &command), MetaResponse::Done);
    assert_eq!(state.blocks_for(&TenantId::new("a")), vec![&compacted]);
    assert_eq!(state.registered_range_end(p(0), LogIndex(1)), None);
    assert_eq!(state.partition(p(0)).unwrap().flushed, 0);
    let nameless = MetaCommand::RegisterBlock { meta: block("", 0, 1, 2) };
    assert_eq!(
        must_refuse(&mut state, &nameless, RefusalKind::Invalid),
        "the tenant name is empty"
    );
}

/// Overrides are set and cleared per tenant.
#[test]
fn overrides_are_set_and_cleared() {
    let mut state = bootstrapped(1, 1);
    let value = serde_json::json!({"ingestion": {"rate_limit_bytes": 1000}});
    let set = MetaCommand::SetOverride { tenant: "t".into(), value: Some(value.clone()) };
    assert_eq!(apply_twice(&mut state, &set), MetaResponse::Done);
    assert_eq!(state.overrides_of("t"), Some(&value));
    let clear = MetaCommand::SetOverride { tenant: "t".into(), value: None };
    assert_eq!(apply_twice(&mut state, &clear), MetaResponse::Done);
    assert_eq!(state.overrides_of("t"), None);
    must_refuse(
        &mut state,
        &MetaCommand::SetOverride { tenant: String::new(), value: None },
        RefusalKind::Invalid,
    );
}

/// A snapshot reads back to an equal state; garbage, another version and an inconsistent
/// state are refused.
#[test]
fn snapshots_round_trip_and_refuse_what_they_cannot_trust() {
    let mut state = bootstrapped(3, 3);
    join_all(&mut state, &[2, 3]);
    apply_reconcile(&mut state);
    must_apply(&mut state, &register(vec![block("a", 0, 1, 4)], 4));
    must_apply(
        &mut state,
        &MetaCommand::SetOverride { tenant: "a".into(), value: Some(serde_json::json!(1)) },
    );
    state.apply(&MetaCommand::AddPartitions { count: 1, at_ms: 0, request_id: Some("r".into()) });
    let bytes = state.to_snapshot().unwrap();
    assert_eq!(MetaState::from_snapshot(&bytes).unwrap(), state);

    let error = MetaState::from_snapshot(b"{\"version\":1").unwrap_err();
    assert!(error.to_string().starts_with("meta snapshot is corrupt: "), "{error}");
    let error = MetaState::from_snapshot(b"{\"version\":2,\"state\":{}}").unwrap_err();
    assert_eq!(error.to_string(), "meta snapshot has format version 2; this build reads 1");

    let mut broken = state.clone();
    broken.partitions.get_mut(&p(0)).unwrap().replicas = vec![2, 2];
    let error = MetaState::from_snapshot(&broken.to_snapshot().unwrap()).unwrap_err();
    assert_eq!(error.to_string(), "meta snapshot is corrupt: p0 lists node 2 twice");
}

/// Commands and answers survive the JSON of the log; commands print a short human text.
#[test]
fn commands_are_json_in_the_log_and_read_as_text() {
    let commands = [
        MetaCommand::Join { node: zoned(4, "z"), at_ms: 1 },
        MetaCommand::RegisterBlocks {
            partition: p(3),
            blocks: vec![block("a", 3, 1, 2)],
            flushed: 2,
        },
        MetaCommand::SetOverride { tenant: "t".into(), value: Some(serde_json::json!({"a": [1]})) },
    ];
    for command in commands {
        let json = serde_json::to_vec(&command).unwrap();
        assert_eq!(serde_json::from_slice::<MetaCommand>(&json).unwrap(), command);
    }
    assert_eq!(
        MetaCommand::RegisterBlocks { partition: p(3), blocks: vec![], flushed: 431 }.to_string(),
        "register 0 blocks of p3, flushed to 431"
    );
    assert_eq!(MetaCommand::DrainNode { id: 2 }.to_string(), "drain node 2");
    let answer = MetaResponse::PartitionsAdded { ids: vec![p(4)] };
    assert_eq!(serde_json::to_string(&answer).unwrap(), r#"{"PartitionsAdded":{"ids":[4]}}"#);
}
