//! The meta group's openraft state machine: [`MetaState`] behind openraft's storage traits,
//! with its snapshot kept durably beside the group's log.
//!
//! ```text
//!  committed entries ──► apply: MetaState::apply(command) ──► answer to the proposer
//!                                 │ after every batch
//!                                 └──► watch channel: Arc<MetaView> (routing, block list, admin)
//!  every N entries ──► build_snapshot: state as JSON ──► `snapshot` file (atomic, fsynced)
//!  restart ──► the file gives the state at its log id; openraft re-applies the entries after it
//! ```

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, StoredMembership};
use tokio::sync::watch;
use tracing::info;

use crate::cluster::meta::{MetaResponse, MetaState};
use crate::cluster::snapshot_file;
use crate::cluster::types::MetaRaftConfig;

/// What the rest of the node sees of the meta group: the state as of a log position.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetaView {
    /// The cluster metadata.
    pub state: MetaState,
}

/// The snapshot file: `len u32 LE | openraft meta (JSON) | MetaState::to_snapshot()`.
fn encode_stored(meta: &SnapshotMetaOf<MetaRaftConfig>, data: &[u8]) -> io::Result<Vec<u8>> {
    let meta = serde_json::to_vec(meta).map_err(io::Error::other)?;
    let length = u32::try_from(meta.len()).map_err(io::Error::other)?;
    let mut stored = Vec::with_capacity(4 + meta.len() + data.len());
    stored.extend_from_slice(&length.to_le_bytes());
    stored.extend_from_slice(&meta);
    stored.extend_from_slice(data);
    Ok(stored)
}

/// Reads what [`encode_stored`] wrote: the meta, and the state's snapshot bytes.
fn decode_stored(stored: &[u8]) -> io::Result<(SnapshotMetaOf<MetaRaftConfig>, Vec<u8>)> {
    let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidData, reason);
    let length = stored
        .get(..4)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| invalid("meta snapshot file is cut short".to_string()))?;
    let end = 4 + length as usize;
    let meta_bytes =
        stored.get(4..end).ok_or_else(|| invalid("meta snapshot file is cut short".to_string()))?;
    let meta = serde_json::from_slice(meta_bytes).map_err(|error| invalid(error.to_string()))?;
    Ok((meta, stored[end..].to_vec()))
}

fn state_from(data: &[u8]) -> io::Result<MetaState> {
    MetaState::from_snapshot(data)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

/// The meta group's state machine.
pub(crate) struct MetaStateMachine {
    dir: PathBuf,
    applied: Option<LogIdOf<MetaRaftConfig>>,
    membership: StoredMembershipOf<MetaRaftConfig>,
    state: MetaState,
    /// The last snapshot built or installed, as sent to a lagging follower.
    current: Option<(SnapshotMetaOf<MetaRaftConfig>, Vec<u8>)>,
    publish: watch::Sender<Arc<MetaView>>,
}

impl MetaStateMachine {
    /// Loads the last snapshot in `dir` (if any); the view starts from it.
    pub(crate) async fn open(
        dir: PathBuf,
    ) -> io::Result<(MetaStateMachine, watch::Receiver<Arc<MetaView>>)> {
        let stored = snapshot_file::read(&dir).await?;
        let mut machine = MetaStateMachine {
            dir,
            applied: None,
            membership: StoredMembership::default(),
            state: MetaState::default(),
            current: None,
            publish: watch::channel(Arc::new(MetaView::default())).0,
        };
        if let Some(stored) = stored {
            let (meta, data) = decode_stored(&stored)?;
            info!(last = ?meta.last_log_id, "meta snapshot loaded");
            machine.applied = meta.last_log_id;
            machine.membership = meta.last_membership.clone();
            machine.state = state_from(&data)?;
            machine.current = Some((meta, data));
        }
        let receiver = machine.publish.subscribe();
        machine.publish_view();
        Ok((machine, receiver))
    }

    fn publish_view(&self) {
        let view = MetaView { state: self.state.clone() };
        self.publish.send_replace(Arc::new(view));
    }

    /// Writes the snapshot file durably.
    async fn persist(&self, meta: &SnapshotMetaOf<MetaRaftConfig>, data: &[u8]) -> io::Result<()> {
        snapshot_file::write(self.dir.clone(), encode_stored(meta, data)?).await
    }
}

/// Builds a snapshot of the state as of the last applied entry.
pub(crate) struct MetaSnapshotBuilder {
    meta: SnapshotMetaOf<MetaRaftConfig>,
    bytes: io::Result<Vec<u8>>,
    dir: PathBuf,
}

impl RaftSnapshotBuilder<MetaRaftConfig> for MetaSnapshotBuilder {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> io::Result<SnapshotOf<MetaRaftConfig, Vec<u8>>> {
        let bytes = std::mem::replace(&mut self.bytes, Ok(Vec::new()))?;
        snapshot_file::write(self.dir.clone(), encode_stored(&self.meta, &bytes)?).await?;
        Ok(Snapshot { meta: self.meta.clone(), snapshot: bytes })
    }
}

impl RaftStateMachine<MetaRaftConfig> for MetaStateMachine {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = MetaSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> io::Result<(Option<LogIdOf<MetaRaftConfig>>, StoredMembershipOf<MetaRaftConfig>)> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<Strm>(&mut self, entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = io::Result<EntryResponder<MetaRaftConfig>>> + Unpin + Send,
    {
        let mut entries = entries;
        while let Some((entry, responder)) = entries.try_next().await? {
            let answer = match &entry.payload {
                EntryPayload::Blank => MetaResponse::Done,
                EntryPayload::Normal(command) => self.state.apply(command),
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership.clone());
                    MetaResponse::Done
                }
            };
            self.applied = Some(entry.log_id);
            if let Some(responder) = responder {
                responder.send(answer);
            }
        }
        self.publish_view();
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> MetaSnapshotBuilder {
        let meta = SnapshotMetaOf::<MetaRaftConfig> {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
        };
        let bytes = self.state.to_snapshot().map_err(io::Error::other);
        if let Ok(bytes) = &bytes {
            self.current = Some((meta.clone(), bytes.clone()));
        }
        MetaSnapshotBuilder { meta, bytes, dir: self.dir.clone() }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<MetaRaftConfig>,
        snapshot: Vec<u8>,
    ) -> io::Result<()> {
        let state = state_from(&snapshot)?;
        self.persist(meta, &snapshot).await?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.state = state;
        self.current = Some((meta.clone(), snapshot));
        info!(last = ?meta.last_log_id, "meta snapshot installed");
        self.publish_view();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> io::Result<Option<SnapshotOf<MetaRaftConfig, Vec<u8>>>> {
        Ok(self.current.clone().map(|(meta, snapshot)| Snapshot { meta, snapshot }))
    }
}
