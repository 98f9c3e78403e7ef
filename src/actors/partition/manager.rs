//! The partition manager: keeps this node's partition replicas in line with the meta group.
//!
//! ```text
//!  meta view ──► partitions listing this node ──► start a PartitionSupervisor (node tree)
//!            ──► partitions no longer listing it ──► stop it once another node leads (or the
//!                                                     partition is deleted), delete its WAL
//!            ──► a partition's flushed index rose ──► log: snapshot + purge; live-store: evict
//! ```
//!
//! [`LocalPartitions`] is what readers and the distributor use to find this node's replicas.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ractor::ActorRef;
use tracing::{info, warn};

use crate::actors::node::NodeSupervisorMsg;
use crate::actors::partition::live_store::LiveStoreHandle;
use crate::actors::partition::log::AppendError;
use crate::actors::partition::log::PartitionLogHandle;
use crate::actors::partition::supervisor::PartitionArgs;
use crate::actors::query::remote::{FIND_TRACE_METHOD, decode_lookup, encode_snapshot};
use crate::cluster::meta_group::MetaGroup;
use crate::cluster::partition_group::FlushedIndex;
use crate::cluster::runtime::PartitionWrites;
use crate::cluster::transport::not_leader;
use crate::model::ids::{LogIndex, PartitionId};

/// How long a replica the meta group no longer lists keeps running (its group may still need
/// it until the leader has moved the replica set).
const RETIRE_AFTER: Duration = Duration::from_secs(10);
/// The `Call` method asking a partition's leader how far behind each replica is (JSON map
/// node id → entries, or `null` when the replica does not lead).
pub(crate) const LAG_METHOD: &str = "partition.lag";

/// How long a write forwarded to this node may take to commit.
const FORWARDED_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the manager looks even without a metadata change.
const TICK: Duration = Duration::from_secs(1);

/// One replica hosted here.
#[derive(Clone)]
pub(crate) struct LocalPartition {
    /// Its Raft replica.
    pub log: PartitionLogHandle,
    /// Its live-store.
    pub live_store: LiveStoreHandle,
    /// The meta group's flushed index, as last seen.
    pub flushed: FlushedIndex,
    /// The term while it leads, 0 otherwise.
    pub leader_term: Arc<AtomicU64>,
    /// The leader it knows, 0 when none (kept current by the replica; the distributor reads
    /// it on every write).
    pub known_leader: Arc<AtomicU64>,
}

/// The replicas this node hosts; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct LocalPartitions {
    inner: Arc<RwLock<BTreeMap<PartitionId, LocalPartition>>>,
}

impl LocalPartitions {
    /// The replica of `partition`, if hosted here.
    pub fn get(&self, partition: PartitionId) -> Option<LocalPartition> {
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&partition).cloned()
    }

    /// Every hosted replica.
    pub fn all(&self) -> Vec<(PartitionId, LocalPartition)> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(id, local)| (*id, local.clone()))
            .collect()
    }

    fn insert(&self, partition: PartitionId, local: LocalPartition) {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(partition, local);
    }

    fn remove(&self, partition: PartitionId) {
        self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&partition);
    }
}

/// Builds the arguments of a replica of one partition.
pub(crate) type ReplicaFactory = Arc<dyn Fn(PartitionId) -> PartitionArgs + Send + Sync>;

/// Where a partition's WAL lives.
pub(crate) fn wal_dir(root: &std::path::Path, partition: PartitionId) -> PathBuf {
    root.join(partition.to_string())
}

