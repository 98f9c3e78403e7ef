//! The cluster side of a node: its identity, the transport server, the meta group, and how the
//! node enters the cluster at start.
//!
//! ```text
//!  ClusterRuntime::start
//!   1. node id: <wal>/node-id (random at the first start, kept after)
//!   2. serve the cluster service on server.grpc_listen_port
//!   3. open the meta group (<wal>/meta)
//!   4. no seeds, or the first seed is this node  → create the cluster (idempotent)
//!      otherwise                                 → join through the seeds
//!   5. wait until the metadata lists this node; start the meta leader's reconciler
//! ```

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::cluster::error::ClusterError;
use crate::cluster::meta::{MetaCommand, NodeInfo};
use crate::cluster::meta_group::{MetaGroup, PROPOSE_METHOD, READ_INDEX_METHOD};
use crate::cluster::reconciler;
use crate::cluster::transport::{
    ClusterHandler, ClusterService, ClusterTls, NetFaults, Peers, RaftRegistry, RaftRouter,
};
use crate::cluster::types::NodeId;
use crate::config::Config;
use crate::proto::cluster::cluster_server::ClusterServer;
use crate::proto::cluster::{
    CallReply, CallRequest, ForwardReply, ForwardRequest, JoinReply, JoinRequest,
};
use crate::storage::wal::{read_checked, write_atomic};

/// File holding this node's id, in the WAL root.
const NODE_ID_FILE: &str = "node-id";
/// Largest node id: ids stay exact in JSON readers that use doubles.
const MAX_NODE_ID: u64 = (1 << 53) - 1;
/// How long a first start may try to join before giving up.
const JOIN_DEADLINE: Duration = Duration::from_secs(120);
/// How long to wait for the metadata to list this node.
const MEMBER_DEADLINE: Duration = Duration::from_secs(60);

/// The cluster side of a running node.
pub(crate) struct ClusterRuntime {
    meta: MetaGroup,
    peers: Peers,
    registry: RaftRegistry,
    router: RaftRouter,
    server_shutdown: Option<oneshot::Sender<()>>,
    reconciler: tokio::task::JoinHandle<()>,
    address_book: tokio::task::JoinHandle<()>,
    writes: WritesSlot,
}

