//! The meta group at run time: one openraft group on every node holding the cluster's
//! metadata ([`MetaState`]): creating the cluster, joining it through seeds, proposing
//! commands from any node, and admitting joiners on the leader.
//!
//! ```text
//!  first node (no seeds, or first seed = itself): initialize {me} ─► Bootstrap {me, partitions}
//!  joiner ── Join(seed) ──► any member ── (not leader: forward) ──► meta leader:
//!              Join command (refused for a removed id) ─► add learner (caught up)
//!              ─► promote to voter while voters < cluster.voters
//!  propose(command) on any node ──► leader: client_write ─► answer of MetaState::apply
//!                                 └► follower: Call "meta.propose" to the leader
//! ```

mod blocks;
mod state_machine;

pub(crate) use blocks::{MetaBlockList, adopt};

use openraft::async_runtime::WatchReceiver;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::ChangeMembers;
use openraft::ReadPolicy;
use openraft::error::{ClientWriteError, LinearizableReadError, RaftError};
use openraft::impls::BasicNode;
use tokio::sync::watch;
use tracing::{info, warn};

pub(crate) use state_machine::{MetaStateMachine, MetaView};

use crate::cluster::error::ClusterError;
use crate::cluster::log_store::WalLogStore;
use crate::cluster::meta::{MetaCommand, MetaResponse, NodeInfo};
use crate::cluster::transport::{GroupId, Peers, RaftRegistry, RaftRouter, TransportError};
use crate::cluster::types::{MetaRaftConfig, NodeId};
use crate::proto::cluster::{CallRequest, JoinReply, JoinRequest};
use crate::storage::wal::WalOptions;

/// The meta group's Raft handle.
pub(crate) type MetaRaft = openraft::Raft<MetaRaftConfig, MetaStateMachine>;

/// `Call` method proposing a command to the meta leader.
pub(crate) const PROPOSE_METHOD: &str = "meta.propose";

/// `Call` method asking the meta leader for a read index (a linearizable read elsewhere).
pub(crate) const READ_INDEX_METHOD: &str = "meta.read_index";

/// Pause between attempts while no leader is known.
const NO_LEADER_PAUSE: Duration = Duration::from_millis(100);
/// WAL segments of the meta log (its entries are small).
const META_SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// The meta group on this node.
#[derive(Clone)]
pub(crate) struct MetaGroup {
    raft: MetaRaft,
    me: NodeInfo,
    peers: Peers,
    view: watch::Receiver<Arc<MetaView>>,
    timeout: Duration,
}