/// Starts and stops replicas as the meta group says; runs until aborted.
pub(crate) async fn run(
    meta: MetaGroup,
    root: ActorRef<NodeSupervisorMsg>,
    factory: ReplicaFactory,
    local: LocalPartitions,
) {
    let me = meta.me().id;
    let mut view = meta.watch();
    let mut unlisted_since: BTreeMap<PartitionId, Instant> = BTreeMap::new();
    loop {
        let current = view.borrow_and_update().clone();
        for (partition, entry) in current.state.partitions() {
            let listed = entry.replicas.contains(&me);
            match local.get(*partition) {
                None if listed => {
                    let args = factory(*partition);
                    local.insert(
                        *partition,
                        LocalPartition {
                            log: PartitionLogHandle::new(args.log_slot.clone()),
                            live_store: LiveStoreHandle::new(args.live_store_slot.clone()),
                            flushed: args.flushed.clone(),
                            leader_term: args.leader_term.clone(),
                            known_leader: args.known_leader.clone(),
                        },
                    );
                    args.flushed.store(entry.flushed, Ordering::Release);
                    info!(%partition, "hosting a replica");
                    if root.cast(NodeSupervisorMsg::StartPartition(Box::new(args))).is_err() {
                        return;
                    }
                }
                Some(hosted) => {
                    if entry.flushed > hosted.flushed.load(Ordering::Acquire) {
                        hosted.flushed.store(entry.flushed, Ordering::Release);
                        hosted.log.flushed(LogIndex(entry.flushed));
                        hosted.live_store.flushed(LogIndex(entry.flushed));
                    }
                    if listed {
                        unlisted_since.remove(partition);
                    } else {
                        let since = *unlisted_since.entry(*partition).or_insert_with(Instant::now);
                        let leads = hosted.leader_term.load(Ordering::Acquire) != 0;
                        if since.elapsed() >= RETIRE_AFTER && !leads {
                            retire(&root, &local, *partition).await;
                            unlisted_since.remove(partition);
                        }
                    }
                }
                None => {}
            }
        }
        // Partitions deleted from the meta group.
        for (partition, _) in local.all() {
            if current.state.partition(partition).is_none() {
                retire(&root, &local, partition).await;
            }
        }
        let _ = tokio::time::timeout(TICK, view.changed()).await;
    }
}

/// Stops a replica and deletes its log.
async fn retire(
    root: &ActorRef<NodeSupervisorMsg>,
    local: &LocalPartitions,
    partition: PartitionId,
) {
    info!(%partition, "retiring this node's replica");
    let stopped =
        ractor::call!(root, |reply| NodeSupervisorMsg::StopPartition { partition, reply });
    match stopped {
        Ok(Some(dir)) => {
            local.remove(partition);
            if let Err(error) = tokio::fs::remove_dir_all(&dir).await {
                warn!(%partition, dir = %dir.display(), %error, "could not delete a retired replica's log");
            }
        }
        Ok(None) => local.remove(partition),
        Err(error) => warn!(%partition, %error, "could not stop a retired replica"),
    }
}

#[async_trait::async_trait]
impl PartitionWrites for LocalPartitions {
    async fn append(&self, partition: u32, batch: bytes::Bytes) -> Result<u64, tonic::Status> {
        let partition = PartitionId(partition);
        let Some(local) = self.get(partition) else {
            return Err(not_leader(&partition.to_string(), None));
        };
        match local.log.append(batch, FORWARDED_WRITE_TIMEOUT).await {
            Ok(index) => Ok(index.0),
            Err(AppendError::NotLeader { leader, .. }) => {
                Err(not_leader(&partition.to_string(), leader))
            }
            Err(error) => Err(tonic::Status::unavailable(error.to_string())),
        }
    }

    async fn call(
        &self,
        method: &str,
        partition: u32,
        body: bytes::Bytes,
    ) -> Result<bytes::Bytes, tonic::Status> {
        let partition = PartitionId(partition);
        match method {
            FIND_TRACE_METHOD => {
                let (tenant, trace_id) =
                    decode_lookup(&body).map_err(tonic::Status::invalid_argument)?;
                let Some(local) = self.get(partition) else {
                    return Err(tonic::Status::not_found(format!(
                        "no replica of {partition} on this node"
                    )));
                };
                let found = local
                    .live_store
                    .find_trace(tenant, trace_id)
                    .await
                    .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
                Ok(encode_snapshot(found))
            }
            LAG_METHOD => {
                let Some(local) = self.get(partition) else {
                    return Err(tonic::Status::not_found(format!(
                        "no replica of {partition} on this node"
                    )));
                };
                let lag = local
                    .log
                    .lag(Duration::from_secs(2))
                    .await
                    .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
                let body = serde_json::to_vec(&lag)
                    .map_err(|error| tonic::Status::internal(error.to_string()))?;
                Ok(bytes::Bytes::from(body))
            }
            other => Err(tonic::Status::unimplemented(format!("unknown call method {other:?}"))),
        }
    }
}