impl ClusterRuntime {
    /// Starts the node's cluster side on an already bound listener; returns once the node is a
    /// member of a cluster (a new one, or the one its seeds belong to).
    pub(crate) async fn start(
        config: &Config,
        listener: tokio::net::TcpListener,
        http_addr: SocketAddr,
        faults: Arc<NetFaults>,
    ) -> Result<ClusterRuntime, ClusterError> {
        let cluster = &config.cluster;
        let wal_root = config.storage.trace.wal.path.clone();
        let addr = listener.local_addr().map_err(|error| ClusterError::Open {
            what: "the cluster listener".to_string(),
            reason: error.to_string(),
        })?;
        let id = load_or_create_node_id(&wal_root)?;
        let me = NodeInfo {
            id,
            cluster_addr: advertised(&cluster.advertise_address, addr),
            http_addr: advertised(&cluster.advertise_http_address, http_addr),
            zone: Some(cluster.zone.clone()).filter(|zone| !zone.is_empty()),
        };
        let max_message = usize::try_from(config.distributor.max_request_bytes)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .max(64 << 20);
        let tls = ClusterTls::load(&cluster.tls)?;
        let peers = Peers::new(id, &cluster.secret, faults.clone(), max_message, tls.clone())?;
        peers.set_addr(id, &me.cluster_addr);
        let registry = RaftRegistry::default();
        let router = RaftRouter::new(peers.clone());
        let service = ClusterService::new(&cluster.secret, faults, registry.clone());
        let (server_shutdown, shutdown) = oneshot::channel::<()>();
        let server = ClusterServer::new(service.clone())
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message);
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &tls {
            builder = builder.tls_config(tls.server()).map_err(|error| {
                ClusterError::Transport(crate::cluster::transport::TransportError::Tls {
                    reason: error.to_string(),
                })
            })?;
        }
        tokio::spawn(async move {
            let served = builder
                .add_service(server)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = shutdown.await;
                })
                .await;
            if let Err(error) = served {
                warn!(%error, "cluster service stopped");
            }
        });

        let raft_config = raft_config(config, GroupKind::Meta)?;
        let meta = MetaGroup::start(
            wal_root.join("meta"),
            me.clone(),
            peers.clone(),
            &router,
            &registry,
            raft_config,
            cluster.rpc_timeout.get(),
        )
        .await?;
        let writes: WritesSlot = Arc::default();
        service.set_handler(Arc::new(NodeHandler { meta: meta.clone(), writes: writes.clone() }));

        let creates = cluster.seeds.is_empty() || cluster.seeds.first() == Some(&me.cluster_addr);
        if creates {
            let state = meta.view().state.clone();
            if !state.is_bootstrapped() || state.bootstrapped_by() == Some(id) {
                meta.bootstrap(config.partitions.count, cluster.replication_factor, cluster.voters)
                    .await?;
            }
        } else if !meta.is_initialized().await? {
            meta.join(&cluster.seeds, JOIN_DEADLINE).await?;
        } else {
            // A restart: tell the cluster where this node is now (idempotent). A refusal (the
            // node was removed) ends the start: the operator must give it a fresh data dir.
            match meta.join(&cluster.seeds, cluster.rpc_timeout.get() * 2).await {
                Ok(_) => {}
                Err(ClusterError::Join { reason, .. }) if reason.contains("removed") => {
                    return Err(ClusterError::Join { seeds: cluster.seeds.join(","), reason });
                }
                Err(error) => {
                    warn!(%error, "could not refresh this node's membership; the cluster keeps the old record")
                }
            }
        }
        meta.wait_for("this node to appear in the cluster metadata", MEMBER_DEADLINE, |view| {
            view.state.member(id).is_some()
        })
        .await?;
        let reconciler = tokio::spawn(reconciler::run(meta.clone()));
        let address_book = tokio::spawn(keep_addresses(meta.clone(), peers.clone()));
        info!(node = id, cluster_addr = %me.cluster_addr, "cluster member ready");
        Ok(ClusterRuntime {
            meta,
            peers,
            registry,
            router,
            server_shutdown: Some(server_shutdown),
            reconciler,
            address_book,
            writes,
        })
    }

    /// Installs what commits the writes other nodes forward here.
    pub(crate) fn set_partition_writes(&self, writes: Arc<dyn PartitionWrites>) {
        *self.writes.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(writes);
    }

    /// The meta group.
    pub(crate) fn meta(&self) -> &MetaGroup {
        &self.meta
    }

    /// This node's transport.
    pub(crate) fn peers(&self) -> &Peers {
        &self.peers
    }

    /// The Raft groups this node serves.
    pub(crate) fn registry(&self) -> &RaftRegistry {
        &self.registry
    }

    /// Sends Raft RPCs for this node's groups.
    pub(crate) fn router(&self) -> &RaftRouter {
        &self.router
    }

    /// Stops the reconciler, the meta group and the cluster service.
    pub(crate) async fn shutdown(mut self) {
        self.reconciler.abort();
        self.address_book.abort();
        self.meta.shutdown().await;
        if let Some(shutdown) = self.server_shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Keeps the transport's address book in line with the members the meta group lists (a
/// follower never opens Raft connections, yet forwards writes to leaders).
async fn keep_addresses(meta: MetaGroup, peers: Peers) {
    let mut view = meta.watch();
    loop {
        let current = view.borrow_and_update().clone();
        for member in current.state.members().values() {
            peers.set_addr(member.id, &member.cluster_addr);
        }
        if view.changed().await.is_err() {
            return;
        }
    }
}

/// The two kinds of Raft group, which snapshot and purge differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupKind {
    /// The meta group: a snapshot every 1000 entries, 100 entries kept behind it.
    Meta,
    /// A partition group: a snapshot only when blocks are registered (the block-builder asks),
    /// the log purged right up to it; writes queued during an fsync join the next one after
    /// `storage.trace.wal.group_commit_max_wait`.
    Partition,
}

