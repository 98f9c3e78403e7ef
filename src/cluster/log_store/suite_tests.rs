//! openraft's own storage conformance suite, run on [`WalLogStore`] for both group kinds, with a
//! minimal in-memory state machine (the suite tests the log store and the state machine side by
//! side; only the log store is ours to prove).

use std::io;
use std::sync::{Arc, Mutex};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::vote::leader_id_std::CommittedLeaderId;
use openraft::{EntryPayload, OptionalSend, SnapshotMeta, StorageError, StoredMembership};
use tempfile::TempDir;

use super::{RaftLogId, WalLogStore, WalRaftConfig};
use crate::cluster::meta::MetaResponse;
use crate::cluster::types::{MetaRaftConfig, NodeId, PartitionRaftConfig};
use crate::storage::wal::WalOptions;

type TestMembership<C> =
    StoredMembership<CommittedLeaderId<u64>, NodeId, <C as openraft::RaftTypeConfig>::Node>;
type TestSnapshotMeta<C> =
    SnapshotMeta<CommittedLeaderId<u64>, NodeId, <C as openraft::RaftTypeConfig>::Node>;
type TestSnapshot<C> =
    Snapshot<CommittedLeaderId<u64>, NodeId, <C as openraft::RaftTypeConfig>::Node, Vec<u8>>;

/// What the test state machine remembers: the last applied log id and the last membership.
struct Applied<C: WalRaftConfig> {
    last_applied: Option<RaftLogId>,
    membership: TestMembership<C>,
    snapshot: Option<TestSnapshot<C>>,
}

/// A state machine that only tracks what it applied; a snapshot is the JSON of that.
struct TestStateMachine<C: WalRaftConfig> {
    applied: Arc<Mutex<Applied<C>>>,
    /// The answer given to a client whose entry is applied.
    respond: fn() -> C::R,
}

impl<C: WalRaftConfig> TestStateMachine<C> {
    fn new(respond: fn() -> C::R) -> Self {
        let applied =
            Applied { last_applied: None, membership: StoredMembership::default(), snapshot: None };
        TestStateMachine { applied: Arc::new(Mutex::new(applied)), respond }
    }
}

/// Builds snapshots of a [`TestStateMachine`] and makes each the current one.
struct TestSnapshotBuilder<C: WalRaftConfig> {
    applied: Arc<Mutex<Applied<C>>>,
}

impl<C: WalRaftConfig> RaftSnapshotBuilder<C> for TestSnapshotBuilder<C> {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<TestSnapshot<C>, io::Error> {
        let mut applied = self.applied.lock().unwrap();
        let data = serde_json::to_vec(&(&applied.last_applied, &applied.membership))?;
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.membership.clone(),
        };
        let snapshot = Snapshot { meta, snapshot: data };
        applied.snapshot = Some(snapshot.clone());
        Ok(snapshot)
    }
}

impl<C: WalRaftConfig> RaftStateMachine<C> for TestStateMachine<C> {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = TestSnapshotBuilder<C>;

    async fn applied_state(&mut self) -> Result<(Option<RaftLogId>, TestMembership<C>), io::Error> {
        let applied = self.applied.lock().unwrap();
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<Strm>(&mut self, entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + OptionalSend,
    {
        let entries: Vec<EntryResponder<C>> = entries.try_collect().await?;
        let mut applied = self.applied.lock().unwrap();
        for (entry, responder) in entries {
            applied.last_applied = Some(entry.log_id);
            if let EntryPayload::Membership(membership) = entry.payload {
                applied.membership = StoredMembership::new(Some(entry.log_id), membership);
            }
            if let Some(responder) = responder {
                responder.send((self.respond)());
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> TestSnapshotBuilder<C> {
        TestSnapshotBuilder { applied: Arc::clone(&self.applied) }
    }

    async fn install_snapshot(
        &mut self,
        meta: &TestSnapshotMeta<C>,
        snapshot: Vec<u8>,
    ) -> Result<(), io::Error> {
        let (last_applied, membership): (Option<RaftLogId>, TestMembership<C>) =
            serde_json::from_slice(&snapshot)?;
        let mut applied = self.applied.lock().unwrap();
        applied.last_applied = last_applied;
        applied.membership = membership;
        applied.snapshot = Some(Snapshot { meta: meta.clone(), snapshot });
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<TestSnapshot<C>>, io::Error> {
        Ok(self.applied.lock().unwrap().snapshot.clone())
    }
}

/// Opens a fresh [`WalLogStore`] in a temporary directory (the guard) next to a fresh
/// [`TestStateMachine`].
struct WalStoreBuilder<C: WalRaftConfig> {
    options: WalOptions,
    respond: fn() -> C::R,
}

impl<C: WalRaftConfig> StoreBuilder<C, WalLogStore<C>, TestStateMachine<C>, TempDir>
    for WalStoreBuilder<C>
{
    async fn build(
        &self,
    ) -> Result<(TempDir, WalLogStore<C>, TestStateMachine<C>), StorageError<C>> {
        let dir = TempDir::new().expect("a temporary directory");
        let (store, _report) = WalLogStore::open(dir.path().to_path_buf(), self.options.clone())
            .await
            .expect("a fresh wal opens");
        Ok((dir, store, TestStateMachine::new(self.respond)))
    }
}

/// A partition group's log store passes every case of openraft's storage suite, with segments
/// small enough that purges and truncations cross segment boundaries.
#[tokio::test(start_paused = true)]
async fn partition_log_store_passes_openraft_suite() {
    let builder = WalStoreBuilder::<PartitionRaftConfig> {
        options: WalOptions { segment_bytes: 256 },
        respond: || (),
    };
    Suite::test_all(builder).await.unwrap();
}

/// The meta group's log store passes the same suite, with default segments.
#[tokio::test(start_paused = true)]
async fn meta_log_store_passes_openraft_suite() {
    let builder = WalStoreBuilder::<MetaRaftConfig> {
        options: WalOptions::default(),
        respond: || MetaResponse::Done,
    };
    Suite::test_all(builder).await.unwrap();
}
