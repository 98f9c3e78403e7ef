//! A partition group's openraft state machine. The partition's state is not kept here: every
//! committed entry is handed to the node's [`CommitSink`] (the live-store and block-builder
//! actors), and a snapshot says only "everything up to this index is in registered blocks".
//!
//! ```text
//!  committed entries ──► apply ──► CommitSink::committed(records)   every index, control
//!                                   (live-store, block-builder)      entries as empty payloads
//!  flushed index (meta) ──► build_snapshot: last_log_id = flushed ──► openraft purges the log
//!  a follower behind the purge point ──► install_snapshot ──► CommitSink::skip_to(index)
//! ```
//!
//! The snapshot's metadata (log id, membership) is kept in the partition's WAL directory, so
//! a restarted replica knows its membership even after the entry that set it was purged.
//! The membership in a snapshot is the last one at or before the snapshot's index (not the
//! last applied, which may come later): a follower installing it must not see a membership
//! from its future, or the entries that follow would carry an older one than it holds.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, StoredMembership};
use serde::{Deserialize, Serialize};

use crate::cluster::log_store::entry_codec::raft_log_id;
use crate::cluster::snapshot_file;
use crate::cluster::types::PartitionRaftConfig;
use crate::model::ids::{LogId, LogIndex, Term};
use crate::storage::wal::Wal;

/// One committed entry as the partition's actors see it.
#[derive(Debug, Clone)]
pub(crate) struct CommittedEntry {
    /// Its log index.
    pub index: LogIndex,
    /// An encoded `TraceBatch`, or empty for a Raft control entry (blank, membership).
    pub payload: Bytes,
}

/// Where a partition group delivers what it commits.
pub(crate) trait CommitSink: Send + Sync + 'static {
    /// Committed entries, in log order, every index present.
    fn committed(&self, entries: Vec<CommittedEntry>);
    /// Everything up to `index` is in registered blocks and will not be delivered: the next
    /// entry is `index + 1` (a snapshot was installed).
    fn skip_to(&self, index: LogIndex);
}

/// Where the state machine learns how far the partition is in blocks: the meta group's
/// `flushed` for the partition, published by the node.
pub(crate) type FlushedIndex = Arc<AtomicU64>;

/// The stored snapshot metadata.
#[derive(Serialize, Deserialize)]
struct StoredMeta {
    meta: SnapshotMetaOf<PartitionRaftConfig>,
}

/// A partition group's state machine.
pub(crate) struct PartitionStateMachine {
    dir: PathBuf,
    wal: Arc<Mutex<Wal>>,
    sink: Arc<dyn CommitSink>,
    flushed: FlushedIndex,
    applied: Option<LogIdOf<PartitionRaftConfig>>,
    /// The last applied index, for the node (replays, progress reports).
    applied_index: Arc<AtomicU64>,
    /// Applied memberships in log order: the last one at or before the flushed index, and
    /// every later one (a snapshot at the flushed index needs the one in force there).
    memberships: Vec<StoredMembershipOf<PartitionRaftConfig>>,
    /// The last snapshot built or installed (shared with the builder, which replaces it).
    current: CurrentSnapshot,
}

/// The index a stored membership was written at (0 for none).
fn membership_index(membership: &StoredMembershipOf<PartitionRaftConfig>) -> u64 {
    membership.log_id().as_ref().map_or(0, |log_id| log_id.index)
}

/// The membership in force at `index`: the last one written at or before it.
fn membership_at(
    memberships: &[StoredMembershipOf<PartitionRaftConfig>],
    index: u64,
) -> StoredMembershipOf<PartitionRaftConfig> {
    memberships
        .iter()
        .rev()
        .find(|membership| membership_index(membership) <= index)
        .cloned()
        .unwrap_or_default()
}

/// Forgets the memberships no snapshot at or after `flushed` can need.
fn prune_memberships(memberships: &mut Vec<StoredMembershipOf<PartitionRaftConfig>>, flushed: u64) {
    let in_force =
        memberships.iter().rposition(|membership| membership_index(membership) <= flushed);
    if let Some(position) = in_force {
        memberships.drain(..position);
    }
}

type CurrentSnapshot = Arc<Mutex<Option<SnapshotMetaOf<PartitionRaftConfig>>>>;