impl MetaGroup {
    /// Opens the group's log (`dir/log`) and snapshot (`dir/state`), starts its Raft and
    /// serves it on the transport.
    pub(crate) async fn start(
        dir: PathBuf,
        me: NodeInfo,
        peers: Peers,
        router: &RaftRouter,
        registry: &RaftRegistry,
        config: Arc<openraft::Config>,
        timeout: Duration,
    ) -> Result<MetaGroup, ClusterError> {
        let open_error = |what: &str, reason: String| ClusterError::Open {
            what: format!("the meta group's {what} in {}", dir.display()),
            reason,
        };
        for sub in ["log", "state"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|error| open_error(sub, error.to_string()))?;
        }
        let (log_store, report) = WalLogStore::<MetaRaftConfig>::open(
            dir.join("log"),
            WalOptions { segment_bytes: META_SEGMENT_BYTES },
        )
        .await
        .map_err(|error| open_error("log", error.to_string()))?;
        info!(records = report.records, last = ?report.last, "meta log opened");
        let (state_machine, view) = MetaStateMachine::open(dir.join("state"))
            .await
            .map_err(|error| open_error("snapshot", error.to_string()))?;
        let raft =
            MetaRaft::new(me.id, config, router.network(GroupId::Meta), log_store, state_machine)
                .await
                .map_err(|error| ClusterError::Raft(error.to_string()))?;
        registry.register(GroupId::Meta, Arc::new(raft.clone()));
        Ok(MetaGroup { raft, me, peers, view, timeout })
    }

    /// This node.
    pub(crate) fn me(&self) -> &NodeInfo {
        &self.me
    }

    /// The metadata as this node last applied it.
    pub(crate) fn view(&self) -> Arc<MetaView> {
        self.view.borrow().clone()
    }

    /// Changes of the metadata as this node applies them.
    pub(crate) fn watch(&self) -> watch::Receiver<Arc<MetaView>> {
        self.view.clone()
    }

    /// The Raft handle (metrics, membership).
    pub(crate) fn raft(&self) -> &MetaRaft {
        &self.raft
    }

    /// Whether this node's meta Raft has any state (a restart rather than a first start).
    pub(crate) async fn is_initialized(&self) -> Result<bool, ClusterError> {
        self.raft.is_initialized().await.map_err(|error| ClusterError::Raft(error.to_string()))
    }

    /// Creates the cluster with this node as its only member and `partitions` partitions.
    pub(crate) async fn bootstrap(
        &self,
        partitions: u32,
        replication_factor: u32,
        voters: u32,
    ) -> Result<(), ClusterError> {
        if !self.is_initialized().await? {
            let members =
                BTreeMap::from([(self.me.id, BasicNode { addr: self.me.cluster_addr.clone() })]);
            self.raft
                .initialize(members)
                .await
                .map_err(|error| ClusterError::Raft(error.to_string()))?;
            info!(node = self.me.id, "created a new cluster");
        }
        let command = MetaCommand::Bootstrap {
            node: self.me.clone(),
            partitions,
            replication_factor,
            voters,
            at_ms: now_ms(),
        };
        expect_done(self.propose(command).await?)
    }

    /// Joins through the first seed that admits this node; retries the list until `deadline`.
    pub(crate) async fn join(
        &self,
        seeds: &[String],
        deadline: Duration,
    ) -> Result<JoinReply, ClusterError> {
        let started = tokio::time::Instant::now();
        let request = JoinRequest {
            node_id: self.me.id,
            cluster_addr: self.me.cluster_addr.clone(),
            http_addr: self.me.http_addr.clone(),
            zone: self.me.zone.clone().unwrap_or_default(),
        };
        let mut last_error = String::from("no seed answered");
        let mut pause = Duration::from_millis(100);
        loop {
            for seed in seeds.iter().filter(|seed| **seed != self.me.cluster_addr) {
                match self.peers.join(seed, request.clone(), self.timeout).await {
                    Ok(reply) => {
                        info!(%seed, leader = reply.leader_id, voter = reply.voter, "joined the cluster");
                        return Ok(reply);
                    }
                    Err(TransportError::Refused {
                        code: tonic::Code::PermissionDenied,
                        message,
                        ..
                    }) => {
                        return Err(ClusterError::Join { seeds: seeds.join(","), reason: message });
                    }
                    Err(TransportError::Refused {
                        code: tonic::Code::Unauthenticated,
                        message,
                        ..
                    }) => {
                        // A configuration error: retrying cannot help.
                        return Err(ClusterError::Join {
                            seeds: seeds.join(","),
                            reason: format!(
                                "seed {seed} refused this node's cluster.secret: {message}"
                            ),
                        });
                    }
                    Err(error) => {
                        warn!(%seed, %error, "join attempt failed, trying again");
                        last_error = error.to_string();
                    }
                }
            }
            if started.elapsed() + pause > deadline {
                return Err(ClusterError::Join { seeds: seeds.join(","), reason: last_error });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Proposes a command and returns what applying it answered; any node may call it. Follows
    /// a changing leader for up to twice the RPC timeout.
    pub(crate) async fn propose(&self, command: MetaCommand) -> Result<MetaResponse, ClusterError> {
        let mut last = ClusterError::NoLeader("the meta group".to_string());
        let deadline = tokio::time::Instant::now() + self.timeout * 2;
        while tokio::time::Instant::now() < deadline {
            match self.raft.client_write(command.clone()).await {
                Ok(written) => return Ok(written.data),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                    match forward.leader_id {
                        Some(leader) if leader != self.me.id => {
                            if let Some(node) = &forward.leader_node {
                                self.peers.set_addr(leader, &node.addr);
                            }
                            match self.propose_at(leader, &command).await {
                                Ok(answer) => return Ok(answer),
                                Err(error) if error_is_retryable(&error) => last = error,
                                Err(error) => return Err(error),
                            }
                        }
                        _ => {}
                    }
                    tokio::time::sleep(NO_LEADER_PAUSE).await;
                }
                Err(error) => return Err(ClusterError::Raft(error.to_string())),
            }
        }
        Err(last)
    }

    async fn propose_at(
        &self,
        leader: NodeId,
        command: &MetaCommand,
    ) -> Result<MetaResponse, ClusterError> {
        let body =
            serde_json::to_vec(command).map_err(|error| ClusterError::Raft(error.to_string()))?;
        let request =
            CallRequest { method: PROPOSE_METHOD.to_string(), partition: 0, body: body.into() };
        let reply = self.peers.call(leader, request, self.timeout).await?;
        serde_json::from_slice(&reply.body).map_err(|error| {
            ClusterError::Raft(format!("bad answer from the meta leader: {error}"))
        })
    }

    /// The metadata as of some moment after this call began (a linearizable read): the
    /// leader confirms it still leads and names the index its state covers, and this node
    /// waits until it has applied that far.
    pub(crate) async fn linearizable_view(&self) -> Result<Arc<MetaView>, ClusterError> {
        let index = match self.read_index_as_leader().await {
            Ok(index) => index,
            Err(_) => {
                let leader = self
                    .raft
                    .current_leader()
                    .await
                    .filter(|leader| *leader != self.me.id)
                    .ok_or_else(|| ClusterError::NoLeader("the meta group".to_string()))?;
                let request = CallRequest {
                    method: READ_INDEX_METHOD.to_string(),
                    partition: 0,
                    body: Default::default(),
                };
                let reply = self.peers.call(leader, request, self.timeout).await?;
                let bytes: [u8; 8] = reply.body.as_ref().try_into().map_err(|_| {
                    ClusterError::Raft("the meta leader's read index is not 8 bytes".to_string())
                })?;
                u64::from_le_bytes(bytes)
            }
        };
        self.raft
            .wait(Some(self.timeout))
            .applied_index_at_least(Some(index), "a linearizable read")
            .await
            .map_err(|error| ClusterError::Timeout(format!("applying the metadata: {error}")))?;
        Ok(self.view())
    }

    /// Confirms this node leads the meta group and returns the index a read must wait for.
    pub(crate) async fn read_index_as_leader(&self) -> Result<u64, tonic::Status> {
        match self.raft.get_read_log_id(ReadPolicy::ReadIndex).await {
            Ok((read, _)) => Ok(read.log_id().index),
            Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(forward))) => {
                Err(crate::cluster::transport::not_leader("the meta group", forward.leader_id))
            }
            Err(error) => Err(tonic::Status::unavailable(error.to_string())),
        }
    }

    /// Proposes a command only if this node leads (what a forwarded proposal runs).
    pub(crate) async fn propose_as_leader(
        &self,
        command: MetaCommand,
    ) -> Result<MetaResponse, tonic::Status> {
        match self.raft.client_write(command).await {
            Ok(written) => Ok(written.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                Err(crate::cluster::transport::not_leader("the meta group", forward.leader_id))
            }
            Err(error) => Err(tonic::Status::unavailable(error.to_string())),
        }
    }

    /// Admits a joiner (on the leader; a follower passes the request on to the leader).
    pub(crate) async fn admit(&self, request: JoinRequest) -> Result<JoinReply, tonic::Status> {
        let leader = self.raft.current_leader().await;
        if leader != Some(self.me.id) {
            let Some(leader) = leader else {
                return Err(tonic::Status::unavailable("the meta group has no leader right now"));
            };
            let addr = self.address_of(leader).ok_or_else(|| {
                tonic::Status::unavailable(format!("no address known for meta leader {leader}"))
            })?;
            return self.peers.join(&addr, request, self.timeout).await.map_err(
                |error| match error {
                    TransportError::Refused { code, message, .. } => {
                        tonic::Status::new(code, message)
                    }
                    other => tonic::Status::unavailable(other.to_string()),
                },
            );
        }
        let node = NodeInfo {
            id: request.node_id,
            cluster_addr: request.cluster_addr.clone(),
            http_addr: request.http_addr.clone(),
            zone: Some(request.zone.clone()).filter(|zone| !zone.is_empty()),
        };
        if node.id == 0 || node.cluster_addr.is_empty() {
            return Err(tonic::Status::invalid_argument(
                "a joiner needs a node id and a cluster address",
            ));
        }
        let join = MetaCommand::Join { node: node.clone(), at_ms: now_ms() };
        if let MetaResponse::Refused { reason, .. } = self.propose_as_leader(join).await? {
            return Err(tonic::Status::permission_denied(reason));
        }
        self.peers.set_addr(node.id, &node.cluster_addr);
        let voter = self.add_to_raft(node.id, &node.cluster_addr).await?;
        Ok(JoinReply { leader_id: self.me.id, voter })
    }

    /// Adds a node as a learner (waiting until it caught up), then as a voter while the group
    /// has fewer voters than the cluster wants. Returns whether it is a voter.
    async fn add_to_raft(&self, id: NodeId, addr: &str) -> Result<bool, tonic::Status> {
        let raft_error = |error: RaftError<MetaRaftConfig, ClientWriteError<MetaRaftConfig>>| {
            tonic::Status::unavailable(error.to_string())
        };
        let membership =
            self.raft.metrics().borrow_watched().membership_config.membership().clone();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        if voters.contains(&id) {
            return Ok(true);
        }
        let known_addr = membership.get_node(&id).map(|node| node.addr.clone());
        if known_addr.as_deref() != Some(addr) {
            self.raft
                .add_learner(id, BasicNode { addr: addr.to_string() }, true)
                .await
                .map_err(raft_error)?;
        }
        let wanted = self.view().state.voters() as usize;
        if voters.len() >= wanted {
            return Ok(false);
        }
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
            .await
            .map_err(raft_error)?;
        info!(node = id, "promoted to meta voter");
        Ok(true)
    }

    /// The cluster address of a node, from the metadata or the Raft membership.
    pub(crate) fn address_of(&self, node: NodeId) -> Option<String> {
        if let Some(member) = self.view().state.member(node) {
            return Some(member.cluster_addr.clone());
        }
        self.raft
            .metrics()
            .borrow_watched()
            .membership_config
            .membership()
            .get_node(&node)
            .map(|node| node.addr.clone())
            .or_else(|| self.peers.addr(node))
    }

    /// Waits until the applied metadata satisfies `check`.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        check: impl Fn(&MetaView) -> bool,
    ) -> Result<Arc<MetaView>, ClusterError> {
        let mut view = self.view.clone();
        let waited = tokio::time::timeout(deadline, async {
            loop {
                let current = view.borrow_and_update().clone();
                if check(&current) {
                    return Ok(current);
                }
                if view.changed().await.is_err() {
                    return Err(ClusterError::Raft("the meta group stopped".to_string()));
                }
            }
        })
        .await;
        waited.unwrap_or_else(|_| Err(ClusterError::Timeout(what.to_string())))
    }

    /// Stops the group's Raft.
    pub(crate) async fn shutdown(&self) {
        if let Err(error) = self.raft.shutdown().await {
            warn!(%error, "meta raft did not shut down cleanly");
        }
    }
}

fn error_is_retryable(error: &ClusterError) -> bool {
    match error {
        ClusterError::Transport(transport) => !matches!(
            transport,
            TransportError::Refused {
                code: tonic::Code::PermissionDenied | tonic::Code::InvalidArgument,
                ..
            }
        ),
        ClusterError::NoLeader(_) => true,
        _ => false,
    }
}

fn expect_done(answer: MetaResponse) -> Result<(), ClusterError> {
    match answer {
        MetaResponse::Refused { kind, reason } => Err(ClusterError::Refused { kind, reason }),
        _ => Ok(()),
    }
}

/// Wall-clock Unix milliseconds (commands carry their time; the state machine has no clock).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}
