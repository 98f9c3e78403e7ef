//! Model-based test of the write-ahead log: random sequences of append, sync, truncate, purge
//! and reopen must leave the log equal to a plain vector.

use proptest::prelude::*;
use tempfile::TempDir;

use super::tests::{open, read_all, records};
use super::*;

/// One step of the model-based test.
#[derive(Debug, Clone)]
enum Op {
    Append { count: u64, term_bump: bool, skip: bool },
    Sync,
    TruncateFrom { back: u64 },
    PurgeBefore { back: u64 },
    PurgeUpto { ahead: u64 },
    Reopen,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..6u64, any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(count, term_bump, skip)| Op::Append { count, term_bump, skip }),
        2 => Just(Op::Sync),
        1 => (0..8u64).prop_map(|back| Op::TruncateFrom { back }),
        1 => (0..12u64).prop_map(|back| Op::PurgeBefore { back }),
        1 => (0..4u64).prop_map(|ahead| Op::PurgeUpto { ahead }),
        1 => Just(Op::Reopen),
    ]
}

/// The reference: readable records and the purge point.
#[derive(Debug, Default)]
struct Model {
    records: Vec<Record>,
    purged: Option<LogId>,
}

impl Model {
    fn next_index(&self) -> u64 {
        self.last().map_or(1, |id| id.index.0 + 1)
    }

    fn last(&self) -> Option<LogId> {
        self.records
            .last()
            .map(|record| LogId { term: record.term, index: record.index })
            .or(self.purged)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any sequence of operations leaves the log equal to a plain vector model.
    #[test]
    fn random_operations_match_the_model(ops in prop::collection::vec(op_strategy(), 1..30)) {
        let dir = TempDir::new().unwrap();
        let options = WalOptions { segment_bytes: 200 };
        let (mut wal, _) = open(dir.path(), options.clone());
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Append { count, term_bump, skip } => {
                    let last = model.last();
                    let term = last.map_or(1, |id| id.term.0) + u64::from(term_bump);
                    let first = last.map_or(1, |id| id.index.0 + 1) + u64::from(skip);
                    let batch = records(term, first..=first + count - 1);
                    let result = wal.append(&batch);
                    if skip && last.is_some() {
                        let refused = matches!(result, Err(WalError::NonContiguous { .. }));
                        prop_assert!(refused);
                    } else {
                        prop_assert!(result.is_ok(), "{:?}", result);
                        model.records.extend(batch);
                    }
                }
                Op::Sync => wal.sync().unwrap(),
                Op::TruncateFrom { back } => {
                    let from = LogIndex(model.next_index().saturating_sub(back));
                    let result = wal.truncate_from(from);
                    if model.purged.is_some_and(|purged| from <= purged.index) {
                        let is_purged = matches!(result, Err(WalError::Purged { .. }));
                        prop_assert!(is_purged);
                    } else {
                        prop_assert!(result.is_ok(), "{:?}", result);
                        model.records.retain(|record| record.index < from);
                    }
                }
                Op::PurgeBefore { back } => {
                    let index = LogIndex(model.next_index().saturating_sub(back));
                    wal.purge_before(index).unwrap();
                    let below = model.records.iter().rposition(|record| record.index < index);
                    if let Some(target) = below {
                        let purged = &model.records[target];
                        model.purged = Some(LogId { term: purged.term, index: purged.index });
                        model.records.drain(..=target);
                    }
                }
                Op::PurgeUpto { ahead } => {
                    let last = model.last();
                    let upto = LogId {
                        term: Term(last.map_or(1, |id| id.term.0)),
                        index: LogIndex(model.next_index() - 1 + ahead),
                    };
                    wal.purge_upto(upto).unwrap();
                    if model.purged.is_none_or(|purged| purged.index < upto.index) {
                        model.records.retain(|record| record.index > upto.index);
                        model.purged = Some(upto);
                    }
                }
                Op::Reopen => {
                    drop(wal);
                    let (reopened, report) = open(dir.path(), options.clone());
                    prop_assert_eq!(report.truncated_bytes, 0);
                    prop_assert_eq!(report.records, model.records.len() as u64);
                    wal = reopened;
                }
            }
            prop_assert_eq!(read_all(&wal), model.records.clone());
            prop_assert_eq!(wal.last_log_id(), model.last());
            prop_assert_eq!(wal.last_purged(), model.purged);
            prop_assert_eq!(wal.first_index(), model.records.first().map(|record| record.index));
        }
    }
}