fn lock_current(
    current: &CurrentSnapshot,
) -> std::sync::MutexGuard<'_, Option<SnapshotMetaOf<PartitionRaftConfig>>> {
    current.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PartitionStateMachine {
    /// Opens the state machine of the partition whose WAL is in `dir`.
    pub(crate) async fn open(
        dir: PathBuf,
        wal: Arc<Mutex<Wal>>,
        sink: Arc<dyn CommitSink>,
        flushed: FlushedIndex,
        applied_index: Arc<AtomicU64>,
    ) -> io::Result<PartitionStateMachine> {
        let stored = snapshot_file::read(&dir).await?;
        let mut machine = PartitionStateMachine {
            dir,
            wal,
            sink,
            flushed,
            applied: None,
            applied_index,
            memberships: Vec::new(),
            current: Arc::new(Mutex::new(None)),
        };
        if let Some(bytes) = stored {
            let stored: StoredMeta = serde_json::from_slice(&bytes)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            machine.applied = stored.meta.last_log_id;
            machine.memberships = vec![stored.meta.last_membership.clone()];
            *lock_current(&machine.current) = Some(stored.meta);
        }
        // The live-store starts at the snapshot: everything before it is in blocks.
        let base = machine.applied.map_or(0, |applied| applied.index);
        machine.sink.skip_to(LogIndex(base));
        machine.applied_index.store(base, Ordering::Release);
        Ok(machine)
    }

    async fn persist(&self, meta: &SnapshotMetaOf<PartitionRaftConfig>) -> io::Result<()> {
        let bytes = serde_json::to_vec(&StoredMetaRef { meta }).map_err(io::Error::other)?;
        snapshot_file::write(self.dir.clone(), bytes).await
    }
}

#[derive(Serialize)]
struct StoredMetaRef<'a> {
    meta: &'a SnapshotMetaOf<PartitionRaftConfig>,
}

/// Builds a snapshot at the flushed index.
pub(crate) struct PartitionSnapshotBuilder {
    dir: PathBuf,
    wal: Arc<Mutex<Wal>>,
    flushed: u64,
    applied: Option<LogIdOf<PartitionRaftConfig>>,
    memberships: Vec<StoredMembershipOf<PartitionRaftConfig>>,
    current: CurrentSnapshot,
}

impl RaftSnapshotBuilder<PartitionRaftConfig> for PartitionSnapshotBuilder {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> io::Result<SnapshotOf<PartitionRaftConfig, Vec<u8>>> {
        let applied = self.applied.map_or(0, |log_id| log_id.index);
        let upto = self.flushed.min(applied);
        let previous_meta = lock_current(&self.current).clone();
        let previous = previous_meta.as_ref().and_then(|meta| meta.last_log_id);
        if upto == 0 || previous.is_some_and(|previous| previous.index >= upto) {
            // Nothing new is in blocks: the previous snapshot stands.
            let meta = previous_meta.unwrap_or_else(|| SnapshotMetaOf::<PartitionRaftConfig> {
                last_log_id: None,
                last_membership: StoredMembership::default(),
            });
            return Ok(Snapshot { meta, snapshot: Vec::new() });
        }
        let wal = self.wal.clone();
        let term = tokio::task::spawn_blocking(move || -> io::Result<Option<Term>> {
            let wal = wal.lock().map_err(|_| io::Error::other("wal lock poisoned"))?;
            let records =
                wal.read_range(LogIndex(upto), LogIndex(upto)).map_err(io::Error::other)?;
            Ok(records.first().map(|record| record.term))
        })
        .await
        .map_err(io::Error::other)??;
        let Some(term) = term else {
            return Err(io::Error::other(format!("log entry {upto} is gone before its snapshot")));
        };
        let meta = SnapshotMetaOf::<PartitionRaftConfig> {
            last_log_id: Some(raft_log_id(LogId { term, index: LogIndex(upto) })),
            last_membership: membership_at(&self.memberships, upto),
        };
        let bytes = serde_json::to_vec(&StoredMetaRef { meta: &meta }).map_err(io::Error::other)?;
        snapshot_file::write(self.dir.clone(), bytes).await?;
        *lock_current(&self.current) = Some(meta.clone());
        Ok(Snapshot { meta, snapshot: Vec::new() })
    }
}