/// openraft's settings for a kind of group, from `cluster`'s timings.
pub(crate) fn raft_config(
    config: &Config,
    kind: GroupKind,
) -> Result<Arc<openraft::Config>, ClusterError> {
    let heartbeat = config.cluster.heartbeat_interval.get().as_millis() as u64;
    let election = config.cluster.election_timeout.get().as_millis() as u64;
    let timing = openraft::Config {
        heartbeat_interval: heartbeat.max(1),
        election_timeout_min: election.max(3),
        election_timeout_max: (election * 2).max(4),
        ..Default::default()
    };
    let raft = match kind {
        GroupKind::Meta => openraft::Config {
            cluster_name: "meta".to_string(),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(1000),
            max_in_snapshot_log_to_keep: 100,
            ..timing
        },
        GroupKind::Partition => openraft::Config {
            cluster_name: "partition".to_string(),
            snapshot_policy: openraft::SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: 0,
            purge_batch_size: 1,
            api_batch_linger_ms: config.storage.trace.wal.group_commit_max_wait.0.as_millis()
                as u64,
            ..timing
        },
    };
    raft.validate().map(Arc::new).map_err(|error| ClusterError::Raft(error.to_string()))
}

/// `configured` when set, else the listener's address with a reachable host.
fn advertised(configured: &str, listening: SocketAddr) -> String {
    if !configured.is_empty() {
        return configured.to_string();
    }
    let host = if listening.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        listening.ip()
    };
    SocketAddr::new(host, listening.port()).to_string()
}

/// Reads this node's id, or picks a random one and keeps it (a restart rejoins as itself).
fn load_or_create_node_id(wal_root: &Path) -> Result<NodeId, ClusterError> {
    let open_error = |reason: String| ClusterError::Open {
        what: format!("the node id in {}", wal_root.join(NODE_ID_FILE).display()),
        reason,
    };
    std::fs::create_dir_all(wal_root).map_err(|error| open_error(error.to_string()))?;
    if let Some(bytes) =
        read_checked(wal_root, NODE_ID_FILE).map_err(|error| open_error(error.to_string()))?
    {
        let text = String::from_utf8_lossy(&bytes);
        return text.trim().parse().map_err(|_| open_error(format!("{text:?} is not a node id")));
    }
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    let id = (hasher.finish() & MAX_NODE_ID).max(1);
    write_atomic(wal_root, NODE_ID_FILE, id.to_string().as_bytes())
        .map_err(|error| open_error(error.to_string()))?;
    info!(node = id, "chose this node's id");
    Ok(id)
}

/// What other nodes ask of this node's partition replicas (the node's actors answer).
#[async_trait]
pub(crate) trait PartitionWrites: Send + Sync + 'static {
    /// Commits one encoded `TraceBatch` in `partition` if this node leads it.
    async fn append(&self, partition: u32, batch: bytes::Bytes) -> Result<u64, tonic::Status>;
    /// Answers a call for one of this node's replicas (e.g. a live-store lookup).
    async fn call(
        &self,
        method: &str,
        partition: u32,
        body: bytes::Bytes,
    ) -> Result<bytes::Bytes, tonic::Status>;
}

type WritesSlot = Arc<std::sync::RwLock<Option<Arc<dyn PartitionWrites>>>>;

/// Answers the cluster requests of other nodes.
struct NodeHandler {
    meta: MetaGroup,
    writes: WritesSlot,
}

#[async_trait]
impl ClusterHandler for NodeHandler {
    async fn join(&self, request: JoinRequest) -> Result<JoinReply, tonic::Status> {
        self.meta.admit(request).await
    }

    async fn forward(&self, request: ForwardRequest) -> Result<ForwardReply, tonic::Status> {
        let writes = self.writes.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let Some(writes) = writes else {
            return Err(tonic::Status::unavailable("node is starting"));
        };
        let index = writes.append(request.partition, request.batch).await?;
        Ok(ForwardReply { index })
    }

    async fn call(&self, request: CallRequest) -> Result<CallReply, tonic::Status> {
        match request.method.as_str() {
            PROPOSE_METHOD => {
                let command: MetaCommand =
                    serde_json::from_slice(&request.body).map_err(|error| {
                        tonic::Status::invalid_argument(format!("bad meta command: {error}"))
                    })?;
                let answer = self.meta.propose_as_leader(command).await?;
                let body = serde_json::to_vec(&answer)
                    .map_err(|error| tonic::Status::internal(error.to_string()))?;
                Ok(CallReply { body: body.into() })
            }
            READ_INDEX_METHOD => {
                let index = self.meta.read_index_as_leader().await?;
                Ok(CallReply { body: index.to_le_bytes().to_vec().into() })
            }
            method => {
                let writes =
                    self.writes.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
                let Some(writes) = writes else {
                    return Err(tonic::Status::unavailable("node is starting"));
                };
                let body = writes.call(method, request.partition, request.body).await?;
                Ok(CallReply { body })
            }
        }
    }
}