impl RaftStateMachine<PartitionRaftConfig> for PartitionStateMachine {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = PartitionSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> io::Result<(Option<LogIdOf<PartitionRaftConfig>>, StoredMembershipOf<PartitionRaftConfig>)>
    {
        Ok((self.applied, self.memberships.last().cloned().unwrap_or_default()))
    }

    async fn apply<Strm>(&mut self, entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = io::Result<EntryResponder<PartitionRaftConfig>>> + Unpin + Send,
    {
        let mut entries = entries;
        let mut committed = Vec::new();
        let mut responders = Vec::new();
        while let Some((entry, responder)) = entries.try_next().await? {
            let payload = match entry.payload {
                EntryPayload::Normal(batch) => batch.0,
                EntryPayload::Blank => Bytes::new(),
                EntryPayload::Membership(membership) => {
                    self.memberships.push(StoredMembership::new(Some(entry.log_id), membership));
                    Bytes::new()
                }
            };
            committed.push(CommittedEntry { index: LogIndex(entry.log_id.index), payload });
            self.applied = Some(entry.log_id);
            if let Some(responder) = responder {
                responders.push(responder);
            }
        }
        if let Some(applied) = self.applied {
            self.applied_index.store(applied.index, Ordering::Release);
        }
        prune_memberships(&mut self.memberships, self.flushed.load(Ordering::Acquire));
        // The live-store sees the entries before any writer hears of them: a read after an
        // acknowledgement finds its spans.
        if !committed.is_empty() {
            self.sink.committed(committed);
        }
        for responder in responders {
            responder.send(());
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> PartitionSnapshotBuilder {
        PartitionSnapshotBuilder {
            dir: self.dir.clone(),
            wal: self.wal.clone(),
            flushed: self.flushed.load(Ordering::Acquire),
            applied: self.applied,
            memberships: self.memberships.clone(),
            current: self.current.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<PartitionRaftConfig>,
        _snapshot: Vec<u8>,
    ) -> io::Result<()> {
        self.persist(meta).await?;
        self.applied = meta.last_log_id;
        self.memberships = vec![meta.last_membership.clone()];
        *lock_current(&self.current) = Some(meta.clone());
        if let Some(applied) = meta.last_log_id {
            self.applied_index.store(applied.index, Ordering::Release);
            self.sink.skip_to(LogIndex(applied.index));
        }
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> io::Result<Option<SnapshotOf<PartitionRaftConfig, Vec<u8>>>> {
        Ok(lock_current(&self.current).clone().map(|meta| Snapshot { meta, snapshot: Vec::new() }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::Membership;

    use super::*;

    fn written_at(index: u64, voters: &[u64]) -> StoredMembershipOf<PartitionRaftConfig> {
        let voters: BTreeSet<u64> = voters.iter().copied().collect();
        let membership = Membership::new_with_defaults(vec![voters], []);
        StoredMembership::new(
            Some(raft_log_id(LogId { term: Term(1), index: LogIndex(index) })),
            membership,
        )
    }

    #[test]
    fn a_snapshot_takes_the_membership_in_force_at_its_index() {
        let history = vec![written_at(1, &[1]), written_at(5, &[1, 2]), written_at(9, &[2, 3])];
        assert_eq!(membership_at(&history, 4), history[0]);
        assert_eq!(membership_at(&history, 5), history[1]);
        assert_eq!(membership_at(&history, 8), history[1], "not the later one at 9");
        assert_eq!(membership_at(&history, 20), history[2]);
        assert_eq!(membership_at(&history, 0), StoredMembership::default());
    }

    #[test]
    fn pruning_keeps_the_membership_in_force_at_the_flushed_index_and_later_ones() {
        let mut history = vec![written_at(1, &[1]), written_at(5, &[1, 2]), written_at(9, &[2, 3])];
        prune_memberships(&mut history, 0);
        assert_eq!(history.len(), 3, "nothing flushed: all may be needed");
        prune_memberships(&mut history, 6);
        assert_eq!(history, vec![written_at(5, &[1, 2]), written_at(9, &[2, 3])]);
        prune_memberships(&mut history, 100);
        assert_eq!(history, vec![written_at(9, &[2, 3])]);
    }
}
